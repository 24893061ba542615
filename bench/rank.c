/*
 * bench/rank.c -- how fast is ranking a catalogue for one profile, and how
 * fast is a profile rebuilt?
 *
 *   build/bench/rank [--quick]
 *
 * Synthetic unit vectors (clustered, tests' generator idea) stand in for
 * embeddings: speed does not depend on what the vectors mean. For each
 * (catalogue size, dimension) it times
 *   scores  tb_rank_scores over the whole catalogue, centroid method (the
 *           sgemm part)
 *   rank    tb_rank, centroid method, filter 0.5, explore 0.1, a limit of
 *           100 (what a page of recommendations needs)
 *   knn     tb_rank with the default method (knn 3: compares with every
 *           read item, so it costs n x reads dot products)
 * and reports the best of 5 runs; at 100k rows also the overlap of the
 * default two-stage top 100 with the exact one for a few re-score pool
 * sizes (tb_rank_opts.rescore). OpenBLAS is pinned to one thread, as the
 * targets are single-threaded: 100k items < 20 ms, 1M < 150 ms, profile
 * rebuild from 1,000 reads < 20 ms.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec/rec.h"

void openblas_set_num_threads(int);

/* n unit vectors around c random centres; the centres depend only on
 * TB_BENCH_CENTRES, so the profile's 6 interests are the first 6 of the
 * catalogue's 50 topics; seed varies the points. */
#define TB_BENCH_CENTRES 99
static float *clustered(size_t n, size_t dim, size_t c, uint64_t seed)
{
    tb_rng r;
    tb_rng_seed(&r, TB_BENCH_CENTRES);
    float *cen = malloc(c * dim * sizeof(float)), *x = malloc(n * dim * sizeof(float));
    if (!cen || !x) {
        fprintf(stderr, "out of memory for %zu x %zu\n", n, dim);
        exit(1);
    }
    for (size_t j = 0; j < c * dim; j++)
        cen[j] = (float)tb_rng_normal(&r);
    tb_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        const float *cc = cen + (i % c) * dim;
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = cc[j] + (float)(1.5 * tb_rng_normal(&r));
        tb_l2_normalize(x + i * dim, dim);
    }
    free(cen);
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A profile of `reads` reads, rebuilt TB_BENCH_PROFILE_REPS times: the
 * best and the median time in ms. */
#define TB_BENCH_PROFILE_REPS 9
static tb_profile *profile(size_t reads, size_t dim, double *ms, double *median)
{
    float *x = clustered(reads, dim, 6, 98);
    struct tb_profile_event *ev = malloc(reads * sizeof *ev);
    for (size_t i = 0; i < reads; i++)
        ev[i] = (struct tb_profile_event){(int64_t)i + 1, (int64_t)i + 1,
                                          i % 7 ? TB_EV_READ : TB_EV_LIKE,
                                          1700000000 + (int64_t)i * 3600, x + i * dim};
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    tb_profile *p = NULL;
    double ts[TB_BENCH_PROFILE_REPS];
    for (int rep = 0; rep < TB_BENCH_PROFILE_REPS; rep++) {
        tb_profile_free(p);
        double t = tb_mono();
        p = tb_profile_build(dim, ev, reads, &o.profile, NULL);
        ts[rep] = tb_mono() - t;
    }
    qsort(ts, TB_BENCH_PROFILE_REPS, sizeof ts[0], cmp_double);
    *ms = ts[0] * 1000;
    *median = ts[TB_BENCH_PROFILE_REPS / 2] * 1000;
    free(ev);
    free(x);
    return p;
}

/* Indices of the m best scores (ties by index), for overlap@m. */
static void top_m(const float *sc, size_t n, size_t m, size_t *out)
{
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        size_t q = have < m ? have++ : m;
        if (q == m && !(sc[i] > sc[out[m - 1]]))
            continue;
        if (q == m)
            q = m - 1;
        while (q > 0 && sc[i] > sc[out[q - 1]]) {
            out[q] = out[q - 1];
            q--;
        }
        out[q] = i;
    }
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    /* --profile [DIM]: only the profile rebuilds (for callgrind / perf),
     * optionally of one dimension. */
    bool prof_only = argc > 1 && strcmp(argv[1], "--profile") == 0;
    size_t only_dim = prof_only && argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 0;
    openblas_set_num_threads(1);
    size_t dims[] = {100, 384};
    size_t sizes[] = {100000, 1000000};
    printf("coarse kernel: %s; best of 5 runs, one thread\n", tb_rank_index_kernel());
    printf("%-9s %4s %9s %9s %10s %10s %9s %8s %7s\n", "items", "dim", "index ms", "cent ms",
           "default ms", "exact ms", "overlap", "target", "k");
    for (size_t d = 0; d < 2; d++) {
        if (only_dim && dims[d] != only_dim)
            continue;
        double pms;
        double pmed;
        tb_profile *p = profile(1000, dims[d], &pms, &pmed);
        printf("profile rebuild from 1000 reads, dim %zu: best %.1f ms, median %.1f ms "
               "(target 20 ms), k = %zu\n",
               dims[d], pms, pmed, tb_profile_k(p));
        fflush(stdout);
        if (prof_only) {
            tb_profile_free(p);
            continue;
        }
        for (size_t s = 0; s < (quick ? 1 : 2); s++) {
            size_t n = sizes[s], dim = dims[d];
            float *c = clustered(n, dim, 50, 7 + s);
            struct tb_ranked *out = malloc(n * sizeof *out);
            double t = tb_mono();
            tb_rank_index *ix = tb_rank_index_build(c, n, dim);
            double bi = tb_mono() - t;
            struct tb_rank_opts o;
            tb_rank_opts_default(&o);
            o.limit = 100;
            o.seed = 1;
            o.index = ix;
            o.explore_ratio = 0; /* compare the ranked top 100 only */
            double bc = 1e9, bd = 1e9;
            size_t got[100], want[100];
            for (int rep = 0; rep < 5; rep++) {
                struct tb_rank_opts oc = o;
                oc.method = TB_RANK_CENTROID;
                t = tb_mono();
                long m = tb_rank(p, c, n, dim, &oc, out, NULL);
                t = tb_mono() - t;
                bc = t < bc ? t : bc;
                t = tb_mono();
                m = tb_rank(p, c, n, dim, &o, out, NULL);
                t = tb_mono() - t;
                bd = t < bd ? t : bd;
                if (m != 100) {
                    fprintf(stderr, "rank returned %ld\n", m);
                    return 1;
                }
                for (size_t i = 0; i < 100; i++)
                    got[i] = out[i].index;
            }
            /* The exact default ranking of the whole catalogue (every item
             * against every read item; 100k rows only: it is the slow path
             * two-stage ranking avoids). */
            char eb[32] = "-", ob[32] = "-";
            char pools[160] = "";
            if (n <= 100000) {
                float *sc = malloc(n * sizeof(float));
                struct tb_rank_opts oe = o;
                oe.center_vec = tb_rank_index_mean(ix);
                t = tb_mono();
                tb_rank_scores(p, c, n, dim, &oe, sc, NULL);
                t = tb_mono() - t;
                snprintf(eb, sizeof eb, "%.0f", t * 1000);
                top_m(sc, n, 100, want);
                size_t ov = 0;
                for (size_t i = 0; i < 100; i++)
                    for (size_t j = 0; j < 100; j++)
                        ov += got[i] == want[j];
                snprintf(ob, sizeof ob, "%zu/100", ov);
                /* Overlap and time for other re-score pool sizes
                 * (tb_rank_opts.rescore; the default is 500 here). */
                size_t rs[] = {1000, 2000, 5000};
                for (size_t q = 0; q < 3; q++) {
                    struct tb_rank_opts orr = o;
                    orr.rescore = rs[q];
                    double br = 1e9;
                    for (int rep = 0; rep < 3; rep++) {
                        t = tb_mono();
                        tb_rank(p, c, n, dim, &orr, out, NULL);
                        t = tb_mono() - t;
                        br = t < br ? t : br;
                    }
                    size_t ov2 = 0;
                    for (size_t i = 0; i < 100; i++)
                        for (size_t j = 0; j < 100; j++)
                            ov2 += out[i].index == want[j];
                    size_t len = strlen(pools);
                    snprintf(pools + len, sizeof pools - len, "%s pool %zu: %zu/100 in %.1f ms",
                             q ? ";" : "", rs[q], ov2, br * 1000);
                }
                free(sc);
            }
            printf("%-9zu %4zu %9.1f %9.1f %10.1f %10s %9s %8s %7zu\n", n, dim, bi * 1000,
                   bc * 1000, bd * 1000, eb, ob, n == 100000 ? "20 ms" : "150 ms",
                   tb_profile_k(p));
            if (*pools)
                printf("          overlap@100 vs exact by re-score pool:%s\n", pools);
            fflush(stdout);
            tb_rank_index_free(ix);
            free(c);
            free(out);
        }
        tb_profile_free(p);
    }
    return 0;
}

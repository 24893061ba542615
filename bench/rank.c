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
 * and reports the best of 5 runs. OpenBLAS is pinned to one thread, as the
 * targets are single-threaded: 100k items < 20 ms, 1M < 150 ms, profile
 * rebuild from 1,000 reads < 20 ms.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec/rec.h"

void openblas_set_num_threads(int);

static float *clustered(size_t n, size_t dim, size_t c, uint64_t seed)
{
    tb_rng r;
    tb_rng_seed(&r, seed);
    float *cen = malloc(c * dim * sizeof(float)), *x = malloc(n * dim * sizeof(float));
    if (!cen || !x) {
        fprintf(stderr, "out of memory for %zu x %zu\n", n, dim);
        exit(1);
    }
    for (size_t j = 0; j < c * dim; j++)
        cen[j] = (float)tb_rng_normal(&r);
    for (size_t i = 0; i < n; i++) {
        const float *cc = cen + (i % c) * dim;
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = cc[j] + (float)(1.5 * tb_rng_normal(&r));
        tb_l2_normalize(x + i * dim, dim);
    }
    free(cen);
    return x;
}

static tb_profile *profile(size_t reads, size_t dim, double *ms)
{
    float *x = clustered(reads, dim, 6, 99);
    struct tb_profile_event *ev = malloc(reads * sizeof *ev);
    for (size_t i = 0; i < reads; i++)
        ev[i] = (struct tb_profile_event){(int64_t)i + 1, (int64_t)i + 1,
                                          i % 7 ? TB_EV_READ : TB_EV_LIKE,
                                          1700000000 + (int64_t)i * 3600, x + i * dim};
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    tb_profile *p = NULL;
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        tb_profile_free(p);
        double t = tb_mono();
        p = tb_profile_build(dim, ev, reads, &o.profile, NULL);
        t = tb_mono() - t;
        if (t < best)
            best = t;
    }
    *ms = best * 1000;
    free(ev);
    free(x);
    return p;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    openblas_set_num_threads(1);
    size_t dims[] = {100, 384};
    size_t sizes[] = {100000, 1000000};
    printf("%-10s %5s %10s %10s %10s %10s %6s\n", "items", "dim", "scores ms", "rank ms", "knn ms",
           "target", "k");
    for (size_t d = 0; d < 2; d++) {
        double pms;
        tb_profile *p = profile(1000, dims[d], &pms);
        printf("profile rebuild from 1000 reads, dim %zu: %.1f ms (target 20 ms), k = %zu\n",
               dims[d], pms, tb_profile_k(p));
        for (size_t s = 0; s < (quick ? 1 : 2); s++) {
            size_t n = sizes[s], dim = dims[d];
            float *c = clustered(n, dim, 50, 7 + s);
            float *sc = malloc(n * sizeof(float));
            struct tb_ranked *out = malloc(n * sizeof *out);
            struct tb_rank_opts o;
            tb_rank_opts_default(&o);
            o.limit = 100;
            o.seed = 1;
            o.method = TB_RANK_CENTROID;
            double bs = 1e9, br = 1e9, bk = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                double t = tb_mono();
                tb_rank_scores(p, c, n, dim, &o, sc, NULL);
                t = tb_mono() - t;
                if (t < bs)
                    bs = t;
                t = tb_mono();
                long m = tb_rank(p, c, n, dim, &o, out, NULL);
                t = tb_mono() - t;
                if (m != 100) {
                    fprintf(stderr, "rank returned %ld\n", m);
                    return 1;
                }
                if (t < br)
                    br = t;
                if (n <= 100000 && rep < 2) {
                    struct tb_rank_opts ok = o;
                    ok.method = TB_RANK_DEFAULT;
                    t = tb_mono();
                    tb_rank(p, c, n, dim, &ok, out, NULL);
                    t = tb_mono() - t;
                    if (t < bk)
                        bk = t;
                }
            }
            char kb[32] = "-";
            if (bk < 1e9)
                snprintf(kb, sizeof kb, "%.1f", bk * 1000);
            printf("%-10zu %5zu %10.1f %10.1f %10s %10s %6zu\n", n, dim, bs * 1000, br * 1000, kb,
                   n == 100000 ? "20 ms" : "150 ms", tb_profile_k(p));
            free(c);
            free(sc);
            free(out);
        }
        tb_profile_free(p);
    }
    return 0;
}

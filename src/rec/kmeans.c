/*
 * kmeans.c -- weighted spherical k-means for interest clusters.
 *
 * Items are unit vectors compared by cosine, so the natural clustering is
 * spherical k-means: assign each point to the centroid with the highest
 * cosine, then set each centroid to the normalised (weighted) sum of its
 * points. Weights carry recency decay and like/read strength, so an old
 * interest shrinks instead of vanishing.
 *
 * Seeding is k-means++ adapted to cosine: the next seed is drawn with
 * probability proportional to w_i * (1 - max cos to the chosen seeds), which
 * spreads seeds across interests and makes Lloyd converge in a few steps.
 * The assignment step is one matrix product (x * C^T) with cblas_sgemm.
 *
 * Choosing k (a cost elbow). Adding a cluster always lowers the cost
 * (sum of 1 - cos); the question is whether it lowers it by more than
 * splitting noise would. We scan k = 1, 2, ... and accept k+1 when
 * cost(k+1) < (1 - TB_KMEANS_GAIN) * cost(k), stopping after two rejected
 * steps in a row (one look-ahead, because a split that separates two
 * interests can need one intermediate step). TB_KMEANS_GAIN = 0.1.
 * Measured on synthetic data (tests/rec_synth.h, d = 32 and 100, n = 30
 * to 1000): splitting pure noise gains 1-8 %, separating real clusters
 * 25-55 %. A BIC-style rule (minimise n ln cost + k ln n) was tried first
 * and over-splits in high dimension: with n = 300, d = 32 it accepts any
 * gain above 1.9 % and picked k = 6 on single-cluster data. k is bounded
 * by kmax ~ sqrt(n/2) (capped at 16): 20 reads give at most 3 interests.
 * docs/EVALUATION.md compares this choice with a fixed k = 10.
 *
 * Each k is fitted from TB_KMEANS_RESTARTS seedings and the cheapest kept,
 * because a single k-means++ start lands in a poor local optimum now and
 * then, which would look like a missing elbow.
 *
 * Speed (a profile of 1,000 reads is rebuilt on every request that finds
 * it stale; target < 20 ms at 384-d on one thread). Measured with
 * callgrind (bench/rank --profile): the old code spent 55 % of its
 * instructions in the centroid update (a scalar double pass over n x dim
 * every iteration) and 11 % in scalar dot products while seeding. Now:
 *   - scratch is allocated once per scan, not per run;
 *   - the update is incremental: per-cluster sums are kept, and only points
 *     that changed cluster are moved between them (vectorised axpy), so
 *     after the first iteration an iteration costs the sgemm and the few
 *     points that moved;
 *   - seeding distances come from one sgemv per seed;
 *   - for big problems (n x dim > TB_KMEANS_SMALL) the scan warm-starts k
 *     from the k - 1 solution with its costliest cluster bisected (a 2-means
 *     run over that cluster's members) and adds a single fresh seeding:
 *     2 runs per k instead of 3, the warm one converging in 2-4 iterations.
 *     Small problems (every evaluation reader) keep the three fresh
 *     seedings: they are cheap, and the evaluation stays exactly as it
 *     was. Forcing the big path on them too (-DTB_KMEANS_SMALL=0) moved
 *     the cluster scorers' metrics by at most 0.003 either way and the
 *     default (kde, no clusters) not at all. A warm start from a single
 *     new seed (greedy k-means++) was tried first: in high dimension a
 *     noisy point captures almost nothing, and it missed true clusters
 *     (tests: kmeans::auto_big_warm_start).
 * 270M -> 84M instructions per rebuild at 384-d (112M -> 33M at 100-d).
 */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"

#define TB_KMEANS_GAIN 0.1
#define TB_KMEANS_RESTARTS 3
#ifndef TB_KMEANS_SMALL
#define TB_KMEANS_SMALL 65536
#endif

void tb_kmeans_clear(struct tb_kmeans *km)
{
    free(km->cent);
    free(km->assign);
    memset(km, 0, sizeof *km);
}

size_t tb_kmeans_default_kmax(size_t n)
{
    size_t k = (size_t)sqrt((double)n / 2.0);
    if (k < 1)
        k = 1;
    return k > 16 ? 16 : k;
}

/* Scratch shared by every run of one tb_kmeans_auto scan (allocated once,
 * sized for the largest k), so a run allocates only its result. */
struct km_work {
    float *sims;   /* n x kmax: x * cent^T; also n floats of seeding scratch */
    float *best;   /* n: cosine of each point to its centroid */
    double *sum;   /* kmax x dim: weighted sum of each cluster's members */
    size_t *cnt;   /* kmax: members per cluster */
};

static void work_init(struct km_work *ws, size_t n, size_t dim, size_t kmax)
{
    ws->sims = tb_malloc(n * kmax * sizeof(float));
    ws->best = tb_malloc(n * sizeof(float));
    ws->sum = tb_malloc(kmax * dim * sizeof(double));
    ws->cnt = tb_malloc(kmax * sizeof(size_t));
}

static void work_free(struct km_work *ws)
{
    free(ws->sims);
    free(ws->best);
    free(ws->sum);
    free(ws->cnt);
}

/* s += a * x (dim values). Blocks of 16 with a fixed inner trip count, so
 * gcc -O2 (very cheap vectoriser cost model) and clang both vectorise. */
static void axpy(double *restrict s, const float *restrict x, double a, size_t dim)
{
    size_t j = 0;
    for (; j + 16 <= dim; j += 16)
        for (size_t e = 0; e < 16; e++)
            s[j + e] += a * (double)x[j + e];
    for (; j < dim; j++)
        s[j] += a * (double)x[j];
}

/* dist[i] = min(dist[i], 1 - x_i . c), or = when first; tmp has n floats.
 * One sgemv: no packing of x, unlike sgemm. */
static void seed_dist(const float *x, size_t n, size_t dim, const float *c, float *dist,
                      float *tmp, bool first)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)dim, 1.0f, x, (int)dim, c, 1, 0.0f,
                tmp, 1);
    for (size_t i = 0; i < n; i++) {
        float d = 1.0f - tmp[i];
        if (first || d < dist[i])
            dist[i] = d;
    }
}

/* k-means++ seeding into cent (k x dim). dist and tmp are n scratch floats. */
static void seed_pp(const float *x, const float *w, size_t n, size_t dim, size_t k,
                    tb_rng *rng, float *cent, float *dist, float *tmp)
{
    /* First seed: drawn by weight. */
    double tot = 0;
    for (size_t i = 0; i < n; i++)
        tot += w ? w[i] : 1.0;
    double r = tb_rng_uniform(rng) * tot;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; i++) {
        r -= w ? w[i] : 1.0;
        if (r < 0) {
            pick = i;
            break;
        }
    }
    memcpy(cent, x + pick * dim, dim * sizeof(float));
    seed_dist(x, n, dim, cent, dist, tmp, true);
    for (size_t c = 1; c < k; c++) {
        tot = 0;
        for (size_t i = 0; i < n; i++)
            tot += (w ? w[i] : 1.0) * (dist[i] > 0 ? dist[i] : 0);
        if (tot <= 0) {
            /* All points coincide with seeds: duplicate one; Lloyd keeps
             * it harmless (an empty cluster gets reseeded). */
            pick = (size_t)tb_rng_below(rng, n);
        } else {
            r = tb_rng_uniform(rng) * tot;
            pick = n - 1;
            for (size_t i = 0; i < n; i++) {
                r -= (w ? w[i] : 1.0) * (dist[i] > 0 ? dist[i] : 0);
                if (r < 0) {
                    pick = i;
                    break;
                }
            }
        }
        float *cc = cent + c * dim;
        memcpy(cc, x + pick * dim, dim * sizeof(float));
        if (c + 1 < k)
            seed_dist(x, n, dim, cc, dist, tmp, false);
    }
}

/* One Lloyd run (the contract of tb_kmeans_run) with caller scratch. The
 * update is incremental: the per-cluster sums are kept, and a point that
 * changes cluster is subtracted from its old sum and added to its new one,
 * so after the first iteration (every point new) an iteration costs the
 * sgemm plus the few points that moved, not another pass over n x dim. */
static void run_ws(const float *x, const float *w, size_t n, size_t dim, size_t k,
                   const float *init, uint64_t seed, int max_iter, struct km_work *ws,
                   struct tb_kmeans *out)
{
    out->k = k;
    out->cent = tb_malloc(k * dim * sizeof(float));
    out->assign = tb_malloc(n * sizeof(int));
    float *sims = ws->sims, *best = ws->best;
    double *sum = ws->sum;
    size_t *cnt = ws->cnt;
    tb_rng rng;
    tb_rng_seed(&rng, seed ^ 0x6b6d65616e73ull);

    if (init)
        memcpy(out->cent, init, k * dim * sizeof(float));
    else
        seed_pp(x, w, n, dim, k, &rng, out->cent, best, sims);
    for (size_t i = 0; i < n; i++)
        out->assign[i] = -1;
    memset(sum, 0, k * dim * sizeof(double));
    memset(cnt, 0, k * sizeof(size_t));

    double cost = 0;
    for (int it = 0; it < max_iter; it++) {
        out->iters = it + 1;
        /* Assignment: sims = x * cent^T, one sgemm. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)dim, 1.0f, x,
                    (int)dim, out->cent, (int)dim, 0.0f, sims, (int)k);
        size_t changed = 0;
        cost = 0;
        for (size_t i = 0; i < n; i++) {
            const float *s = sims + i * k;
            size_t b = 0;
            for (size_t c = 1; c < k; c++)
                if (s[c] > s[b])
                    b = c;
            best[i] = s[b];
            double wi = w ? w[i] : 1.0;
            int old = out->assign[i];
            if (old != (int)b) {
                if (old >= 0) {
                    axpy(sum + (size_t)old * dim, x + i * dim, -wi, dim);
                    cnt[old]--;
                }
                axpy(sum + b * dim, x + i * dim, wi, dim);
                cnt[b]++;
                out->assign[i] = (int)b;
                changed++;
            }
            cost += wi * (1.0 - s[b]);
        }
        if (changed == 0 && it > 0)
            break;
        /* Update: each centroid is its normalised sum. */
        for (size_t c = 0; c < k; c++) {
            double *sc = sum + c * dim;
            double nn = 0;
            if (cnt[c] > 0)
                for (size_t j = 0; j < dim; j++)
                    nn += sc[j] * sc[j];
            float *cc = out->cent + c * dim;
            if (nn > 1e-24) {
                double inv = 1.0 / sqrt(nn);
                for (size_t j = 0; j < dim; j++)
                    cc[j] = (float)(sc[j] * inv);
            } else {
                /* Empty (or cancelling) cluster: move it to the point worst
                 * served by its centroid, which is what splits a merged
                 * pair of interests. Its sum restarts from exact zero, so
                 * no rounding residue of departed members survives. */
                if (cnt[c] == 0)
                    memset(sc, 0, dim * sizeof(double));
                size_t far = 0;
                for (size_t i = 1; i < n; i++)
                    if (best[i] < best[far])
                        far = i;
                memcpy(cc, x + far * dim, dim * sizeof(float));
                best[far] = 1.0f;
            }
        }
    }
    out->cost = cost < 0 ? 0 : cost;
}

void tb_kmeans_run(const float *x, const float *w, size_t n, size_t dim, size_t k,
                   const float *init, uint64_t seed, int max_iter, struct tb_kmeans *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || dim == 0)
        return;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    if (max_iter < 1)
        max_iter = 1;
    struct km_work ws;
    work_init(&ws, n, dim, k);
    run_ws(x, w, n, dim, k, init, seed, max_iter, &ws, out);
    work_free(&ws);
}

/* Warm start for k + 1 clusters from a k-cluster solution km (bisecting):
 * the cluster with the largest cost (sum of w (1 - cos)) is split in two by
 * a 2-means run over its members alone, and the two halves replace it;
 * init ((k + 1) x dim) gets km's other centroids plus the halves. Splitting
 * a whole cluster, rather than adding one point as a new seed, matters in
 * high dimension: a single noisy point is farther from its cluster mates
 * than the merged centroid is, so it captures almost nothing. gather
 * (n x dim) and gw (n) are scratch; ws is free for the 2-means run. */
static void seed_split(const float *x, const float *w, size_t n, size_t dim,
                       const struct tb_kmeans *km, uint64_t seed, float *init, float *gather,
                       float *gw, double *ccost, struct km_work *ws)
{
    size_t k = km->k;
    memset(ccost, 0, k * sizeof(double));
    size_t *cnt = ws->cnt;
    memset(cnt, 0, k * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)km->assign[i];
        ccost[c] += (w ? w[i] : 1.0) * (1.0 - tb_dot(x + i * dim, km->cent + c * dim, dim));
        cnt[c]++;
    }
    size_t worst = k;
    for (size_t c = 0; c < k; c++)
        if (cnt[c] >= 2 && (worst == k || ccost[c] > ccost[worst]))
            worst = c;
    memcpy(init, km->cent, k * dim * sizeof(float));
    if (worst == k) {
        /* Every cluster is a single point (cannot happen when n > k):
         * duplicate a centroid; Lloyd reseeds the empty copy. */
        memcpy(init + k * dim, km->cent, dim * sizeof(float));
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((size_t)km->assign[i] == worst) {
            memcpy(gather + m * dim, x + i * dim, dim * sizeof(float));
            gw[m++] = w ? w[i] : 1.0f;
        }
    struct tb_kmeans half = {0};
    run_ws(gather, w ? gw : NULL, m, dim, 2, NULL, seed, 25, ws, &half);
    memcpy(init + worst * dim, half.cent, dim * sizeof(float));
    memcpy(init + k * dim, half.cent + dim, dim * sizeof(float));
    tb_kmeans_clear(&half);
}

void tb_kmeans_auto(const float *x, const float *w, size_t n, size_t dim, size_t kmax,
                    uint64_t seed, struct tb_kmeans *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || dim == 0)
        return;
    if (kmax == 0)
        kmax = tb_kmeans_default_kmax(n);
    if (kmax > n)
        kmax = n;
    struct km_work ws;
    work_init(&ws, n, dim, kmax);
    float *init = tb_malloc(kmax * dim * sizeof(float));
    float *gather = NULL, *gw = NULL;
    double *ccost = NULL;
    /* best: the last accepted k; tried: the last rejected one. The next k
     * warm-starts from the last k tried, whichever it is. */
    /* Small problems (n x dim <= TB_KMEANS_SMALL: every evaluation reader,
     * most rating histories) keep the evaluated TB_KMEANS_RESTARTS fresh
     * seedings per k. Big ones warm-start k from k - 1 and add one fresh
     * seeding: 2 runs per k instead of 3, and the warm one converges in
     * fewer iterations. */
    bool big = (double)n * (double)dim > TB_KMEANS_SMALL;
    int fresh = big ? 1 : TB_KMEANS_RESTARTS;
    if (big) {
        gather = tb_malloc(n * dim * sizeof(float));
        gw = tb_malloc(n * sizeof(float));
        ccost = tb_malloc(kmax * sizeof(double));
    }
    struct tb_kmeans best = {0}, tried = {0};
    const struct tb_kmeans *last = NULL;
    int rejected = 0;
    double best_cost = INFINITY;
    for (size_t k = 1; k <= kmax; k++) {
        struct tb_kmeans km = {0};
        if (last && big) {
            seed_split(x, w, n, dim, last, seed + 2000 + k, init, gather, gw, ccost, &ws);
            run_ws(x, w, n, dim, k, init, seed + k, 25, &ws, &km);
        }
        for (int r = 0; r < (k == 1 ? 1 : fresh); r++) {
            struct tb_kmeans t;
            memset(&t, 0, sizeof t);
            run_ws(x, w, n, dim, k, NULL, seed + 1000 * (uint64_t)r + k, 25, &ws, &t);
            if (km.cent == NULL || t.cost < km.cost) {
                tb_kmeans_clear(&km);
                km = t;
            } else {
                tb_kmeans_clear(&t);
            }
        }
        /* Compare with the last accepted k, not the last tried one: two
         * small steps must not add up to an accepted split. */
        if (k == 1 || km.cost < (1.0 - TB_KMEANS_GAIN * (double)(rejected + 1)) * best_cost) {
            tb_kmeans_clear(&best);
            tb_kmeans_clear(&tried);
            best = km;
            best_cost = km.cost;
            rejected = 0;
            last = &best;
        } else {
            tb_kmeans_clear(&tried);
            tried = km;
            last = &tried;
            if (++rejected >= 2)
                break;
        }
    }
    tb_kmeans_clear(&tried);
    free(init);
    free(gather);
    free(gw);
    free(ccost);
    work_free(&ws);
    *out = best;
}

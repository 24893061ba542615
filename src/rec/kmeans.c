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
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"

#define TB_KMEANS_GAIN 0.1
#define TB_KMEANS_RESTARTS 3

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

/* k-means++ seeding into cent (k x dim). dist is n scratch floats. */
static void seed_pp(const float *x, const float *w, size_t n, size_t dim, size_t k,
                    tb_rng *rng, float *cent, float *dist)
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
    for (size_t i = 0; i < n; i++)
        dist[i] = 1.0f - tb_dot(x + i * dim, cent, dim);
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
        for (size_t i = 0; i < n; i++) {
            float d = 1.0f - tb_dot(x + i * dim, cc, dim);
            if (d < dist[i])
                dist[i] = d;
        }
    }
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
    out->k = k;
    out->cent = tb_malloc(k * dim * sizeof(float));
    out->assign = tb_malloc(n * sizeof(int));
    float *sims = tb_malloc(n * k * sizeof(float));
    float *best = tb_malloc(n * sizeof(float));
    double *sum = tb_malloc(k * dim * sizeof(double));
    tb_rng rng;
    tb_rng_seed(&rng, seed ^ 0x6b6d65616e73ull);

    if (init)
        memcpy(out->cent, init, k * dim * sizeof(float));
    else
        seed_pp(x, w, n, dim, k, &rng, out->cent, best);
    for (size_t i = 0; i < n; i++)
        out->assign[i] = -1;

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
            if (out->assign[i] != (int)b) {
                out->assign[i] = (int)b;
                changed++;
            }
            cost += (w ? w[i] : 1.0) * (1.0 - s[b]);
        }
        if (changed == 0 && it > 0)
            break;
        /* Update: weighted sums, normalised. */
        memset(sum, 0, k * dim * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double wi = w ? w[i] : 1.0;
            double *sc = sum + (size_t)out->assign[i] * dim;
            const float *xi = x + i * dim;
            for (size_t j = 0; j < dim; j++)
                sc[j] += wi * xi[j];
        }
        for (size_t c = 0; c < k; c++) {
            double *sc = sum + c * dim;
            double nn = 0;
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
                 * pair of interests. */
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
    free(sims);
    free(best);
    free(sum);
}

void tb_kmeans_auto(const float *x, const float *w, size_t n, size_t dim, size_t kmax,
                    uint64_t seed, struct tb_kmeans *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    if (kmax == 0)
        kmax = tb_kmeans_default_kmax(n);
    if (kmax > n)
        kmax = n;
    struct tb_kmeans best = {0};
    int rejected = 0;
    double best_cost = INFINITY;
    for (size_t k = 1; k <= kmax; k++) {
        struct tb_kmeans km = {0};
        for (int r = 0; r < (k == 1 ? 1 : TB_KMEANS_RESTARTS); r++) {
            struct tb_kmeans t;
            tb_kmeans_run(x, w, n, dim, k, NULL, seed + 1000 * (uint64_t)r + k, 25, &t);
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
            best = km;
            best_cost = km.cost;
            rejected = 0;
        } else {
            tb_kmeans_clear(&km);
            if (++rejected >= 2)
                break;
        }
    }
    *out = best;
}

/*
 * kmeans.h -- weighted spherical k-means (cosine), k-means++ seeding, and
 * the choice of k from the data. Internal to src/rec.
 */
#ifndef TB_REC_KMEANS_H
#define TB_REC_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct tb_kmeans {
    size_t k;        /* clusters found (<= requested when n < k) */
    float *cent;     /* k x dim unit centroids; owned, free with tb_kmeans_clear */
    int *assign;     /* n cluster indices; owned */
    double cost;     /* sum_i w_i * (1 - cos(x_i, centroid of i)) */
    int iters;       /* Lloyd iterations run */
};

/* Cluster n unit rows of x (n x dim) with weights w (NULL: all 1) into k
 * clusters. init (k x dim, may be NULL) warm-starts instead of k-means++.
 * Deterministic for a seed. k is clamped to [1, n]; n == 0 gives k == 0.
 * Fills *out (caller clears it). */
void tb_kmeans_run(const float *x, const float *w, size_t n, size_t dim, size_t k,
                   const float *init, uint64_t seed, int max_iter, struct tb_kmeans *out);

/* Choose k in [1, kmax] by the cost elbow described in kmeans.c (a split
 * must cut the cost by 10 %). kmax 0: min(sqrt(n/2), 16). Fills *out with the chosen clustering. */
void tb_kmeans_auto(const float *x, const float *w, size_t n, size_t dim, size_t kmax,
                    uint64_t seed, struct tb_kmeans *out);

/* The default bound on k for n points. */
size_t tb_kmeans_default_kmax(size_t n);

void tb_kmeans_clear(struct tb_kmeans *km);

#endif

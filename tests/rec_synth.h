/*
 * rec_synth.h -- synthetic clustered unit vectors for the recommender tests:
 * c random directions on the sphere, points = centre + noise, normalised.
 */
#ifndef TB_TEST_REC_SYNTH_H
#define TB_TEST_REC_SYNTH_H

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* centres: c x dim (filled); x: n x dim; label: n (point i gets cluster i % c). */
static inline void synth_clusters(uint64_t seed, size_t c, size_t n, size_t dim, double noise,
                                  float *centres, float *x, int *label)
{
    tb_rng r;
    tb_rng_seed(&r, seed);
    for (size_t j = 0; j < c * dim; j++)
        centres[j] = (float)tb_rng_normal(&r);
    for (size_t j = 0; j < c; j++)
        tb_l2_normalize(centres + j * dim, dim);
    for (size_t i = 0; i < n; i++) {
        size_t l = i % c;
        if (label)
            label[i] = (int)l;
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = centres[l * dim + j] + (float)(noise * tb_rng_normal(&r) / 10.0);
        tb_l2_normalize(x + i * dim, dim);
    }
}

#endif

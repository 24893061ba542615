/*
 * index.h -- a compact copy of a candidate catalogue for the coarse stage
 * of two-stage ranking (index.c). Internal to src/rec; the public handle
 * is tb_rank_index in rec.h.
 */
#ifndef TB_REC_INDEX_H
#define TB_REC_INDEX_H

#include "rank.h"

/* Coarse scores of every row of ix for scorer s (its centroids, centred on
 * its centre): the weighted soft maximum over the clusters at the kde
 * width, computed from the int8 rows. out has tb_rank_index_n(ix) floats. */
void tb_rank_index_coarse(const tb_rank_index *ix, const struct tb_scorer *s, float *out);

#endif

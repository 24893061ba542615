/*
 * rank.h -- internals shared by rank.c (scores) and select.c (selection).
 */
#ifndef TB_REC_RANK_H
#define TB_REC_RANK_H

#include "profile.h"

/* The method TB_RANK_DEFAULT resolves to (chosen by evaluation). */
#define TB_RANK_BEST TB_RANK_KNN

/* Fill the explanation fields (cluster, near_item, sim) of r for the
 * candidate vector x. */
void tb_rank_explain_one(const tb_profile *p, const float *x, struct tb_ranked *r);

#endif

/*
 * rank.h -- internals shared by rank.c (scores), select.c (selection) and
 * index.c (the compact candidate index and two-stage ranking).
 */
#ifndef TB_REC_RANK_H
#define TB_REC_RANK_H

#include "profile.h"

/* The method TB_RANK_DEFAULT resolves to (chosen by evaluation). */
#define TB_RANK_BEST TB_RANK_KDE
/* Kernel width of TB_RANK_KDE (chosen by evaluation, docs/EVALUATION.md). */
#define TB_KDE_TAU 0.15
/* Below this many candidates their mean is a poor estimate of the
 * collection's; the profile's own items are added to it (rank.c). */
#define TB_CENTER_MIN 32

/* A profile prepared for scoring: every matrix centred (when the scorer
 * centres) and renormalised, with the products each column needs for the
 * centring identity (rank.c). Owns its arrays; tb_scorer_free. */
struct tb_scorer {
    size_t dim;
    int method;          /* resolved: never TB_RANK_DEFAULT */
    size_t knn;
    float tau;
    bool center;
    float *mu;           /* dim: the centre (NULL when not centring) */
    float mu2;           /* |mu|^2 */
    float *P, *Pmu, *Plw;/* positives (np x dim), mu . row, log of normalised weight */
    size_t np;
    float *C, *Cmu, *Clw;/* centroids (k x dim), mu . row, log cluster weight */
    float *Q, *Qmu, *Qlw;/* probes for the coarse stage (index.c): per cluster the
                            recency-weighted mean of its (centred) members, not
                            normalised, mu . row, log of the cluster's weight share */
    size_t k;
    float *N, *Nmu;      /* negatives */
    size_t nn;
    float *W, *Wmu;      /* weak negatives */
    size_t nw;
    float negw, weakw;
    size_t cols;         /* widest matrix: scratch columns per row */
};

/* Prepare p for scoring with o (method, knn, tau, penalty weights); mu is
 * the centre (dim floats, copied) or NULL for none. method overrides
 * o->method when >= 0. Returns 0 or -1 (bad method, empty profile). */
int tb_scorer_init(struct tb_scorer *s, const tb_profile *p, const struct tb_rank_opts *o,
                   int method, const float *mu, tb_err *err);
void tb_scorer_free(struct tb_scorer *s);
/* Scratch floats tb_scorer_block needs for `rows` rows. */
size_t tb_scorer_scratch(const struct tb_scorer *s, size_t rows);
/* Score rows unit vectors x (rows x dim) into out; scratch has
 * tb_scorer_scratch(s, rows) floats. No allocation. */
void tb_scorer_block(const struct tb_scorer *s, const float *x, size_t rows, float *out,
                     float *scratch);

/* The centre for ranking n candidates with profile p under o: o->center_vec
 * when given; else the candidates' mean, with the profile's positives and
 * negatives added when n < TB_CENTER_MIN. Writes dim floats to mu. */
void tb_rank_center(const tb_profile *p, const float *cand, size_t n, size_t dim,
                    const struct tb_rank_opts *o, float *mu);

/* Fill the explanation fields (cluster, near_item, sim) of r for the
 * candidate vector x. */
void tb_rank_explain_one(const tb_profile *p, const float *x, struct tb_ranked *r);

#endif

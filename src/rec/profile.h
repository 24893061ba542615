/*
 * profile.h -- the inside of a tb_profile, shared by the files of src/rec
 * (profile.c builds and serialises it, rank.c reads it). Not a public API.
 */
#ifndef TB_REC_PROFILE_H
#define TB_REC_PROFILE_H

#include "rec.h"

/* A list of items with their vectors; all arrays have cap entries, n used. */
struct tb_plist {
    size_t n, cap;
    int64_t *id;      /* item ids */
    int64_t *ts;      /* time of the newest event about the item */
    int32_t *aux;     /* positives: kind; shown: times shown */
    uint8_t *hasvec;  /* shown: whether vec holds the item's embedding */
    float *vec;       /* n x dim */
};

struct tb_profile {
    size_t dim;
    int64_t last_event;   /* newest event id folded in */
    int64_t ref_ts;       /* time the recency weights were computed for */
    uint32_t weak_shown;  /* threshold used for weak negatives */
    struct tb_plist pos;  /* read + liked */
    struct tb_plist neg;  /* disliked */
    struct tb_plist shown;/* shown, never opened (counts) */
    float *pos_w;         /* npos recency x strength weights (fit) */
    int32_t *pos_cl;      /* npos cluster of each positive (fit), -1 before */
    size_t k;             /* clusters */
    float *cent;          /* k x dim unit centroids */
    float *cent_w;        /* k weights, sum 1 */
    uint32_t *cent_n;     /* k sizes */
    size_t nweak;         /* weak negatives, derived from shown */
    float *weak;          /* nweak x dim */
};

/* Recompute the weak-negative matrix from the shown list. */
void tb_profile_derive_weak(tb_profile *p, unsigned threshold);

#endif

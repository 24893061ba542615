/*
 * rec.h -- the recommender: interest profiles, ranking, selection, and the
 * store-level tb_recommend that ties them together.
 *
 * The pipeline (docs/RECOMMENDER.md explains the choices):
 *
 *   events (read, like, dislike, shown) --> tb_profile
 *       positives  = read + liked items, weighted by recency (half-life)
 *       clusters   = spherical k-means over the positives, k chosen from the
 *                    data (unless forced), each with a weight
 *       negatives  = disliked items; weak negatives = items shown many times
 *                    and never opened
 *   candidates (n x dim unit vectors) --> tb_rank
 *       score      = similarity to the interests (method: nearest centroid,
 *                    weighted clusters, k nearest read items, or hybrid)
 *                    minus a penalty near negatives
 *       selection  = best filter_ratio of the candidates, plus explore_ratio
 *                    of random others ("exploration picks"), optionally
 *                    re-ordered for diversity (MMR), deterministic under seed
 *       explanation= score, the closest read item and its cluster
 *
 * Cold start: with fewer than min_reads positive events, tb_rank and
 * tb_recommend return the input unchanged, in its original order.
 *
 * Ownership: a tb_profile is owned by its creator and freed with
 * tb_profile_free. Result arrays are owned by the result struct and freed by
 * tb_rec_result_free. Nothing returned points into caller memory.
 *
 * Threads: a const tb_profile may be used by many threads at once for
 * tb_rank; building or updating one is single-threaded.
 */
#ifndef TB_REC_H
#define TB_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tastebud.h"
#include "util/config.h"
#include "util/util.h"

/* ------------------------------------------------------------- options */

/* How a candidate's interest score is computed (see rank.c). */
enum tb_rank_method {
    TB_RANK_DEFAULT = 0,   /* the method chosen by evaluation (docs/EVALUATION.md) */
    TB_RANK_CENTROID,      /* max cosine to a cluster centroid */
    TB_RANK_WEIGHTED,      /* sum over clusters of weight * softmax-ish similarity */
    TB_RANK_KNN,           /* mean cosine to the knn nearest read items (weighted) */
    TB_RANK_HYBRID,        /* mean of CENTROID and KNN */
    TB_RANK_KDE,           /* kernel density over the read items: tau ln sum_i w_i exp(cos/tau) */
    TB_RANK__COUNT
};

/* "centroid", "weighted", "knn", "hybrid", "kde", "default" <-> method; -1 unknown. */
int tb_rank_method_parse(const char *s);
const char *tb_rank_method_name(int method);

/* Options for building a profile. */
struct tb_profile_opts {
    double half_life_days;  /* recency decay of positives; <= 0: no decay (config half_life_days, default 30) */
    size_t k;               /* 0: choose k from the data; > 0: force k (k = 10 is the reference rule) */
    size_t kmax;            /* upper bound for the choice of k; 0: min(sqrt(n/2), 16) */
    size_t max_items;       /* keep at most this many newest positives (default 2000) */
    unsigned weak_shown;    /* an item shown this many times and never opened is a weak negative (default 3; 0 off) */
    int64_t now;            /* reference time for decay; 0: the newest event's time */
    uint64_t seed;          /* k-means seeding */
};

/* A compact copy of a candidate catalogue (int8 rows with a scale each,
 * and the catalogue's mean vector), built once per collection and reused
 * for every user: two-stage ranking scores all rows coarsely from it and
 * only the best few hundred exactly (index.c). */
typedef struct tb_rank_index tb_rank_index;

/* Options for ranking and selection. */
struct tb_rank_opts {
    int method;             /* enum tb_rank_method */
    double filter_ratio;    /* keep the best filter_ratio of candidates (config filter_ratio, default 0.5) */
    double explore_ratio;   /* plus this fraction of random others (config explore_ratio, default 0.1) */
    double diversity;       /* MMR lambda in [0,1): 0 off (config diversity) */
    double neg_weight;      /* penalty weight for closeness to disliked items (default 0.5) */
    double weak_weight;     /* penalty weight for weak negatives (default 0.15) */
    size_t knn;             /* neighbours for TB_RANK_KNN / HYBRID (default 3) */
    double kde_tau;         /* kernel width of TB_RANK_KDE (default TB_KDE_TAU) */
    bool center;            /* compare in the centred space (default true; see rank.c) */
    const float *center_vec;/* the collection's mean vector (dim floats, not owned); NULL:
                               the candidates' mean (see rank.c) */
    const tb_rank_index *index; /* built from exactly the candidates passed to tb_rank
                               (same n, dim, order), or NULL: enables two-stage ranking
                               with a limit, and supplies the centre */
    const bool *exclude;    /* n flags (one per candidate) or NULL: rows flagged true are never
                               returned (a catalogue's already-judged items) but still belong
                               to the catalogue (its index and centre) */
    size_t min_reads;       /* cold start below this many positives (config min_reads, default 10) */
    size_t limit;           /* at most this many results (0: no limit) */
    size_t rescore;         /* two-stage ranking: rows re-scored exactly after the coarse
                               stage; 0: max(500, 5 x limit) (at least 4 x limit is used) */
    size_t index_min;       /* tb_recommend on a collection with a limit ranks two-stage from
                               a cached index when it has at least this many items;
                               0: TB_REC_INDEX_MIN */
    bool keep_order;        /* output the selected items in input order (for feeds) instead of by score */
    uint64_t seed;          /* exploration picks and tie breaks (config seed) */
    struct tb_profile_opts profile;
};

/* Fill in the defaults above. */
void tb_rank_opts_default(struct tb_rank_opts *o);
/* Defaults, then the config keys half_life_days, filter_ratio,
 * explore_ratio, diversity, min_reads, rank_method (when c has them). c may
 * be NULL. */
void tb_rank_opts_from_config(struct tb_rank_opts *o, const tb_config *c);

/* ------------------------------------------------------------- profiles */

typedef struct tb_profile tb_profile;

/* One observed event, with the embedding of its item (dim floats, unit
 * length). The vector is copied; it need not outlive the call. */
struct tb_profile_event {
    int64_t id;        /* event id (profiles remember the newest used) */
    int64_t item_id;
    int kind;          /* enum tb_event_kind */
    int64_t ts;        /* unix time */
    const float *vec;  /* NULL for TB_EV_SHOWN events of items never embedded */
};

/* A new, empty profile for vectors of dimension dim. Free with
 * tb_profile_free. */
tb_profile *tb_profile_new(size_t dim);
void tb_profile_free(tb_profile *p);

/* Add events (in id order) to the profile's item lists. Does not
 * re-cluster: call tb_profile_fit afterwards. Returns 0 or -1 (a vector of
 * the wrong shape, a NULL vector for a read/like/dislike). */
int tb_profile_add_events(tb_profile *p, const struct tb_profile_event *ev, size_t n,
                          const struct tb_profile_opts *o, tb_err *err);

/* (Re)compute recency weights and interest clusters from the positives.
 * Warm-starts from the previous centroids when the number of clusters does
 * not change. Returns 0 or -1. */
int tb_profile_fit(tb_profile *p, const struct tb_profile_opts *o, tb_err *err);

/* Convenience: a new profile from events, fitted. NULL and err on failure. */
tb_profile *tb_profile_build(size_t dim, const struct tb_profile_event *ev, size_t n,
                             const struct tb_profile_opts *o, tb_err *err);

/* Accessors. */
size_t tb_profile_dim(const tb_profile *p);
size_t tb_profile_npos(const tb_profile *p);       /* read + liked items */
size_t tb_profile_nneg(const tb_profile *p);       /* disliked items */
size_t tb_profile_nweak(const tb_profile *p);      /* weak negatives */
size_t tb_profile_k(const tb_profile *p);          /* number of clusters */
int64_t tb_profile_last_event(const tb_profile *p);
/* Cluster c's unit centroid (dim floats), weight (sum 1) and size. */
const float *tb_profile_centroid(const tb_profile *p, size_t c, float *weight, size_t *size);
/* The cluster a positive item (0..npos-1) belongs to, and its item id. */
int tb_profile_pos_cluster(const tb_profile *p, size_t i, int64_t *item_id);

/* Serialise into out (appends): a versioned, checksummed binary blob
 * (format in profile.c). */
void tb_profile_serialize(const tb_profile *p, tb_buf *out);
/* Parse a blob. NULL with TB_EFORMAT on anything malformed (bad magic,
 * version, sizes, checksum, non-finite numbers); never crashes on any input.
 * Free with tb_profile_free. */
tb_profile *tb_profile_deserialize(const void *blob, size_t n, tb_err *err);

/* ------------------------------------------------------------- ranking */

/* Why an item is in the output. */
enum tb_why {
    TB_WHY_SIMILAR = 0,  /* chosen by score */
    TB_WHY_EXPLORE,      /* an exploration pick (random, for serendipity) */
    TB_WHY_COLD,         /* cold start: input passed through unchanged */
};

struct tb_ranked {
    size_t index;        /* position in the candidate array */
    float score;         /* interest score (higher is better) */
    float sim;           /* cosine to the closest read item */
    int why;             /* enum tb_why */
    int cluster;         /* the closest cluster, -1 none */
    int64_t near_item;   /* item id of the closest read item, 0 none */
};

/* Rank n candidates (row-major n x dim, unit rows) for profile p and select
 * the output (filter + explore + optional MMR + limit). out must have room
 * for n entries. Returns the number of entries written (>= 0), or -1 on
 * bad arguments. In cold start (p NULL or fewer than o->min_reads
 * positives) writes all n in input order with why = TB_WHY_COLD (subject
 * to o->limit). Deterministic for a given o->seed. o may be NULL
 * (defaults). */
long tb_rank(const tb_profile *p, const float *cand, size_t n, size_t dim,
             const struct tb_rank_opts *o, struct tb_ranked *out, tb_err *err);

/* Build the index of n unit rows (n x dim). Never fails but for memory
 * (aborts). Free with tb_rank_index_free. */
tb_rank_index *tb_rank_index_build(const float *cand, size_t n, size_t dim);
void tb_rank_index_free(tb_rank_index *ix);
size_t tb_rank_index_n(const tb_rank_index *ix);
size_t tb_rank_index_dim(const tb_rank_index *ix);
/* The mean of the rows it was built from (dim floats, owned by ix). */
const float *tb_rank_index_mean(const tb_rank_index *ix);
/* Which integer kernel the coarse stage uses here: "avx512-vnni", "avx2"
 * or "portable". */
const char *tb_rank_index_kernel(void);

/* Score only: scores[i] = interest score of candidate i (no selection),
 * the building block of tb_rank and of evaluation. Returns 0 or -1. */
int tb_rank_scores(const tb_profile *p, const float *cand, size_t n, size_t dim,
                   const struct tb_rank_opts *o, float *scores, tb_err *err);

/* ------------------------------------------------------------- store level */

struct tb_rec_item {
    int64_t item_id;
    float score;
    float sim;           /* cosine to near_item */
    int why;             /* enum tb_why */
    int cluster;         /* -1 none */
    int64_t near_item;   /* the closest read item, 0 none */
};

struct tb_rec_result {
    struct tb_rec_item *items;  /* ordered; owned, free with tb_rec_result_free */
    size_t n;
    bool cold_start;            /* true: items are the input, unchanged */
    size_t n_reads;             /* positives in the profile */
    size_t k;                   /* clusters in the profile */
    size_t n_embedded;          /* candidates embedded on the fly */
};

/* Recommend for user. Loads the user's profile (model-specific), updates it
 * with events newer than it remembers (rebuilding from scratch when the
 * stored blob is missing or corrupt) and saves it back; takes candidates
 * from candidate_ids[0..n) when given (kept even if already read, as a feed
 * needs), else every item of collection (all catalogue items when NULL)
 * that the user has not read, liked or disliked; embeds candidates that
 * have no embedding for m (storing them); ranks and selects with o (NULL:
 * defaults). Candidates whose text cannot be embedded are skipped (logged).
 * A collection of at least o->index_min items (default TB_REC_INDEX_MIN),
 * with a limit and no candidate ids, is ranked two-stage from an index of
 * the collection cached in memory between calls (catcache.c): the same
 * items as exact ranking, give or take a few near the cut.
 * Fills *out (free with tb_rec_result_free). Returns 0 or -1. */
int tb_recommend(tb_store *s, tb_model *m, const char *user, const char *collection_or_NULL,
                 const int64_t *candidate_ids_or_NULL, size_t n, const struct tb_rank_opts *o,
                 struct tb_rec_result *out, tb_err *err);
void tb_rec_result_free(struct tb_rec_result *r);

/* Collections at least this big are ranked from a cached index by
 * tb_recommend (with a limit; see tb_rank_opts.index_min). */
#define TB_REC_INDEX_MIN 20000

/* Drop every cached catalogue index (tb_recommend keeps the vectors and
 * index of big collections in memory between calls; catcache.c). The next
 * call rebuilds. Thread-safe. */
void tb_rec_cache_clear(void);

/* Load (and update/rebuild/save) the user's profile for model m, as
 * tb_recommend does. Free with tb_profile_free. NULL on error. */
tb_profile *tb_profile_load(tb_store *s, tb_model *m, const char *user,
                            const struct tb_profile_opts *o, tb_err *err);

/* A one-line human explanation of it, appended to out: "score 0.81; close to
 * \"<title>\" you read (interest 2 of 4)" or "exploration pick". s may be
 * NULL (then item ids instead of titles). */
void tb_rec_explain(tb_store *s, const struct tb_rec_item *it, size_t k, tb_buf *out);

#endif /* TB_REC_H */

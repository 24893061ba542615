/*
 * eval.h -- offline evaluation of the ranker: three protocols on embedded
 * data, with baselines, so any ranking change can be measured.
 *
 * Everything here works on vectors already embedded (rows of unit
 * vectors); eval_data.c reads the generic file formats and embeds them
 * with a tb_model (with an on-disk cache).
 */
#ifndef TB_REC_EVAL_H
#define TB_REC_EVAL_H

#include "rec.h"

/* A ranking method under evaluation. */
enum tb_eval_kind {
    TB_EVAL_OURS = 0,   /* tb_rank_scores with rank opts */
    TB_EVAL_RANDOM,     /* uniform random scores */
    TB_EVAL_POPULARITY, /* protocol 2 only: number of likes in training data */
    TB_EVAL_KMEANS10,   /* the reference rule: k-means k=10 on the reads, nearest centroid */
};

struct tb_eval_method {
    const char *name;
    int kind;                  /* enum tb_eval_kind */
    struct tb_rank_opts rank;  /* for TB_EVAL_OURS */
};

/* The default line-up: ours (default method, auto k), each alternative
 * scoring method, fixed-k variants, and the baselines. *n set to count. */
const struct tb_eval_method *tb_eval_methods(size_t *n);

struct tb_eval_metrics {
    double p10, ndcg10, auc, hit10; /* means over users/readers (or rows for judgements) */
    size_t n;                       /* users / readers / rows evaluated */
    double ms;                      /* wall time */
    /* Per reader/user (protocols 1, 2): n x {p10, ndcg10, auc, hit10}; per
     * row (protocol 3): score and label. Owned; tb_eval_metrics_free. The
     * same seed gives the same readers to every method, so two methods
     * can be compared pairwise (tb_eval_paired). */
    double *unit;
    float *jscore;
    int *jlabel;
};
void tb_eval_metrics_free(struct tb_eval_metrics *m);

/* Metric indices for tb_eval_paired. */
enum { TB_EVAL_P10 = 0, TB_EVAL_NDCG10, TB_EVAL_AUC, TB_EVAL_HIT10 };

/* Paired comparison of a against b (same dataset, seed and readers) on one
 * metric: *diff = mean of a - b, *se its standard error, *wins / *losses
 * the units where a is better / worse. Protocols 1-2: over readers/users.
 * Protocol 3 (AUC over rows): *diff is the AUC difference, *se from a
 * paired bootstrap of the rows (seeded, 400 resamples), wins/losses over
 * the resamples. Returns 0, or -1 when a and b are not comparable. */
int tb_eval_paired(const struct tb_eval_metrics *a, const struct tb_eval_metrics *b, int metric,
                   double *diff, double *se, size_t *wins, size_t *losses);

/* Protocol 1: simulated readers on a labelled corpus. */
struct tb_eval_readers_opts {
    size_t readers;   /* default 300 */
    size_t reads;     /* items each reader has read (default 30) */
    size_t pool;      /* unseen items to rank (default 300) */
    size_t max_topics;/* each reader likes 1..max_topics labels (default 3) */
    uint64_t seed;
};
int tb_eval_readers(const float *x, const int *label, size_t n, size_t dim,
                    const struct tb_eval_readers_opts *o, const struct tb_eval_method *m,
                    struct tb_eval_metrics *out, tb_err *err);

/* Protocol 2: rating histories. item indices refer to rows of x. */
struct tb_rating {
    int32_t user, item;
    float rating;
    int64_t ts;
};
struct tb_eval_ratings_opts {
    double like_threshold;  /* rating >= this is a like (default 4) */
    double dislike_below;   /* rating <= this is a dislike (default 2) */
    size_t hide;            /* last liked items hidden per user (default 5) */
    size_t min_likes;       /* users with fewer training likes are skipped (default 10) */
    size_t max_users;       /* 0: all */
    uint64_t seed;
};
int tb_eval_ratings(const float *x, size_t nitems, size_t dim, const struct tb_rating *r,
                    size_t nr, const struct tb_eval_ratings_opts *o,
                    const struct tb_eval_method *m, struct tb_eval_metrics *out, tb_err *err);

/* Protocol 3: judgements. Row i has liked rows like[like_off[i]..like_off[i+1])
 * of vecs, disliked rows dis[...] likewise, target row target[i], label[i]. */
struct tb_judgements {
    size_t n;
    size_t nvecs;                    /* rows of vecs, for validation */
    const size_t *like_off, *like;   /* like_off has n+1 entries */
    const size_t *dis_off, *dis;
    const size_t *target;
    const int *label;
};
int tb_eval_judgements(const float *vecs, size_t dim, const struct tb_judgements *j,
                       uint64_t seed, const struct tb_eval_method *m,
                       struct tb_eval_metrics *out, tb_err *err);

/* AUC of scores against binary labels (ties count half). */
double tb_eval_auc(const float *score, const int *rel, size_t n);

#endif

/* ------------------------------------------------------------- data files
 * (eval_data.c). Formats are documented in docs/EVALUATION.md. Loaded
 * structures own their memory; free with tb_eval_data_free. */
struct tb_eval_data {
    size_t ntexts;
    char **texts;          /* unique texts to embed (rows of the vectors) */
    /* corpus */
    int *label;            /* ntexts labels (corpus) */
    char **label_names;
    size_t nlabels;
    /* ratings */
    struct tb_rating *ratings;
    size_t nratings;
    /* judgements */
    struct tb_judgements j;
    size_t *jbuf;          /* storage behind j's arrays */
    int *jlabel;
};
void tb_eval_data_free(struct tb_eval_data *d);
/* JSONL {"id","text","label"}. */
int tb_eval_load_corpus(const char *path, struct tb_eval_data *d, tb_err *err);
/* CSV user,item,rating,timestamp (header) + JSONL items {"id","text"}.
 * Ratings of unknown items are skipped (counted in a warning). */
int tb_eval_load_ratings(const char *ratings_csv, const char *items_jsonl,
                         struct tb_eval_data *d, tb_err *err);
/* JSONL {"liked":[..],"disliked":[..],"target":..,"label":0|1}. */
int tb_eval_load_judgements(const char *path, struct tb_eval_data *d, tb_err *err);

/* Embed texts with m into out (n x dim), reading/writing a cache file in
 * cache_dir (NULL: no cache) named by a hash of the model id and texts. */
int tb_eval_embed(tb_model *m, char *const *texts, size_t n, const char *cache_dir,
                  float *out, void (*progress)(size_t, size_t, void *), void *ctx, tb_err *err);

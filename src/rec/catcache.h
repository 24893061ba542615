/*
 * catcache.h -- an in-memory cache of big catalogues ready for two-stage
 * ranking (catcache.c). Internal to src/rec.
 */
#ifndef TB_REC_CATCACHE_H
#define TB_REC_CATCACHE_H

#include "rec.h"

/* One collection's embedded items for one model, immutable once built and
 * shared by every caller holding a reference. */
struct tb_catset {
    size_t n, dim;
    int64_t *ids;        /* n item ids, ascending (bsearch) */
    float *vecs;         /* n x dim unit vectors, row i is item ids[i] */
    tb_rank_index *ix;   /* the compact index of vecs */
    /* private to catcache.c */
    char *key;
    const tb_store *store;
    int64_t nitems;      /* tb_store_item_count of the collection when built */
    uint64_t gen;        /* tb_catset_generation() when built */
    unsigned refs;
    bool dead;           /* evicted: freed by the last release */
    double used;
};

/* The catalogue of collection for model m in store s, which has nitems
 * items now (tb_store_item_count): from the cache when still valid (same
 * item count, same in-process embedding generation, and
 * the first and last cached rows still equal the stored vectors), else
 * loaded (items missing an embedding are embedded and stored first) and
 * indexed. Returns a reference (release with tb_catset_release), or NULL
 * with err. Thread-safe; a build runs outside the cache lock. */
struct tb_catset *tb_catset_get(tb_store *s, tb_model *m, const char *collection,
                                int64_t nitems, tb_err *err);
void tb_catset_release(struct tb_catset *c);

/* Called whenever this process stores new embeddings: cached catalogues
 * built before are rebuilt on their next use. */
void tb_catset_touch(void);

/* Used by catcache.c, defined in recommend.c: every item id of a
 * collection (all catalogue collections when NULL), and embeddings of ids
 * (missing ones embedded and stored; see recommend.c). */
int tb_rec_collection_ids(tb_store *s, const char *collection, int64_t **ids, size_t *n,
                          tb_err *err);
int tb_rec_ensure_embeddings(tb_store *s, tb_model *m, const int64_t *ids, size_t n,
                             float *vecs, bool *have, size_t *embedded, tb_err *err);

#endif

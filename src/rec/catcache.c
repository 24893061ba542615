/*
 * catcache.c -- big catalogues kept in memory, indexed, between calls.
 *
 * tb_recommend on a collection of tens of thousands of items should not
 * reload every embedding from the store and re-score every item against
 * every read item on each call. Above a size threshold (TB_REC_INDEX_MIN,
 * recommend.c) it asks this cache for the collection's vectors and their
 * compact index (tb_rank_index, index.c) and ranks two-stage: an int8
 * coarse scan of all rows, then exact scores for the best few hundred.
 *
 * Entries are keyed by (store handle, collection, model id) and hold the
 * ids, the float rows (the exact stage needs them) and the index: about
 * n x dim x 5 bytes (100k x 384: 190 MB). At most TB_CATCACHE_MAX entries
 * are kept; the least recently used is evicted.
 *
 * Validity. The store keeps no version number for a collection, so an
 * entry is re-checked on every use, cheaply:
 *   - the collection's item count (one COUNT query) must be unchanged:
 *     imports and deletions change it;
 *   - the in-process embedding generation (tb_catset_touch, bumped
 *     whenever this process stores embeddings) must be unchanged: an item
 *     re-embedded here (its text changed) invalidates;
 *   - the first and last cached rows must still equal the stored vectors
 *     (two lookups): this catches a different store reopened at the same
 *     handle address and most re-embeddings by other processes.
 * What it cannot see: another process editing an item in place (same
 * count) whose row is not one of the two sampled; that item keeps its old
 * vector until the collection's size changes or the process restarts. A
 * store-level collection version would close this (docs/RECOMMENDER.md).
 *
 * Sharing: entries are immutable once built and reference counted; a build
 * runs outside the lock (two concurrent first calls may both build; the
 * later insert replaces the earlier entry, which is freed by its last
 * release).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "catcache.h"
#include "model/model.h"

#define TB_CATCACHE_MAX 4

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tb_catset *cache[TB_CATCACHE_MAX];
static _Atomic uint64_t generation;

void tb_catset_touch(void) { atomic_fetch_add(&generation, 1); }

static void catset_free(struct tb_catset *c)
{
    free(c->ids);
    free(c->vecs);
    tb_rank_index_free(c->ix);
    free(c->key);
    free(c);
}

/* Drop slot i from the table (caller holds the lock). */
static void evict(size_t i)
{
    struct tb_catset *c = cache[i];
    cache[i] = NULL;
    c->dead = true;
    if (c->refs == 0)
        catset_free(c);
}

void tb_catset_release(struct tb_catset *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cache_lock);
    bool drop = --c->refs == 0 && c->dead;
    pthread_mutex_unlock(&cache_lock);
    if (drop)
        catset_free(c);
}

void tb_rec_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < TB_CATCACHE_MAX; i++)
        if (cache[i])
            evict(i);
    pthread_mutex_unlock(&cache_lock);
}

/* Do rows 0 and n-1 of c still match the store? */
static bool sample_ok(tb_store *s, tb_model *m, const struct tb_catset *c)
{
    if (c->n == 0)
        return true;
    float *v = tb_malloc(c->dim * sizeof(float));
    bool ok = true;
    size_t rows[2] = {0, c->n - 1};
    for (size_t j = 0; j < 2 && ok; j++) {
        tb_err e;
        ok = tb_store_embedding_get(s, c->ids[rows[j]], m->id, v, c->dim, &e) == 1 &&
             memcmp(v, c->vecs + rows[j] * c->dim, c->dim * sizeof(float)) == 0;
    }
    free(v);
    return ok;
}

struct idrow {
    int64_t id;
    size_t row;
};

static int cmp_idrow(const void *a, const void *b)
{
    int64_t x = ((const struct idrow *)a)->id, y = ((const struct idrow *)b)->id;
    return x < y ? -1 : x > y;
}

/* Callers find rows by bsearch on ids: make them ascending. Both store
 * backends already return them so (ORDER BY item_id); this is the guard. */
static void sort_rows(struct tb_catset *c)
{
    size_t i = 1;
    while (i < c->n && c->ids[i - 1] < c->ids[i])
        i++;
    if (i >= c->n)
        return;
    struct idrow *p = tb_malloc(c->n * sizeof *p);
    for (i = 0; i < c->n; i++)
        p[i] = (struct idrow){c->ids[i], i};
    qsort(p, c->n, sizeof *p, cmp_idrow);
    float *v = tb_malloc(c->n * c->dim * sizeof(float));
    for (i = 0; i < c->n; i++) {
        c->ids[i] = p[i].id;
        memcpy(v + i * c->dim, c->vecs + p[i].row * c->dim, c->dim * sizeof(float));
    }
    free(c->vecs);
    c->vecs = v;
    free(p);
}

/* Load and index the catalogue. NULL with err on store errors. */
static struct tb_catset *build(tb_store *s, tb_model *m, const char *collection,
                               int64_t nitems, tb_err *err)
{
    size_t dim = m->dim;
    struct tb_catset *c = tb_calloc(1, sizeof *c);
    c->dim = dim;
    c->nitems = nitems;
    c->gen = atomic_load(&generation);
    if (tb_store_embeddings_load(s, collection, m->id, dim, &c->ids, &c->vecs, &c->n, err) < 0)
        goto fail;
    if ((int64_t)c->n < nitems) {
        /* Some items have no embedding yet: embed them (stored, so the
         * next build is one query), then load again. */
        int64_t *all = NULL;
        size_t na = 0;
        if (tb_rec_collection_ids(s, collection, &all, &na, err) < 0) {
            free(all);
            goto fail;
        }
        float *tmp = tb_malloc((na ? na : 1) * dim * sizeof(float));
        bool *have = tb_malloc((na ? na : 1) * sizeof(bool));
        int rc = tb_rec_ensure_embeddings(s, m, all, na, tmp, have, NULL, err);
        free(all);
        free(tmp);
        free(have);
        if (rc < 0)
            goto fail;
        free(c->ids);
        free(c->vecs);
        c->ids = NULL;
        c->vecs = NULL;
        c->gen = atomic_load(&generation);
        if (tb_store_embeddings_load(s, collection, m->id, dim, &c->ids, &c->vecs, &c->n,
                                     err) < 0)
            goto fail;
    }
    sort_rows(c);
    if (c->n > 0)
        c->ix = tb_rank_index_build(c->vecs, c->n, dim);
    return c;
fail:
    catset_free(c);
    return NULL;
}

struct tb_catset *tb_catset_get(tb_store *s, tb_model *m, const char *collection,
                                int64_t nitems, tb_err *err)
{
    if (!s || !m || !collection)
        return tb_err_set(err, TB_EINVAL, "catalogue cache: NULL store, model or collection"),
               NULL;
    tb_buf kb = {0};
    tb_buf_puts(&kb, collection);
    tb_buf_puts(&kb, "\x1f");
    tb_buf_puts(&kb, m->id);
    char *key = tb_strdup(tb_buf_cstr(&kb));
    tb_buf_free(&kb);

    struct tb_catset *hit = NULL;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < TB_CATCACHE_MAX; i++) {
        struct tb_catset *c = cache[i];
        if (!c || c->store != s || strcmp(c->key, key) != 0 || c->dim != m->dim)
            continue;
        if (c->nitems == nitems && c->gen == atomic_load(&generation)) {
            hit = c;
            c->refs++;
            c->used = tb_mono();
        } else {
            evict(i);
        }
        break;
    }
    pthread_mutex_unlock(&cache_lock);
    if (hit) {
        if (sample_ok(s, m, hit)) {
            free(key);
            return hit;
        }
        pthread_mutex_lock(&cache_lock);
        for (size_t i = 0; i < TB_CATCACHE_MAX; i++)
            if (cache[i] == hit)
                evict(i);
        pthread_mutex_unlock(&cache_lock);
        tb_catset_release(hit);
    }

    struct tb_catset *c = build(s, m, collection, nitems, err);
    if (!c) {
        free(key);
        return NULL;
    }
    c->key = key;
    c->store = s;
    c->refs = 1;
    c->used = tb_mono();
    pthread_mutex_lock(&cache_lock);
    size_t slot = TB_CATCACHE_MAX;
    for (size_t i = 0; i < TB_CATCACHE_MAX; i++)
        if (cache[i] && cache[i]->store == s && strcmp(cache[i]->key, key) == 0)
            evict(i); /* built concurrently by another caller: replace it */
    for (size_t i = 0; i < TB_CATCACHE_MAX && slot == TB_CATCACHE_MAX; i++)
        if (!cache[i])
            slot = i;
    if (slot == TB_CATCACHE_MAX) {
        slot = 0;
        for (size_t i = 1; i < TB_CATCACHE_MAX; i++)
            if (cache[i]->used < cache[slot]->used)
                slot = i;
        evict(slot);
    }
    cache[slot] = c; /* the table's hold is implicit: refs counts callers */
    pthread_mutex_unlock(&cache_lock);
    return c;
}

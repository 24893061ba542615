/*
 * cache.c -- rendered filtered feeds kept in memory.
 *
 * Key: "user\nfeed-spec" (the spec exactly as requested, so a hit needs no
 * database lookup at all). Each entry remembers the server generation it
 * was rendered at (internal.h: any fetch, event or embedding batch bumps
 * it); a lookup at another generation misses and the feed is rendered
 * again. The value is a ready MHD response shared by all requests (MHD
 * reference-counts it), so a hit costs a hash, a lock and a reference.
 *
 * Open addressing would be faster but a chained table with one mutex is
 * plenty: the (read) lock is held for a hash-chain walk and the queueing of
 * the response, which is when MHD takes its own reference -- MHD has no
 * explicit "add reference" call, so the entry must not be freed between
 * lookup and queueing; tb_feed_cache_with runs the caller's code inside the
 * read lock for that reason. When the table is
 * full the whole cache is dropped (entries are cheap to rebuild and an LRU
 * would cost a list update on every hit).
 */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

struct entry {
    struct entry *next;
    char *key;
    uint64_t gen;
    struct tb_cached_feed v;
};

struct tb_feed_cache {
    pthread_rwlock_t mu;
    struct entry **buckets;
    size_t nb, count, max;
};

tb_feed_cache *tb_feed_cache_new(size_t max_entries)
{
    tb_feed_cache *c = tb_calloc(1, sizeof *c);
    pthread_rwlock_init(&c->mu, NULL);
    c->max = max_entries ? max_entries : 1024;
    c->nb = 1;
    while (c->nb < c->max)
        c->nb <<= 1;
    c->buckets = tb_calloc(c->nb, sizeof *c->buckets);
    return c;
}

static void drop_all(tb_feed_cache *c)
{
    for (size_t i = 0; i < c->nb; i++) {
        struct entry *e = c->buckets[i];
        while (e) {
            struct entry *n = e->next;
            MHD_destroy_response(e->v.resp);
            free(e->key);
            free(e);
            e = n;
        }
        c->buckets[i] = NULL;
    }
    c->count = 0;
}

void tb_feed_cache_free(tb_feed_cache *c)
{
    if (!c)
        return;
    drop_all(c);
    free(c->buckets);
    pthread_rwlock_destroy(&c->mu);
    free(c);
}

static struct entry *find(tb_feed_cache *c, const char *key, size_t *bucket)
{
    *bucket = tb_hash64(key, strlen(key), 0) & (c->nb - 1);
    for (struct entry *e = c->buckets[*bucket]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

bool tb_feed_cache_with(tb_feed_cache *c, const char *key, uint64_t gen, int64_t min_rendered,
                        void (*fn)(void *ctx, const struct tb_cached_feed *e), void *ctx)
{
    size_t b;
    bool hit = false;
    pthread_rwlock_rdlock(&c->mu);
    struct entry *e = find(c, key, &b);
    if (e && e->gen == gen && e->v.rendered >= min_rendered) {
        fn(ctx, &e->v);
        hit = true;
    }
    pthread_rwlock_unlock(&c->mu);
    return hit;
}

bool tb_feed_cache_peek(tb_feed_cache *c, const char *key, char *etag, size_t n, int64_t *lm)
{
    size_t b;
    bool found = false;
    pthread_rwlock_rdlock(&c->mu);
    struct entry *e = find(c, key, &b);
    if (e) {
        snprintf(etag, n, "%s", e->v.etag);
        *lm = e->v.last_modified;
        found = true;
    }
    pthread_rwlock_unlock(&c->mu);
    return found;
}

void tb_feed_cache_put(tb_feed_cache *c, const char *key, uint64_t gen,
                       const struct tb_cached_feed *v)
{
    size_t b;
    pthread_rwlock_wrlock(&c->mu);
    struct entry *e = find(c, key, &b);
    if (!e) {
        if (c->count >= c->max) {
            drop_all(c);
            b = tb_hash64(key, strlen(key), 0) & (c->nb - 1);
        }
        e = tb_calloc(1, sizeof *e);
        e->key = tb_strdup(key);
        e->next = c->buckets[b];
        c->buckets[b] = e;
        c->count++;
    } else {
        MHD_destroy_response(e->v.resp);
    }
    e->gen = gen;
    e->v = *v;
    pthread_rwlock_unlock(&c->mu);
}

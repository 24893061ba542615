/*
 * store.c -- the backend-neutral front of the store.
 *
 * Chooses a backend from the spec, serialises calls with a recursive lock
 * (held from tb_store_begin to commit/rollback, so transactions never
 * interleave), and owns the helpers that free what the store returns.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

struct tb_store {
    const struct tb_store_ops *ops;
    void *impl;
    pthread_mutex_t mu; /* recursive */
};

tb_store *tb_store_open(const char *spec, tb_err *err)
{
    if (!spec || !*spec) {
        tb_err_set(err, TB_EINVAL, "no database given");
        return NULL;
    }
    const struct tb_store_ops *ops = NULL;
    void *impl = NULL;
    if (tb_str_starts(spec, "postgres://") || tb_str_starts(spec, "postgresql://")) {
#ifdef TB_WITH_PG
        impl = tb_pg_open(spec, &ops, err);
#else
        tb_err_set(err, TB_EUNSUPPORTED,
                   "unsupported: this tastebud was built without PostgreSQL (libpq); "
                   "install libpq-dev and rebuild, or use a SQLite file path");
        return NULL;
#endif
    } else {
        const char *path = tb_str_starts(spec, "sqlite:") ? spec + 7 : spec;
        impl = tb_sqlite_open(path, &ops, err);
    }
    if (!impl)
        return NULL;
    tb_store *s = tb_calloc(1, sizeof *s);
    s->ops = ops;
    s->impl = impl;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &a);
    pthread_mutexattr_destroy(&a);
    return s;
}

void tb_store_close(tb_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *tb_store_backend(const tb_store *s) { return s->ops->name; }

#define LOCKED(expr)                                                                       \
    do {                                                                                   \
        pthread_mutex_lock(&s->mu);                                                        \
        __typeof__(expr) r_ = (expr);                                                      \
        pthread_mutex_unlock(&s->mu);                                                      \
        return r_;                                                                         \
    } while (0)

int tb_store_schema_version(tb_store *s) { LOCKED(s->ops->schema_version(s->impl)); }

int tb_store_begin(tb_store *s, tb_err *err)
{
    pthread_mutex_lock(&s->mu); /* held until commit/rollback */
    if (s->ops->begin(s->impl, err) != 0) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    return 0;
}

int tb_store_commit(tb_store *s, tb_err *err)
{
    int r = s->ops->commit(s->impl, err);
    if (r != 0)
        s->ops->rollback(s->impl);
    pthread_mutex_unlock(&s->mu);
    return r;
}

void tb_store_rollback(tb_store *s)
{
    s->ops->rollback(s->impl);
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- users */

int tb_store_user_create(tb_store *s, const char *id, const char *name, tb_err *err)
{
    if (!id || !*id || strlen(id) > 128)
        return tb_err_set(err, TB_EINVAL, "a user id must be 1 to 128 characters");
    LOCKED(s->ops->user_create(s->impl, id, name, err));
}

int tb_store_user_exists(tb_store *s, const char *id, tb_err *err)
{
    LOCKED(s->ops->user_exists(s->impl, id, err));
}

int tb_store_user_list(tb_store *s, tb_user **out, size_t *n, tb_err *err)
{
    LOCKED(s->ops->user_list(s->impl, out, n, err));
}

void tb_user_list_free(tb_user *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++) {
        free(u[i].id);
        free(u[i].name);
    }
    free(u);
}

/* ------------------------------------------------------------- feeds */

int tb_store_feed_add(tb_store *s, const char *url, int64_t *id, tb_err *err)
{
    if (!url || !*url)
        return tb_err_set(err, TB_EINVAL, "empty feed URL");
    LOCKED(s->ops->feed_add(s->impl, url, id, err));
}

int tb_store_feed_get(tb_store *s, int64_t id, tb_feed *out, tb_err *err)
{
    LOCKED(s->ops->feed_get(s->impl, id, NULL, out, err));
}

int tb_store_feed_get_by_url(tb_store *s, const char *url, tb_feed *out, tb_err *err)
{
    LOCKED(s->ops->feed_get(s->impl, 0, url, out, err));
}

int tb_store_feed_update(tb_store *s, const tb_feed *f, tb_err *err)
{
    LOCKED(s->ops->feed_update(s->impl, f, err));
}

int tb_store_feed_list(tb_store *s, tb_feed **out, size_t *n, tb_err *err)
{
    LOCKED(s->ops->feed_list(s->impl, -1, out, n, err));
}

int tb_store_feed_due(tb_store *s, int64_t now, tb_feed **out, size_t *n, tb_err *err)
{
    LOCKED(s->ops->feed_list(s->impl, now < 0 ? 0 : now, out, n, err));
}

int tb_store_feed_delete(tb_store *s, int64_t id, tb_err *err)
{
    LOCKED(s->ops->feed_delete(s->impl, id, err));
}

void tb_feed_clear(tb_feed *f)
{
    if (!f)
        return;
    free(f->url);
    free(f->title);
    free(f->site_url);
    free(f->description);
    free(f->etag);
    free(f->last_modified);
    free(f->last_error);
    memset(f, 0, sizeof *f);
}

void tb_feed_list_free(tb_feed *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        tb_feed_clear(&f[i]);
    free(f);
}

/* ------------------------------------------------------- subscriptions */

int tb_store_subscribe(tb_store *s, const char *user, int64_t feed_id, const char *category,
                       const char *title, tb_err *err)
{
    LOCKED(s->ops->subscribe(s->impl, user, feed_id, category, title, err));
}

int tb_store_unsubscribe(tb_store *s, const char *user, int64_t feed_id, tb_err *err)
{
    LOCKED(s->ops->unsubscribe(s->impl, user, feed_id, err));
}

int tb_store_is_subscribed(tb_store *s, const char *user, int64_t feed_id, tb_err *err)
{
    LOCKED(s->ops->is_subscribed(s->impl, user, feed_id, err));
}

int tb_store_subscriptions(tb_store *s, const char *user, tb_feed **out, char ***categories,
                           size_t *n, tb_err *err)
{
    LOCKED(s->ops->subscriptions(s->impl, user, out, categories, n, err));
}

/* ------------------------------------------------------------- items */

void tb_feed_collection(int64_t feed_id, char *out, size_t n)
{
    snprintf(out, n, "feed:%lld", (long long)feed_id);
}

int tb_store_item_upsert(tb_store *s, tb_item *it, bool *is_new, tb_err *err)
{
    if (!it->collection || !*it->collection)
        return tb_err_set(err, TB_EINVAL, "item has no collection");
    if (!it->key || !*it->key)
        return tb_err_set(err, TB_EINVAL, "item has no key");
    LOCKED(s->ops->item_upsert(s->impl, it, is_new, err));
}

int tb_store_item_get(tb_store *s, int64_t id, tb_item *out, tb_err *err)
{
    LOCKED(s->ops->item_get(s->impl, id, NULL, NULL, out, err));
}

int tb_store_item_get_by_key(tb_store *s, const char *collection, const char *key,
                             tb_item *out, tb_err *err)
{
    LOCKED(s->ops->item_get(s->impl, 0, collection, key, out, err));
}

int tb_store_items_by_feed(tb_store *s, int64_t feed_id, size_t limit, tb_item **out,
                           size_t *n, tb_err *err)
{
    char coll[32];
    tb_feed_collection(feed_id, coll, sizeof coll);
    LOCKED(s->ops->items_list(s->impl, coll, limit, out, n, err));
}

int tb_store_items_by_collection(tb_store *s, const char *collection, size_t limit,
                                 tb_item **out, size_t *n, tb_err *err)
{
    LOCKED(s->ops->items_list(s->impl, collection, limit, out, n, err));
}

int64_t tb_store_item_count(tb_store *s, const char *collection, tb_err *err)
{
    LOCKED(s->ops->item_count(s->impl, collection, err));
}

int tb_store_collections(tb_store *s, char ***names, size_t *n, tb_err *err)
{
    LOCKED(s->ops->collections(s->impl, names, n, err));
}

void tb_item_clear(tb_item *it)
{
    if (!it)
        return;
    free(it->collection);
    free(it->key);
    free(it->url);
    free(it->title);
    free(it->html);
    free(it->text);
    free(it->author);
    free(it->tags);
    free(it->image_url);
    free(it->comments_url);
    free(it->extra);
    memset(it, 0, sizeof *it);
}

void tb_item_list_free(tb_item *it, size_t n)
{
    for (size_t i = 0; it && i < n; i++)
        tb_item_clear(&it[i]);
    free(it);
}

/* ------------------------------------------------------------- embeddings */

int tb_store_embedding_put(tb_store *s, int64_t item_id, const char *model, const float *v,
                           size_t dim, tb_err *err)
{
    LOCKED(s->ops->embedding_put(s->impl, item_id, model, v, dim, err));
}

int tb_store_embedding_get(tb_store *s, int64_t item_id, const char *model, float *out,
                           size_t dim, tb_err *err)
{
    LOCKED(s->ops->embedding_get(s->impl, item_id, model, out, dim, err));
}

int tb_store_embedding_missing(tb_store *s, const char *model, size_t limit, int64_t **ids,
                               size_t *n, tb_err *err)
{
    LOCKED(s->ops->embedding_missing(s->impl, model, limit, ids, n, err));
}

int tb_store_embeddings_load(tb_store *s, const char *collection, const char *model,
                             size_t dim, int64_t **ids, float **vecs, size_t *n, tb_err *err)
{
    LOCKED(s->ops->embeddings_load(s->impl, collection, model, dim, ids, vecs, n, err));
}

/* ------------------------------------------------------------- events */

static const char *KIND_NAMES[TB_EV__COUNT] = {"read", "like", "dislike", "shown"};

const char *tb_event_kind_name(int kind)
{
    return kind >= 0 && kind < TB_EV__COUNT ? KIND_NAMES[kind] : "unknown";
}

int tb_event_kind_parse(const char *s)
{
    for (int i = 0; s && i < TB_EV__COUNT; i++)
        if (strcmp(s, KIND_NAMES[i]) == 0)
            return i;
    return -1;
}

int tb_store_event_add(tb_store *s, const char *user, int64_t item_id, int kind, int64_t ts,
                       tb_err *err)
{
    if (kind < 0 || kind >= TB_EV__COUNT)
        return tb_err_set(err, TB_EINVAL, "unknown event kind %d", kind);
    LOCKED(s->ops->event_add(s->impl, user, item_id, kind, ts, err));
}

int tb_store_events(tb_store *s, const char *user, int64_t since_id, tb_event **out,
                    size_t *n, tb_err *err)
{
    LOCKED(s->ops->events(s->impl, user, since_id, out, n, err));
}

int64_t tb_store_event_last_id(tb_store *s, const char *user, tb_err *err)
{
    LOCKED(s->ops->event_last_id(s->impl, user, err));
}

/* ------------------------------------------------------------- profiles */

int tb_store_profile_get(tb_store *s, const char *user, const char *model, tb_buf *out,
                         int64_t *last_event, tb_err *err)
{
    LOCKED(s->ops->profile_get(s->impl, user, model, out, last_event, err));
}

int tb_store_profile_put(tb_store *s, const char *user, const char *model, const void *blob,
                         size_t n, int64_t last_event, tb_err *err)
{
    LOCKED(s->ops->profile_put(s->impl, user, model, blob, n, last_event, err));
}

int tb_store_stats_get(tb_store *s, tb_store_stats *out, tb_err *err)
{
    LOCKED(s->ops->stats(s->impl, out, err));
}

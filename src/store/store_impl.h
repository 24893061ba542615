/*
 * store_impl.h -- the contract between store.c and a storage backend.
 *
 * store.c owns locking and argument checks; a backend implements these
 * operations with the same meaning as the tb_store_* functions in store.h.
 * Every op receives the backend's own state (tb_store.impl).
 */
#ifndef TB_STORE_IMPL_H
#define TB_STORE_IMPL_H

#include <pthread.h>

#include "store.h"

struct tb_store_ops {
    const char *name;
    void (*close)(void *impl);
    int (*schema_version)(void *impl);
    int (*begin)(void *impl, tb_err *err);
    int (*commit)(void *impl, tb_err *err);
    void (*rollback)(void *impl);

    int (*user_create)(void *impl, const char *id, const char *name, tb_err *err);
    int (*user_exists)(void *impl, const char *id, tb_err *err);
    int (*user_list)(void *impl, tb_user **out, size_t *n, tb_err *err);

    int (*feed_add)(void *impl, const char *url, int64_t *id, tb_err *err);
    int (*feed_get)(void *impl, int64_t id, const char *url, tb_feed *out, tb_err *err);
    int (*feed_update)(void *impl, const tb_feed *f, tb_err *err);
    int (*feed_list)(void *impl, int64_t due_before, tb_feed **out, size_t *n, tb_err *err);
    int (*feed_delete)(void *impl, int64_t id, tb_err *err);

    int (*subscribe)(void *impl, const char *user, int64_t feed_id, const char *category,
                     const char *title, tb_err *err);
    int (*unsubscribe)(void *impl, const char *user, int64_t feed_id, tb_err *err);
    int (*is_subscribed)(void *impl, const char *user, int64_t feed_id, tb_err *err);
    int (*subscriptions)(void *impl, const char *user, tb_feed **out, char ***categories,
                         size_t *n, tb_err *err);

    int (*item_upsert)(void *impl, tb_item *it, bool *is_new, tb_err *err);
    int (*item_get)(void *impl, int64_t id, const char *collection, const char *key,
                    tb_item *out, tb_err *err);
    int (*items_list)(void *impl, const char *collection, size_t limit, tb_item **out,
                      size_t *n, tb_err *err);
    int64_t (*item_count)(void *impl, const char *collection, tb_err *err);
    int (*collections)(void *impl, char ***names, size_t *n, tb_err *err);

    int (*embedding_put)(void *impl, int64_t item, const char *model, const float *v,
                         size_t dim, tb_err *err);
    int (*embedding_get)(void *impl, int64_t item, const char *model, float *out, size_t dim,
                         tb_err *err);
    int (*embedding_missing)(void *impl, const char *model, size_t limit, int64_t **ids,
                             size_t *n, tb_err *err);
    int (*embeddings_load)(void *impl, const char *collection, const char *model, size_t dim,
                           int64_t **ids, float **vecs, size_t *n, tb_err *err);

    int (*event_add)(void *impl, const char *user, int64_t item, int kind, int64_t ts,
                     tb_err *err);
    int (*events)(void *impl, const char *user, int64_t since, tb_event **out, size_t *n,
                  tb_err *err);
    int64_t (*event_last_id)(void *impl, const char *user, tb_err *err);

    int (*profile_get)(void *impl, const char *user, const char *model, tb_buf *out,
                       int64_t *last_event, tb_err *err);
    int (*profile_put)(void *impl, const char *user, const char *model, const void *blob,
                       size_t n, int64_t last_event, tb_err *err);
    int (*stats)(void *impl, tb_store_stats *out, tb_err *err);
};

/* Backends: return their state and ops, or NULL with err set. */
void *tb_sqlite_open(const char *path, const struct tb_store_ops **ops, tb_err *err);
#ifdef TB_WITH_PG
void *tb_pg_open(const char *url, const struct tb_store_ops **ops, tb_err *err);
#endif

#endif

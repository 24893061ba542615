/*
 * store.h -- tastebud's data model, behind one backend-neutral interface.
 *
 * Every caller (feeds, recommender, server, CLI) uses only the tb_store_*
 * functions below; no SQLite type leaks through. Each backend fills in a
 * struct tb_store_ops (store_impl.h), so adding the PostgreSQL backend means
 * writing one file, not touching callers.
 *
 * The data model (see docs/STORE.md for the SQL):
 *   users          id (text, 128-bit random hex for web sign-ups), name
 *   feeds          url, title, fetch state (ETag, Last-Modified, next fetch,
 *                  failures, last error), disabled flag
 *   subscriptions  user <-> feed
 *   items          one row per feed entry or catalogue item, unique per
 *                  (collection, key); feed items live in collection "feed:<id>"
 *   embeddings     item x model -> vector (float32 blob)
 *   events         user, item, kind (read/like/dislike/shown), time
 *   profiles       user x model -> serialized interest clusters
 *
 * Threads: a tb_store may be shared; calls are serialised by a recursive
 * lock. tb_store_begin takes the lock until tb_store_commit/rollback, so a
 * transaction is never interleaved with another thread's calls.
 *
 * Strings in returned structs are owned by the struct: free them with the
 * matching *_clear / *_list_free function.
 */
#ifndef TB_STORE_H
#define TB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tastebud.h"
#include "util/util.h"

typedef struct tb_store tb_store;

/* The schema version this build writes; tb_store_open migrates older files up
 * to it and refuses newer ones. */
#define TB_SCHEMA_VERSION 1

/* Open (creating if needed) a store. spec is a file path for SQLite
 * ("data/tastebud.db" or "sqlite:PATH"), or a "postgres://..." /
 * "postgresql://..." URL for PostgreSQL. A file that is not a tastebud
 * database, is corrupt, or has a newer schema gives a clear error. */
tb_store *tb_store_open(const char *spec, tb_err *err);
void tb_store_close(tb_store *s);
/* "sqlite" or "postgres". */
const char *tb_store_backend(const tb_store *s);
int tb_store_schema_version(tb_store *s);

int tb_store_begin(tb_store *s, tb_err *err);
int tb_store_commit(tb_store *s, tb_err *err);
void tb_store_rollback(tb_store *s);

/* ---------------------------------------------------------------- users */

typedef struct tb_user {
    char *id;
    char *name;
    int64_t created;
} tb_user;

/* Creates the user; TB_EEXIST if the id is taken. */
int tb_store_user_create(tb_store *s, const char *id, const char *name, tb_err *err);
/* 1 if the user exists, 0 if not, -1 on error. */
int tb_store_user_exists(tb_store *s, const char *id, tb_err *err);
int tb_store_user_list(tb_store *s, tb_user **out, size_t *n, tb_err *err);
void tb_user_list_free(tb_user *u, size_t n);

/* ---------------------------------------------------------------- feeds */

typedef struct tb_feed {
    int64_t id;
    char *url;           /* the URL the user subscribed to */
    char *title;
    char *site_url;      /* the feed's <link> */
    char *description;
    char *etag;          /* for conditional GET */
    char *last_modified; /* for conditional GET, as the server sent it */
    int64_t last_fetch;  /* unix time of the last attempt, 0 never */
    int64_t last_ok;     /* unix time of the last success, 0 never */
    int64_t next_fetch;  /* unix time the feed is due again */
    int ttl;             /* seconds between fetches the feed asked for, 0 none */
    int failures;        /* consecutive failures */
    char *last_error;
    bool disabled;       /* set after too many failures; re-enable by hand */
    int64_t created;
} tb_feed;

/* Insert the feed if its URL is new; either way return its id in *id. */
int tb_store_feed_add(tb_store *s, const char *url, int64_t *id, tb_err *err);
/* TB_ENOTFOUND when there is no such feed. */
int tb_store_feed_get(tb_store *s, int64_t id, tb_feed *out, tb_err *err);
int tb_store_feed_get_by_url(tb_store *s, const char *url, tb_feed *out, tb_err *err);
/* Write every mutable field of f (all but id, url, created). */
int tb_store_feed_update(tb_store *s, const tb_feed *f, tb_err *err);
int tb_store_feed_list(tb_store *s, tb_feed **out, size_t *n, tb_err *err);
/* Enabled feeds with next_fetch <= now that someone subscribes to. */
int tb_store_feed_due(tb_store *s, int64_t now, tb_feed **out, size_t *n, tb_err *err);
int tb_store_feed_delete(tb_store *s, int64_t id, tb_err *err);
void tb_feed_clear(tb_feed *f);
void tb_feed_list_free(tb_feed *f, size_t n);

/* -------------------------------------------------------- subscriptions */

/* Subscribe user to feed (idempotent). category and title may be NULL. */
int tb_store_subscribe(tb_store *s, const char *user, int64_t feed_id, const char *category,
                       const char *title, tb_err *err);
int tb_store_unsubscribe(tb_store *s, const char *user, int64_t feed_id, tb_err *err);
/* 1 subscribed, 0 not, -1 error. */
int tb_store_is_subscribed(tb_store *s, const char *user, int64_t feed_id, tb_err *err);
/* The feeds a user follows, with the subscription's category in
 * categories[i] (caller frees each and the array; may be NULL to skip). */
int tb_store_subscriptions(tb_store *s, const char *user, tb_feed **out, char ***categories,
                           size_t *n, tb_err *err);

/* ---------------------------------------------------------------- items */

typedef struct tb_item {
    int64_t id;
    int64_t feed_id;     /* 0 for catalogue items */
    char *collection;    /* "feed:<id>" for feed items, else the catalogue name */
    char *key;           /* stable key within the collection (guid, id, ...) */
    char *url;
    char *title;
    char *html;          /* description/content as HTML, for output */
    char *text;          /* plain text, what gets embedded (with the title) */
    char *author;
    char *tags;          /* categories/tags, joined with ", " */
    int64_t published;   /* unix time, 0 unknown */
    char *image_url;
    char *comments_url;
    char *extra;         /* JSON object with anything else, or NULL */
    int64_t created;     /* when tastebud first stored it */
} tb_item;

/* Insert or update by (collection, key). Sets it->id (and it->created); sets
 * *is_new (may be NULL) to whether the item was new. A changed title or text
 * drops the item's stale embeddings, so it is embedded again. */
int tb_store_item_upsert(tb_store *s, tb_item *it, bool *is_new, tb_err *err);
int tb_store_item_get(tb_store *s, int64_t id, tb_item *out, tb_err *err);
int tb_store_item_get_by_key(tb_store *s, const char *collection, const char *key,
                             tb_item *out, tb_err *err);
/* Newest first (published, then created); limit 0 = all. */
int tb_store_items_by_feed(tb_store *s, int64_t feed_id, size_t limit, tb_item **out,
                           size_t *n, tb_err *err);
int tb_store_items_by_collection(tb_store *s, const char *collection, size_t limit,
                                 tb_item **out, size_t *n, tb_err *err);
/* Number of items in a collection (NULL: all). */
int64_t tb_store_item_count(tb_store *s, const char *collection, tb_err *err);
/* Distinct catalogue collection names (not feed:<id>). */
int tb_store_collections(tb_store *s, char ***names, size_t *n, tb_err *err);
void tb_item_clear(tb_item *it);
void tb_item_list_free(tb_item *it, size_t n);
/* The collection name of a feed: "feed:<id>" into out. */
void tb_feed_collection(int64_t feed_id, char *out, size_t n);

/* ----------------------------------------------------------- embeddings */

int tb_store_embedding_put(tb_store *s, int64_t item_id, const char *model, const float *v,
                           size_t dim, tb_err *err);
/* 1 found (dim floats written to out), 0 missing, -1 error (also when the
 * stored dimension differs from dim). */
int tb_store_embedding_get(tb_store *s, int64_t item_id, const char *model, float *out,
                           size_t dim, tb_err *err);
/* The embedding queue: ids of items (oldest first) with no embedding for
 * model; at most limit. Caller frees *ids. */
int tb_store_embedding_missing(tb_store *s, const char *model, size_t limit, int64_t **ids,
                               size_t *n, tb_err *err);
/* Every embedded item of a collection (NULL: all) for model: ids and vectors
 * (n * dim floats), caller frees both. */
int tb_store_embeddings_load(tb_store *s, const char *collection, const char *model,
                             size_t dim, int64_t **ids, float **vecs, size_t *n, tb_err *err);

/* ---------------------------------------------------------------- events */

enum tb_event_kind { TB_EV_READ = 0, TB_EV_LIKE, TB_EV_DISLIKE, TB_EV_SHOWN, TB_EV__COUNT };

typedef struct tb_event {
    int64_t id;          /* increasing; profiles remember the last one used */
    int64_t item_id;
    int kind;            /* enum tb_event_kind */
    int64_t ts;          /* unix time */
} tb_event;

const char *tb_event_kind_name(int kind);
/* "read"/"like"/"dislike"/"shown" -> kind, -1 if unknown. */
int tb_event_kind_parse(const char *s);
int tb_store_event_add(tb_store *s, const char *user, int64_t item_id, int kind, int64_t ts,
                       tb_err *err);
/* A user's events with id > since_id, oldest first. Caller frees *out. */
int tb_store_events(tb_store *s, const char *user, int64_t since_id, tb_event **out,
                    size_t *n, tb_err *err);
/* The id of the user's newest event (0 if none). */
int64_t tb_store_event_last_id(tb_store *s, const char *user, tb_err *err);

/* -------------------------------------------------------------- profiles */

/* 1 found (blob appended to out, *last_event set), 0 none, -1 error. */
int tb_store_profile_get(tb_store *s, const char *user, const char *model, tb_buf *out,
                         int64_t *last_event, tb_err *err);
int tb_store_profile_put(tb_store *s, const char *user, const char *model, const void *blob,
                         size_t n, int64_t last_event, tb_err *err);

/* ---------------------------------------------------------------- stats */

typedef struct tb_store_stats {
    int64_t users, feeds, feeds_disabled, subscriptions, items, embeddings, events, profiles;
} tb_store_stats;

int tb_store_stats_get(tb_store *s, tb_store_stats *out, tb_err *err);

#endif /* TB_STORE_H */

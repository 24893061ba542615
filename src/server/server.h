/*
 * server.h -- `tastebud serve`: filtered feeds, click tracking, JSON API and
 * the web page, over HTTP (libmicrohttpd), with the background work
 * (scheduled feed refresh, embedding queue, profile rebuilds) in the same
 * process.
 *
 * The server reaches the parts of tastebud that do real work -- fetching a
 * feed, parsing OPML, embedding text, recommending -- only through the
 * tb_server_hooks table below. `tastebud serve` (src/cli/cmd_serve.c) fills
 * it with the real functions (tb_feed_refresh, tb_opml_parse, tb_model_embed,
 * tb_recommend, tb_profile_load); tests fill it with small fakes, so the
 * HTTP layer, the cache, the redirect rules and the jobs are tested on their
 * own. A NULL hook means "not available": feeds then pass through unranked,
 * nothing is embedded, OPML upload answers 501.
 *
 * Threads: the store is shared by the HTTP thread pool and the two job
 * threads (its calls are serialised by its own lock). Hooks must be safe to
 * call from several threads at once.
 */
#ifndef TB_SERVER_H
#define TB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rec/rec.h"
#include "store/store.h"
#include "tastebud.h"

typedef struct tb_server tb_server;

/* One feed found in an OPML file; strings owned by the array (free with
 * tb_opml_entries_free). */
struct tb_opml_entry {
    char *url;
    char *title;    /* may be NULL */
    char *category; /* may be NULL */
};
void tb_opml_entries_free(struct tb_opml_entry *e, size_t n);

typedef struct tb_server_hooks {
    void *ctx; /* passed to every hook */
    /* Fetch feed_id now (conditional GET, backoff and next_fetch are the
     * hook's business), store its items and update the feed row. */
    int (*feed_refresh)(void *ctx, tb_store *s, int64_t feed_id, tb_err *err);
    /* Parse an OPML document into a malloc'd array (tb_opml_entries_free).
     * Malformed input: -1 with TB_EFORMAT and a message. */
    int (*opml_parse)(void *ctx, const char *data, size_t len, struct tb_opml_entry **out,
                      size_t *n, tb_err *err);
    /* Embed n document texts into out (n * dim floats, unit rows). */
    int (*embed)(void *ctx, const char *const *texts, size_t n, float *out, tb_err *err);
    size_t dim;           /* the model's dimension (with embed) */
    const char *model_id; /* the model's id (with embed) */
    /* tb_recommend's contract (src/rec/rec.h). */
    int (*recommend)(void *ctx, tb_store *s, const char *user, const char *collection,
                     const int64_t *ids, size_t n, const struct tb_rank_opts *o,
                     struct tb_rec_result *out, tb_err *err);
    /* tb_profile_load's contract: load, update with new events, save. */
    tb_profile *(*profile_load)(void *ctx, tb_store *s, const char *user, tb_err *err);
} tb_server_hooks;

struct tb_server_opts {
    tb_store *store;           /* required; not owned */
    const char *listen;        /* "ADDR:PORT" or "[v6]:PORT"; port 0 picks a free one */
    const char *base_url;      /* public URL (no trailing '/'); NULL: http://<bound address> */
    int threads;               /* HTTP thread pool size; <= 0: 2 */
    int feed_wait_ms;          /* first request of a feed waits this long for its fetch */
    size_t feed_items;         /* items per filtered feed */
    bool access_log;           /* one log line per request */
    bool jobs;                 /* run the background jobs */
    int scan_interval_s;       /* how often due feeds are looked for (<= 0: 30) */
    size_t embed_batch;        /* texts per embedding batch (0: 64) */
    int64_t shown_interval_s;  /* a rendered feed records "shown" events for its items, at
                                * most one per user x item per this many seconds
                                * (<= 0: none) */
    struct tb_rank_opts rank;  /* ranking options (min_reads, ratios, ...) */
    tb_server_hooks hooks;
};

/* Fill opts with defaults (listen 127.0.0.1:8080, 50 items, ...). */
void tb_server_opts_default(struct tb_server_opts *o);

/* Bind, start the HTTP thread pool and the jobs. NULL and err on failure
 * (bad listen address, port in use). Stop with tb_server_stop. */
tb_server *tb_server_start(const struct tb_server_opts *o, tb_err *err);
/* The port actually bound (useful with port 0). */
int tb_server_port(const tb_server *s);
/* The base URL links are built from (no trailing '/'). */
const char *tb_server_base_url(const tb_server *s);
/* Graceful stop: stop accepting, let requests in flight finish (up to
 * grace_ms), stop the jobs (a refresh or batch in progress completes),
 * free everything. The store is left open for the caller to close. */
void tb_server_stop(tb_server *s, int grace_ms);

#endif

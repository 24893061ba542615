/*
 * internal.h -- what the files of src/server share; not for other folders.
 *
 *   http.c         the daemon, request lifecycle, dispatch, response helpers,
 *                  access log, graceful stop
 *   routes_feed.c  GET /feed/{user}/{feed} and GET /r/{user}/{item}
 *   routes_api.c   /api/... (JSON)
 *   routes_web.c   the web page (embedded assets), /healthz, /metrics
 *   cache.c        rendered feeds in memory, keyed by (user, feed spec)
 *   jobs.c         fetch thread and worker thread (embeddings, profiles)
 *   metrics.c      counters and the latency histogram, Prometheus text
 */
#ifndef TB_SERVER_INTERNAL_H
#define TB_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server/server.h"
#include "util/util.h"

/* ------------------------------------------------------------ metrics */

enum tb_route {
    TB_R_FEED = 0, TB_R_REDIRECT, TB_R_API_USERS, TB_R_API_FEEDS, TB_R_API_OPML,
    TB_R_API_FEEDBACK, TB_R_API_RECS, TB_R_API_INTERESTS, TB_R_WEB, TB_R_HEALTHZ,
    TB_R_METRICS, TB_R_OTHER, TB_R__COUNT
};

#define TB_LAT_BUCKETS 12
#define TB_STATUS_MAX 600

struct tb_metrics {
    atomic_ullong requests[TB_R__COUNT][TB_STATUS_MAX];
    atomic_ullong lat_bucket[TB_R__COUNT][TB_LAT_BUCKETS + 1]; /* last: +Inf */
    atomic_ullong lat_sum_us[TB_R__COUNT];
    atomic_ullong feeds_fetched, feeds_failed, items_embedded, embed_failed;
    atomic_ullong profiles_rebuilt, cache_hits, cache_misses, events_recorded,
        shown_recorded;
    atomic_llong fetch_queue, embed_backlog, profile_queue, in_flight;
};

const char *tb_route_name(int route);
void tb_metrics_observe(struct tb_metrics *m, int route, int status, double seconds);
void tb_metrics_render(struct tb_metrics *m, tb_buf *out);

/* ------------------------------------------------------------ cache */

typedef struct tb_feed_cache tb_feed_cache;

/* A rendered feed. The MHD response is shared by every request that sends
 * it (MHD counts references); the entry owns one reference. */
struct tb_cached_feed {
    struct MHD_Response *resp;
    char etag[40];        /* with quotes */
    int64_t last_modified;
    int64_t rendered;     /* unix time it was rendered (shown events, shown.c) */
    size_t bytes;
};

tb_feed_cache *tb_feed_cache_new(size_t max_entries);
void tb_feed_cache_free(tb_feed_cache *c);
/* Look up key at generation gen, rendered at or after min_rendered; on a
 * hit call fn(ctx, entry) with the cache read-locked (fn may queue
 * entry->resp: MHD then holds its own reference) and return true. fn must
 * not call back into the cache. */
bool tb_feed_cache_with(tb_feed_cache *c, const char *key, uint64_t gen, int64_t min_rendered,
                        void (*fn)(void *ctx, const struct tb_cached_feed *e), void *ctx);
/* The entry for key regardless of generation (for Last-Modified carry
 * over): its etag and time, false when none. */
bool tb_feed_cache_peek(tb_feed_cache *c, const char *key, char *etag, size_t n, int64_t *lm);
/* Store; the cache takes over the caller's reference on e->resp. */
void tb_feed_cache_put(tb_feed_cache *c, const char *key, uint64_t gen, const struct tb_cached_feed *e);

/* ------------------------------------------------------------ shown */

typedef struct tb_shown tb_shown;

/* A table of when each (user, item) was last recorded as shown (shown.c);
 * interval_s <= 0 records nothing. */
tb_shown *tb_shown_new(int64_t interval_s);
void tb_shown_free(tb_shown *sh);
/* Of the n item ids just shown to user at time now, write to due (room for
 * n) those not recorded as shown within the interval, mark them recorded
 * and return how many. The user's earlier shown events are read from st
 * the first time the user is seen. Thread-safe. */
size_t tb_shown_due(tb_shown *sh, tb_store *st, const char *user, const int64_t *ids, size_t n,
                    int64_t now, int64_t *due);

/* ------------------------------------------------------------ jobs */

typedef struct tb_jobs tb_jobs;

tb_jobs *tb_jobs_start(tb_server *srv);
/* Stop both threads after their current step. */
void tb_jobs_stop(tb_jobs *j);
/* Queue feed_id for fetching before anything else; when wait_ms > 0, wait
 * up to that long for it to be done. Returns true when it was done in time.
 * Works without running jobs (then fetches on the caller's thread). */
bool tb_jobs_fetch_now(tb_server *srv, int64_t feed_id, int wait_ms);
/* The user has new events: rebuild their profile soon. */
void tb_jobs_user_dirty(tb_server *srv, const char *user);
/* Wake the worker (new items to embed). */
void tb_jobs_kick(tb_server *srv);

/* ------------------------------------------------------------ server */

struct tb_server {
    struct tb_server_opts o;   /* copy; strings below are owned copies */
    char *listen;
    char *base_url;
    struct MHD_Daemon *daemon;
    int port;
    struct tb_metrics metrics;
    tb_feed_cache *cache;
    tb_shown *shown;
    tb_jobs *jobs;
    /* Bumped on every change that can alter a rendered feed (a fetch, an
     * event, new embeddings): cache entries of older generations are stale. */
    atomic_ullong gen;
    atomic_int stopping;
};

/* Per-request state, created in the URI callback and freed when MHD says
 * the request is complete. */
struct tb_req {
    char *uri;        /* raw request target, query string included */
    const char *method;
    double t0;
    tb_buf body;      /* uploaded body (POST) */
    bool body_too_big;
    bool started;     /* the first handler call (headers only) is over */
    int route;
    unsigned status;
    size_t bytes;
    char log_path[160]; /* path as logged (user ids redacted) */
};

#define TB_MAX_BODY (4u << 20)

/* Response helpers: every one sets security headers, records status and
 * size on the request and returns MHD's answer. body is taken (freed). */
enum MHD_Result tb_http_send(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                             const char *ctype, tb_buf *body);
enum MHD_Result tb_http_error(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum MHD_Result tb_http_json(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                             tb_buf *json);
/* Add the headers every response gets. */
void tb_http_common_headers(struct MHD_Response *resp);
/* Value of query parameter name from the raw URI (decoded, caller frees),
 * NULL when absent. */
char *tb_http_query(const char *uri, const char *name);
/* Percent-decode n bytes of s into a new string; '+' is left alone. */
char *tb_http_unescape(const char *s, size_t n);
/* Is id a plausible user id (1-64 of [A-Za-z0-9._-])? */
bool tb_user_id_ok(const char *id);

/* Routes (return MHD's answer; every path queues a response). */
enum MHD_Result tb_route_feed(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                              const char *rest);
enum MHD_Result tb_route_redirect(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                  const char *rest);
enum MHD_Result tb_route_api(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                             const char *path);
enum MHD_Result tb_route_web(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                             const char *path);
enum MHD_Result tb_route_metrics(tb_server *s, struct MHD_Connection *c, struct tb_req *r);

/* Embedded web assets (generated into build/gen/assets.c). */
struct tb_asset {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct tb_asset tb_assets[];
extern const size_t tb_assets_count;

/* The subscriber-facing URL of feed_id for user: base/feed/user/id. */
char *tb_feed_public_url(tb_server *s, const char *user, int64_t feed_id);
/* Record an event, bump the generation, mark the profile dirty. */
int tb_server_record_event(tb_server *s, const char *user, int64_t item_id, int kind,
                           tb_err *err);
/* Subscribe user to url (adding the feed if new); sets *feed_id. */
int tb_server_subscribe_url(tb_server *s, const char *user, const char *url,
                            const char *category, const char *title, int64_t *feed_id,
                            tb_err *err);

#endif

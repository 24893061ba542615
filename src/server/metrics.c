/*
 * metrics.c -- request counters, latency histogram and job counters, in the
 * Prometheus text exposition format (GET /metrics).
 *
 * Everything is a relaxed atomic in one fixed struct: observing a request is
 * three atomic adds and never allocates or locks. Requests are counted per
 * (route, status) in a dense table indexed by status code; rendering skips
 * the zero cells. The route label is one of a small fixed set (never the
 * path), so the series count stays bounded whatever clients send.
 */
#include <stdlib.h>

#include "server/internal.h"

static const double LAT_BOUNDS[TB_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

const char *tb_route_name(int route)
{
    static const char *names[TB_R__COUNT] = {"feed",         "redirect",     "api_users",
                                             "api_feeds",    "api_opml",     "api_feedback",
                                             "api_recommendations", "api_interests", "web",
                                             "healthz",      "metrics",      "other"};
    return route >= 0 && route < TB_R__COUNT ? names[route] : "other";
}

void tb_metrics_observe(struct tb_metrics *m, int route, int status, double seconds)
{
    if (route < 0 || route >= TB_R__COUNT)
        route = TB_R_OTHER;
    if (status < 0 || status >= TB_STATUS_MAX)
        status = 0;
    atomic_fetch_add_explicit(&m->requests[route][status], 1, memory_order_relaxed);
    int b = 0;
    while (b < TB_LAT_BUCKETS && seconds > LAT_BOUNDS[b])
        b++;
    atomic_fetch_add_explicit(&m->lat_bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_sum_us[route], (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

static void counter(tb_buf *o, const char *name, const char *help, unsigned long long v)
{
    tb_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static void gauge(tb_buf *o, const char *name, const char *help, long long v)
{
    tb_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

void tb_metrics_render(struct tb_metrics *m, tb_buf *o)
{
    tb_buf_puts(o, "# HELP tastebud_http_requests_total HTTP requests by route and status.\n"
                   "# TYPE tastebud_http_requests_total counter\n");
    for (int r = 0; r < TB_R__COUNT; r++)
        for (int st = 0; st < TB_STATUS_MAX; st++) {
            unsigned long long v = atomic_load_explicit(&m->requests[r][st], memory_order_relaxed);
            if (v)
                tb_buf_printf(o, "tastebud_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                              tb_route_name(r), st, v);
        }
    tb_buf_puts(o, "# HELP tastebud_http_request_duration_seconds Time from request line to "
                   "response end.\n# TYPE tastebud_http_request_duration_seconds histogram\n");
    for (int r = 0; r < TB_R__COUNT; r++) {
        unsigned long long cum = 0;
        unsigned long long total = 0;
        for (int b = 0; b <= TB_LAT_BUCKETS; b++)
            total += atomic_load_explicit(&m->lat_bucket[r][b], memory_order_relaxed);
        if (!total)
            continue;
        for (int b = 0; b <= TB_LAT_BUCKETS; b++) {
            cum += atomic_load_explicit(&m->lat_bucket[r][b], memory_order_relaxed);
            if (b < TB_LAT_BUCKETS)
                tb_buf_printf(o, "tastebud_http_request_duration_seconds_bucket{route=\"%s\","
                                 "le=\"%g\"} %llu\n", tb_route_name(r), LAT_BOUNDS[b], cum);
            else
                tb_buf_printf(o, "tastebud_http_request_duration_seconds_bucket{route=\"%s\","
                                 "le=\"+Inf\"} %llu\n", tb_route_name(r), cum);
        }
        tb_buf_printf(o, "tastebud_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                      tb_route_name(r), atomic_load(&m->lat_sum_us[r]) / 1e6);
        tb_buf_printf(o, "tastebud_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      tb_route_name(r), total);
    }
    counter(o, "tastebud_feeds_fetched_total", "Feed fetches that succeeded.",
            atomic_load(&m->feeds_fetched));
    counter(o, "tastebud_feed_fetch_failures_total", "Feed fetches that failed.",
            atomic_load(&m->feeds_failed));
    counter(o, "tastebud_items_embedded_total", "Items embedded by the background queue.",
            atomic_load(&m->items_embedded));
    counter(o, "tastebud_embed_failures_total", "Embedding batches that failed.",
            atomic_load(&m->embed_failed));
    counter(o, "tastebud_profiles_rebuilt_total", "Profile updates after new events.",
            atomic_load(&m->profiles_rebuilt));
    counter(o, "tastebud_events_recorded_total", "Reads, likes and dislikes recorded.",
            atomic_load(&m->events_recorded));
    counter(o, "tastebud_shown_recorded_total",
            "Shown events recorded for items in rendered feeds (deduplicated).",
            atomic_load(&m->shown_recorded));
    counter(o, "tastebud_feed_cache_hits_total", "Filtered feeds served from memory.",
            atomic_load(&m->cache_hits));
    counter(o, "tastebud_feed_cache_misses_total", "Filtered feeds rendered.",
            atomic_load(&m->cache_misses));
    gauge(o, "tastebud_fetch_queue_depth", "Feeds waiting to be fetched now.",
          atomic_load(&m->fetch_queue));
    gauge(o, "tastebud_embed_queue_depth", "Items without an embedding (last seen).",
          atomic_load(&m->embed_backlog));
    gauge(o, "tastebud_profile_queue_depth", "Users waiting for a profile update.",
          atomic_load(&m->profile_queue));
    gauge(o, "tastebud_http_requests_in_flight", "Requests being handled.",
          atomic_load(&m->in_flight));
}

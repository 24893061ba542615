/*
 * routes_feed.c -- the filtered feed and the click redirect.
 *
 *   GET /feed/{user}/{feed}      {feed}: tastebud's feed id, or the feed's own
 *                                URL, raw (/feed/u/https://x.org/rss?a=1) or
 *                                percent-encoded (/feed/u/https%3A%2F%2F...)
 *   GET /r/{user}/{item}[?l=N]   record a read, 302 to the item's stored URL
 *                                (l=N: the N-th link of its stored HTML,
 *                                l=c: its comments page)
 *
 * A feed URL nobody follows yet is added and subscribed on its first
 * request, fetched at once, and the request waits up to feed_wait_ms for
 * that fetch before answering with whatever is stored.
 *
 * Ranking: with a recommend hook, the newest 4 x feed_items items are the
 * candidates and the hook picks and orders feed_items of them (in cold
 * start -- fewer than min_reads reads -- it hands them back unchanged, so
 * the feed passes through in its own order). Every link is rewritten to
 * /r/ (writer.c), so clicks are tracked from the very first request.
 *
 * Rendered feeds are cached (cache.c) and carry a strong ETag (a hash of
 * the bytes) and a Last-Modified that only moves when the bytes change;
 * If-None-Match / If-Modified-Since get 304.
 *
 * The redirect only ever goes to a URL read from the store (the item's url
 * or comments_url, or a link found again in its stored HTML by index):
 * nothing from the request is ever echoed into Location.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "feed/writer.h"
#include "server/internal.h"

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

struct rewrite_ctx {
    const char *base;
    const char *user;
};

static void rewrite_link(void *ctx, const tb_item *it, int which, const char *orig, tb_buf *out)
{
    struct rewrite_ctx *rc = ctx;
    tb_buf_printf(out, "%s/r/%s/%lld", rc->base, rc->user, (long long)it->id);
    if (which == TB_LINK_COMMENTS)
        tb_buf_puts(out, "?l=c");
    else if (which >= 0)
        tb_buf_printf(out, "?l=%d", which);
}

/* ------------------------------------------------------- conditional GET */

static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    /* "*", or a list of (possibly W/-weak) tags containing ours. */
    return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static bool not_modified(struct MHD_Connection *c, const char *etag, int64_t lm)
{
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (inm)
        return etag_matches(inm, etag);
    const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Modified-Since");
    if (ims) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (end) {
            int64_t t = (int64_t)timegm(&tm);
            return lm <= t;
        }
    }
    return false;
}

static void set_validators(struct MHD_Response *resp, const char *etag, int64_t lm)
{
    char date[40];
    tb_time_rfc822(lm, date, sizeof date);
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Last-Modified", date);
    /* Readers must revalidate (cheap: 304), never serve a stale copy. */
    MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
}

static enum MHD_Result send_304(struct MHD_Connection *c, struct tb_req *r, const char *etag,
                                int64_t lm)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    set_validators(resp, etag, lm);
    tb_http_common_headers(resp);
    r->status = 304;
    r->bytes = 0;
    enum MHD_Result ret = MHD_queue_response(c, 304, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct hit_ctx {
    struct MHD_Connection *c;
    struct tb_req *r;
    enum MHD_Result ret;
};

static void on_hit(void *ctx, const struct tb_cached_feed *e)
{
    struct hit_ctx *h = ctx;
    if (not_modified(h->c, e->etag, e->last_modified)) {
        h->ret = send_304(h->c, h->r, e->etag, e->last_modified);
        return;
    }
    h->r->status = 200;
    h->r->bytes = e->bytes;
    h->ret = MHD_queue_response(h->c, 200, e->resp);
}

/* ------------------------------------------------------- feed resolution */

/* The feed URL named by spec (raw or percent-encoded), normalised, or NULL. */
static char *spec_to_url(const char *spec)
{
    char *u;
    if (strncasecmp(spec, "http%3a", 7) == 0 || strncasecmp(spec, "https%3a", 8) == 0)
        u = tb_http_unescape(spec, strlen(spec));
    else
        u = tb_strdup(spec);
    /* Some proxies squeeze "//" in paths to "/": put it back. */
    char *p = strstr(u, ":/");
    if (p && p[2] != '/') {
        char *fixed = tb_asprintf("%.*s://%s", (int)(p - u), u, p + 2);
        free(u);
        u = fixed;
    }
    char *ok = tb_url_resolve_http(NULL, u);
    free(u);
    return ok;
}

int tb_server_subscribe_url(tb_server *s, const char *user, const char *url,
                            const char *category, const char *title, int64_t *feed_id,
                            tb_err *err)
{
    char *u = tb_url_resolve_http(NULL, url);
    if (!u)
        return tb_err_set(err, TB_EINVAL, "'%s' is not an http(s) URL", url);
    int rc = tb_store_feed_add(s->o.store, u, feed_id, err);
    if (rc == 0)
        rc = tb_store_subscribe(s->o.store, user, *feed_id, category, title, err);
    free(u);
    return rc;
}

/* ------------------------------------------------------- the feed route */

/* Record "shown" events for the m items of a rendered feed, at most one per
 * item per shown_interval (shown.c), in one transaction. They change no
 * rendered feed, so the generation is left alone; the profile picks them
 * up with the user's next events. Failures are logged, never fatal. */
static void record_shown(tb_server *s, const char *user, const tb_item *sel, size_t m)
{
    if (s->o.shown_interval_s <= 0 || m == 0)
        return;
    int64_t now = tb_unix_now();
    int64_t *ids = tb_malloc(2 * m * sizeof *ids), *due = ids + m;
    for (size_t i = 0; i < m; i++)
        ids[i] = sel[i].id;
    size_t k = tb_shown_due(s->shown, s->o.store, user, ids, m, now, due);
    tb_err err = {0};
    if (k > 0 && tb_store_begin(s->o.store, &err) == 0) {
        size_t i = 0;
        for (; i < k; i++)
            if (tb_store_event_add(s->o.store, user, due[i], TB_EV_SHOWN, now, &err) != 0)
                break;
        if (i == k && tb_store_commit(s->o.store, &err) == 0)
            atomic_fetch_add_explicit(&s->metrics.shown_recorded, k, memory_order_relaxed);
        else {
            if (i < k)
                tb_store_rollback(s->o.store);
            k = 0;
        }
    }
    if (err.code)
        tb_warn("recording shown events: %s", err.msg);
    free(ids);
}

static enum MHD_Result render_feed(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                   const char *user, const char *spec, const char *key)
{
    tb_store *st = s->o.store;
    tb_err err = {0};
    int ex = tb_store_user_exists(st, user, &err);
    if (ex < 0)
        return tb_http_error(c, r, 500, "%s", err.msg);
    if (ex == 0)
        return tb_http_error(c, r, 404, "no such user");
    int64_t feed_id = 0;
    tb_feed feed = {0};
    size_t sl = strcspn(spec, "?");
    if (all_digits(spec, sl)) {
        char *d = tb_strndup(spec, sl);
        tb_parse_i64(d, &feed_id);
        free(d);
        if (tb_store_feed_get(st, feed_id, &feed, &err) != 0)
            return tb_http_error(c, r, err.code == TB_ENOTFOUND ? 404 : 500, "%s",
                                 err.code == TB_ENOTFOUND ? "no such feed" : err.msg);
    } else {
        char *url = spec_to_url(spec);
        if (!url)
            return tb_http_error(c, r, 404, "not a feed id or an http(s) feed URL");
        if (tb_store_feed_get_by_url(st, url, &feed, &err) != 0) {
            if (err.code != TB_ENOTFOUND || tb_store_feed_add(st, url, &feed_id, &err) != 0 ||
                tb_store_feed_get(st, feed_id, &feed, &err) != 0) {
                free(url);
                return tb_http_error(c, r, 500, "%s", err.msg);
            }
            tb_info("new feed %lld from a feed request", (long long)feed_id);
        }
        free(url);
        feed_id = feed.id;
    }
    int sub = tb_store_is_subscribed(st, user, feed_id, &err);
    if (sub == 0 && tb_store_subscribe(st, user, feed_id, NULL, NULL, &err) != 0)
        sub = -1;
    if (sub < 0) {
        tb_feed_clear(&feed);
        return tb_http_error(c, r, 500, "%s", err.msg);
    }
    if (feed.last_fetch == 0 && s->o.hooks.feed_refresh) {
        tb_jobs_fetch_now(s, feed_id, s->o.feed_wait_ms);
        tb_feed_clear(&feed);
        if (tb_store_feed_get(st, feed_id, &feed, &err) != 0)
            return tb_http_error(c, r, 500, "%s", err.msg);
    }
    /* Everything read from here on is at least as new as gen. */
    uint64_t gen = atomic_load(&s->gen);
    tb_item *items = NULL;
    size_t n = 0;
    size_t want = s->o.feed_items;
    if (tb_store_items_by_feed(st, feed_id, want * 4, &items, &n, &err) != 0) {
        tb_feed_clear(&feed);
        return tb_http_error(c, r, 500, "%s", err.msg);
    }
    size_t *order = tb_malloc((n ? n : 1) * sizeof *order);
    size_t m = 0;
    bool ranked = false;
    if (s->o.hooks.recommend && n > 0) {
        int64_t *ids = tb_malloc(n * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            ids[i] = items[i].id;
        struct tb_rank_opts ro = s->o.rank;
        ro.limit = want;
        struct tb_rec_result res = {0};
        char coll[48];
        tb_feed_collection(feed_id, coll, sizeof coll);
        if (s->o.hooks.recommend(s->o.hooks.ctx, st, user, coll, ids, n, &ro, &res, &err) == 0) {
            for (size_t k = 0; k < res.n && m < want; k++)
                for (size_t i = 0; i < n; i++)
                    if (items[i].id == res.items[k].item_id) {
                        order[m++] = i;
                        break;
                    }
            ranked = !res.cold_start;
            tb_rec_result_free(&res);
        } else {
            tb_warn("ranking feed %lld: %s (serving it unfiltered)", (long long)feed_id, err.msg);
            m = 0;
        }
        free(ids);
        if (!ranked && m == 0)
            for (size_t i = 0; i < n && m < want; i++)
                order[m++] = i;
    } else {
        for (size_t i = 0; i < n && m < want; i++)
            order[m++] = i;
    }
    tb_item *sel = tb_malloc((m ? m : 1) * sizeof *sel);
    for (size_t i = 0; i < m; i++)
        sel[i] = items[order[i]];
    struct rewrite_ctx rc = {s->base_url, user};
    char *self = tb_feed_public_url(s, user, feed_id);
    /* lastBuildDate is the feed's last successful fetch, not "now": the
     * bytes (and so the ETag) must not change when nothing else did. */
    record_shown(s, user, sel, m);
    struct tb_rss_opts ro = {.self_url = self, .rewrite = rewrite_link, .ctx = &rc,
                             .build_date = feed.last_ok};
    tb_buf body = {0};
    tb_rss_write(&feed, sel, m, &ro, &body);
    free(self);
    free(sel);
    free(order);
    tb_item_list_free(items, n);
    tb_feed_clear(&feed);

    struct tb_cached_feed e = {0};
    snprintf(e.etag, sizeof e.etag, "\"%016llx\"",
             (unsigned long long)tb_hash64(body.data, body.len, 0x7a57ebd));
    char old[40];
    int64_t lm = 0;
    if (tb_feed_cache_peek(s->cache, key, old, sizeof old, &lm) && strcmp(old, e.etag) == 0)
        e.last_modified = lm;
    else
        e.last_modified = tb_unix_now();
    e.rendered = tb_unix_now();
    e.bytes = body.len;
    char *data = tb_buf_steal(&body);
    e.resp = MHD_create_response_from_buffer(e.bytes, data ? data : (void *)"",
                                             data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(e.resp, "Content-Type", "application/rss+xml; charset=utf-8");
    MHD_add_response_header(e.resp, "X-Tastebud-Ranked", ranked ? "yes" : "no");
    set_validators(e.resp, e.etag, e.last_modified);
    tb_http_common_headers(e.resp);
    enum MHD_Result ret;
    if (not_modified(c, e.etag, e.last_modified)) {
        ret = send_304(c, r, e.etag, e.last_modified);
    } else {
        r->status = 200;
        r->bytes = e.bytes;
        ret = MHD_queue_response(c, 200, e.resp);
    }
    tb_feed_cache_put(s->cache, key, gen, &e); /* takes our reference */
    return ret;
}

enum MHD_Result tb_route_feed(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                              const char *rest)
{
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || !slash[1])
        return tb_http_error(c, r, 404, "expected /feed/{user}/{feed id or feed URL}");
    char *user = tb_strndup(rest, (size_t)(slash - rest));
    if (!tb_user_id_ok(user)) {
        free(user);
        return tb_http_error(c, r, 404, "no such user");
    }
    const char *spec = slash + 1;
    char *key = tb_asprintf("%s\n%s", user, spec);
    struct hit_ctx h = {c, r, MHD_NO};
    uint64_t gen = atomic_load(&s->gen);
    enum MHD_Result ret;
    /* An entry older than shown_interval is rendered again (same bytes,
     * same ETag) so that the items still in the feed are recorded as shown
     * once more: a reader that keeps an item unopened for days teaches the
     * recommender something. */
    int64_t min_rendered =
        s->o.shown_interval_s > 0 ? tb_unix_now() - s->o.shown_interval_s + 1 : 0;
    if (tb_feed_cache_with(s->cache, key, gen, min_rendered, on_hit, &h)) {
        atomic_fetch_add_explicit(&s->metrics.cache_hits, 1, memory_order_relaxed);
        ret = h.ret;
    } else {
        atomic_fetch_add_explicit(&s->metrics.cache_misses, 1, memory_order_relaxed);
        ret = render_feed(s, c, r, user, spec, key);
    }
    free(key);
    free(user);
    return ret;
}

/* ------------------------------------------------------- the redirect */

int tb_server_record_event(tb_server *s, const char *user, int64_t item_id, int kind,
                           tb_err *err)
{
    if (tb_store_event_add(s->o.store, user, item_id, kind, tb_unix_now(), err) != 0)
        return -1;
    atomic_fetch_add(&s->gen, 1);
    atomic_fetch_add_explicit(&s->metrics.events_recorded, 1, memory_order_relaxed);
    tb_jobs_user_dirty(s, user);
    return 0;
}

enum MHD_Result tb_route_redirect(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                  const char *rest)
{
    const char *slash = strchr(rest, '/');
    if (!slash)
        return tb_http_error(c, r, 404, "expected /r/{user}/{item}");
    char *user = tb_strndup(rest, (size_t)(slash - rest));
    const char *idp = slash + 1;
    size_t il = strcspn(idp, "?");
    int64_t item_id = 0;
    tb_err err = {0};
    tb_item it = {0};
    char *target = NULL;
    char *l = tb_http_query(r->uri, "l");
    enum MHD_Result ret;
    if (!tb_user_id_ok(user) || !all_digits(idp, il)) {
        ret = tb_http_error(c, r, 404, "no such link");
        goto out;
    }
    char *d = tb_strndup(idp, il);
    tb_parse_i64(d, &item_id);
    free(d);
    int ex = tb_store_user_exists(s->o.store, user, &err);
    if (ex <= 0) {
        ret = ex < 0 ? tb_http_error(c, r, 500, "%s", err.msg)
                     : tb_http_error(c, r, 404, "no such user");
        goto out;
    }
    if (tb_store_item_get(s->o.store, item_id, &it, &err) != 0) {
        ret = err.code == TB_ENOTFOUND ? tb_http_error(c, r, 404, "no such item")
                                       : tb_http_error(c, r, 500, "%s", err.msg);
        goto out;
    }
    if (!l || !*l) {
        target = tb_url_resolve_http(NULL, it.url);
    } else if (strcmp(l, "c") == 0) {
        target = tb_url_resolve_http(it.url, it.comments_url);
    } else {
        int64_t n;
        if (tb_parse_i64(l, &n) == 0 && n >= 0 && n < 100000)
            target = tb_html_link_at(it.html, it.url, (int)n);
    }
    if (!target) {
        ret = tb_http_error(c, r, 404, "this item has no such link");
        goto out;
    }
    if (tb_server_record_event(s, user, item_id, TB_EV_READ, &err) != 0)
        tb_warn("recording a read: %s", err.msg);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Location", target);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    tb_http_common_headers(resp);
    r->status = 302;
    ret = MHD_queue_response(c, 302, resp);
    MHD_destroy_response(resp);
out:
    free(target);
    free(l);
    free(user);
    tb_item_clear(&it);
    return ret;
}

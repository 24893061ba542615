/*
 * routes_api.c -- the JSON API the web page (and scripts) use.
 *
 *   POST /api/users                   {"name"?}            -> {"id"}
 *   GET  /api/feeds?user=U                                 -> feeds + health
 *   POST /api/feeds                   {"user","url"}       -> {"feed_id","feed_url",...}
 *   POST /api/opml?user=U             OPML (raw body or multipart "file"/"opml")
 *                                                          -> rewritten OPML
 *   POST /api/feedback                {"user","item","kind": like|dislike|read}
 *   GET  /api/recommendations?user=U[&collection=C][&limit=N]
 *   GET  /api/interests?user=U        clusters, representative titles, 2-D map
 *
 * Bodies may be JSON or application/x-www-form-urlencoded; a field may also
 * come from the query string. The user id is the credential: every route
 * that touches a user's data wants it and answers 404 when it is unknown.
 * All JSON is built with jansson, so feed text is escaped by construction.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed/opml.h"
#include "feed/writer.h"
#include "server/internal.h"

/* ------------------------------------------------------------ request fields */

struct fields {
    json_t *json;        /* parsed JSON body, or NULL */
    char *form;          /* urlencoded body as "?a=b&..." for tb_http_query */
};

static void fields_parse(struct tb_req *r, struct MHD_Connection *c, struct fields *f)
{
    memset(f, 0, sizeof *f);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!r->body.len)
        return;
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        f->form = tb_asprintf("?%s", r->body.data);
    else if (!ct || strncasecmp(ct, "application/json", 16) == 0 ||
             strncasecmp(ct, "text/plain", 10) == 0)
        f->json = json_loadb(r->body.data, r->body.len, 0, NULL);
}

static void fields_free(struct fields *f)
{
    json_decref(f->json);
    free(f->form);
}

/* The field's value (caller frees) or NULL. */
static char *field(struct tb_req *r, struct fields *f, const char *name)
{
    if (f->json && json_is_object(f->json)) {
        json_t *v = json_object_get(f->json, name);
        if (json_is_string(v))
            return tb_strdup(json_string_value(v));
        if (json_is_integer(v))
            return tb_asprintf("%lld", (long long)json_integer_value(v));
    }
    if (f->form) {
        char *v = tb_http_query(f->form, name);
        if (v)
            return v;
    }
    return tb_http_query(r->uri, name);
}

static enum MHD_Result send_json(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                                 json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    tb_buf b = {0};
    tb_buf_puts(&b, s ? s : "null");
    free(s);
    return tb_http_json(c, r, status, &b);
}

/* Checks the user field; on failure queues the error and returns NULL. */
static char *need_user(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                       struct fields *f, enum MHD_Result *ret)
{
    char *u = field(r, f, "user");
    tb_err err = {0};
    if (!u || !*u) {
        *ret = tb_http_error(c, r, 400, "missing 'user'");
    } else if (!tb_user_id_ok(u)) {
        *ret = tb_http_error(c, r, 404, "no such user");
    } else {
        int ex = tb_store_user_exists(s->o.store, u, &err);
        if (ex == 1)
            return u;
        *ret = ex < 0 ? tb_http_error(c, r, 500, "%s", err.msg)
                      : tb_http_error(c, r, 404, "no such user");
    }
    free(u);
    return NULL;
}

/* ------------------------------------------------------------ users */

static enum MHD_Result api_users(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                 struct fields *f)
{
    if (strcmp(r->method, "POST") != 0)
        return tb_http_error(c, r, 405, "use POST to create a user");
    char id[33];
    if (tb_random_id(id) != 0)
        return tb_http_error(c, r, 500, "the system's random generator failed");
    char *name = field(r, f, "name");
    if (name && strlen(name) > 200)
        name[200] = 0;
    tb_err err = {0};
    int rc = tb_store_user_create(s->o.store, id, name, &err);
    free(name);
    if (rc != 0)
        return tb_http_error(c, r, 500, "%s", err.msg);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "base_url", json_string(s->base_url));
    return send_json(c, r, 201, j);
}

/* ------------------------------------------------------------ feeds */

static json_t *feed_json(tb_server *s, const char *user, const tb_feed *fd, const char *cat)
{
    json_t *o = json_object();
    char *pub = tb_feed_public_url(s, user, fd->id);
    char coll[48];
    tb_feed_collection(fd->id, coll, sizeof coll);
    json_object_set_new(o, "id", json_integer(fd->id));
    json_object_set_new(o, "url", json_string(fd->url));
    json_object_set_new(o, "feed_url", json_string(pub));
    json_object_set_new(o, "title", fd->title ? json_string(fd->title) : json_null());
    json_object_set_new(o, "site_url", fd->site_url ? json_string(fd->site_url) : json_null());
    json_object_set_new(o, "category", cat ? json_string(cat) : json_null());
    json_object_set_new(o, "items", json_integer(tb_store_item_count(s->o.store, coll, NULL)));
    json_object_set_new(o, "last_fetch", json_integer(fd->last_fetch));
    json_object_set_new(o, "last_ok", json_integer(fd->last_ok));
    json_object_set_new(o, "next_fetch", json_integer(fd->next_fetch));
    json_object_set_new(o, "failures", json_integer(fd->failures));
    json_object_set_new(o, "last_error", fd->last_error ? json_string(fd->last_error) : json_null());
    json_object_set_new(o, "disabled", json_boolean(fd->disabled));
    const char *health = fd->disabled ? "disabled"
                         : fd->last_fetch == 0 ? "pending"
                         : fd->failures > 0 ? "failing" : "ok";
    json_object_set_new(o, "health", json_string(health));
    free(pub);
    return o;
}

static enum MHD_Result api_feeds(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                 struct fields *f)
{
    enum MHD_Result ret;
    char *user = need_user(s, c, r, f, &ret);
    if (!user)
        return ret;
    tb_err err = {0};
    if (strcmp(r->method, "POST") == 0) {
        char *url = field(r, f, "url");
        char *cat = field(r, f, "category");
        int64_t id = 0;
        if (!url || !*url) {
            ret = tb_http_error(c, r, 400, "missing 'url'");
        } else if (tb_server_subscribe_url(s, user, url, cat, NULL, &id, &err) != 0) {
            ret = tb_http_error(c, r, err.code == TB_EINVAL ? 400 : 500, "%s", err.msg);
        } else {
            tb_feed fd = {0};
            /* A new feed is fetched at once (bounded wait) so the answer
             * can show its title and health. */
            if (s->o.hooks.feed_refresh && tb_store_feed_get(s->o.store, id, &fd, &err) == 0 &&
                fd.last_fetch == 0)
                tb_jobs_fetch_now(s, id, s->o.feed_wait_ms);
            tb_feed_clear(&fd);
            if (tb_store_feed_get(s->o.store, id, &fd, &err) != 0) {
                free(url);
                free(cat);
                free(user);
                return tb_http_error(c, r, 500, "%s", err.msg);
            }
            atomic_fetch_add(&s->gen, 1);
            ret = send_json(c, r, 201, feed_json(s, user, &fd, cat));
            tb_feed_clear(&fd);
        }
        free(url);
        free(cat);
        free(user);
        return ret;
    }
    tb_feed *fds = NULL;
    char **cats = NULL;
    size_t n = 0;
    if (tb_store_subscriptions(s->o.store, user, &fds, &cats, &n, &err) != 0) {
        free(user);
        return tb_http_error(c, r, 500, "%s", err.msg);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, feed_json(s, user, &fds[i], cats ? cats[i] : NULL));
        if (cats)
            free(cats[i]);
    }
    free(cats);
    tb_feed_list_free(fds, n);
    free(user);
    json_t *j = json_object();
    json_object_set_new(j, "feeds", arr);
    return send_json(c, r, 200, j);
}

/* ------------------------------------------------------------ OPML */

struct upload {
    tb_buf file;
    char *user;
};

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    struct upload *u = cls;
    if (key && strcmp(key, "user") == 0) {
        if (!u->user)
            u->user = tb_strndup(data, size);
    } else if (key && (filename || strcmp(key, "opml") == 0 || strcmp(key, "file") == 0)) {
        if (u->file.len < TB_MAX_BODY)
            tb_buf_append(&u->file, data, size);
    }
    return MHD_YES;
}

static enum MHD_Result api_opml(tb_server *s, struct MHD_Connection *c, struct tb_req *r)
{
    if (strcmp(r->method, "POST") != 0)
        return tb_http_error(c, r, 405, "POST an OPML file");
    if (!s->o.hooks.opml_parse)
        return tb_http_error(c, r, 501, "this build cannot read OPML");
    struct upload up = {0};
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *data = r->body.data;
    size_t len = r->body.len;
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 64 * 1024, post_iter, &up);
        if (!pp)
            return tb_http_error(c, r, 400, "malformed multipart body");
        MHD_post_process(pp, r->body.data, r->body.len);
        MHD_destroy_post_processor(pp);
        data = up.file.data;
        len = up.file.len;
    }
    enum MHD_Result ret;
    char *user = up.user ? tb_strdup(up.user) : tb_http_query(r->uri, "user");
    tb_err err = {0};
    struct tb_opml_entry *e = NULL;
    size_t n = 0;
    int ex = 0;
    if (!user || !*user) {
        ret = tb_http_error(c, r, 400, "missing 'user'");
        goto out;
    }
    if (!tb_user_id_ok(user) || (ex = tb_store_user_exists(s->o.store, user, &err)) != 1) {
        ret = ex < 0 ? tb_http_error(c, r, 500, "%s", err.msg)
                     : tb_http_error(c, r, 404, "no such user");
        goto out;
    }
    if (!data || len == 0) {
        ret = tb_http_error(c, r, 400, "empty OPML upload");
        goto out;
    }
    if (s->o.hooks.opml_parse(s->o.hooks.ctx, data, len, &e, &n, &err) != 0) {
        ret = tb_http_error(c, r, 400, "malformed OPML: %s", err.msg);
        goto out;
    }
    /* libxml2's recover mode accepts a truncated file; one that yields no
     * feed at all is an error the user should see, not an empty 200. */
    if (n == 0) {
        ret = tb_http_error(c, r, 400, "malformed OPML: no feed (an outline with xmlUrl) in it");
        goto out;
    }
    tb_opml_outline *outs = tb_calloc(n ? n : 1, sizeof *outs);
    size_t m = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        if (tb_server_subscribe_url(s, user, e[i].url, e[i].category, e[i].title, &id, &err) !=
            0) {
            bad++;
            continue;
        }
        tb_jobs_fetch_now(s, id, 0);
        /* The strings stay owned by e; only xml_url is ours. */
        outs[m] = (tb_opml_outline){tb_feed_public_url(s, user, id), NULL, e[i].title,
                                    e[i].category};
        m++;
    }
    atomic_fetch_add(&s->gen, 1);
    tb_buf b = {0};
    tb_opml_write(outs, m, "tastebud: filtered feeds", &b);
    for (size_t i = 0; i < m; i++)
        free(outs[i].xml_url);
    free(outs);
    if (bad)
        tb_info("OPML import: %zu of %zu entries were not http(s) feed URLs", bad, n);
    r->status = 200;
    ret = tb_http_send(c, r, 200, "text/x-opml; charset=utf-8", &b);
out:
    tb_opml_entries_free(e, n);
    tb_buf_free(&up.file);
    free(up.user);
    free(user);
    return ret;
}

/* ------------------------------------------------------------ feedback */

static enum MHD_Result api_feedback(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                    struct fields *f)
{
    if (strcmp(r->method, "POST") != 0)
        return tb_http_error(c, r, 405, "use POST for feedback");
    enum MHD_Result ret;
    char *user = need_user(s, c, r, f, &ret);
    if (!user)
        return ret;
    char *item = field(r, f, "item");
    char *kind = field(r, f, "kind");
    int64_t id = 0;
    int k = kind ? tb_event_kind_parse(kind) : -1;
    tb_err err = {0};
    tb_item it = {0};
    if (!item || tb_parse_i64(item, &id) != 0)
        ret = tb_http_error(c, r, 400, "'item' must be an item id");
    else if (k != TB_EV_LIKE && k != TB_EV_DISLIKE && k != TB_EV_READ)
        ret = tb_http_error(c, r, 400, "'kind' must be like, dislike or read");
    else if (tb_store_item_get(s->o.store, id, &it, &err) != 0)
        ret = tb_http_error(c, r, err.code == TB_ENOTFOUND ? 404 : 500, "%s",
                            err.code == TB_ENOTFOUND ? "no such item" : err.msg);
    else if (tb_server_record_event(s, user, id, k, &err) != 0)
        ret = tb_http_error(c, r, 500, "%s", err.msg);
    else {
        json_t *j = json_object();
        json_object_set_new(j, "ok", json_true());
        json_object_set_new(j, "item", json_integer(id));
        json_object_set_new(j, "kind", json_string(tb_event_kind_name(k)));
        ret = send_json(c, r, 200, j);
    }
    tb_item_clear(&it);
    free(item);
    free(kind);
    free(user);
    return ret;
}

/* ------------------------------------------------------------ recommendations */

static const char *why_name(int why)
{
    return why == TB_WHY_SIMILAR ? "similar" : why == TB_WHY_EXPLORE ? "explore" : "new";
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static enum MHD_Result api_recs(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                struct fields *f)
{
    enum MHD_Result ret;
    char *user = need_user(s, c, r, f, &ret);
    if (!user)
        return ret;
    tb_store *st = s->o.store;
    tb_err err = {0};
    char *coll = field(r, f, "collection");
    char *lim = field(r, f, "limit");
    int64_t limit = 30;
    if (lim && (tb_parse_i64(lim, &limit) != 0 || limit < 1 || limit > 500))
        limit = 30;
    /* Candidates: the newest items of every subscribed feed, or a catalogue. */
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (!coll || !*coll) {
        tb_feed *fds = NULL;
        size_t nf = 0;
        if (tb_store_subscriptions(st, user, &fds, NULL, &nf, &err) == 0) {
            for (size_t i = 0; i < nf; i++) {
                tb_item *its = NULL;
                size_t ni = 0;
                if (tb_store_items_by_feed(st, fds[i].id, 50, &its, &ni, &err) != 0)
                    continue;
                for (size_t k = 0; k < ni; k++) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        ids = tb_realloc(ids, cap * sizeof *ids);
                    }
                    ids[n++] = its[k].id;
                }
                tb_item_list_free(its, ni);
            }
            tb_feed_list_free(fds, nf);
        }
    }
    /* Picks are for what the user has not opened yet: drop feed items they
     * already read, liked or disliked (a filtered feed keeps them -- the
     * reader tracks read state -- but a list of picks should not). */
    if (n > 0) {
        tb_event *ev = NULL;
        size_t ne = 0;
        if (tb_store_events(st, user, 0, &ev, &ne, &err) == 0) {
            int64_t *seen = tb_malloc((ne ? ne : 1) * sizeof *seen);
            size_t ns = 0;
            for (size_t i = 0; i < ne; i++)
                if (ev[i].kind != TB_EV_SHOWN)
                    seen[ns++] = ev[i].item_id;
            qsort(seen, ns, sizeof *seen, cmp_i64);
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (!bsearch(&ids[i], seen, ns, sizeof *seen, cmp_i64))
                    ids[m++] = ids[i];
            n = m;
            free(seen);
            free(ev);
        }
    }
    struct tb_rec_result res = {0};
    bool have = false;
    if (s->o.hooks.recommend && (n > 0 || (coll && *coll))) {
        struct tb_rank_opts ro = s->o.rank;
        ro.limit = (size_t)limit;
        if (s->o.hooks.recommend(s->o.hooks.ctx, st, user, coll && *coll ? coll : NULL,
                                 (coll && *coll) ? NULL : ids, (coll && *coll) ? 0 : n, &ro, &res,
                                 &err) != 0) {
            ret = tb_http_error(c, r, 500, "recommending: %s", err.msg);
            goto out;
        }
        have = true;
    } else {
        res.cold_start = true;
        res.items = tb_calloc(n ? n : 1, sizeof *res.items);
        for (size_t i = 0; i < n && res.n < (size_t)limit; i++)
            res.items[res.n++] = (struct tb_rec_item){ids[i], 0, 0, TB_WHY_COLD, -1, 0};
        have = true;
    }
    json_t *arr = json_array();
    for (size_t i = 0; have && i < res.n; i++) {
        const struct tb_rec_item *ri = &res.items[i];
        tb_item it = {0};
        if (tb_store_item_get(st, ri->item_id, &it, &err) != 0)
            continue;
        json_t *o = json_object();
        char *link = tb_asprintf("%s/r/%s/%lld", s->base_url, user, (long long)it.id);
        json_object_set_new(o, "id", json_integer(it.id));
        json_object_set_new(o, "title", json_string(it.title ? it.title : "(untitled)"));
        json_object_set_new(o, "link", json_string(link));
        json_object_set_new(o, "feed_id", json_integer(it.feed_id));
        json_object_set_new(o, "published", json_integer(it.published));
        json_object_set_new(o, "why", json_string(why_name(ri->why)));
        json_object_set_new(o, "score", json_real(ri->score));
        json_object_set_new(o, "cluster", json_integer(ri->cluster));
        tb_buf ex = {0};
        if (ri->why == TB_WHY_SIMILAR) {
            tb_item near = {0};
            if (ri->near_item && tb_store_item_get(st, ri->near_item, &near, NULL) == 0) {
                json_t *nj = json_object();
                json_object_set_new(nj, "id", json_integer(near.id));
                json_object_set_new(nj, "title", json_string(near.title ? near.title : ""));
                json_object_set_new(nj, "similarity", json_real(ri->sim));
                json_object_set_new(o, "near", nj);
                tb_buf_printf(&ex, "close to \"%s\", which you read", near.title ? near.title : "?");
                tb_item_clear(&near);
            } else {
                tb_buf_puts(&ex, "close to your interests");
            }
            if (ri->cluster >= 0 && res.k > 0)
                tb_buf_printf(&ex, " (interest %d of %zu)", ri->cluster + 1, res.k);
            tb_buf_printf(&ex, "; score %.2f", ri->score);
        } else if (ri->why == TB_WHY_EXPLORE) {
            tb_buf_puts(&ex, "an exploration pick, outside your usual interests");
        } else {
            size_t need = s->o.rank.min_reads;
            tb_buf_printf(&ex, "newest first: tastebud starts choosing after %zu reads (%zu so far)",
                          need, res.n_reads);
        }
        json_object_set_new(o, "explanation", json_string(tb_buf_cstr(&ex)));
        tb_buf_free(&ex);
        free(link);
        tb_item_clear(&it);
        json_array_append_new(arr, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "items", arr);
    json_object_set_new(j, "cold_start", json_boolean(res.cold_start));
    json_object_set_new(j, "reads", json_integer((json_int_t)res.n_reads));
    json_object_set_new(j, "min_reads", json_integer((json_int_t)s->o.rank.min_reads));
    json_object_set_new(j, "clusters", json_integer((json_int_t)res.k));
    ret = send_json(c, r, 200, j);
out:
    tb_rec_result_free(&res);
    free(ids);
    free(coll);
    free(lim);
    free(user);
    return ret;
}

/* ------------------------------------------------------------ interests */

/* Top-2 principal axes of the rows of x (n x d, centred in place) by power
 * iteration with deflation; writes the 2-D coordinates into xy (n x 2). */
static void pca2(float *x, size_t n, size_t d, float *xy)
{
    float *mean = tb_calloc(d, sizeof *mean);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++)
            mean[k] += x[i * d + k] / (float)n;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++)
            x[i * d + k] -= mean[k];
    float *v = tb_malloc(2 * d * sizeof *v), *t = tb_malloc(n * sizeof *t);
    float *w = tb_malloc(d * sizeof *w);
    tb_rng rng;
    tb_rng_seed(&rng, 42);
    for (int a = 0; a < 2; a++) {
        float *va = v + a * d;
        for (size_t k = 0; k < d; k++)
            va[k] = (float)tb_rng_normal(&rng);
        for (int it = 0; it < 60; it++) {
            for (size_t i = 0; i < n; i++)
                t[i] = tb_dot(x + i * d, va, d);
            memset(w, 0, d * sizeof *w);
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < d; k++)
                    w[k] += t[i] * x[i * d + k];
            if (a == 1) { /* deflate: stay orthogonal to the first axis */
                float p = tb_dot(w, v, d);
                for (size_t k = 0; k < d; k++)
                    w[k] -= p * v[k];
            }
            if (tb_l2_normalize(w, d) == 0.0f)
                break;
            memcpy(va, w, d * sizeof *w);
        }
        for (size_t i = 0; i < n; i++)
            xy[i * 2 + a] = tb_dot(x + i * d, va, d);
    }
    free(mean);
    free(v);
    free(t);
    free(w);
}

static enum MHD_Result api_interests(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                                     struct fields *f)
{
    enum MHD_Result ret;
    char *user = need_user(s, c, r, f, &ret);
    if (!user)
        return ret;
    tb_store *st = s->o.store;
    tb_err err = {0};
    const tb_server_hooks *h = &s->o.hooks;
    tb_event *ev = NULL;
    size_t ne = 0;
    json_t *points = json_array(), *clusters = json_array();
    if (tb_store_events(st, user, 0, &ev, &ne, &err) != 0) {
        json_decref(points);
        json_decref(clusters);
        free(user);
        return tb_http_error(c, r, 500, "%s", err.msg);
    }
    /* Distinct positives, newest first, at most 500. */
    int64_t *pos = tb_malloc((ne ? ne : 1) * sizeof *pos);
    size_t np = 0;
    for (size_t i = ne; i-- > 0 && np < 500;) {
        if (ev[i].kind != TB_EV_READ && ev[i].kind != TB_EV_LIKE)
            continue;
        bool dup = false;
        for (size_t k = 0; k < np && !dup; k++)
            dup = pos[k] == ev[i].item_id;
        if (!dup)
            pos[np++] = ev[i].item_id;
    }
    free(ev);
    tb_profile *prof = h->profile_load ? h->profile_load(h->ctx, st, user, &err) : NULL;
    size_t d = h->dim;
    float *x = d ? tb_malloc((np ? np : 1) * d * sizeof *x) : NULL;
    int64_t *emb_ids = tb_malloc((np ? np : 1) * sizeof *emb_ids);
    size_t m = 0;
    for (size_t i = 0; d && h->model_id && i < np; i++)
        if (tb_store_embedding_get(st, pos[i], h->model_id, x + m * d, d, NULL) == 1)
            emb_ids[m++] = pos[i];
    int *cl = tb_malloc((m ? m : 1) * sizeof *cl);
    for (size_t i = 0; i < m; i++) {
        cl[i] = -1;
        for (size_t p = 0; prof && p < tb_profile_npos(prof); p++) {
            int64_t id;
            int cc = tb_profile_pos_cluster(prof, p, &id);
            if (id == emb_ids[i]) {
                cl[i] = cc;
                break;
            }
        }
    }
    /* Clusters with their most representative (closest to centroid) titles. */
    size_t k = prof ? tb_profile_k(prof) : 0;
    for (size_t cidx = 0; cidx < k; cidx++) {
        float wgt;
        size_t size;
        const float *cen = tb_profile_centroid(prof, cidx, &wgt, &size);
        int64_t best[3] = {0, 0, 0};
        float bs[3] = {-2, -2, -2};
        for (size_t i = 0; cen && i < m; i++) {
            if (cl[i] != (int)cidx)
                continue;
            float sc = tb_dot(x + i * d, cen, d);
            for (int b = 0; b < 3; b++)
                if (sc > bs[b]) {
                    for (int q = 2; q > b; q--)
                        bs[q] = bs[q - 1], best[q] = best[q - 1];
                    bs[b] = sc;
                    best[b] = emb_ids[i];
                    break;
                }
        }
        json_t *o = json_object(), *titles = json_array();
        for (int b = 0; b < 3; b++) {
            tb_item it = {0};
            if (best[b] && tb_store_item_get(st, best[b], &it, NULL) == 0) {
                json_array_append_new(titles, json_string(it.title ? it.title : ""));
                tb_item_clear(&it);
            }
        }
        json_object_set_new(o, "id", json_integer((json_int_t)cidx));
        json_object_set_new(o, "weight", json_real(wgt));
        json_object_set_new(o, "size", json_integer((json_int_t)size));
        json_object_set_new(o, "titles", titles);
        json_array_append_new(clusters, o);
    }
    if (m >= 1) {
        /* One item has no spread to project: it sits at the origin. */
        float *xy = tb_calloc(m * 2, sizeof *xy);
        if (m >= 2)
            pca2(x, m, d, xy);
        for (size_t i = 0; i < m; i++) {
            tb_item it = {0};
            json_t *o = json_object();
            if (tb_store_item_get(st, emb_ids[i], &it, NULL) == 0)
                json_object_set_new(o, "title", json_string(it.title ? it.title : ""));
            tb_item_clear(&it);
            json_object_set_new(o, "id", json_integer(emb_ids[i]));
            json_object_set_new(o, "x", json_real(isfinite(xy[2 * i]) ? xy[2 * i] : 0));
            json_object_set_new(o, "y", json_real(isfinite(xy[2 * i + 1]) ? xy[2 * i + 1] : 0));
            json_object_set_new(o, "cluster", json_integer(cl[i]));
            json_array_append_new(points, o);
        }
        free(xy);
    }
    tb_profile_free(prof);
    free(cl);
    free(x);
    free(emb_ids);
    free(pos);
    free(user);
    json_t *j = json_object();
    json_object_set_new(j, "reads", json_integer((json_int_t)np));
    json_object_set_new(j, "clusters", clusters);
    json_object_set_new(j, "points", points);
    return send_json(c, r, 200, j);
}

/* ------------------------------------------------------------ dispatch */

enum MHD_Result tb_route_api(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                             const char *uri)
{
    size_t pl = strcspn(uri, "?");
    char *path = tb_strndup(uri, pl);
    struct fields f;
    fields_parse(r, c, &f);
    enum MHD_Result ret;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (strcmp(path, "/api/users") == 0) {
        r->route = TB_R_API_USERS;
        ret = api_users(s, c, r, &f);
    } else if (strcmp(path, "/api/feeds") == 0) {
        r->route = TB_R_API_FEEDS;
        ret = api_feeds(s, c, r, &f);
    } else if (strcmp(path, "/api/opml") == 0) {
        r->route = TB_R_API_OPML;
        ret = api_opml(s, c, r);
    } else if (strcmp(path, "/api/feedback") == 0) {
        r->route = TB_R_API_FEEDBACK;
        ret = api_feedback(s, c, r, &f);
    } else if (strcmp(path, "/api/recommendations") == 0) {
        r->route = TB_R_API_RECS;
        ret = get ? api_recs(s, c, r, &f) : tb_http_error(c, r, 405, "use GET");
    } else if (strcmp(path, "/api/interests") == 0) {
        r->route = TB_R_API_INTERESTS;
        ret = get ? api_interests(s, c, r, &f) : tb_http_error(c, r, 405, "use GET");
    } else {
        ret = tb_http_error(c, r, 404, "no such API endpoint");
    }
    fields_free(&f);
    free(path);
    return ret;
}

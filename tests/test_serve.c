/* Tests for the feed writer and the HTTP server. The server runs in-process
 * on an ephemeral loopback port with fake hooks: a "fetcher" that stores a
 * fixture feed (hostile titles included), a bag-of-words embedder, and a
 * recommender made of the real profile/ranking code (src/rec). A libcurl
 * client talks to it like a feed reader would. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed/writer.h"
#include "server/server.h"

/* ------------------------------------------------------------ writer */

static void rw(void *ctx, const tb_item *it, int which, const char *orig, tb_buf *out)
{
    tb_buf_printf(out, "http://t/r/u/%lld?l=%d", (long long)it->id, which);
}

Test(writer, escapes_and_rewrites)
{
    tb_feed f = {.id = 1, .url = "http://x/feed", .title = "A <b>feed</b> & co",
                 .site_url = "http://x/", .description = "d"};
    tb_item it = {.id = 7, .key = "g1", .url = "http://x/1", .title = "<script>alert(1)</script>",
                  .html = "<p>hi <a href=\"/rel\">one</a> <a href=\"javascript:alert(1)\">two</a>"
                          "<script>bad()</script><img src=\"x.png\" onerror=\"bad()\">"
                          "<a href=\"http://y/3\">three</a></p>",
                  .comments_url = "http://x/c", .published = 1700000000};
    struct tb_rss_opts o = {.self_url = "http://t/feed/u/1", .rewrite = rw};
    tb_buf b = {0};
    tb_rss_write(&f, &it, 1, &o, &b);
    const char *s = tb_buf_cstr(&b);
    cr_assert(strstr(s, "<title>A &lt;b&gt;feed&lt;/b&gt; &amp; co</title>"), "%s", s);
    cr_assert(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    cr_assert_null(strstr(s, "<script"));
    cr_assert(strstr(s, "<link>http://t/r/u/7?l=-1</link>"), "%s", s);
    cr_assert(strstr(s, "<comments>http://t/r/u/7?l=-2</comments>"));
    cr_assert(strstr(s, "http://t/r/u/7?l=0"), "first link rewritten: %s", s);
    cr_assert(strstr(s, "http://t/r/u/7?l=2"), "third link keeps its index: %s", s);
    cr_assert_null(strstr(s, "l=1"), "javascript: link must not be rewritten");
    cr_assert_null(strstr(s, "bad()"), "script and handlers removed: %s", s);
    cr_assert(strstr(s, "http://x/x.png"), "img src made absolute: %s", s);
    /* The document is well-formed XML. */
    xmlDocPtr d = xmlReadMemory(b.data, (int)b.len, NULL, NULL, XML_PARSE_NONET);
    cr_assert_not_null(d);
    xmlFreeDoc(d);
    tb_buf_free(&b);
    /* Index N names the same link for the redirect. */
    char *l0 = tb_html_link_at(it.html, it.url, 0);
    char *l1 = tb_html_link_at(it.html, it.url, 1);
    char *l2 = tb_html_link_at(it.html, it.url, 2);
    cr_assert_str_eq(l0, "http://x/rel");
    cr_assert_null(l1);
    cr_assert_str_eq(l2, "http://y/3");
    cr_assert_null(tb_html_link_at(it.html, it.url, 3));
    free(l0);
    free(l2);
}

/* ------------------------------------------------------------ fake hooks */

#define DIM 32
#define NITEMS 12

static int fetches;

/* Items on two topics, so that reading one topic ranks it first. */
static const char *TOPIC_A[] = {"rust compiler borrow checker", "rust async runtime tokio",
                                "rust traits generics", "rust memory safety", "rust cargo crates",
                                "rust embedded microcontroller"};
static const char *TOPIC_B[] = {"sourdough bread baking flour", "pasta dough recipe eggs",
                                "bread oven steam crust", "cake baking sugar butter",
                                "pizza dough yeast oven", "cookies baking chocolate"};

static int fake_refresh(void *ctx, tb_store *s, int64_t feed_id, tb_err *err)
{
    fetches++;
    tb_feed f = {0};
    if (tb_store_feed_get(s, feed_id, &f, err) != 0)
        return -1;
    if (strstr(f.url, "broken")) {
        f.last_fetch = tb_unix_now();
        f.failures++;
        tb_store_feed_update(s, &f, NULL);
        tb_feed_clear(&f);
        return tb_err_set(err, TB_ENET, "HTTP 500");
    }
    char coll[48];
    tb_feed_collection(feed_id, coll, sizeof coll);
    for (int i = 0; i < NITEMS; i++) {
        char key[32], url[96], title[160], html[512];
        snprintf(key, sizeof key, "g%d", i);
        snprintf(url, sizeof url, "http://fixture.test/post/%d", i);
        const char *topic = i % 2 ? TOPIC_B[i / 2] : TOPIC_A[i / 2];
        snprintf(title, sizeof title, "%s <script>alert('t%d')</script>", topic, i);
        snprintf(html, sizeof html,
                 "<p>%s</p><a href=\"http://fixture.test/more/%d\">more</a>"
                 "<script>steal()</script><a href=\"javascript:evil()\">x</a>",
                 topic, i);
        tb_item it = {.feed_id = feed_id, .collection = coll, .key = key, .url = url,
                      .title = title, .html = html, .text = (char *)topic,
                      .comments_url = "http://fixture.test/comments",
                      .published = 1700000000 + i * 3600};
        if (tb_store_item_upsert(s, &it, NULL, err) != 0) {
            tb_feed_clear(&f);
            return -1;
        }
    }
    free(f.title);
    f.title = tb_strdup("Fixture <b>feed</b>");
    f.last_fetch = f.last_ok = tb_unix_now();
    f.next_fetch = tb_unix_now() + 3600;
    int rc = tb_store_feed_update(s, &f, err);
    tb_feed_clear(&f);
    return rc;
}

static void bow(const char *t, float *v)
{
    memset(v, 0, DIM * sizeof *v);
    const char *p = t;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n) {
            v[tb_hash64(p, n, 1) % DIM] += 1.0f;
            v[tb_hash64(p, n, 2) % DIM] += 0.5f;
        }
        p += n;
    }
    if (tb_l2_normalize(v, DIM) == 0.0f)
        v[0] = 1.0f;
}

static int fake_embed(void *ctx, const char *const *texts, size_t n, float *out, tb_err *err)
{
    for (size_t i = 0; i < n; i++)
        bow(texts[i], out + i * DIM);
    return 0;
}

static int vec_of(tb_store *s, int64_t id, float *v)
{
    if (tb_store_embedding_get(s, id, "fake", v, DIM, NULL) == 1)
        return 0;
    tb_item it = {0};
    if (tb_store_item_get(s, id, &it, NULL) != 0)
        return -1;
    bow(it.text ? it.text : "", v);
    tb_item_clear(&it);
    return 0;
}

/* The real profile + ranking code over the store's events. */
static int fake_recommend(void *ctx, tb_store *s, const char *user, const char *collection,
                          const int64_t *ids, size_t n, const struct tb_rank_opts *o,
                          struct tb_rec_result *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    tb_event *ev = NULL;
    size_t ne = 0;
    if (tb_store_events(s, user, 0, &ev, &ne, err) != 0)
        return -1;
    struct tb_profile_event *pe = calloc(ne + 1, sizeof *pe);
    float *pv = calloc((ne + 1) * DIM, sizeof *pv);
    for (size_t i = 0; i < ne; i++) {
        pe[i] = (struct tb_profile_event){ev[i].id, ev[i].item_id, ev[i].kind, ev[i].ts,
                                          pv + i * DIM};
        vec_of(s, ev[i].item_id, pv + i * DIM);
    }
    tb_profile *p = tb_profile_build(DIM, pe, ne, &o->profile, err);
    float *cand = calloc((n + 1) * DIM, sizeof *cand);
    for (size_t i = 0; i < n; i++)
        vec_of(s, ids[i], cand + i * DIM);
    struct tb_ranked *rk = calloc(n + 1, sizeof *rk);
    long m = p ? tb_rank(p, cand, n, DIM, o, rk, err) : -1;
    int rc = -1;
    if (m >= 0) {
        out->items = calloc((size_t)m + 1, sizeof *out->items);
        for (long i = 0; i < m; i++)
            out->items[i] = (struct tb_rec_item){ids[rk[i].index], rk[i].score, rk[i].sim,
                                                 rk[i].why, rk[i].cluster, rk[i].near_item};
        out->n = (size_t)m;
        out->n_reads = tb_profile_npos(p);
        out->k = tb_profile_k(p);
        out->cold_start = out->n_reads < o->min_reads;
        rc = 0;
    }
    tb_profile_free(p);
    free(rk);
    free(cand);
    free(pe);
    free(pv);
    free(ev);
    return rc;
}

static int fake_opml(void *ctx, const char *data, size_t len, struct tb_opml_entry **out,
                     size_t *n, tb_err *err)
{
    xmlDocPtr d = xmlReadMemory(data, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || strcmp((const char *)root->name, "opml") != 0) {
        xmlFreeDoc(d);
        return tb_err_set(err, TB_EFORMAT, "not an OPML document");
    }
    *out = calloc(16, sizeof **out);
    *n = 0;
    xmlNodePtr stack[64];
    int sp = 0;
    stack[sp++] = root;
    while (sp > 0 && *n < 16) {
        xmlNodePtr x = stack[--sp];
        for (xmlNodePtr c = x->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            xmlChar *u = xmlGetProp(c, (const xmlChar *)"xmlUrl");
            if (u && *n < 16) {
                (*out)[*n].url = strdup((const char *)u);
                xmlChar *t = xmlGetProp(c, (const xmlChar *)"text");
                (*out)[*n].title = t ? strdup((const char *)t) : NULL;
                xmlFree(t);
                (*n)++;
            }
            xmlFree(u);
            if (sp < 64)
                stack[sp++] = c;
        }
    }
    xmlFreeDoc(d);
    return 0;
}

/* ------------------------------------------------------------ client */

static char dir[64];
static tb_store *store;
static tb_server *srv;
static char base[64];

struct resp {
    long status;
    tb_buf body;
    tb_buf headers;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    tb_buf_append(ud, p, sz * n);
    return sz * n;
}

static void resp_free(struct resp *r)
{
    tb_buf_free(&r->body);
    tb_buf_free(&r->headers);
}

/* method "GET"/"POST"; body may be NULL; hdr an extra header or NULL. */
static struct resp req(const char *method, const char *path, const char *ctype, const char *body,
                       const char *hdr)
{
    struct resp r = {0};
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    struct curl_slist *h = NULL;
    if (ctype) {
        char ch[128];
        snprintf(ch, sizeof ch, "Content-Type: %s", ctype);
        h = curl_slist_append(h, ch);
    }
    if (hdr)
        h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

/* The value of header name (case-insensitive) in r, copied into out. */
static bool header(struct resp *r, const char *name, char *out, size_t n)
{
    const char *p = tb_buf_cstr(&r->headers);
    size_t nl = strlen(name);
    while (p && *p) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, "\r\n");
            snprintf(out, n, "%.*s", (int)l, p);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static int count(const char *s, const char *needle)
{
    int k = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        k++;
    return k;
}

/* The shown_interval of the server started next (the serve_shown suite
 * sets a short one). */
static int64_t shown_interval = 12 * 3600;

static void start_server(void)
{
    strcpy(dir, "/tmp/tb-serve-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    tb_err err = {0};
    store = tb_store_open(path, &err);
    cr_assert_not_null(store, "%s", err.msg);
    struct tb_server_opts o;
    tb_server_opts_default(&o);
    o.store = store;
    o.listen = "127.0.0.1:0";
    o.access_log = false;
    o.feed_wait_ms = 3000;
    o.feed_items = 8;
    o.rank.min_reads = 3;
    o.rank.filter_ratio = 0.5;
    o.rank.explore_ratio = 0.0;
    o.rank.seed = 1;
    o.shown_interval_s = shown_interval;
    o.hooks = (tb_server_hooks){.feed_refresh = fake_refresh, .opml_parse = fake_opml,
                                .embed = fake_embed, .dim = DIM, .model_id = "fake",
                                .recommend = fake_recommend};
    srv = tb_server_start(&o, &err);
    cr_assert_not_null(srv, "%s", err.msg);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", tb_server_port(srv));
    fetches = 0;
}

static void stop_server(void)
{
    tb_server_stop(srv, 2000);
    tb_store_close(store);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void new_user(char *id)
{
    struct resp r = req("POST", "/api/users", "application/json", "{}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body.data);
    const char *p = strstr(tb_buf_cstr(&r.body), "\"id\":\"");
    cr_assert_not_null(p);
    memcpy(id, p + 6, 32);
    id[32] = 0;
    cr_assert_eq(strspn(id, "0123456789abcdef"), 32);
    resp_free(&r);
}

TestSuite(serve, .init = start_server, .fini = stop_server, .timeout = 60);

Test(serve, feed_by_url_subscribes_fetches_and_tracks)
{
    char u[33], path[512], loc[512], etag[64];
    new_user(u);
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/rss.xml?a=1&b=2", u);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert_eq(fetches, 1, "a new feed is fetched at once");
    const char *s = tb_buf_cstr(&r.body);
    cr_assert(strstr(s, "<title>Fixture &lt;b&gt;feed&lt;/b&gt;</title>"), "%s", s);
    /* Cold start: every item (up to feed_items), newest first, not ranked. */
    cr_assert_eq(count(s, "<item>"), 8);
    cr_assert(header(&r, "X-Tastebud-Ranked", loc, sizeof loc));
    cr_assert_str_eq(loc, "no");
    cr_assert_null(strstr(s, "<script"), "hostile markup reached the feed");
    cr_assert_null(strstr(s, "http://fixture.test/post/"), "untracked item link: %s", s);
    char want[160];
    snprintf(want, sizeof want, "<link>%s/r/%s/", base, u);
    cr_assert(strstr(s, want), "links go through /r/: %s", s);
    /* The same URL again is the same subscription (no second fetch). */
    cr_assert(header(&r, "ETag", etag, sizeof etag));
    resp_free(&r);
    char inm[96];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    r = req("GET", path, NULL, NULL, inm);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body.len, 0);
    resp_free(&r);
    cr_assert_eq(fetches, 1);
    /* And by id (the feed is number 1), percent-encoded URL too. */
    snprintf(path, sizeof path, "/feed/%s/1", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    snprintf(path, sizeof path, "/feed/%s/http%%3A%%2F%%2Ffixture.test%%2Frss.xml%%3Fa%%3D1%%26b%%3D2", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = req("GET", "/api/feeds?user=", NULL, NULL, NULL);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
    snprintf(path, sizeof path, "/api/feeds?user=%s", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(count(tb_buf_cstr(&r.body), "\"id\":"), 1, "one subscription: %s", r.body.data);
    resp_free(&r);
}

Test(serve, unknown_user_and_feed_404)
{
    char u[33], path[256];
    struct resp r = req("GET", "/feed/0123456789abcdef0123456789abcdef/1", NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    r = req("GET", "/feed/..%2F..%2Fetc/1", NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    new_user(u);
    snprintf(path, sizeof path, "/feed/%s/999", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    snprintf(path, sizeof path, "/feed/%s/javascript:alert(1)", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    r = req("GET", "/r/nobody/1", NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

Test(serve, redirect_only_to_stored_urls)
{
    char u[33], path[512], loc[512];
    new_user(u);
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/rss.xml", u);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    /* Item 1 is the first fixture item (key g0). */
    snprintf(path, sizeof path, "/r/%s/1", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 302);
    cr_assert(header(&r, "Location", loc, sizeof loc));
    cr_assert_str_eq(loc, "http://fixture.test/post/0");
    resp_free(&r);
    snprintf(path, sizeof path, "/r/%s/1?l=0", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 302);
    header(&r, "Location", loc, sizeof loc);
    cr_assert_str_eq(loc, "http://fixture.test/more/0");
    resp_free(&r);
    snprintf(path, sizeof path, "/r/%s/1?l=c", u);
    r = req("GET", path, NULL, NULL, NULL);
    header(&r, "Location", loc, sizeof loc);
    cr_assert_str_eq(loc, "http://fixture.test/comments");
    resp_free(&r);
    /* The javascript: link (index 1), links that do not exist, and URLs
     * from the request are all refused. */
    const char *bad[] = {"?l=1", "?l=2", "?l=-1", "?l=http://evil.test/", "?url=http://evil.test/"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/r/%s/1%s", u, bad[i]);
        r = req("GET", path, NULL, NULL, NULL);
        cr_assert_eq(r.status, 404, "%s gave %ld", bad[i], r.status);
        cr_assert_eq(header(&r, "Location", loc, sizeof loc), false);
        resp_free(&r);
    }
    snprintf(path, sizeof path, "/r/%s/1%s", u, bad[4]);
    r = req("GET", path, NULL, NULL, NULL);
    header(&r, "Location", loc, sizeof loc);
    cr_assert_str_eq(loc, "http://fixture.test/post/0", "unknown parameters are ignored");
    resp_free(&r);
    snprintf(path, sizeof path, "/r/%s/99999", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

Test(serve, feed_is_filtered_after_min_reads)
{
    char u[33], path[512], v[64];
    new_user(u);
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/rss.xml", u);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    char etag1[64];
    header(&r, "ETag", etag1, sizeof etag1);
    resp_free(&r);
    /* Read three baking items (odd keys: items 2, 4, 6 are g1, g3, g5). */
    int64_t reads[] = {2, 4, 6};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/r/%s/%lld", u, (long long)reads[i]);
        r = req("GET", path, NULL, NULL, NULL);
        cr_assert_eq(r.status, 302);
        resp_free(&r);
    }
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/rss.xml", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(header(&r, "X-Tastebud-Ranked", v, sizeof v));
    cr_assert_str_eq(v, "yes");
    const char *s = tb_buf_cstr(&r.body);
    int n = count(s, "<item>");
    cr_assert(n >= 1 && n < 8, "filtered to a selection, got %d items", n);
    /* The best-ranked item is about baking, not rust. */
    const char *first = strstr(s, "<item>");
    const char *t = strstr(first, "<title>");
    cr_assert(t && strncmp(t + 7, "rust", 4) != 0, "first item: %.80s", t);
    char etag2[64];
    header(&r, "ETag", etag2, sizeof etag2);
    cr_assert_str_neq(etag1, etag2, "content changed, ETag changed");
    resp_free(&r);
    /* Interests and recommendations see the reads. */
    snprintf(path, sizeof path, "/api/recommendations?user=%s", u);
    r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"cold_start\":false"), "%s", r.body.data);
    cr_assert(strstr(r.body.data, "close to"), "explanations: %s", r.body.data);
    resp_free(&r);
    snprintf(path, sizeof path, "{\"user\":\"%s\",\"item\":3,\"kind\":\"like\"}", u);
    r = req("POST", "/api/feedback", "application/json", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    resp_free(&r);
    snprintf(path, sizeof path, "{\"user\":\"%s\",\"item\":3,\"kind\":\"meh\"}", u);
    r = req("POST", "/api/feedback", "application/json", path, NULL);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
}

Test(serve, opml_upload)
{
    char u[33], path[256];
    new_user(u);
    snprintf(path, sizeof path, "/api/opml?user=%s", u);
    struct resp r = req("POST", path, "text/xml", "<opml><body><outline", NULL);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body.data, "malformed OPML"), "%s", r.body.data);
    resp_free(&r);
    const char *opml = "<?xml version=\"1.0\"?><opml version=\"2.0\"><body>"
                       "<outline text=\"A &amp; B\" xmlUrl=\"http://fixture.test/a.xml\"/>"
                       "<outline text=\"Tech\"><outline text=\"C\" xmlUrl=\"http://fixture.test/c.xml\"/>"
                       "</outline><outline text=\"bad\" xmlUrl=\"ftp://x/\"/></body></opml>";
    r = req("POST", path, "text/x-opml", opml, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    const char *s = tb_buf_cstr(&r.body);
    char want[160];
    snprintf(want, sizeof want, "xmlUrl=\"%s/feed/%s/", base, u);
    cr_assert_eq(count(s, want), 2, "%s", s);
    cr_assert(strstr(s, "A &amp; B"));
    resp_free(&r);
    r = req("POST", "/api/opml?user=nobody", "text/x-opml", opml, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

Test(serve, web_page_metrics_health)
{
    char v[512];
    struct resp r = req("GET", "/", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert(strstr(v, "script-src 'self'"));
    cr_assert(strstr(r.body.data, "<script src=\"/app.js\""));
    resp_free(&r);
    r = req("GET", "/app.js", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body.data, "innerHTML"), "the page must not use innerHTML");
    resp_free(&r);
    r = req("GET", "/healthz", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = req("GET", "/nope", NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    /* A request is counted when MHD reports it complete, which may be a
     * moment after the client has the answer: poll. */
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        if (i)
            resp_free(&r), usleep(20000);
        r = req("GET", "/metrics", NULL, NULL, NULL);
        cr_assert_eq(r.status, 200);
        ok = strstr(r.body.data, "tastebud_http_requests_total{route=\"web\",status=\"200\"} 2") &&
             strstr(r.body.data, "route=\"web\",status=\"404\"} 1");
    }
    cr_assert(ok, "%s", r.body.data);
    cr_assert(strstr(r.body.data, "tastebud_http_request_duration_seconds_bucket"));
    resp_free(&r);
}

Test(serve, background_embedding)
{
    char u[33], path[256];
    new_user(u);
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/x.xml", u);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    /* The worker embeds the 12 items within a few seconds. */
    float v[DIM];
    int got = 0;
    for (int i = 0; i < 100 && !got; i++) {
        got = tb_store_embedding_get(store, NITEMS, "fake", v, DIM, NULL) == 1;
        if (!got)
            usleep(50000);
    }
    cr_assert(got, "item %d was never embedded", NITEMS);
}

/* A real RSS reader reads the filtered feed. */
Test(serve, newsboat_reads_filtered_feed)
{
    if (system("command -v newsboat >/dev/null 2>&1") != 0)
        cr_skip_test("newsboat is not installed");
    char u[33], cmd[1024], f[160];
    new_user(u);
    snprintf(f, sizeof f, "%s/urls", dir);
    FILE *fp = fopen(f, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "%s/feed/%s/http://fixture.test/nb.xml\n", base, u);
    fclose(fp);
    snprintf(f, sizeof f, "%s/nbconfig", dir);
    fp = fopen(f, "w");
    fprintf(fp, "reload-threads 1\n");
    fclose(fp);
    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s newsboat -u urls -c nb.db -C nbconfig -x reload print-unread "
             "> nb.out 2>&1",
             dir, dir);
    int rc = system(cmd);
    tb_buf out = {0};
    snprintf(f, sizeof f, "%s/nb.out", dir);
    tb_read_file(f, &out, 0, NULL);
    cr_assert_eq(rc, 0, "newsboat failed: %s", tb_buf_cstr(&out));
    cr_assert(strstr(tb_buf_cstr(&out), "8 unread articles"), "newsboat says: %s",
              tb_buf_cstr(&out));
    tb_buf_free(&out);
    /* Its cache holds our tracked links, not the originals. */
    snprintf(cmd, sizeof cmd, "sqlite3 %s/nb.db \"select url from rss_item\" > %s/nb.urls 2>&1",
             dir, dir);
    if (system(cmd) == 0) {
        snprintf(f, sizeof f, "%s/nb.urls", dir);
        tb_read_file(f, &out, 0, NULL);
        cr_assert(strstr(tb_buf_cstr(&out), "/r/"), "%s", tb_buf_cstr(&out));
        cr_assert_null(strstr(tb_buf_cstr(&out), "fixture.test/post"));
        tb_buf_free(&out);
    }
}

/* ------------------------------------------------------------ shown events */

/* The user's shown events: how many, and how many distinct items. */
static size_t shown_events(const char *user, size_t *distinct)
{
    tb_event *ev = NULL;
    size_t n = 0, k = 0;
    tb_err err = {0};
    cr_assert_eq(tb_store_events(store, user, 0, &ev, &n, &err), 0, "%s", err.msg);
    int64_t seen[256];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind != TB_EV_SHOWN)
            continue;
        k++;
        size_t j = 0;
        while (j < ns && seen[j] != ev[i].item_id)
            j++;
        if (j == ns && ns < 256)
            seen[ns++] = ev[i].item_id;
    }
    free(ev);
    if (distinct)
        *distinct = ns;
    return k;
}

static int get_feed(const char *u, const char *extra, char *etag, size_t en)
{
    char path[256];
    snprintf(path, sizeof path, "/feed/%s/http://fixture.test/rss.xml", u);
    struct resp r = req("GET", path, NULL, NULL, extra);
    int st = r.status;
    if (etag)
        header(&r, "ETag", etag, en);
    resp_free(&r);
    return st;
}

Test(serve, shown_events_recorded_once_per_interval)
{
    char u[33], path[128];
    new_user(u);
    cr_assert_eq(shown_events(u, NULL), 0);
    cr_assert_eq(get_feed(u, NULL, NULL, 0), 200);
    size_t distinct = 0;
    /* Cold start: the 8 items of the rendered feed, once each. */
    cr_assert_eq(shown_events(u, &distinct), 8);
    cr_assert_eq(distinct, 8);
    /* A poll served from the cache, and a re-render after a read (new
     * generation) within the interval: no new shown events. */
    cr_assert_eq(get_feed(u, NULL, NULL, 0), 200);
    snprintf(path, sizeof path, "/r/%s/2", u);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 302);
    resp_free(&r);
    cr_assert_eq(get_feed(u, NULL, NULL, 0), 200);
    cr_assert_eq(shown_events(u, NULL), 8);
    r = req("GET", "/metrics", NULL, NULL, NULL);
    cr_assert(strstr(r.body.data, "tastebud_shown_recorded_total 8\n"), "%s", r.body.data);
    resp_free(&r);
    /* Another user gets their own. */
    char u2[33];
    new_user(u2);
    cr_assert_eq(get_feed(u2, NULL, NULL, 0), 200);
    cr_assert_eq(shown_events(u2, NULL), 8);
    cr_assert_eq(shown_events(u, NULL), 8);
}

/* Profile of user u over the store's events, as the recommender builds it. */
static size_t weak_negatives(const char *u)
{
    tb_event *ev = NULL;
    size_t ne = 0;
    tb_err err = {0};
    cr_assert_eq(tb_store_events(store, u, 0, &ev, &ne, &err), 0);
    struct tb_profile_event *pe = calloc(ne + 1, sizeof *pe);
    float *pv = calloc((ne + 1) * DIM, sizeof *pv);
    for (size_t i = 0; i < ne; i++) {
        pe[i] = (struct tb_profile_event){ev[i].id, ev[i].item_id, ev[i].kind, ev[i].ts,
                                          pv + i * DIM};
        vec_of(store, ev[i].item_id, pv + i * DIM);
    }
    struct tb_profile_opts o = {.half_life_days = 30, .weak_shown = 3, .max_items = 2000};
    tb_profile *p = tb_profile_build(DIM, pe, ne, &o, &err);
    cr_assert_not_null(p, "%s", err.msg);
    size_t w = tb_profile_nweak(p);
    tb_profile_free(p);
    free(pe);
    free(pv);
    free(ev);
    return w;
}

static void start_server_short_shown(void)
{
    shown_interval = 1;
    start_server();
}

TestSuite(serve_shown, .init = start_server_short_shown, .fini = stop_server, .timeout = 60);

Test(serve_shown, shown_again_after_interval_makes_weak_negatives)
{
    char u[33], path[128], etag[64], etag2[64], inm[96];
    new_user(u);
    cr_assert_eq(get_feed(u, NULL, etag, sizeof etag), 200);
    cr_assert_eq(shown_events(u, NULL), 8);
    /* Open one of the items shown: a positive, never a weak negative. */
    tb_event *ev = NULL;
    size_t ne = 0;
    cr_assert_eq(tb_store_events(store, u, 0, &ev, &ne, NULL), 0);
    cr_assert(ne > 0);
    snprintf(path, sizeof path, "/r/%s/%lld", u, (long long)ev[0].item_id);
    free(ev);
    struct resp r = req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 302);
    resp_free(&r);
    cr_assert_eq(weak_negatives(u), 0);
    /* After the interval, even a poll that the cache could answer with 304
     * renders again and records the items once more; the bytes are the
     * same, so the reader still gets 304. */
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    usleep(1100 * 1000);
    cr_assert_eq(get_feed(u, inm, NULL, 0), 304);
    cr_assert_eq(shown_events(u, NULL), 16);
    cr_assert_eq(weak_negatives(u), 0, "shown twice is not yet a weak negative");
    usleep(1100 * 1000);
    cr_assert_eq(get_feed(u, NULL, etag2, sizeof etag2), 200);
    cr_assert_str_eq(etag, etag2);
    cr_assert_eq(shown_events(u, NULL), 24);
    /* Shown three times (weak_shown) and never opened: 7 weak negatives. */
    size_t w = weak_negatives(u);
    cr_assert_eq(w, 7, "weak negatives: %zu", w);
}

/*
 * test_feed_fetch.c -- the fetcher against a local server, and the SSRF
 * address classifier and allow-list.
 *
 * tests/feedserver.py is started per test (fork/exec, python3); it binds
 * 127.0.0.1 on an ephemeral port and prints the port. Fetch tests allow the
 * host *name* "localhost" only, so a redirect to the *address* 127.0.0.1 --
 * the same server, which would answer -- must be refused by the guard. Tests
 * skip when python3 is missing.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "feed/feed.h"
#include "feed/fetch.h"

static pid_t srv_pid;
static int srv_stdin = -1;
static int srv_port;

static void srv_start(void)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return;
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return;
    srv_pid = fork();
    if (srv_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", "tests/feedserver.py", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    srv_stdin = in[1];
    char buf[32] = {0};
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(out[0], buf + n, 1)) == 1 && buf[n] != '\n')
        n++;
    close(out[0]);
    srv_port = atoi(buf);
}

static void srv_stop(void)
{
    if (srv_pid > 0) {
        close(srv_stdin);
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
    }
    srv_pid = 0;
}

static void need_server(void)
{
    if (srv_port <= 0)
        cr_skip_test("python3 tests/feedserver.py could not be started");
}

static char *url(const char *path)
{
    return tb_asprintf("http://localhost:%d%s", srv_port, path);
}

static void opts(struct tb_fetch_opts *o)
{
    tb_fetch_opts_default(o);
    o->allow_hosts = "localhost";
    o->timeout = 5;
}

TestSuite(feed_fetch, .init = srv_start, .fini = srv_stop, .timeout = 30);

Test(feed_fetch, ok_then_304_with_etag)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/feed.xml");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.etag, "\"v1\"");
    cr_assert_str_eq(r.last_modified, "Tue, 03 Jun 2003 09:39:21 GMT");
    cr_assert_str_eq(r.charset, "utf-8");
    tb_parsed_feed f;
    cr_assert_eq(tb_feed_parse(r.body.data, r.body.len, r.final_url, r.charset, &f, &err), 0);
    cr_assert_eq(f.n_items, 2);
    tb_parsed_feed_free(&f);
    char *etag = tb_strdup(r.etag);
    tb_fetch_result_free(&r);
    cr_assert_eq(tb_fetch(u, etag, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body.len, 0);
    tb_fetch_result_free(&r);
    free(etag);
    free(u);
}

Test(feed_fetch, gzip_and_user_agent)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/gzip.xml"); /* the server answers 406 unless gzip is accepted */
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(strstr(r.body.data, "Served feed") != NULL, "body was not decompressed");
    tb_fetch_result_free(&r);
    free(u);
    u = url("/ua");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(strstr(r.body.data, TB_USER_AGENT) != NULL, "%s", r.body.data);
    tb_fetch_result_free(&r);
    free(u);
}

Test(feed_fetch, redirect_chain_and_limit)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/redirect/3"); /* 4 hops to /feed.xml */
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.redirects, 4);
    cr_assert(tb_str_ends(r.final_url, "/feed.xml"), "%s", r.final_url);
    tb_fetch_result_free(&r);
    o.max_redirects = 3;
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert(strstr(err.msg, "more than 3 redirects"), "%s", err.msg);
    tb_fetch_result_free(&r);
    free(u);
}

Test(feed_fetch, redirect_to_loopback_address_refused)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    struct tb_fetch_result r;
    tb_err err = {0};
    static const char *paths[] = {"/to-loopback", "/to-ipv6-loopback"};
    for (size_t i = 0; i < 2; i++) {
        char *u = url(paths[i]);
        cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1, "%s was not refused", paths[i]);
        cr_assert_eq(err.code, TB_ENET);
        cr_assert(strstr(err.msg, "SSRF") && strstr(err.msg, "loopback"), "%s", err.msg);
        tb_fetch_result_free(&r);
        free(u);
    }
    /* the same redirect is followed once the address is allowed */
    o.allow_hosts = "localhost, 127.0.0.0/8";
    char *u = url("/to-loopback");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 200);
    tb_fetch_result_free(&r);
    free(u);
}

Test(feed_fetch, loopback_refused_without_allow_list)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    o.allow_hosts = NULL;
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/feed.xml");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert(strstr(err.msg, "SSRF"), "%s", err.msg);
    tb_fetch_result_free(&r);
    /* an allow-list entry for another port does not count */
    o.allow_hosts = "localhost:1";
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    tb_fetch_result_free(&r);
    free(u);
    /* nor does a non-http scheme, even by redirect */
    opts(&o);
    u = url("/to-file");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert(strstr(err.msg, "only http and https"), "%s", err.msg);
    tb_fetch_result_free(&r);
    free(u);
    cr_assert_eq(tb_fetch("gopher://localhost/", NULL, NULL, &o, &r, &err), -1);
    tb_fetch_result_free(&r);
}

Test(feed_fetch, slow_server_times_out)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    o.timeout = 1;
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/slow");
    double t0 = tb_mono();
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert_lt(tb_mono() - t0, 3.0);
    cr_assert(strstr(err.msg, "timed out"), "%s", err.msg);
    tb_fetch_result_free(&r);
    free(u);
}

Test(feed_fetch, oversized_body_cut_off)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    o.max_bytes = 100000; /* the server streams 4 MB without Content-Length */
    struct tb_fetch_result r;
    tb_err err = {0};
    char *u = url("/big");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert_eq(err.code, TB_ENOMEM, "%s", err.msg);
    cr_assert_leq(r.body.len, 100000);
    tb_fetch_result_free(&r);
    free(u);
}

Test(feed_fetch, http_errors_and_retry_after)
{
    need_server();
    struct tb_fetch_opts o;
    opts(&o);
    struct tb_fetch_result r;
    tb_err err = {0};
    static const char *paths[] = {"/404", "/500"};
    static const long codes[] = {404, 500};
    for (size_t i = 0; i < 2; i++) {
        char *u = url(paths[i]);
        cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
        cr_assert_eq(r.status, codes[i]);
        cr_assert(strstr(err.msg, "HTTP status"), "%s", err.msg);
        tb_fetch_result_free(&r);
        free(u);
    }
    char *u = url("/retry");
    cr_assert_eq(tb_fetch(u, NULL, NULL, &o, &r, &err), -1);
    cr_assert_eq(r.status, 503);
    cr_assert_eq(r.retry_after, 120);
    tb_fetch_result_free(&r);
    free(u);
}

/* ------------------------------------------------------------ classifier */

Test(feed_ssrf, classify_every_range)
{
    static const struct { const char *ip; int cls; } cases[] = {
        {"8.8.8.8", TB_ADDR_PUBLIC}, {"1.1.1.1", TB_ADDR_PUBLIC},
        {"0.0.0.0", TB_ADDR_UNSPECIFIED}, {"0.1.2.3", TB_ADDR_UNSPECIFIED},
        {"127.0.0.1", TB_ADDR_LOOPBACK}, {"127.255.255.254", TB_ADDR_LOOPBACK},
        {"10.0.0.1", TB_ADDR_PRIVATE}, {"172.16.0.1", TB_ADDR_PRIVATE},
        {"172.31.255.255", TB_ADDR_PRIVATE}, {"172.32.0.1", TB_ADDR_PUBLIC},
        {"172.15.0.1", TB_ADDR_PUBLIC}, {"192.168.1.1", TB_ADDR_PRIVATE},
        {"169.254.169.254", TB_ADDR_LINKLOCAL}, {"100.64.0.1", TB_ADDR_CGNAT},
        {"100.127.255.255", TB_ADDR_CGNAT}, {"100.128.0.1", TB_ADDR_PUBLIC},
        {"100.63.255.255", TB_ADDR_PUBLIC}, {"224.0.0.1", TB_ADDR_MULTICAST},
        {"239.255.255.255", TB_ADDR_MULTICAST}, {"240.0.0.1", TB_ADDR_RESERVED},
        {"255.255.255.255", TB_ADDR_RESERVED}, {"192.0.2.1", TB_ADDR_RESERVED},
        {"198.51.100.7", TB_ADDR_RESERVED}, {"203.0.113.9", TB_ADDR_RESERVED},
        {"198.18.0.1", TB_ADDR_RESERVED}, {"198.19.255.1", TB_ADDR_RESERVED},
        {"192.0.0.8", TB_ADDR_RESERVED},
        {"::", TB_ADDR_UNSPECIFIED}, {"::1", TB_ADDR_LOOPBACK},
        {"2606:4700:4700::1111", TB_ADDR_PUBLIC}, {"2001:4860:4860::8888", TB_ADDR_PUBLIC},
        {"::ffff:127.0.0.1", TB_ADDR_LOOPBACK}, {"::ffff:10.1.2.3", TB_ADDR_PRIVATE},
        {"::ffff:8.8.8.8", TB_ADDR_PUBLIC}, {"::127.0.0.1", TB_ADDR_RESERVED},
        {"::8.8.8.8", TB_ADDR_RESERVED}, {"64:ff9b::7f00:1", TB_ADDR_LOOPBACK},
        {"64:ff9b::a9fe:a9fe", TB_ADDR_LINKLOCAL}, {"64:ff9b::808:808", TB_ADDR_PUBLIC},
        {"64:ff9b:1::808:808", TB_ADDR_PRIVATE}, {"2002:7f00:1::", TB_ADDR_LOOPBACK},
        {"2002:c0a8:101::1", TB_ADDR_PRIVATE}, {"fc00::1", TB_ADDR_ULA},
        {"fd12:3456::1", TB_ADDR_ULA}, {"fe80::1", TB_ADDR_LINKLOCAL},
        {"febf::1", TB_ADDR_LINKLOCAL}, {"fec0::1", TB_ADDR_PRIVATE},
        {"ff02::1", TB_ADDR_MULTICAST}, {"2001:db8::1", TB_ADDR_RESERVED},
        {"2001::1", TB_ADDR_RESERVED}, {"100::1", TB_ADDR_RESERVED},
        {"4000::1", TB_ADDR_RESERVED}, {"3fff::1", TB_ADDR_RESERVED},
    };
    for (size_t i = 0; i < TB_ARRAY_LEN(cases); i++)
        cr_assert_eq(tb_addr_classify_str(cases[i].ip), cases[i].cls, "%s: got %s, want %s",
                     cases[i].ip, tb_addr_class_name(tb_addr_classify_str(cases[i].ip)),
                     tb_addr_class_name(cases[i].cls));
    cr_assert_eq(tb_addr_classify_str("localhost"), -1);
    cr_assert_eq(tb_addr_classify_str("1.2.3"), -1);
}

static struct sockaddr_storage sa(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    }
    return ss;
}

Test(feed_ssrf, allow_list)
{
    tb_err err = {0};
    tb_allowlist *a = tb_allowlist_parse("127.0.0.1, Localhost,192.168.1.0/24 [::1]:8080 "
                                         "fd00::/8 lan.example:81",
                                         &err);
    cr_assert_not_null(a, "%s", err.msg);
    struct sockaddr_storage s;
    s = sa("127.0.0.1", 80);
    cr_assert(tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("127.0.0.2", 80);
    cr_assert(!tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("192.168.1.77", 443);
    cr_assert(tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("192.168.2.1", 443);
    cr_assert(!tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("::1", 8080);
    cr_assert(tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("::1", 8081);
    cr_assert(!tb_allowlist_addr(a, (struct sockaddr *)&s));
    s = sa("fdab::5", 1);
    cr_assert(tb_allowlist_addr(a, (struct sockaddr *)&s));
    cr_assert(tb_allowlist_host(a, "localhost", 1234));
    cr_assert(tb_allowlist_host(a, "LOCALHOST", 1));
    cr_assert(tb_allowlist_host(a, "lan.example", 81));
    cr_assert(!tb_allowlist_host(a, "lan.example", 80));
    cr_assert(!tb_allowlist_host(a, "evil.example", 80));
    tb_allowlist_free(a);
    cr_assert_null(tb_allowlist_parse("10.0.0.0/33", &err));
    cr_assert(strstr(err.msg, "prefix"), "%s", err.msg);
    cr_assert_null(tb_allowlist_parse("host:99999", &err));
    cr_assert_null(tb_allowlist_parse("bad/host/x", &err));
    a = tb_allowlist_parse("", &err);
    cr_assert_not_null(a);
    s = sa("127.0.0.1", 80);
    cr_assert(!tb_allowlist_addr(a, (struct sockaddr *)&s));
    tb_allowlist_free(a);
}

/* ------------------------------------------------------------ refresh */

#include "feed/ingest.h"

Test(feed_fetch, refresh_conditional_and_backoff)
{
    need_server();
    char dir[] = "/tmp/tb-refresh-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *db = tb_path_join(dir, "t.db");
    tb_err err = {0};
    tb_store *s = tb_store_open(db, &err);
    cr_assert_not_null(s, "%s", err.msg);
    struct tb_fetch_opts o;
    opts(&o);
    o.max_failures = 2;
    o.interval = 600;
    char *u = url("/feed.xml");
    int64_t id, bad;
    cr_assert_eq(tb_store_feed_add(s, u, &id, &err), 0);
    struct tb_refresh_result r;
    int64_t t0 = tb_unix_now();
    cr_assert_eq(tb_feed_refresh(s, id, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_items, 2);
    cr_assert_eq(r.n_new, 2);
    tb_feed f;
    cr_assert_eq(tb_store_feed_get(s, id, &f, &err), 0);
    cr_assert_str_eq(f.title, "Served feed");
    cr_assert_str_eq(f.etag, "\"v1\"");
    cr_assert_eq(f.ttl, 30 * 60);
    cr_assert_geq(f.next_fetch, t0 + 1800, "the feed's TTL (30 min) beats the 10 min interval");
    tb_feed_clear(&f);
    cr_assert_eq(tb_feed_refresh(s, id, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(r.not_modified, "second fetch should be a 304");
    free(u);
    u = url("/404");
    cr_assert_eq(tb_store_feed_add(s, u, &bad, &err), 0);
    cr_assert_eq(tb_feed_refresh(s, bad, &o, &r, &err), -1);
    cr_assert_eq(tb_store_feed_get(s, bad, &f, &err), 0);
    cr_assert_eq(f.failures, 1);
    cr_assert(!f.disabled);
    cr_assert(f.last_error && strstr(f.last_error, "404"), "%s", f.last_error);
    cr_assert_geq(f.next_fetch, t0 + 1200); /* 600 * 2^1 */
    tb_feed_clear(&f);
    cr_assert_eq(tb_feed_refresh(s, bad, &o, &r, &err), -1);
    cr_assert(r.disabled);
    cr_assert_eq(tb_store_feed_get(s, bad, &f, &err), 0);
    cr_assert(f.disabled);
    cr_assert_eq(f.failures, 2);
    tb_feed_clear(&f);
    free(u);
    tb_store_close(s);
    free(db);
    char *cmd = tb_asprintf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
}

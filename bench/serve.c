/*
 * serve.c -- filtered-feed throughput: tastebud's cached feed path against
 * nginx serving the same bytes as a static file, both measured with wrk on
 * loopback in the same run.
 *
 *   build/bench/serve [seconds] [connections]     (defaults 5 s, 32)
 *
 * The server runs in this process (2 HTTP threads) with a stand-in fetcher
 * that stores 50 items of realistic size, so the benchmark needs no network
 * and no model: it measures HTTP + cache + conditional logic, which is what
 * a feed reader's poll costs once a feed is rendered. Skips (exit 0) when
 * wrk or nginx is missing. Then bench/serve-rss.sh measures the peak RSS
 * of the real `tastebud serve` with the default model after real work.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/server.h"

static int refresh(void *ctx, tb_store *s, int64_t feed_id, tb_err *err)
{
    char coll[48];
    tb_feed_collection(feed_id, coll, sizeof coll);
    for (int i = 0; i < 50; i++) {
        char key[32], url[96], title[128], html[1024];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(url, sizeof url, "https://example.org/posts/%d", i);
        snprintf(title, sizeof title, "Post number %d about something interesting", i);
        snprintf(html, sizeof html,
                 "<p>Paragraph one of post %d, with <a href=\"https://example.org/x/%d\">a link"
                 "</a> and some text that goes on for a while like feeds do.</p><p>Second "
                 "paragraph, <em>emphasis</em>, <a href=\"/rel/%d\">relative</a>.</p>",
                 i, i, i);
        tb_item it = {.feed_id = feed_id, .collection = coll, .key = key, .url = url,
                      .title = title, .html = html, .text = title,
                      .published = 1700000000 + i * 600};
        if (tb_store_item_upsert(s, &it, NULL, err) != 0)
            return -1;
    }
    tb_feed f = {0};
    if (tb_store_feed_get(s, feed_id, &f, err) != 0)
        return -1;
    free(f.title);
    f.title = tb_strdup("Benchmark feed");
    f.last_fetch = f.last_ok = tb_unix_now();
    f.next_fetch = tb_unix_now() + 86400;
    int rc = tb_store_feed_update(s, &f, err);
    tb_feed_clear(&f);
    return rc;
}

/* Run wrk, print its summary, return requests/s and p99 (ms). */
static void wrk(const char *label, const char *url, int secs, int conns, double *rps, double *p99)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c%d -d%ds --latency '%s' 2>&1", conns, secs, url);
    FILE *p = popen(cmd, "r");
    char line[512];
    *rps = *p99 = -1;
    while (p && fgets(line, sizeof line, p)) {
        double v;
        char unit[8];
        if (sscanf(line, " Requests/sec: %lf", &v) == 1)
            *rps = v;
        if (sscanf(line, " 99%% %lf%7s", &v, unit) == 2)
            *p99 = strcmp(unit, "us") == 0 ? v / 1000 : strcmp(unit, "s") == 0 ? v * 1000 : v;
    }
    if (p)
        pclose(p);
    printf("  %-28s %10.0f req/s   p99 %7.2f ms\n", label, *rps, *p99);
}

int main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 5;
    int conns = argc > 2 ? atoi(argv[2]) : 32;
    if (system("command -v wrk >/dev/null 2>&1") != 0 ||
        (system("command -v nginx >/dev/null 2>&1") != 0 && access("/usr/sbin/nginx", X_OK) != 0)) {
        printf("serve: skipped (needs wrk and nginx: scripts/install-deps bench)\n");
        return 0;
    }
    tb_log_set_level(TB_LOG_WARN);
    char dir[] = "/tmp/tb-bench-serve-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/b.db", dir);
    tb_err err = {0};
    tb_store *st = tb_store_open(path, &err);
    if (!st || tb_store_user_create(st, "benchuser", NULL, &err) != 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    struct tb_server_opts o;
    tb_server_opts_default(&o);
    o.store = st;
    o.listen = "127.0.0.1:0";
    o.access_log = false;
    o.threads = 2;
    o.hooks.feed_refresh = refresh;
    tb_server *srv = tb_server_start(&o, &err);
    if (!srv) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    char url[256], cmd[1024];
    snprintf(url, sizeof url, "%s/feed/benchuser/https://example.org/feed.xml",
             tb_server_base_url(srv));
    /* First request renders and caches the feed; keep its bytes for nginx. */
    snprintf(cmd, sizeof cmd, "curl -sf -o %s/feed.xml '%s'", dir, url);
    if (system(cmd) != 0) {
        fprintf(stderr, "serve: first request failed\n");
        return 1;
    }
    int nport = 20000 + (int)(getpid() % 20000);
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "worker_processes 2; daemon off; pid %s/nginx.pid; error_log %s/error.log;\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; sendfile on; keepalive_requests 1000000;\n"
            "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
            "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "  server { listen 127.0.0.1:%d; root %s;\n"
            "    location / { default_type application/rss+xml; } } }\n",
            dir, dir, dir, dir, dir, dir, dir, nport, dir);
    fclose(f);
    pid_t ng = fork();
    if (ng == 0) {
        execl("/usr/sbin/nginx", "nginx", "-c", path, "-p", dir, (char *)NULL);
        _exit(127);
    }
    usleep(300000);
    char nurl[128];
    snprintf(nurl, sizeof nurl, "http://127.0.0.1:%d/feed.xml", nport);
    tb_buf body = {0};
    snprintf(path, sizeof path, "%s/feed.xml", dir);
    tb_read_file(path, &body, 0, NULL);
    printf("serve: cached filtered feed (%zu bytes, 50 items), wrk -t2 -c%d -d%ds, %d CPUs\n",
           body.len, conns, secs, tb_ncpu());
    tb_buf_free(&body);
    double r1, p1, r2, p2;
    wrk("tastebud /feed (2 threads)", url, secs, conns, &r1, &p1);
    wrk("nginx static (2 workers)", nurl, secs, conns, &r2, &p2);
    if (r1 > 0 && r2 > 0)
        printf("  tastebud / nginx: %.2fx throughput (targets: >= 5000 req/s, p99 < 20 ms)\n",
               r1 / r2);
    kill(ng, SIGTERM);
    waitpid(ng, NULL, 0);
    tb_server_stop(srv, 1000);
    tb_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    int rc = system(cmd) == 0 ? 0 : 1;
    /* Peak RSS of the real `tastebud serve` with the default model, after
     * real work (bench/serve-rss.sh; skips without the model). */
    fflush(stdout);
    if (access("bench/serve-rss.sh", X_OK) == 0 && access("bin/tastebud", X_OK) == 0 &&
        system("bench/serve-rss.sh bin/tastebud") != 0)
        rc = 1;
    return rc;
}

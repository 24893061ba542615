/*
 * cmd_feed.c -- `tastebud feed add|list|fetch|enable|parse`.
 *
 * Thin: every step is a library call (src/feed). `feed add` fetches the URL
 * once, and when it gets a web page instead of a feed it follows the page's
 * <link rel="alternate"> to the feed, so users can paste a blog's address.
 * The items of that first fetch are stored right away. CLI users who give no
 * --user act as the user "local", created on first use.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feed/feed.h"
#include "feed/fetch.h"
#include "feed/ingest.h"

#define TB_LOCAL_USER "local"

static void feed_usage(void)
{
    printf("usage: tastebud feed add URL [--user U] [--no-fetch]\n"
           "       tastebud feed list\n"
           "       tastebud feed fetch [--all | ID...]\n"
           "       tastebud feed enable ID\n"
           "       tastebud feed parse FILE|URL [--json]\n\n"
           "add     subscribe to a feed (a web page's announced feed is found); the\n"
           "        first fetch is stored at once unless --no-fetch\n"
           "list    feeds with their health: last success, failures, disabled, last error\n"
           "fetch   fetch due feeds (default), every enabled feed (--all) or the given ones\n"
           "enable  re-enable a feed disabled after repeated failures\n"
           "parse   print what tastebud understands of a feed file or URL (--json: as JSON)\n"
           "--user U  act as user U (default \"" TB_LOCAL_USER "\", created on demand)\n");
}

/* Make sure the user exists; the default local user is created on demand. */
int tb_cli_feed_user(tb_cli *cli, tb_store *s, const char **user)
{
    tb_err err = {0};
    if (!*user)
        *user = TB_LOCAL_USER;
    int ex = tb_store_user_exists(s, *user, &err);
    if (ex < 0)
        return tb_cli_fail_err(cli, &err);
    if (ex == 0) {
        if (strcmp(*user, TB_LOCAL_USER) != 0)
            return tb_cli_fail(cli, "no such user '%s' (create it with `tastebud user add %s`)",
                               *user, *user);
        if (tb_store_user_create(s, *user, "local CLI user", &err) != 0)
            return tb_cli_fail_err(cli, &err);
    }
    return 0;
}

static bool is_url(const char *s)
{
    return tb_str_starts(s, "http://") || tb_str_starts(s, "https://");
}

static void print_time(const char *label, int64_t t)
{
    char buf[32] = "never";
    if (t)
        tb_time_rfc3339(t, buf, sizeof buf);
    printf("  %s %s", label, buf);
}

static int feed_add(tb_cli *cli, const char *url, const char *user, bool fetch)
{
    tb_err err = {0};
    if (!is_url(url))
        return tb_cli_usage(cli, "'%s' is not an http(s) URL", url);
    tb_store *s = tb_cli_store(cli);
    if (!s || tb_cli_feed_user(cli, s, &user) != 0)
        return 1;
    struct tb_fetch_opts o;
    tb_fetch_opts_from_config(&o, cli->conf);
    char *feed_url = tb_strdup(url);
    tb_parsed_feed pf = {0};
    struct tb_fetch_result r = {0};
    if (fetch) {
        if (tb_fetch(feed_url, NULL, NULL, &o, &r, &err) != 0) {
            tb_fetch_result_free(&r);
            free(feed_url);
            return tb_cli_fail_err(cli, &err);
        }
        if (tb_feed_looks_html(r.body.data, r.body.len, r.content_type)) {
            char **found;
            size_t n = tb_feed_discover(r.body.data, r.body.len, r.final_url, &found);
            if (n == 0) {
                tb_fetch_result_free(&r);
                free(feed_url);
                return tb_cli_fail(cli, "%s is a web page that announces no feed", url);
            }
            fprintf(stderr, "found feed %s on the page\n", found[0]);
            free(feed_url);
            feed_url = found[0];
            for (size_t i = 1; i < n; i++)
                free(found[i]);
            free(found);
            tb_fetch_result_free(&r);
            if (tb_fetch(feed_url, NULL, NULL, &o, &r, &err) != 0) {
                tb_fetch_result_free(&r);
                free(feed_url);
                return tb_cli_fail_err(cli, &err);
            }
        }
        if (tb_feed_parse(r.body.data, r.body.len, r.final_url, r.charset, &pf, &err) != 0) {
            tb_fetch_result_free(&r);
            free(feed_url);
            return tb_cli_fail_err(cli, &err);
        }
    }
    int64_t id;
    int rc = 0;
    size_t fresh = 0;
    if (tb_store_feed_add(s, feed_url, &id, &err) != 0 ||
        tb_store_subscribe(s, user, id, NULL, pf.title, &err) != 0 ||
        (fetch && tb_feed_ingest(s, id, &pf, &fresh, &err) != 0)) {
        rc = tb_cli_fail_err(cli, &err);
    } else if (fetch) {
        tb_feed f;
        if (tb_store_feed_get(s, id, &f, &err) == 0) {
            int64_t now = tb_unix_now();
            free(f.title);
            f.title = tb_strdup(pf.title);
            free(f.site_url);
            f.site_url = tb_strdup(pf.site_url);
            free(f.description);
            f.description = tb_strdup(pf.description);
            free(f.etag);
            f.etag = tb_strdup(r.etag);
            free(f.last_modified);
            f.last_modified = tb_strdup(r.last_modified);
            f.ttl = pf.ttl;
            f.last_fetch = f.last_ok = now;
            f.next_fetch = now + TB_MAX(o.interval, (int64_t)pf.ttl);
            if (tb_store_feed_update(s, &f, &err) != 0)
                rc = tb_cli_fail_err(cli, &err);
            tb_feed_clear(&f);
        } else {
            rc = tb_cli_fail_err(cli, &err);
        }
    }
    if (rc == 0)
        printf("%lld\t%s\t%s\t%zu items (%zu new)\n", (long long)id, feed_url,
               pf.title ? pf.title : "", pf.n_items, fresh);
    tb_parsed_feed_free(&pf);
    tb_fetch_result_free(&r);
    free(feed_url);
    return rc;
}

static int feed_list(tb_cli *cli)
{
    tb_err err = {0};
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_feed *f;
    size_t n;
    if (tb_store_feed_list(s, &f, &n, &err) != 0)
        return tb_cli_fail_err(cli, &err);
    for (size_t i = 0; i < n; i++) {
        printf("%lld\t%s\t%s\n", (long long)f[i].id, f[i].url, f[i].title ? f[i].title : "");
        print_time("last ok:", f[i].last_ok);
        print_time(" next:", f[i].next_fetch);
        printf("  failures: %d%s\n", f[i].failures, f[i].disabled ? "  DISABLED" : "");
        if (f[i].last_error)
            printf("  last error: %s\n", f[i].last_error);
    }
    tb_feed_list_free(f, n);
    return 0;
}

static int parse_id(const char *s, int64_t *id)
{
    return tb_parse_i64(s, id) == 0 && *id > 0 ? 0 : -1;
}

static int feed_fetch(tb_cli *cli, bool all, int argc, char **argv)
{
    tb_err err = {0};
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    struct tb_fetch_opts o;
    tb_fetch_opts_from_config(&o, cli->conf);
    if (argc == 0) {
        size_t ok = 0, failed = 0;
        /* --all: everything enabled and subscribed, due or not */
        int64_t now = all ? INT64_MAX / 2 : tb_unix_now();
        if (tb_feed_refresh_due(s, &o, now, 0, &ok, &failed, &err) != 0)
            return tb_cli_fail_err(cli, &err);
        printf("%zu fetched, %zu failed\n", ok, failed);
        return failed ? 1 : 0;
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        int64_t id;
        if (parse_id(argv[i], &id) != 0)
            return tb_cli_usage(cli, "'%s' is not a feed id", argv[i]);
        struct tb_refresh_result r;
        if (tb_feed_refresh(s, id, &o, &r, &err) != 0) {
            rc = tb_cli_fail(cli, "feed %lld: %s%s", (long long)id, err.msg,
                             r.disabled ? " (now disabled; `tastebud feed enable` to retry)" : "");
            continue;
        }
        if (r.not_modified)
            printf("%lld\tnot modified\n", (long long)id);
        else
            printf("%lld\t%zu items (%zu new)\n", (long long)id, r.n_items, r.n_new);
    }
    return rc;
}

static int feed_enable(tb_cli *cli, const char *arg)
{
    tb_err err = {0};
    int64_t id;
    if (parse_id(arg, &id) != 0)
        return tb_cli_usage(cli, "'%s' is not a feed id", arg);
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_feed f;
    if (tb_store_feed_get(s, id, &f, &err) != 0)
        return tb_cli_fail_err(cli, &err);
    f.disabled = false;
    f.failures = 0;
    f.next_fetch = 0;
    int rc = tb_store_feed_update(s, &f, &err);
    printf("%lld\t%s\tenabled\n", (long long)id, f.url);
    tb_feed_clear(&f);
    return rc ? tb_cli_fail_err(cli, &err) : 0;
}

static void json_field(tb_buf *b, const char *k, const char *v, bool comma)
{
    tb_buf_printf(b, "%s\"%s\":", comma ? "," : "", k);
    if (v)
        tb_buf_json_str(b, v);
    else
        tb_buf_puts(b, "null");
}

static int feed_parse(tb_cli *cli, const char *src, bool json)
{
    tb_err err = {0};
    tb_buf body = {0};
    char *charset = NULL, *base = tb_strdup(src);
    if (is_url(src)) {
        struct tb_fetch_opts o;
        tb_fetch_opts_from_config(&o, cli->conf);
        struct tb_fetch_result r;
        if (tb_fetch(src, NULL, NULL, &o, &r, &err) != 0) {
            tb_fetch_result_free(&r);
            free(base);
            return tb_cli_fail_err(cli, &err);
        }
        body = r.body;
        r.body = (tb_buf){0};
        charset = r.charset;
        r.charset = NULL;
        free(base);
        base = r.final_url;
        r.final_url = NULL;
        tb_fetch_result_free(&r);
    } else if (tb_read_file(src, &body, 64 << 20, &err) != 0) {
        free(base);
        return tb_cli_fail_err(cli, &err);
    }
    tb_parsed_feed f;
    int rc = tb_feed_parse(body.data, body.len, is_url(base) ? base : NULL, charset, &f, &err);
    tb_buf_free(&body);
    free(charset);
    free(base);
    if (rc != 0)
        return tb_cli_fail_err(cli, &err);
    tb_buf b = {0};
    if (json) {
        tb_buf_printf(&b, "{\"format\":\"%s\"", f.format);
        json_field(&b, "title", f.title, true);
        json_field(&b, "site_url", f.site_url, true);
        json_field(&b, "description", f.description, true);
        json_field(&b, "image", f.image, true);
        tb_buf_printf(&b, ",\"ttl\":%d,\"items\":[", f.ttl);
        for (size_t i = 0; i < f.n_items; i++) {
            tb_item *it = &f.items[i];
            tb_buf_puts(&b, i ? ",{" : "{");
            json_field(&b, "key", it->key, false);
            json_field(&b, "url", it->url, true);
            json_field(&b, "title", it->title, true);
            json_field(&b, "author", it->author, true);
            json_field(&b, "tags", it->tags, true);
            tb_buf_printf(&b, ",\"published\":%lld", (long long)it->published);
            json_field(&b, "image_url", it->image_url, true);
            json_field(&b, "comments_url", it->comments_url, true);
            json_field(&b, "text", it->text, true);
            json_field(&b, "html", it->html, true);
            if (it->extra)
                tb_buf_printf(&b, ",\"extra\":%s", it->extra);
            tb_buf_putc(&b, '}');
        }
        tb_buf_puts(&b, "]}\n");
    } else {
        tb_buf_printf(&b, "format: %s\ntitle: %s\nsite: %s\nttl: %d\nimage: %s\nitems: %zu\n",
                      f.format, f.title ? f.title : "", f.site_url ? f.site_url : "", f.ttl,
                      f.image ? f.image : "", f.n_items);
        for (size_t i = 0; i < f.n_items; i++) {
            tb_item *it = &f.items[i];
            char d[32] = "-";
            if (it->published)
                tb_time_rfc3339(it->published, d, sizeof d);
            tb_buf_printf(&b, "\n[%zu] %s\n    url: %s\n    key: %s\n    date: %s\n", i + 1,
                          it->title ? it->title : "(no title)", it->url ? it->url : "", it->key,
                          d);
            if (it->author)
                tb_buf_printf(&b, "    author: %s\n", it->author);
            if (it->tags)
                tb_buf_printf(&b, "    tags: %s\n", it->tags);
            if (it->image_url)
                tb_buf_printf(&b, "    image: %s\n", it->image_url);
            tb_buf_printf(&b, "    text: %.200s%s\n", it->text,
                          strlen(it->text) > 200 ? "..." : "");
        }
    }
    fwrite(b.data, 1, b.len, stdout);
    tb_buf_free(&b);
    tb_parsed_feed_free(&f);
    return 0;
}

TB_COMMAND(feed, "add, list, fetch and inspect feeds")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"no-fetch", no_argument, NULL, 'N'},
                                         {NULL, 0, NULL, 0}};
    const char *user = NULL;
    bool all = false, json = false, nofetch = false;
    int c;
    while ((c = getopt_long(argc, argv, "hu:aj", opts, NULL)) != -1) {
        switch (c) {
        case 'h': feed_usage(); return 0;
        case 'u': user = optarg; break;
        case 'a': all = true; break;
        case 'j': json = true; break;
        case 'N': nofetch = true; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return tb_cli_usage(cli, "missing subcommand (add, list, fetch, enable or parse)");
    const char *sub = argv[optind++];
    int rest = argc - optind;
    char **args = argv + optind;
    if (strcmp(sub, "add") == 0) {
        if (rest != 1)
            return tb_cli_usage(cli, "feed add takes one URL");
        return feed_add(cli, args[0], user, !nofetch);
    }
    if (strcmp(sub, "list") == 0) {
        if (rest)
            return tb_cli_usage(cli, "unexpected argument '%s'", args[0]);
        return feed_list(cli);
    }
    if (strcmp(sub, "fetch") == 0) {
        if (all && rest)
            return tb_cli_usage(cli, "give --all or feed ids, not both");
        return feed_fetch(cli, all, rest, args);
    }
    if (strcmp(sub, "enable") == 0) {
        if (rest != 1)
            return tb_cli_usage(cli, "feed enable takes one feed id");
        return feed_enable(cli, args[0]);
    }
    if (strcmp(sub, "parse") == 0) {
        if (rest != 1)
            return tb_cli_usage(cli, "feed parse takes one FILE or URL");
        return feed_parse(cli, args[0], json);
    }
    return tb_cli_usage(cli, "unknown subcommand '%s'", sub);
}

/*
 * cmd_serve.c -- `tastebud serve [--listen ADDR:PORT] [--base-url URL]`.
 *
 * Reads the settings (listen, base_url, feed_wait_ms, feed_items,
 * shown_interval, access_log, threads, ranking keys), opens the store and
 * the model, fills the server's hook table with the real feed, OPML, model
 * and recommender functions (src/server/server.h explains the hooks) and
 * runs until SIGINT or SIGTERM. SIGINT/SIGTERM are blocked in every thread and taken with
 * sigwait here, so shutdown runs on a normal thread: the server stops
 * accepting, finishes the requests in flight, stops the background jobs,
 * and main closes the store (SQLite checkpoints its WAL on close).
 */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "feed/ingest.h"
#include "feed/opml.h"
#include "rec/rec.h"
#include "server/server.h"

/* What the hooks need: fetch settings, the model, ranking options. */
struct glue {
    struct tb_fetch_opts fetch;
    tb_model *model;
    struct tb_profile_opts profile;
};

static int g_refresh(void *ctx, tb_store *s, int64_t feed_id, tb_err *err)
{
    struct glue *g = ctx;
    struct tb_refresh_result r = {0};
    return tb_feed_refresh(s, feed_id, &g->fetch, &r, err);
}

static int g_opml(void *ctx, const char *data, size_t len, struct tb_opml_entry **out, size_t *n,
                  tb_err *err)
{
    tb_opml_outline *o = NULL;
    size_t k = 0;
    if (tb_opml_parse(data, len, &o, &k, err) != 0)
        return -1;
    *out = tb_calloc(k ? k : 1, sizeof **out);
    for (size_t i = 0; i < k; i++)
        (*out)[i] = (struct tb_opml_entry){tb_strdup(o[i].xml_url), tb_strdup(o[i].title),
                                           tb_strdup(o[i].category)};
    *n = k;
    tb_opml_free(o, k);
    return 0;
}

static int g_embed(void *ctx, const char *const *texts, size_t n, float *out, tb_err *err)
{
    struct glue *g = ctx;
    return tb_model_embed_kind(g->model, texts, n, TB_EMBED_DOCUMENT, out, err);
}

static int g_recommend(void *ctx, tb_store *s, const char *user, const char *collection,
                       const int64_t *ids, size_t n, const struct tb_rank_opts *o,
                       struct tb_rec_result *out, tb_err *err)
{
    struct glue *g = ctx;
    return tb_recommend(s, g->model, user, collection, ids, n, o, out, err);
}

static tb_profile *g_profile(void *ctx, tb_store *s, const char *user, tb_err *err)
{
    struct glue *g = ctx;
    return tb_profile_load(s, g->model, user, &g->profile, err);
}

static void serve_usage(void)
{
    printf("usage: tastebud serve [--listen ADDR:PORT] [--base-url URL] [--no-jobs]\n\n"
           "Serve filtered feeds, click tracking, the JSON API and the web page.\n\n"
           "  --listen ADDR:PORT  where to listen (setting listen, default 127.0.0.1:8080;\n"
           "                      port 0 picks a free port, printed on stderr)\n"
           "  --base-url URL      public URL used in feed links (setting base_url;\n"
           "                      set it when a reverse proxy is in front)\n"
           "  --no-jobs           no background fetching/embedding (for debugging)\n\n"
           "Stop with Ctrl-C or SIGTERM: requests in flight finish, then it exits.\n"
           "See docs/SERVER.md.\n");
}

TB_COMMAND(serve, "serve filtered feeds, the API and the web page")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"base-url", required_argument, NULL, 'b'},
                                         {"no-jobs", no_argument, NULL, 'J'},
                                         {NULL, 0, NULL, 0}};
    const char *listen = tb_config_get(cli->conf, "listen");
    const char *base = tb_config_get(cli->conf, "base_url");
    bool jobs = true;
    int c;
    while ((c = getopt_long(argc, argv, "hl:b:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': serve_usage(); return 0;
        case 'l': listen = optarg; break;
        case 'b': base = optarg; break;
        case 'J': jobs = false; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    if (base && *base && !tb_str_starts(base, "http://") && !tb_str_starts(base, "https://"))
        return tb_cli_usage(cli, "--base-url must start with http:// or https://");

    tb_store *st = tb_cli_store(cli);
    if (!st)
        return 1;

    struct tb_server_opts o;
    tb_server_opts_default(&o);
    o.store = st;
    o.listen = listen;
    o.base_url = base;
    o.jobs = jobs;
    int64_t th = tb_config_int(cli->conf, "threads", 0);
    o.threads = th > 0 ? (int)TB_MIN(th, 64) : TB_MAX(2, TB_MIN(tb_ncpu(), 16));
    o.feed_wait_ms = (int)tb_config_int(cli->conf, "feed_wait_ms", 5000);
    int64_t fi = tb_config_int(cli->conf, "feed_items", 50);
    o.feed_items = fi > 0 ? (size_t)fi : 50;
    o.shown_interval_s = (int64_t)(tb_config_double(cli->conf, "shown_interval", 12) * 3600);
    o.access_log = tb_config_bool(cli->conf, "access_log", true);
    int64_t eb = tb_config_int(cli->conf, "embed_batch", 64);
    o.embed_batch = eb > 0 ? (size_t)eb : 64;
    tb_rank_opts_from_config(&o.rank, cli->conf);

    /* The hooks: the real fetcher, OPML parser, model and recommender. A
     * missing model is not fatal: feeds are then served unranked (and the
     * log says how to get the model). */
    struct glue g = {0};
    tb_fetch_opts_from_config(&g.fetch, cli->conf);
    g.profile = o.rank.profile;
    o.hooks.ctx = &g;
    o.hooks.feed_refresh = g_refresh;
    o.hooks.opml_parse = g_opml;
    g.model = tb_cli_model(cli, NULL);
    if (g.model) {
        o.hooks.embed = g_embed;
        o.hooks.dim = tb_model_dim(g.model);
        o.hooks.model_id = tb_model_id(g.model);
        o.hooks.recommend = g_recommend;
        o.hooks.profile_load = g_profile;
    } else {
        tb_warn("serving without a model: feeds pass through unranked");
    }

    /* Block the stop signals before any thread starts: every thread
     * inherits the mask, and only sigwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    tb_err err = {0};
    tb_server *srv = tb_server_start(&o, &err);
    if (!srv)
        return tb_cli_fail_err(cli, &err);
    fprintf(stderr, "tastebud serve: listening on port %d, links use %s\n", tb_server_port(srv),
            tb_server_base_url(srv));
    int sig = 0;
    sigwait(&set, &sig);
    tb_info("got %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tb_server_stop(srv, 10000);
    tb_info("stopped");
    return 0;
}

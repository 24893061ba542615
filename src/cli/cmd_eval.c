/*
 * cmd_eval.c -- `tastebud eval`: offline evaluation of the ranker against
 * baselines on any dataset in the generic formats (docs/EVALUATION.md).
 *
 * Each dataset is embedded once with the chosen model (cached under
 * --cache, default build/eval/cache), then every method in
 * tb_eval_methods() is run with the same readers/users and seed, and a
 * table is printed (and JSON written with --json FILE).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec/eval.h"

#define MAX_SETS 8

static void eval_usage(void)
{
    printf("usage: tastebud eval [options]\n\n"
           "datasets (each may be given up to 8 times):\n"
           "  --corpus FILE.jsonl        protocol 1: simulated readers; rows {id,text,label}\n"
           "  --ratings FILE.csv --items FILE.jsonl\n"
           "                             protocol 2: rating histories; user,item,rating,timestamp\n"
           "                             and items {id,text}\n"
           "  --judgements FILE.jsonl    protocol 3: {liked:[..],disliked:[..],target,label}\n"
           "options:\n"
           "  --readers N (300) --reads N (30) --pool N (300)   protocol 1\n"
           "  --like-threshold X (4) --hide N (5) --max-users N (0 = all)   protocol 2\n"
           "  --seed S (1)  --model M  --cache DIR (build/eval/cache, '' for none)\n"
           "  --json FILE   also write the results as JSON\n"
           "  --quick       only the default method and the baselines\n"
           "  --kde-tau X   kernel width for the kde methods (default 0.15)\n"
           "After each dataset the default method is compared pairwise with each baseline\n"
           "(same readers/users): mean difference +- standard error, and units won/lost.\n");
}

static void progress(size_t done, size_t total, void *ctx)
{
    tb_cli_progress("embedding", done, total, *(double *)ctx);
}

struct set {
    int proto;  /* 1, 2, 3 */
    const char *a, *b;
};

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

TB_COMMAND(eval, "evaluate recommendations offline against baselines")
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},       {"corpus", required_argument, NULL, 'C'},
        {"ratings", required_argument, NULL, 'R'}, {"items", required_argument, NULL, 'I'},
        {"judgements", required_argument, NULL, 'J'},
        {"readers", required_argument, NULL, 'r'}, {"reads", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},    {"like-threshold", required_argument, NULL, 'l'},
        {"hide", required_argument, NULL, 'H'},    {"max-users", required_argument, NULL, 'U'},
        {"seed", required_argument, NULL, 's'},    {"model", required_argument, NULL, 'M'},
        {"cache", required_argument, NULL, 'c'},   {"json", required_argument, NULL, 'j'},
        {"quick", no_argument, NULL, 'q'},         {"kde-tau", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    struct set sets[MAX_SETS];
    size_t nsets = 0;
    const char *pending_ratings = NULL, *pending_items = NULL, *model = NULL, *json = NULL;
    const char *cache = "build/eval/cache";
    struct tb_eval_readers_opts ro = {300, 30, 300, 3, 1};
    struct tb_eval_ratings_opts ra = {4, 2, 5, 10, 0, 1};
    bool quick = false;
    double tau = 0;
    int64_t v;
    double dv;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c > 0 && strchr("rnpHUs", c) && (tb_parse_i64(optarg, &v) != 0 || v < 0))
            return tb_cli_usage(cli, "'%s' is not a non-negative integer", optarg);
        switch (c) {
        case 'h': eval_usage(); return 0;
        case 'C':
        case 'J':
            if (nsets == MAX_SETS)
                return tb_cli_usage(cli, "at most %d datasets", MAX_SETS);
            sets[nsets++] = (struct set){c == 'C' ? 1 : 3, optarg, NULL};
            break;
        case 'R': pending_ratings = optarg; break;
        case 'I': pending_items = optarg; break;
        case 'r': ro.readers = (size_t)v; break;
        case 'n': ro.reads = (size_t)v; break;
        case 'p': ro.pool = (size_t)v; break;
        case 'H': ra.hide = (size_t)v; break;
        case 'U': ra.max_users = (size_t)v; break;
        case 's': ro.seed = ra.seed = (uint64_t)v; break;
        case 'l':
            if (tb_parse_double(optarg, &dv) != 0)
                return tb_cli_usage(cli, "--like-threshold needs a number");
            ra.like_threshold = dv;
            break;
        case 'M': model = optarg; break;
        case 'c': cache = *optarg ? optarg : NULL; break;
        case 'j': json = optarg; break;
        case 'q': quick = true; break;
        case 'T':
            if (tb_parse_double(optarg, &tau) != 0 || !(tau > 0 && tau < 10))
                return tb_cli_usage(cli, "--kde-tau needs a number in (0, 10)");
            break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
        if (pending_ratings && pending_items) {
            if (nsets == MAX_SETS)
                return tb_cli_usage(cli, "at most %d datasets", MAX_SETS);
            sets[nsets++] = (struct set){2, pending_ratings, pending_items};
            pending_ratings = pending_items = NULL;
        }
    }
    if (pending_ratings || pending_items)
        return tb_cli_usage(cli, "--ratings and --items go together");
    if (optind < argc)
        return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    if (nsets == 0)
        return tb_cli_usage(cli, "give at least one dataset (--corpus, --ratings/--items, --judgements)");
    tb_model *m = tb_cli_model(cli, model);
    if (!m)
        return 1;
    size_t dim = tb_model_dim(m), nm;
    const struct tb_eval_method *ms0 = tb_eval_methods(&nm);
    struct tb_eval_method *ms = tb_malloc(nm * sizeof *ms);
    memcpy(ms, ms0, nm * sizeof *ms);
    for (size_t k = 0; k < nm; k++)
        if (tau > 0)
            ms[k].rank.kde_tau = tau;
    struct tb_eval_metrics *res = tb_calloc(nm, sizeof *res);
    tb_buf js = {0};
    tb_buf_puts(&js, "{\"model\":");
    tb_buf_json_str(&js, tb_model_id(m));
    tb_buf_printf(&js, ",\"seed\":%llu,\"datasets\":[", (unsigned long long)ro.seed);
    printf("model %s (dim %zu), seed %llu\n", tb_model_id(m), dim, (unsigned long long)ro.seed);
    int rc = 0;
    for (size_t si = 0; si < nsets && rc == 0; si++) {
        struct set *st = &sets[si];
        struct tb_eval_data d;
        tb_err err = {0};
        int lr = st->proto == 1   ? tb_eval_load_corpus(st->a, &d, &err)
                 : st->proto == 2 ? tb_eval_load_ratings(st->a, st->b, &d, &err)
                                  : tb_eval_load_judgements(st->a, &d, &err);
        if (lr < 0) {
            rc = tb_cli_fail_err(cli, &err);
            break;
        }
        float *x = tb_malloc((d.ntexts ? d.ntexts : 1) * dim * sizeof(float));
        double t0 = tb_mono();
        if (tb_eval_embed(m, d.texts, d.ntexts, cache, x, progress, &t0, &err) < 0) {
            rc = tb_cli_fail_err(cli, &err);
            free(x);
            tb_eval_data_free(&d);
            break;
        }
        const char *proto = st->proto == 1 ? "readers" : st->proto == 2 ? "ratings" : "judgements";
        printf("\n%s -- protocol %d (%s), %zu texts", base_name(st->a), st->proto, proto,
               d.ntexts);
        if (st->proto == 1)
            printf(", %zu labels, %zu readers x %zu reads, pool %zu\n", d.nlabels, ro.readers,
                   ro.reads, ro.pool);
        else if (st->proto == 2)
            printf(", %zu ratings, like >= %g, last %zu likes hidden\n", d.nratings,
                   ra.like_threshold, ra.hide);
        else
            printf(", %zu judgements\n", d.j.n);
        const char *hdr = st->proto == 1   ? "    P@10  nDCG@10      AUC"
                          : st->proto == 2 ? " HitR@10  nDCG@10      AUC"
                                           : "     AUC";
        printf("  %-24s %s %8s %6s\n", "method", hdr, "ms", "n");
        tb_buf_printf(&js, "%s{\"file\":", si ? "," : "");
        tb_buf_json_str(&js, st->a);
        tb_buf_printf(&js, ",\"protocol\":\"%s\",\"results\":[", proto);
        size_t shown = 0;
        for (size_t k = 0; k < nm; k++) {
            const struct tb_eval_method *me = &ms[k];
            if (quick && k != 0 && me->kind == TB_EVAL_OURS)
                continue;
            if (me->kind == TB_EVAL_POPULARITY && st->proto != 2)
                continue;
            struct tb_eval_metrics r = {0};
            int er = st->proto == 1
                         ? tb_eval_readers(x, d.label, d.ntexts, dim, &ro, me, &r, &err)
                     : st->proto == 2
                         ? tb_eval_ratings(x, d.ntexts, dim, d.ratings, d.nratings, &ra, me, &r,
                                           &err)
                         : tb_eval_judgements(x, dim, &d.j, ro.seed, me, &r, &err);
            if (er < 0) {
                tb_eval_metrics_free(&r);
                rc = tb_cli_fail_err(cli, &err);
                break;
            }
            res[k] = r;
            if (st->proto == 3)
                printf("  %-24s %8.4f %8.0f %6zu\n", me->name, r.auc, r.ms, r.n);
            else
                printf("  %-24s %8.4f %8.4f %8.4f %8.0f %6zu\n", me->name,
                       st->proto == 1 ? r.p10 : r.hit10, r.ndcg10, r.auc, r.ms, r.n);
            tb_buf_printf(&js, "%s{\"method\":", shown++ ? "," : "");
            tb_buf_json_str(&js, me->name);
            tb_buf_printf(&js,
                          ",\"p10\":%.5f,\"hit10\":%.5f,\"ndcg10\":%.5f,\"auc\":%.5f,\"n\":%zu,"
                          "\"ms\":%.1f}",
                          r.p10, r.hit10, r.ndcg10, r.auc, r.n, r.ms);
            fflush(stdout);
        }
        tb_buf_puts(&js, "]");
        /* Paired comparisons of the default (method 0) with the baselines. */
        static const char *const mnames[] = {"P@10", "nDCG@10", "AUC", "HitR@10"};
        int mets1[] = {TB_EVAL_P10, TB_EVAL_NDCG10, TB_EVAL_AUC}, mets2[] = {TB_EVAL_HIT10, TB_EVAL_NDCG10, TB_EVAL_AUC},
            mets3[] = {TB_EVAL_AUC};
        const int *mets = st->proto == 1 ? mets1 : st->proto == 2 ? mets2 : mets3;
        size_t nmets = st->proto == 3 ? 1 : 3, shownp = 0;
        tb_buf_puts(&js, ",\"paired\":[");
        for (size_t k = 1; k < nm && rc == 0; k++) {
            if (ms[k].kind == TB_EVAL_OURS || res[k].n == 0)
                continue;
            printf("  %s vs %s:", ms[0].name, ms[k].name);
            for (size_t q = 0; q < nmets; q++) {
                double dd, se;
                size_t w, l;
                if (tb_eval_paired(&res[0], &res[k], mets[q], &dd, &se, &w, &l) < 0)
                    continue;
                printf("%s %s %+.4f (se %.4f, %zu+/%zu-)", q ? ";" : "", mnames[mets[q]], dd, se,
                       w, l);
                tb_buf_printf(&js, "%s{\"vs\":", shownp++ ? "," : "");
                tb_buf_json_str(&js, ms[k].name);
                tb_buf_printf(&js,
                              ",\"metric\":\"%s\",\"diff\":%.5f,\"se\":%.5f,\"wins\":%zu,"
                              "\"losses\":%zu}",
                              mnames[mets[q]], dd, se, w, l);
            }
            printf("\n");
        }
        tb_buf_puts(&js, "]}");
        for (size_t k = 0; k < nm; k++)
            tb_eval_metrics_free(&res[k]);
        memset(res, 0, nm * sizeof *res);
        free(x);
        tb_eval_data_free(&d);
    }
    for (size_t k = 0; k < nm; k++)
        tb_eval_metrics_free(&res[k]);
    free(res);
    free(ms);
    tb_buf_puts(&js, "]}\n");
    if (rc == 0 && json) {
        tb_err err = {0};
        if (tb_write_file(json, js.data, js.len, &err) < 0)
            rc = tb_cli_fail_err(cli, &err);
    }
    tb_buf_free(&js);
    return rc;
}

/*
 * cmd_recommend.c -- `tastebud recommend USER`: the best items of a
 * catalogue for a user, with explanations on request.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec/rec.h"

static void recommend_usage(void)
{
    printf("usage: tastebud recommend USER [--collection C] [-n 20] [--explain] [--json]\n\n"
           "  -c, --collection C  recommend from collection C (default: all catalogues)\n"
           "  -n N                at most N items (default 20)\n"
           "  -e, --explain       say why each item is there\n"
           "  -j, --json          JSON output\n"
           "      --method M      kde, knn, centroid, weighted or hybrid (default: the\n"
           "                      rank_method setting, default kde)\n"
           "      --model M       embedding model (default: the `model` setting)\n"
           "Settings used: min_reads, filter_ratio, explore_ratio, diversity,\n"
           "half_life_days, seed, rank_method (see `tastebud config`).\n");
}

TB_COMMAND(recommend, "recommend catalogue items to a user")
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},           {"collection", required_argument, NULL, 'c'},
        {"explain", no_argument, NULL, 'e'},        {"json", no_argument, NULL, 'j'},
        {"method", required_argument, NULL, 'm'},   {"model", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0}};
    const char *col = NULL, *model = NULL;
    bool explain = false, json = false;
    int64_t limit = 20;
    struct tb_rank_opts o;
    tb_rank_opts_from_config(&o, cli->conf);
    int c;
    while ((c = getopt_long(argc, argv, "hc:n:ej", opts, NULL)) != -1) {
        switch (c) {
        case 'h': recommend_usage(); return 0;
        case 'c': col = optarg; break;
        case 'n':
            if (tb_parse_i64(optarg, &limit) != 0 || limit <= 0)
                return tb_cli_usage(cli, "-n needs a positive count, not '%s'", optarg);
            break;
        case 'e': explain = true; break;
        case 'j': json = true; break;
        case 'm':
            o.method = tb_rank_method_parse(optarg);
            if (o.method < 0)
                return tb_cli_usage(cli, "unknown method '%s'", optarg);
            break;
        case 'M': model = optarg; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return tb_cli_usage(cli, "recommend needs USER");
    const char *user = argv[optind];
    o.limit = (size_t)limit;
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_err err = {0};
    int r = tb_store_user_exists(s, user, &err);
    if (r <= 0)
        return r < 0 ? tb_cli_fail_err(cli, &err) : tb_cli_fail(cli, "no user '%s'", user);
    tb_model *m = tb_cli_model(cli, model);
    if (!m)
        return 1;
    struct tb_rec_result res;
    if (tb_recommend(s, m, user, col, NULL, 0, &o, &res, &err) < 0)
        return tb_cli_fail_err(cli, &err);
    tb_buf out = {0}, why = {0};
    if (json)
        tb_buf_printf(&out, "{\"user\":");
    if (json) {
        tb_buf_json_str(&out, user);
        tb_buf_printf(&out, ",\"cold_start\":%s,\"reads\":%zu,\"interests\":%zu,\"items\":[",
                      res.cold_start ? "true" : "false", res.n_reads, res.k);
    } else if (res.cold_start) {
        fprintf(stderr, "%s has %zu reads (fewer than min_reads = %zu): not ranked yet\n", user,
                res.n_reads, o.min_reads);
    }
    for (size_t i = 0; i < res.n; i++) {
        const struct tb_rec_item *ri = &res.items[i];
        tb_item it = {0};
        if (tb_store_item_get(s, ri->item_id, &it, &err) < 0) {
            tb_buf_free(&out);
            tb_rec_result_free(&res);
            return tb_cli_fail_err(cli, &err);
        }
        tb_buf_clear(&why);
        if (explain || json)
            tb_rec_explain(s, ri, res.k, &why);
        if (json) {
            tb_buf_printf(&out, "%s{\"id\":%lld,\"collection\":", i ? "," : "",
                          (long long)it.id);
            tb_buf_json_str(&out, it.collection);
            tb_buf_puts(&out, ",\"key\":");
            tb_buf_json_str(&out, it.key);
            tb_buf_puts(&out, ",\"title\":");
            tb_buf_json_str(&out, it.title ? it.title : "");
            tb_buf_printf(&out, ",\"score\":%.4f,\"exploration\":%s,\"cluster\":%d", ri->score,
                          ri->why == TB_WHY_EXPLORE ? "true" : "false", ri->cluster);
            if (ri->near_item > 0)
                tb_buf_printf(&out, ",\"near_item\":%lld,\"near_sim\":%.4f",
                              (long long)ri->near_item, ri->sim);
            tb_buf_puts(&out, ",\"why\":");
            tb_buf_json_str(&out, tb_buf_cstr(&why));
            tb_buf_puts(&out, "}");
        } else {
            tb_buf_printf(&out, "%lld\t%s:%s\t%s\n", (long long)it.id, it.collection, it.key,
                          it.title ? it.title : "");
            if (explain)
                tb_buf_printf(&out, "\t  %s\n", tb_buf_cstr(&why));
        }
        tb_item_clear(&it);
    }
    if (json)
        tb_buf_puts(&out, "]}\n");
    fputs(tb_buf_cstr(&out), stdout);
    tb_buf_free(&out);
    tb_buf_free(&why);
    tb_rec_result_free(&res);
    return 0;
}

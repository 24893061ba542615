/*
 * cmd_items.c -- `tastebud items import|list`: catalogues of things to
 * recommend (articles, films, books, products) from JSONL or CSV.
 *
 * Import stores the rows, then embeds the new or changed ones right away
 * with a progress line, so `tastebud recommend` is fast afterwards.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec/catalogue.h"

static void items_usage(void)
{
    printf("usage: tastebud items import [options] COLLECTION FILE.jsonl|FILE.csv\n"
           "       tastebud items list [-n N] COLLECTION\n\n"
           "import   add or update items; fields id, title, text, url, image, tags\n"
           "         (CSV: a header row naming them). Items are embedded after import.\n"
           "  --id-field NAME     input field holding the item id (default id)\n"
           "  --title-field NAME  (default title)   --text-field NAME  (default text)\n"
           "  --url-field NAME    (default url)     --image-field NAME (default image)\n"
           "  --tags-field NAME   (default tags)    --model M   embed with model M\n"
           "  --no-embed          only store the items\n"
           "list     print id, key and title of a collection's items (-n: at most N)\n");
}

static void progress(size_t done, size_t total, void *ctx)
{
    tb_cli_progress("embedding", done, total, *(double *)ctx);
}

static int do_import(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},         {"id-field", required_argument, NULL, 'i'},
        {"title-field", required_argument, NULL, 't'}, {"text-field", required_argument, NULL, 'x'},
        {"url-field", required_argument, NULL, 'u'},   {"image-field", required_argument, NULL, 'm'},
        {"tags-field", required_argument, NULL, 'g'},  {"model", required_argument, NULL, 'M'},
        {"no-embed", no_argument, NULL, 'N'},          {NULL, 0, NULL, 0}};
    struct tb_catalogue_fields f = {0};
    const char *model = NULL;
    bool embed = true;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': items_usage(); return 0;
        case 'i': f.id = optarg; break;
        case 't': f.title = optarg; break;
        case 'x': f.text = optarg; break;
        case 'u': f.url = optarg; break;
        case 'm': f.image = optarg; break;
        case 'g': f.tags = optarg; break;
        case 'M': model = optarg; break;
        case 'N': embed = false; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return tb_cli_usage(cli, "items import needs COLLECTION and FILE");
    const char *col = argv[optind], *path = argv[optind + 1];
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_err err = {0};
    struct tb_catalogue_stats st;
    int64_t *ids = NULL;
    size_t n = 0;
    if (tb_catalogue_import(s, col, path, &f, &ids, &n, &st, &err) < 0)
        return tb_cli_fail_err(cli, &err);
    fprintf(stderr, "%s: %zu rows, %zu imported (%zu new), %zu skipped\n", col, st.rows,
            st.imported, st.added, st.skipped);
    if (embed && n > 0) {
        tb_model *m = tb_cli_model(cli, model);
        if (!m) {
            free(ids);
            return 1;
        }
        double t0 = tb_mono();
        if (tb_rec_embed_items(s, m, ids, n, progress, &t0, &err) < 0) {
            free(ids);
            return tb_cli_fail_err(cli, &err);
        }
    }
    free(ids);
    return 0;
}

static int do_list(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    int64_t limit = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hn:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': items_usage(); return 0;
        case 'n':
            if (tb_parse_i64(optarg, &limit) != 0 || limit < 0)
                return tb_cli_usage(cli, "-n needs a count, not '%s'", optarg);
            break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return tb_cli_usage(cli, "items list needs COLLECTION");
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_err err = {0};
    tb_item *it;
    size_t n;
    if (tb_store_items_by_collection(s, argv[optind], (size_t)limit, &it, &n, &err) < 0)
        return tb_cli_fail_err(cli, &err);
    if (n == 0) {
        tb_item_list_free(it, n);
        return tb_cli_fail(cli, "no items in collection '%s'", argv[optind]);
    }
    for (size_t i = 0; i < n; i++)
        printf("%lld\t%s\t%s\n", (long long)it[i].id, it[i].key,
               it[i].title ? it[i].title : "");
    tb_item_list_free(it, n);
    return 0;
}

TB_COMMAND(items, "import and list catalogue items from JSONL or CSV")
{
    if (argc < 2)
        return tb_cli_usage(cli, "missing subcommand (import or list)");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        items_usage();
        return 0;
    }
    if (strcmp(argv[1], "import") == 0)
        return do_import(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return do_list(cli, argc - 1, argv + 1);
    return tb_cli_usage(cli, "unknown subcommand '%s' (import or list)", argv[1]);
}

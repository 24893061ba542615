/*
 * cmd_opml.c -- `tastebud opml import FILE | export [--rewrite BASE_URL]`.
 *
 * Export with --rewrite points every feed at tastebud's filtered copy
 * (BASE_URL/feed/USER/FEEDID), so the file moves a whole subscription list
 * from any RSS reader onto tastebud in one import.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "feed/opml.h"

int tb_cli_feed_user(tb_cli *cli, tb_store *s, const char **user); /* cmd_feed.c */

static void opml_usage(void)
{
    printf("usage: tastebud opml import FILE [--user U]\n"
           "       tastebud opml export [--user U] [--rewrite BASE_URL]\n\n"
           "import   subscribe to every feed of an OPML file (folders become categories)\n"
           "export   write the user's subscriptions as OPML to stdout; --rewrite makes\n"
           "         every feed URL BASE_URL/feed/USER/FEEDID (tastebud's filtered copy)\n");
}

TB_COMMAND(opml, "import and export subscription lists")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"rewrite", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *user = NULL, *rewrite = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "hu:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': opml_usage(); return 0;
        case 'u': user = optarg; break;
        case 'r': rewrite = optarg; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return tb_cli_usage(cli, "missing subcommand (import or export)");
    const char *sub = argv[optind++];
    tb_err err = {0};
    if (strcmp(sub, "import") == 0) {
        if (argc - optind != 1)
            return tb_cli_usage(cli, "opml import takes one FILE");
        if (rewrite)
            return tb_cli_usage(cli, "--rewrite is for export");
        tb_buf b = {0};
        if (tb_read_file(argv[optind], &b, 64 << 20, &err) != 0)
            return tb_cli_fail_err(cli, &err);
        tb_store *s = tb_cli_store(cli);
        if (!s || tb_cli_feed_user(cli, s, &user) != 0) {
            tb_buf_free(&b);
            return 1;
        }
        size_t n = 0;
        int rc = tb_opml_import(s, user, b.data, b.len, &n, &err);
        tb_buf_free(&b);
        if (rc != 0)
            return tb_cli_fail_err(cli, &err);
        printf("%zu feeds imported for %s\n", n, user);
        return 0;
    }
    if (strcmp(sub, "export") == 0) {
        if (argc - optind != 0)
            return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
        if (rewrite && !tb_str_starts(rewrite, "http://") && !tb_str_starts(rewrite, "https://"))
            return tb_cli_usage(cli, "--rewrite needs an http(s) base URL, got '%s'", rewrite);
        tb_store *s = tb_cli_store(cli);
        if (!s || tb_cli_feed_user(cli, s, &user) != 0)
            return 1;
        tb_buf out = {0};
        if (tb_opml_export(s, user, rewrite, &out, &err) != 0) {
            tb_buf_free(&out);
            return tb_cli_fail_err(cli, &err);
        }
        fwrite(out.data, 1, out.len, stdout);
        tb_buf_free(&out);
        return 0;
    }
    return tb_cli_usage(cli, "unknown subcommand '%s'", sub);
}

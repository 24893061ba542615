/*
 * cmd_status.c -- `tastebud status`: what is in the store.
 */
#include <getopt.h>

#include "cli.h"

TB_COMMAND(status, "show the database, its schema version and row counts")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: tastebud status\n\nOpen (creating if needed) the database and print "
                   "its backend, schema version and how many users, feeds, items, embeddings, "
                   "events and profiles it holds.\n");
            return 0;
        }
        return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_store_stats st;
    tb_err err = {0};
    if (tb_store_stats_get(s, &st, &err) != 0)
        return tb_cli_fail_err(cli, &err);
    printf("data dir:       %s\n", cli->data_dir);
    printf("backend:        %s (schema version %d)\n", tb_store_backend(s),
           tb_store_schema_version(s));
    printf("users:          %lld\n", (long long)st.users);
    printf("feeds:          %lld (%lld disabled)\n", (long long)st.feeds,
           (long long)st.feeds_disabled);
    printf("subscriptions:  %lld\n", (long long)st.subscriptions);
    printf("items:          %lld\n", (long long)st.items);
    printf("embeddings:     %lld\n", (long long)st.embeddings);
    printf("events:         %lld\n", (long long)st.events);
    printf("profiles:       %lld\n", (long long)st.profiles);
    return 0;
}

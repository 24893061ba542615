/*
 * cmd_user.c -- `tastebud user add|list`.
 *
 * Users made here get the id you choose (handy for a single-person setup:
 * `tastebud user add me`); `--random` gives an unguessable 128-bit id, the
 * kind the web sign-up hands out, since feed URLs carry the id.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void user_usage(void)
{
    printf("usage: tastebud user add [--name NAME] (ID | --random)\n"
           "       tastebud user list\n\n"
           "add     create a user; --random makes a 128-bit random id (printed)\n"
           "list    list users with their creation time\n");
}

TB_COMMAND(user, "create and list users")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"random", no_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *name = NULL;
    bool random_id = false;
    int c;
    while ((c = getopt_long(argc, argv, "hn:r", opts, NULL)) != -1) {
        switch (c) {
        case 'h': user_usage(); return 0;
        case 'n': name = optarg; break;
        case 'r': random_id = true; break;
        default: return tb_cli_usage(cli, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return tb_cli_usage(cli, "missing subcommand (add or list)");
    const char *sub = argv[optind++];
    tb_err err = {0};
    if (strcmp(sub, "add") == 0) {
        char id[33];
        if (random_id) {
            if (optind < argc)
                return tb_cli_usage(cli, "give an ID or --random, not both");
            if (tb_random_id(id) != 0)
                return tb_cli_fail(cli, "the system's random generator failed");
        } else {
            if (optind >= argc)
                return tb_cli_usage(cli, "missing user ID (or --random)");
            if (strlen(argv[optind]) >= sizeof id || !*argv[optind])
                return tb_cli_usage(cli, "a user ID is 1 to 32 characters");
            for (const char *p = argv[optind]; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
                    return tb_cli_usage(cli, "a user ID may hold letters, digits, '-', '_', '.'");
            strcpy(id, argv[optind++]);
        }
        if (optind < argc)
            return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
        tb_store *s = tb_cli_store(cli);
        if (!s)
            return 1;
        if (tb_store_user_create(s, id, name, &err) != 0)
            return tb_cli_fail_err(cli, &err);
        printf("%s\n", id);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        if (optind < argc)
            return tb_cli_usage(cli, "unexpected argument '%s'", argv[optind]);
        tb_store *s = tb_cli_store(cli);
        if (!s)
            return 1;
        tb_user *u;
        size_t n;
        if (tb_store_user_list(s, &u, &n, &err) != 0)
            return tb_cli_fail_err(cli, &err);
        for (size_t i = 0; i < n; i++) {
            char when[32];
            tb_time_rfc3339(u[i].created, when, sizeof when);
            printf("%s\t%s\t%s\n", u[i].id, when, u[i].name ? u[i].name : "");
        }
        tb_user_list_free(u, n);
        return 0;
    }
    return tb_cli_usage(cli, "unknown subcommand '%s' (add or list)", sub);
}

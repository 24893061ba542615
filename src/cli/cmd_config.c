/*
 * cmd_config.c -- `tastebud config`: every setting, its effective value and
 * where that value came from.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

TB_COMMAND(config, "show every setting, its value and where it came from")
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: tastebud config [KEY]\n\n"
                   "Print every setting (or one) as `key = value  # source: doc`.\n"
                   "Sources: default, file (tastebud.conf), env (TASTEBUD_<KEY>), flag.\n");
            return 0;
        }
        return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
    }
    const char *only = optind < argc ? argv[optind] : NULL;
    int found = 0;
    for (const tb_config_key *k = tb_config_keys(); k->key; k++) {
        if (only && strcmp(only, k->key) != 0)
            continue;
        const char *v = tb_config_get(cli->conf, k->key);
        printf("%s = %s%s%s  # %s: %s\n", k->key, v ? "\"" : "", v ? v : "(unset)", v ? "\"" : "",
               tb_config_source(cli->conf, k->key), k->doc);
        found++;
    }
    if (only && !found)
        return tb_cli_usage(cli, "unknown setting '%s'", only);
    return 0;
}

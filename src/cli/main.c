/*
 * main.c -- `tastebud [global options] <command> [options]`.
 *
 * Global options come before the command; each command parses the rest
 * itself. The command table is generated at build time from the TB_COMMAND
 * lines in src/cli/cmd_*.c (see cli.h), so adding a command touches no other
 * file.
 *
 * Settings are resolved once here, lowest to highest precedence: built-in
 * defaults, the config file, TASTEBUD_* environment variables, flags. The
 * config file is --config FILE, else $TASTEBUD_CONFIG, else ./tastebud.conf,
 * else <data_dir>/tastebud.conf; only an explicitly named file must exist.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Declarations of every tb_cmd_* function, from the generated table. */
#undef TB_COMMAND
#define TB_COMMAND(name, summary) int tb_cmd_##name(tb_cli *, int, char **);
#include "commands.h"
#undef TB_COMMAND

typedef struct command {
    const char *name;
    const char *summary;
    int (*fn)(tb_cli *, int, char **);
} command;

#define TB_COMMAND(name, summary) {#name, summary, tb_cmd_##name},
static const command COMMANDS[] = {
#include "commands.h"
};
#undef TB_COMMAND

/* Commands the design plans; listed in --help as "not built yet" until a
 * cmd_*.c provides them, so the help never claims what does not exist. */
static const char *PLANNED[] = {"serve", "embed",    "similar",   "model", "feed", "opml",
                                "items", "feedback", "recommend", "eval"};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < TB_ARRAY_LEN(COMMANDS); i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "tastebud %s -- a self-hosted recommender that learns your taste from what you "
            "read\n\n"
            "usage: tastebud [global options] <command> [options]\n\n"
            "commands:\n",
            TB_VERSION);
    for (size_t i = 0; i < TB_ARRAY_LEN(COMMANDS); i++)
        fprintf(out, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    int missing = 0;
    for (size_t i = 0; i < TB_ARRAY_LEN(PLANNED); i++)
        if (!find_command(PLANNED[i]))
            fprintf(out, "%s%s", missing++ ? ", " : "\nplanned, not built yet: ", PLANNED[i]);
    if (missing)
        fputc('\n', out);
    fprintf(out,
            "\nglobal options:\n"
            "  -d, --data-dir DIR   database and model cache folder (default ./data)\n"
            "  -c, --config FILE    settings file (default ./tastebud.conf or "
            "DIR/tastebud.conf)\n"
            "      --set KEY=VALUE  override one setting (see `tastebud config`)\n"
            "      --log-level L    debug, info, warn or error\n"
            "      --quantize MODE  transformer weights: none or int8 (= --set quantize=MODE)\n"
            "  -v, --verbose        same as --log-level debug\n"
            "  -q, --quiet          same as --log-level warn\n"
            "  -V, --version        print the version\n"
            "  -h, --help           this help; `tastebud <command> --help` for a command\n"
            "\nEvery setting can also come from the environment as TASTEBUD_<KEY>.\n");
}

/* ------------------------------------------------------- helpers for commands */

int tb_cli_usage(tb_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tastebud %s: ", cli->cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tastebud %s --help'.\n", cli->cmd);
    return 2;
}

int tb_cli_fail(tb_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tastebud %s: ", cli->cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int tb_cli_fail_err(tb_cli *cli, const tb_err *err)
{
    return tb_cli_fail(cli, "%s", err->msg[0] ? err->msg : tb_errcode_name(err->code));
}

tb_store *tb_cli_store(tb_cli *cli)
{
    if (cli->store)
        return cli->store;
    tb_err err = {0};
    const char *db = tb_config_get(cli->conf, "database");
    char *path = NULL;
    if (!db || !*db) {
        if (tb_mkdir_p(cli->data_dir, &err) != 0) {
            tb_cli_fail_err(cli, &err);
            return NULL;
        }
        path = tb_path_join(cli->data_dir, "tastebud.db");
        db = path;
    }
    cli->store = tb_store_open(db, &err);
    if (!cli->store)
        tb_cli_fail_err(cli, &err);
    free(path);
    return cli->store;
}

void tb_cli_progress(const char *label, size_t done, size_t total, double started)
{
    static double last;
    double now = tb_mono();
    bool finished = done >= total;
    bool tty = isatty(STDERR_FILENO);
    if (!finished && now - last < (tty ? 0.1 : 5.0))
        return;
    last = now;
    double el = now - started;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    if (tty) {
        int width = 30, fill = total ? (int)((double)width * (double)done / (double)total) : 0;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r%s [%s] %zu/%zu  %.0f/s  eta %.0fs   ", label, bar, done, total, rate,
                eta);
        if (finished)
            fputc('\n', stderr);
        fflush(stderr);
    } else {
        tb_info("%s: %zu/%zu (%.0f/s)", label, done, total, rate);
    }
}

/* --------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"quantize", required_argument, NULL, 'Q'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tb_cli cli = {.cmd = "", .conf = tb_config_new()};
    const char *data_dir_flag = NULL, *config_path = NULL, *level_flag = NULL;
    char **sets = tb_calloc((size_t)argc + 1, sizeof *sets);
    char **owned = tb_calloc((size_t)argc + 1, sizeof *owned); /* sets we allocated */
    size_t nsets = 0, nowned = 0;
    int c, rc = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+d:c:vqVh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir_flag = optarg; break;
        case 'c': config_path = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'l': level_flag = optarg; break;
        case 'Q': sets[nsets++] = tb_asprintf("quantize=%s", optarg); owned[nowned++] = sets[nsets - 1]; break;
        case 'v': level_flag = "debug"; break;
        case 'q': level_flag = "warn"; break;
        case 'V': printf("tastebud %s\n", TB_VERSION); rc = 0; goto out;
        case 'h': usage(stdout); rc = 0; goto out;
        default:
            if (optopt)
                fprintf(stderr, "tastebud: option -%c needs a value or is unknown\n", optopt);
            else
                fprintf(stderr, "tastebud: unknown option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "Try 'tastebud --help'.\n");
            rc = 2;
            goto out;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        rc = 2;
        goto out;
    }

    /* Settings: file, then environment, then flags. */
    tb_err err = {0};
    const char *env_data = getenv("TASTEBUD_DATA_DIR");
    const char *dir_for_conf = data_dir_flag ? data_dir_flag : env_data ? env_data : "./data";
    char *conf_in_dir = tb_path_join(dir_for_conf, "tastebud.conf");
    bool required = config_path != NULL;
    if (!config_path)
        config_path = getenv("TASTEBUD_CONFIG");
    if (!config_path)
        config_path = tb_path_exists("tastebud.conf") ? "tastebud.conf" : conf_in_dir;
    int lr = tb_config_load_file(cli.conf, config_path, required, &err);
    free(conf_in_dir);
    if (lr != 0) {
        fprintf(stderr, "tastebud: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    tb_config_load_env(cli.conf);
    if (data_dir_flag)
        tb_config_set(cli.conf, "data_dir", data_dir_flag, NULL);
    if (level_flag)
        tb_config_set(cli.conf, "log_level", level_flag, NULL);
    for (size_t i = 0; i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            fprintf(stderr, "tastebud: --set wants KEY=VALUE, got '%s'\n", sets[i]);
            rc = 2;
            goto out;
        }
        *eq = '\0';
        if (tb_config_set(cli.conf, sets[i], eq + 1, &err) != 0) {
            fprintf(stderr, "tastebud: --set: %s (see `tastebud config`)\n", err.msg);
            rc = 2;
            goto out;
        }
    }
    int level = tb_log_parse_level(tb_config_get(cli.conf, "log_level"));
    if (level < 0) {
        fprintf(stderr, "tastebud: unknown log level '%s' (debug, info, warn, error)\n",
                tb_config_get(cli.conf, "log_level"));
        rc = 2;
        goto out;
    }
    tb_log_set_level(level);
    cli.data_dir = tb_config_get(cli.conf, "data_dir");

    const command *cmd = find_command(argv[optind]);
    if (!cmd) {
        bool planned = false;
        for (size_t i = 0; i < TB_ARRAY_LEN(PLANNED); i++)
            planned |= strcmp(PLANNED[i], argv[optind]) == 0;
        if (planned)
            fprintf(stderr, "tastebud: '%s' is planned but not built into this version\n",
                    argv[optind]);
        else
            fprintf(stderr, "tastebud: unknown command '%s'\nTry 'tastebud --help'.\n",
                    argv[optind]);
        rc = 2;
        goto out;
    }
    cli.cmd = cmd->name;
    int first = optind;
    optind = 0; /* 0 makes GNU getopt re-initialise for the command's own parsing */
    rc = cmd->fn(&cli, argc - first, argv + first);
out:
    if (cli.model)
        tb_model_close(cli.model);
    tb_store_close(cli.store);
    tb_config_free(cli.conf);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(sets);
    return rc;
}

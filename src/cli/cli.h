/*
 * cli.h -- what every `tastebud <command>` implementation gets.
 *
 * A command is one function in src/cli/cmd_<name>.c whose definition starts
 * with a TB_COMMAND line at the beginning of a line:
 *
 *     TB_COMMAND(embed, "turn text into vectors")
 *     {
 *         ...parse argv with getopt_long (argv[0] is the command name)...
 *     }
 *
 * The Makefile collects these lines into the command table (no registration
 * to edit; the summary must not contain a ')' character). Conventions:
 *   - `--help`/-h prints the command's usage to stdout and returns 0.
 *   - Return 0 on success, 1 on a runtime failure (after printing the reason
 *     with tb_cli_fail), 2 on a usage error (tb_cli_usage).
 *   - Errors go to stderr as "tastebud <command>: <message>".
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdio.h>

#include "store/store.h"
#include "tastebud.h"
#include "util/config.h"
#include "util/util.h"

typedef struct tb_cli {
    const char *cmd;      /* the command being run */
    const char *data_dir; /* --data-dir, TASTEBUD_DATA_DIR, data_dir key; default ./data */
    tb_config *conf;      /* effective configuration */
    tb_store *store;      /* opened on first tb_cli_store() */
    tb_model *model;      /* opened on first tb_cli_model() */
} tb_cli;

#define TB_COMMAND(name, summary) int tb_cmd_##name(tb_cli *cli, int argc, char **argv)

/* Open (once) the store named by the `database` key (default
 * <data_dir>/tastebud.db, creating data_dir). Prints the error and returns
 * NULL on failure. Closed by main. */
tb_store *tb_cli_store(tb_cli *cli);
/* Open (once) the model named by override, else the `model` key, else the
 * default model. Prints the error (with a hint to run
 * scripts/fetch-default-model when the default is missing) and returns NULL.
 * Closed by main. */
tb_model *tb_cli_model(tb_cli *cli, const char *override);
/* Print "tastebud <cmd>: <msg>" and "Try 'tastebud <cmd> --help'."; returns 2. */
int tb_cli_usage(tb_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "tastebud <cmd>: <msg>" to stderr; returns 1. */
int tb_cli_fail(tb_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with the message of err. */
int tb_cli_fail_err(tb_cli *cli, const tb_err *err);
/* A progress line on stderr ("\r label  done/total  rate/s  eta") when stderr
 * is a terminal, else a log line every few seconds. Call with done == total
 * to finish the line. */
void tb_cli_progress(const char *label, size_t done, size_t total, double started);

#endif

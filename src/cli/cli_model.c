/*
 * cli_model.c -- opening the model for commands (tb_cli_model).
 *
 * Kept apart from main.c so the command table and settings code stay free
 * of model concerns. The model named by --model, else the `model` setting,
 * else the default; a missing default model gets a hint on how to fetch it.
 */
#include <string.h>

#include "cli.h"

tb_model *tb_cli_model(tb_cli *cli, const char *override)
{
    if (cli->model)
        return cli->model;
    const char *name = override && *override ? override : tb_config_get(cli->conf, "model");
    if (!name || !*name)
        name = TB_DEFAULT_MODEL;
    tb_err err = {0};
    tb_model_opts o = {
        .quantize = tb_config_get(cli->conf, "quantize"),
        .threads = (int)tb_config_int(cli->conf, "threads", 0),
    };
    cli->model = tb_model_open_opts(name, cli->data_dir, &o, &err);
    if (!cli->model) {
        tb_cli_fail_err(cli, &err);
        if (strcmp(name, TB_DEFAULT_MODEL) == 0 && err.code == TB_ENOTFOUND)
            fprintf(stderr,
                    "The default model is not in %s/models yet. Fetch it with:\n"
                    "  scripts/fetch-default-model --data-dir %s\n",
                    cli->data_dir, cli->data_dir);
    }
    return cli->model;
}

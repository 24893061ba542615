/*
 * model_pull.h -- `tastebud model pull ORG/NAME` (wired into `model` by
 * cmd_model.c): download a model from the Hugging Face Hub into
 * <data_dir>/models/ORG--NAME. See src/model/pull.h and docs/ENCODERS.md.
 */
#ifndef TB_CLI_MODEL_PULL_H
#define TB_CLI_MODEL_PULL_H

#include "cli.h"

/* argv[0] is "pull"; the rest are its options and the repository name.
 * Returns 0, 1 (failure, printed) or 2 (usage error). */
int tb_cli_model_pull(tb_cli *cli, int argc, char **argv);

#endif

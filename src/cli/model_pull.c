/*
 * model_pull.c -- `tastebud model pull [options] ORG/NAME`.
 *
 * Endpoint precedence: --endpoint, then the hf_endpoint setting when it was
 * set in the config file or as TASTEBUD_HF_ENDPOINT, then $HF_ENDPOINT (the
 * variable huggingface_hub uses), then https://huggingface.co. A progress
 * bar per file goes to stderr; the model directory is printed on stdout so
 * scripts can use it.
 */
#include "model_pull.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "model/pull.h"

typedef struct pull_ui {
    double started;
    bool quiet;
} pull_ui;

static void ui_progress(void *ud, const char *file, uint64_t done, uint64_t total)
{
    pull_ui *u = ud;
    if (!u->quiet && total > 0)
        tb_cli_progress(file, (size_t)done, (size_t)total, u->started);
}

static void ui_note(void *ud, const char *file, const char *what, uint64_t size)
{
    pull_ui *u = ud;
    u->started = tb_mono();
    if (u->quiet)
        return;
    if (!strcmp(what, "skip"))
        fprintf(stderr, "%s: up to date (%llu bytes)\n", file, (unsigned long long)size);
    else if (!strcmp(what, "resume"))
        fprintf(stderr, "%s: resuming\n", file);
}

static void pull_usage(FILE *out)
{
    fprintf(out,
            "usage: tastebud model pull [options] ORG/NAME\n\n"
            "Download a sentence-transformers model (config, safetensors weights, tokenizer,\n"
            "pooling) from the Hugging Face Hub into <data_dir>/models/ORG--NAME.\n"
            "Interrupted downloads resume; LFS files are checked against their SHA-256.\n\n"
            "options:\n"
            "  --endpoint URL    Hub endpoint (default: hf_endpoint setting, $HF_ENDPOINT,\n"
            "                    https://huggingface.co)\n"
            "  --revision REV    branch, tag or commit (default main)\n"
            "  -q, --quiet       no progress output\n"
            "  -h, --help        this help\n\n"
            "$HF_TOKEN, when set, is sent as a bearer token (for gated models).\n");
}

int tb_cli_model_pull(tb_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"revision", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *endpoint = NULL, *revision = NULL;
    pull_ui ui = {.started = tb_mono()};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'r': revision = optarg; break;
        case 'q': ui.quiet = true; break;
        case 'h': pull_usage(stdout); return 0;
        default: return tb_cli_usage(cli, "model pull: unknown option");
        }
    }
    if (optind != argc - 1)
        return tb_cli_usage(cli, "model pull: expected one repository name ORG/NAME");
    const char *repo = argv[optind];
    if (!tb_pull_repo_valid(repo))
        return tb_cli_usage(cli, "model pull: \"%s\" is not of the form ORG/NAME", repo);
    if (!endpoint && cli->conf) {
        const char *src = tb_config_source(cli->conf, "hf_endpoint");
        if (src && strcmp(src, "default") != 0)
            endpoint = tb_config_get(cli->conf, "hf_endpoint");
    }
    if (!endpoint && !getenv("HF_ENDPOINT") && cli->conf)
        endpoint = tb_config_get(cli->conf, "hf_endpoint");
    char *models = tb_path_join(cli->data_dir ? cli->data_dir : "./data", "models");
    char *name = tb_pull_dir_name(repo);
    char *dest = tb_path_join(models, name);
    struct tb_pull_opts o = {.endpoint = endpoint, .revision = revision,
                             .progress = ui_progress, .progress_ud = &ui, .note = ui_note};
    tb_err err = {0};
    int rc = tb_model_pull(repo, dest, &o, &err);
    if (rc == 0) {
        if (!ui.quiet)
            fprintf(stderr, "pulled %s into %s\n", repo, dest);
        printf("%s\n", dest);
    }
    free(models);
    free(name);
    free(dest);
    return rc == 0 ? 0 : tb_cli_fail_err(cli, &err);
}

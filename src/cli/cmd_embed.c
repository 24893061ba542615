/*
 * cmd_embed.c -- `tastebud embed`: text in, vectors out.
 *
 * Texts are the arguments (one text each) or, with none, the lines of
 * stdin, embedded in batches of 256 so a large file streams through with
 * bounded memory. Plain output is one line of space-separated numbers per
 * text; --json prints one JSON object per line with the model id.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define BATCH 256

static void print_vec(const char *model_id, const char *text, const float *v, size_t d, int json)
{
    tb_buf b = {0};
    if (json) {
        tb_buf_puts(&b, "{\"model\":");
        tb_buf_json_str(&b, model_id);
        tb_buf_puts(&b, ",\"text\":");
        tb_buf_json_str(&b, text);
        tb_buf_puts(&b, ",\"vector\":[");
    }
    for (size_t i = 0; i < d; i++)
        tb_buf_printf(&b, "%s%.6g", i ? (json ? "," : " ") : "", (double)v[i]);
    if (json)
        tb_buf_puts(&b, "]}");
    tb_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    tb_buf_free(&b);
}

static int flush_batch(tb_cli *cli, tb_model *m, char **texts, size_t n, int kind, int json,
                       float *out)
{
    tb_err err = {0};
    if (tb_model_embed_kind(m, (const char *const *)texts, n, kind, out, &err) != 0)
        return tb_cli_fail_err(cli, &err);
    size_t d = tb_model_dim(m);
    for (size_t i = 0; i < n; i++)
        print_vec(tb_model_id(m), texts[i], out + i * d, d, json);
    return 0;
}

TB_COMMAND(embed, "turn text into embedding vectors")
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"query", no_argument, NULL, 'Q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL;
    int json = 0, kind = TB_EMBED_DOCUMENT, c;
    while ((c = getopt_long(argc, argv, "m:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'j': json = 1; break;
        case 'Q': kind = TB_EMBED_QUERY; break;
        case 'h':
            printf("usage: tastebud embed [--model M] [--json] [--query] [TEXT...]\n\n"
                   "Print the embedding of each TEXT (or of each line of stdin when no TEXT\n"
                   "is given), one vector per line. --json prints {\"model\",\"text\",\"vector\"}\n"
                   "objects instead. --query embeds as a search query (models with prompts).\n"
                   "Without --model the `model` setting, else the default model (%s).\n",
                   TB_DEFAULT_MODEL);
            return 0;
        default:
            return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
        }
    }
    tb_model *m = tb_cli_model(cli, model);
    if (!m)
        return 1;
    size_t d = tb_model_dim(m);
    float *out = tb_malloc(BATCH * d * sizeof *out);
    int rc = 0;
    if (optind < argc) {
        for (int i = optind; i < argc && rc == 0; i += BATCH) {
            size_t n = (size_t)TB_MIN(BATCH, argc - i);
            rc = flush_batch(cli, m, argv + i, n, kind, json, out);
        }
    } else {
        char *texts[BATCH];
        size_t n = 0;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            texts[n++] = tb_strdup(line);
            if (n == BATCH) {
                rc = flush_batch(cli, m, texts, n, kind, json, out);
                for (size_t i = 0; i < n; i++)
                    free(texts[i]);
                n = 0;
            }
        }
        if (rc == 0 && n)
            rc = flush_batch(cli, m, texts, n, kind, json, out);
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
        free(line);
    }
    free(out);
    return rc;
}

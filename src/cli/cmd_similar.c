/*
 * cmd_similar.c -- `tastebud similar`: the items of a JSONL file closest to
 * a query, by cosine similarity of their embeddings.
 *
 * Each line of the items file is a JSON object; "id" (string or number),
 * "title" and "text" are used (also "description" or "body" when "text" is
 * absent). Item text = title + ". " + text. All items are embedded, the
 * query is embedded as a query, and the k best are printed.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct item {
    char *id, *title, *text;
    float score;
} item;

static int by_score(const void *a, const void *b)
{
    const item *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

static char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return tb_strdup(json_string_value(v));
    if (json_is_integer(v))
        return tb_asprintf("%lld", (long long)json_integer_value(v));
    return NULL;
}

static int load_items(tb_cli *cli, const char *path, item **out, size_t *n)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return tb_cli_fail(cli, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0, lineno = 0, cnt = 0, icap = 0;
    ssize_t len;
    item *items = NULL;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(o)) {
            rc = tb_cli_fail(cli, "%s:%zu: not a JSON object (%s)", path, lineno,
                             o ? "wrong type" : je.text);
            json_decref(o);
            break;
        }
        if (cnt == icap) {
            icap = icap ? icap * 2 : 256;
            items = tb_realloc(items, icap * sizeof *items);
        }
        item *it = &items[cnt++];
        it->id = jstr(o, "id");
        if (!it->id)
            it->id = tb_asprintf("%zu", lineno);
        it->title = jstr(o, "title");
        char *body = jstr(o, "text");
        if (!body)
            body = jstr(o, "description");
        if (!body)
            body = jstr(o, "body");
        it->text = tb_asprintf("%s%s%s", it->title ? it->title : "",
                               it->title && body ? ". " : "", body ? body : "");
        free(body);
        json_decref(o);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    *out = items;
    *n = cnt;
    return rc;
}

TB_COMMAND(similar, "rank the items of a JSONL file by similarity to a query")
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"items", required_argument, NULL, 'i'},
                                         {"k", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL, *items_path = NULL;
    int64_t k = 10;
    int c;
    while ((c = getopt_long(argc, argv, "m:i:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': items_path = optarg; break;
        case 'k':
            if (tb_parse_i64(optarg, &k) != 0 || k < 1)
                return tb_cli_usage(cli, "-k needs a positive number, not '%s'", optarg);
            break;
        case 'h':
            printf("usage: tastebud similar [--model M] --items FILE.jsonl [-k 10] QUERY...\n\n"
                   "Embed every item of FILE.jsonl (objects with id, title, text) and the\n"
                   "QUERY, and print the k items with the highest cosine similarity:\n"
                   "rank, score, id, title. FILE may be - for stdin.\n");
            return 0;
        default:
            return tb_cli_usage(cli, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!items_path)
        return tb_cli_usage(cli, "--items FILE.jsonl is required");
    if (optind >= argc)
        return tb_cli_usage(cli, "a QUERY is required");
    tb_buf q = {0};
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            tb_buf_putc(&q, ' ');
        tb_buf_puts(&q, argv[i]);
    }
    tb_model *m = tb_cli_model(cli, model);
    if (!m) {
        tb_buf_free(&q);
        return 1;
    }
    item *items = NULL;
    size_t n = 0;
    int rc = load_items(cli, items_path, &items, &n);
    size_t d = tb_model_dim(m);
    float *qv = tb_malloc(d * sizeof *qv);
    float *iv = tb_malloc((n ? n : 1) * d * sizeof *iv);
    const char **texts = tb_malloc((n ? n : 1) * sizeof *texts);
    for (size_t i = 0; i < n; i++)
        texts[i] = items[i].text;
    tb_err err = {0};
    const char *qt = q.data;
    if (rc == 0 && (tb_model_embed_kind(m, &qt, 1, TB_EMBED_QUERY, qv, &err) != 0 ||
                    tb_model_embed_kind(m, texts, n, TB_EMBED_DOCUMENT, iv, &err) != 0))
        rc = tb_cli_fail_err(cli, &err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            items[i].score = tb_dot(qv, iv + i * d, d);
        qsort(items, n, sizeof *items, by_score);
        for (size_t i = 0; i < n && i < (size_t)k; i++)
            printf("%zu\t%.4f\t%s\t%s\n", i + 1, (double)items[i].score, items[i].id,
                   items[i].title ? items[i].title : items[i].text);
    }
    for (size_t i = 0; i < n; i++) {
        free(items[i].id);
        free(items[i].title);
        free(items[i].text);
    }
    free(items);
    free(texts);
    free(qv);
    free(iv);
    tb_buf_free(&q);
    return rc;
}

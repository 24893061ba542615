/*
 * embed_static.c -- speed of the static embedding model.
 *
 *   build/bench/embed_static [--model M] [--data-dir DIR] [--csv FILE] [--seconds S]
 *
 * Embeds every AG News test item (title + ". " + description; 7,600 items,
 * ~40 words each) from ../shared/data/ag_news/test.csv with the default
 * model, on one thread and on all threads (tb_pool), repeating passes for
 * at least S seconds (default 3). Also reports model open time (best of 5)
 * and peak RSS. Skips with a message when the data or the model is absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "model/model.h"
#include "tastebud.h"
#include "util/util.h"

#define CHUNK 256

/* Parse one CSV field starting at *p ("..." with "" escapes, or bare). */
static char *csv_field(const char **p)
{
    tb_buf b = {0};
    const char *s = *p;
    if (*s == '"') {
        s++;
        for (;;) {
            if (!*s)
                break;
            if (*s == '"') {
                if (s[1] == '"') {
                    tb_buf_putc(&b, '"');
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            tb_buf_putc(&b, *s++);
        }
    } else {
        while (*s && *s != ',' && *s != '\n' && *s != '\r')
            tb_buf_putc(&b, *s++);
    }
    if (*s == ',')
        s++;
    *p = s;
    tb_buf_puts(&b, "");
    return tb_buf_steal(&b);
}

typedef struct job {
    tb_model *m;
    const char **texts;
    size_t n;
    float *out;
    int failed;
} job;

static void run_chunk(void *ctx, size_t i)
{
    job *j = ctx;
    size_t b = i * CHUNK, n = TB_MIN(CHUNK, j->n - b);
    if (tb_model_embed(j->m, j->texts + b, n, j->out + b * tb_model_dim(j->m), NULL) != 0)
        j->failed = 1;
}

int main(int argc, char **argv)
{
    const char *model = TB_DEFAULT_MODEL, *csv = "../shared/data/ag_news/test.csv";
    const char *data_dir = getenv("TASTEBUD_DATA_DIR") ? getenv("TASTEBUD_DATA_DIR") : "./data";
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--data-dir")) data_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--csv")) csv = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    }
    tb_buf file = {0};
    tb_err err = {0};
    if (tb_read_file(csv, &file, 0, &err) != 0) {
        printf("embed_static: SKIP: %s (AG News test.csv not found)\n", err.msg);
        return 0;
    }
    /* Items: class, title, description. */
    size_t cap = 8192, n = 0, words = 0;
    char **texts = tb_malloc(cap * sizeof *texts);
    const char *p = file.data;
    while (p && *p) {
        free(csv_field(&p));
        char *title = csv_field(&p), *desc = csv_field(&p);
        while (*p == '\r' || *p == '\n')
            p++;
        if (n == cap)
            texts = tb_realloc(texts, (cap *= 2) * sizeof *texts);
        texts[n] = tb_asprintf("%s. %s", title, desc);
        for (const char *c = texts[n]; *c; c++)
            words += (*c == ' ' && c[1] != ' ');
        n++;
        free(title);
        free(desc);
    }
    double best_open = 1e9;
    tb_model *m = NULL;
    for (int r = 0; r < 5; r++) {
        double t0 = tb_mono();
        tb_model *x = tb_model_open(model, data_dir, &err);
        double t = tb_mono() - t0;
        if (!x) {
            printf("embed_static: SKIP: %s\n", err.msg);
            return 0;
        }
        if (t < best_open)
            best_open = t;
        if (m)
            tb_model_close(m);
        m = x;
    }
    size_t d = tb_model_dim(m);
    float *out = tb_malloc(n * d * sizeof *out);
    printf("model %s (%zu dims), %zu AG News items, %.1f words/item\n", tb_model_id(m), d, n,
           (double)(words + n) / (double)n);
    printf("model open (best of 5):   %.3f s\n", best_open);

    /* One thread. */
    size_t done = 0;
    double t0 = tb_mono();
    while (tb_mono() - t0 < seconds) {
        for (size_t b = 0; b < n; b += CHUNK) {
            if (tb_model_embed(m, (const char *const *)texts + b, TB_MIN(CHUNK, n - b),
                               out + b * d, &err) != 0) {
                printf("embed failed: %s\n", err.msg);
                return 1;
            }
        }
        done += n;
    }
    double el = tb_mono() - t0;
    double one = (double)done / el;
    printf("1 thread:                 %.0f items/s (%.2f us/item)\n", one, 1e6 / one);

    /* All threads. */
    /* tb_pool_new(n) counts the calling thread as one of the n. */
    tb_pool *pool = tb_pool_new(tb_ncpu());
    job j = {m, (const char **)texts, n, out, 0};
    done = 0;
    t0 = tb_mono();
    while (tb_mono() - t0 < seconds) {
        tb_pool_for(pool, (n + CHUNK - 1) / CHUNK, run_chunk, &j);
        done += n;
    }
    el = tb_mono() - t0;
    double all = (double)done / el;
    printf("%d threads (tb_pool):      %.0f items/s (x%.2f)\n", tb_pool_size(pool), all,
           all / one);
    if (j.failed)
        printf("warning: some batches failed\n");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS:                 %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    printf("target: >= 150000 items/s on 1 thread: %s; open < 0.3 s: %s\n",
           one >= 150000 ? "met" : "NOT met", best_open < 0.3 ? "met" : "NOT met");
    tb_pool_free(pool);
    tb_model_close(m);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(out);
    tb_buf_free(&file);
    return 0;
}

/*
 * encoder.c -- sentences per second of the BERT encoder, fp32 and int8.
 *
 *   build/bench/encoder [MODEL_DIR] [--threads N] [--quant f32|int8|both] [--n COUNT]
 *                       [--shapes 1x64,32x64,32x128]
 *
 * MODEL_DIR defaults to build/models/minilm, a random-weight model of
 * all-MiniLM-L6-v2's shape that scripts/bench-encoder writes with
 * ../shared/peers/make_bert.py (the same file the ONNX Runtime and PyTorch
 * peers time). For each shape "BxT" it embeds fixed random token rows (B
 * rows of T ids, like the peers) until COUNT sentences are done, after one
 * warm-up batch, and prints one line per run:
 *
 *   tastebud-f32 threads=2 batch=32 seq=64 sentences_per_s=123.4
 *
 * plus the model's load time and the process's peak RSS. Without the model
 * it says how to make one and exits 0 (so `make bench` passes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model/bert.h"
#include "model/model.h"
#include "model/q8.h"
#include "util/util.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run(tb_model *m, const char *label, int threads, int B, int T, int count, int vocab)
{
    int32_t *ids = tb_malloc((size_t)B * (size_t)T * sizeof(int32_t));
    const int32_t **rows = tb_malloc((size_t)B * sizeof *rows);
    size_t *lens = tb_malloc((size_t)B * sizeof *lens);
    float *out = tb_malloc((size_t)B * m->dim * sizeof(float));
    tb_rng rng;
    tb_rng_seed(&rng, 1);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++)
            ids[b * T + t] = 1000 + (int32_t)tb_rng_below(&rng, (uint64_t)(vocab - 1000));
        rows[b] = ids + b * T;
        lens[b] = (size_t)T;
    }
    tb_err err;
    if (tb_bert_embed_ids(m, rows, lens, (size_t)B, out, &err) < 0) {
        fprintf(stderr, "encoder: %s\n", err.msg);
        exit(1);
    }
    int done = 0;
    double t0 = tb_mono(), c0 = cpu_s();
    while (done < count) {
        tb_bert_embed_ids(m, rows, lens, (size_t)B, out, &err);
        done += B;
    }
    double dt = tb_mono() - t0, dc = cpu_s() - c0;
    /* per CPU-second too: on a shared machine it moves less than wall time */
    printf("%s threads=%d batch=%d seq=%d sentences_per_s=%.1f sentences_per_cpu_s=%.1f\n",
           label, threads, B, T, done / dt, done / dc);
    fflush(stdout);
    free(ids);
    free(rows);
    free(lens);
    free(out);
}

/* Cosine between int8 and fp32 embeddings of 64 random rows of 8..128
 * tokens: the quality cost of int8 on this model. */
static void int8_cosine(const char *dir, int threads)
{
    enum { R = 64, MAXT = 128 };
    struct tb_bert_opts of = {.quantize = TB_BERT_F32, .threads = threads};
    struct tb_bert_opts oq = {.quantize = TB_BERT_INT8, .threads = threads};
    tb_err err;
    tb_model *f = tb_bert_open(dir, &of, &err), *q = f ? tb_bert_open(dir, &oq, &err) : NULL;
    if (!f || !q) {
        fprintf(stderr, "encoder: %s\n", err.msg);
        exit(1);
    }
    static int32_t ids[R][MAXT];
    const int32_t *rows[R];
    size_t lens[R];
    tb_rng rng;
    tb_rng_seed(&rng, 2);
    int vocab = tb_bert_model_config(f)->vocab_size;
    for (int r = 0; r < R; r++) {
        lens[r] = 8 + tb_rng_below(&rng, MAXT - 8);
        ids[r][0] = 101;
        for (size_t t = 1; t < lens[r]; t++)
            ids[r][t] = 1000 + (int32_t)tb_rng_below(&rng, (uint64_t)(vocab - 1000));
        ids[r][lens[r] - 1] = 102;
        rows[r] = ids[r];
    }
    size_t D = f->dim;
    float *a = tb_malloc(R * D * sizeof(float)), *b = tb_malloc(R * D * sizeof(float));
    if (tb_bert_embed_ids(f, rows, lens, R, a, &err) < 0 ||
        tb_bert_embed_ids(q, rows, lens, R, b, &err) < 0) {
        fprintf(stderr, "encoder: %s\n", err.msg);
        exit(1);
    }
    double mn = 1, sum = 0;
    for (int r = 0; r < R; r++) {
        double c = tb_dot(a + r * D, b + r * D, D); /* both unit length */
        mn = c < mn ? c : mn;
        sum += c;
    }
    printf("# int8_vs_f32_cosine rows=%d min=%.5f mean=%.5f\n", R, mn, sum / R);
    free(a);
    free(b);
    f->ops->close(f);
    q->ops->close(q);
}

int main(int argc, char **argv)
{
    const char *dir = "build/models/minilm", *quant = "both", *shapes = "1x64,32x64,32x128";
    int threads = 2, count = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quant") && i + 1 < argc)
            quant = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc)
            shapes = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: encoder [MODEL_DIR] [--threads N] [--quant f32|int8|both] "
                            "[--n COUNT] [--shapes 1x64,32x64]\n");
            return 2;
        } else
            dir = argv[i];
    }
    if (!tb_bert_probe(dir)) {
        printf("encoder: no BERT model at %s; make one with scripts/bench-encoder "
               "(or: /usr/bin/python3 ../shared/peers/make_bert.py %s)\n", dir, dir);
        return 0;
    }
    for (int qm = 0; qm < 2; qm++) {
        if ((qm == 0 && !strcmp(quant, "int8")) || (qm == 1 && !strcmp(quant, "f32")))
            continue;
        struct tb_bert_opts o = {.quantize = qm ? TB_BERT_INT8 : TB_BERT_F32, .threads = threads};
        tb_err err;
        double t0 = tb_mono();
        tb_model *m = tb_bert_open(dir, &o, &err);
        if (!m) {
            fprintf(stderr, "encoder: %s\n", err.msg);
            return 1;
        }
        double load = tb_mono() - t0;
        char *d = m->ops->describe(m);
        for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n"))
            if (tb_str_starts(line, "shape") || tb_str_starts(line, "compute"))
                printf("# %s\n", line);
        printf("# load_s=%.3f\n", load);
        free(d);
        const char *label = qm ? "tastebud-int8" : "tastebud-f32";
        char *sh = tb_strdup(shapes), *save = NULL;
        for (char *tok = strtok_r(sh, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int B = 0, T = 0;
            if (sscanf(tok, "%dx%d", &B, &T) != 2 || B < 1 || T < 1) {
                fprintf(stderr, "encoder: bad shape %s\n", tok);
                return 2;
            }
            if (B > 32) {
                /* max_batch is fixed at open; reopen for larger batches */
                fprintf(stderr, "encoder: batch %d over 32 not supported here\n", B);
                return 2;
            }
            run(m, label, threads, B, T, count, tb_bert_model_config(m)->vocab_size);
        }
        free(sh);
        m->ops->close(m);
    }
    if (!strcmp(quant, "both"))
        int8_cosine(dir, threads);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("# peak_rss_mb=%.1f\n", ru.ru_maxrss / 1024.0);
    return 0;
}

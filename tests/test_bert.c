/*
 * test_bert.c -- the BERT encoder against an independent PyTorch reference.
 *
 * Fixtures (tests/fixtures/bert-tiny*, made by scripts/make-bert-fixture):
 * random-weight 2-layer models (mean pooling, cls pooling, BF16 weights under
 * "bert." names) with rows of token ids (ids.txt), the reference embedding
 * of every row (ref.txt, ../shared/peers/bert_ref.py) and texts whose ids
 * are the last rows. Every vector must match with max abs error < 1e-4 and
 * cosine > 0.99999, whatever the batch size, thread count or mix of lengths.
 * int8 mode must stay above cosine 0.99 to fp32. Broken configs and weight
 * files are built in a temporary copy of a fixture and must fail with a
 * message naming the problem.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/bert.h"
#include "model/f32gemm.h"
#include "model/model.h"
#include "model/q8.h"
#include "model/vecmath.h"
#include "model/vecmath512.h"
#include "util/util.h"

#define MAXROWS 64
#define MAXLEN 256

typedef struct fixture {
    int n;                       /* rows */
    int32_t ids[MAXROWS][MAXLEN];
    size_t len[MAXROWS];
    float ref[MAXROWS][64];
    int dim;
    char texts[16][256];
    int ntexts;
} fixture;

static fixture fx;

static void load_fixture(const char *dir)
{
    memset(&fx, 0, sizeof fx);
    char p[512];
    snprintf(p, sizeof p, "%s/ids.txt", dir);
    FILE *f = fopen(p, "r");
    cr_assert(f, "missing %s (run scripts/make-bert-fixture)", p);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *s = line, *end;
        int k = 0;
        for (long v = strtol(s, &end, 10); end != s; v = strtol(s, &end, 10)) {
            fx.ids[fx.n][k++] = (int32_t)v;
            s = end;
        }
        fx.len[fx.n++] = (size_t)k;
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/ref.txt", dir);
    f = fopen(p, "r");
    cr_assert(f);
    for (int r = 0; r < fx.n; r++) {
        cr_assert(fgets(line, sizeof line, f));
        char *s = line, *end;
        int k = 0;
        for (float v = strtof(s, &end); end != s; v = strtof(s, &end)) {
            fx.ref[r][k++] = v;
            s = end;
        }
        fx.dim = k;
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/texts.txt", dir);
    f = fopen(p, "r");
    cr_assert(f);
    while (fx.ntexts < 16 && fgets(fx.texts[fx.ntexts], 256, f)) {
        fx.texts[fx.ntexts][strcspn(fx.texts[fx.ntexts], "\n")] = 0;
        fx.ntexts++;
    }
    fclose(f);
}

static tb_model *open_model(const char *dir, int quant, int threads, size_t max_batch)
{
    struct tb_bert_opts o = {.quantize = quant, .threads = threads, .max_batch = max_batch};
    tb_err err = {0};
    tb_model *m = tb_bert_open(dir, &o, &err);
    cr_assert(m, "open %s: %s", dir, err.msg);
    return m;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static void expect_close(const float *got, const float *ref, size_t n, const char *what, int row)
{
    double maxerr = 0;
    for (size_t i = 0; i < n; i++)
        maxerr = fmax(maxerr, fabs((double)got[i] - ref[i]));
    double c = cosine(got, ref, n);
    cr_expect(maxerr < 1e-4, "%s row %d: max abs error %g", what, row, maxerr);
    cr_expect(c > 0.99999, "%s row %d: cosine %.7f", what, row, c);
}

/* All rows in one call, then one row per call, then the rows in reverse in
 * groups of 5: every layout must give the reference vectors. */
static void check_fidelity(const char *dir, int threads, size_t max_batch)
{
    load_fixture(dir);
    tb_model *m = open_model(dir, TB_BERT_F32, threads, max_batch);
    cr_assert_eq(m->dim, (size_t)fx.dim);
    const int32_t *rows[MAXROWS];
    for (int r = 0; r < fx.n; r++)
        rows[r] = fx.ids[r];
    static float out[MAXROWS * 64];
    tb_err err = {0};
    cr_assert_eq(tb_bert_embed_ids(m, rows, fx.len, (size_t)fx.n, out, &err), 0, "%s", err.msg);
    for (int r = 0; r < fx.n; r++)
        expect_close(out + r * fx.dim, fx.ref[r], (size_t)fx.dim, "batched", r);
    for (int r = 0; r < fx.n; r++) {
        cr_assert_eq(tb_bert_embed_ids(m, rows + r, fx.len + r, 1, out, &err), 0, "%s", err.msg);
        expect_close(out, fx.ref[r], (size_t)fx.dim, "single", r);
    }
    for (int r0 = fx.n; r0 > 0; r0 -= 5) {
        int a = r0 - 5 < 0 ? 0 : r0 - 5;
        const int32_t *rr[5];
        size_t ll[5];
        for (int r = a; r < r0; r++) {
            rr[r0 - 1 - r] = fx.ids[r];
            ll[r0 - 1 - r] = fx.len[r];
        }
        cr_assert_eq(tb_bert_embed_ids(m, rr, ll, (size_t)(r0 - a), out, &err), 0);
        for (int r = a; r < r0; r++)
            expect_close(out + (r0 - 1 - r) * fx.dim, fx.ref[r], (size_t)fx.dim, "reversed", r);
    }
    /* texts through the tokenizer: their ids are the last rows */
    const char *texts[16];
    for (int t = 0; t < fx.ntexts; t++)
        texts[t] = fx.texts[t];
    cr_assert(fx.ntexts > 0);
    cr_assert_eq(m->ops->embed(m, texts, (size_t)fx.ntexts, TB_EMBED_DOCUMENT, out, &err), 0,
                 "%s", err.msg);
    for (int t = 0; t < fx.ntexts; t++)
        expect_close(out + t * fx.dim, fx.ref[fx.n - fx.ntexts + t], (size_t)fx.dim, "text", t);
    m->ops->close(m);
}

Test(bert, mean_pooling_matches_reference)
{
    check_fidelity("tests/fixtures/bert-tiny", 1, 32);
    check_fidelity("tests/fixtures/bert-tiny", 2, 32);
    check_fidelity("tests/fixtures/bert-tiny", 2, 3);
}

Test(bert, cls_pooling_matches_reference)
{
    check_fidelity("tests/fixtures/bert-tiny-cls", 2, 32);
    check_fidelity("tests/fixtures/bert-tiny-cls", 1, 1);
}

Test(bert, bf16_prefixed_weights_match_reference)
{
    check_fidelity("tests/fixtures/bert-tiny-bf16", 2, 8);
}

Test(bert, int8_close_to_fp32)
{
    load_fixture("tests/fixtures/bert-tiny");
    tb_model *f = open_model("tests/fixtures/bert-tiny", TB_BERT_F32, 2, 32);
    tb_model *q = open_model("tests/fixtures/bert-tiny", TB_BERT_INT8, 2, 32);
    const int32_t *rows[MAXROWS];
    for (int r = 0; r < fx.n; r++)
        rows[r] = fx.ids[r];
    static float a[MAXROWS * 64], b[MAXROWS * 64];
    tb_err err = {0};
    cr_assert_eq(tb_bert_embed_ids(f, rows, fx.len, (size_t)fx.n, a, &err), 0);
    cr_assert_eq(tb_bert_embed_ids(q, rows, fx.len, (size_t)fx.n, b, &err), 0, "%s", err.msg);
    double worst = 1, maxdiff = 0;
    for (int r = 0; r < fx.n; r++) {
        worst = fmin(worst, cosine(a + r * fx.dim, b + r * fx.dim, (size_t)fx.dim));
        for (int i = 0; i < fx.dim; i++)
            maxdiff = fmax(maxdiff, fabs(a[r * fx.dim + i] - b[r * fx.dim + i]));
    }
    cr_expect(worst > 0.99, "int8 cosine to fp32 %.5f", worst);
    cr_expect(maxdiff > 0, "int8 gave bit-identical vectors: not quantised?");
    char *d = q->ops->describe(q);
    cr_expect(strstr(d, "int8"), "%s", d);
    free(d);
    f->ops->close(f);
    q->ops->close(q);
}

/* Every int8 kernel the CPU has must equal the exact integer result. */
Test(bert, q8_kernels_exact)
{
    enum { M = 13, N = 37, K = 50 };
    static float w[N * K], x[M * K], bias[N], y[M * N];
    tb_rng rng;
    tb_rng_seed(&rng, 5);
    for (int i = 0; i < N * K; i++)
        w[i] = (float)tb_rng_normal(&rng);
    for (int i = 0; i < M * K; i++)
        x[i] = (float)tb_rng_normal(&rng) * 3;
    for (int i = 0; i < N; i++)
        bias[i] = (float)i;
    tb_q8_matrix q;
    tb_q8_pack(&q, w, N, K);
    int8_t xq[M * 52], xk[M * 52];
    float sx[M];
    cr_assert_eq(tb_q8_select("generic"), 0);
    tb_q8_quantize_rows(x, K, M, K, xq, q.k_pad, sx);
    const char *names[] = {"generic", "avx2", "avx512vnni"};
    int tried = 0;
    for (size_t kk = 0; kk < 3; kk++) {
        if (tb_q8_select(names[kk]) < 0)
            continue;
        tried++;
        memset(y, 0, sizeof y);
        tb_q8_quantize_rows(x, K, M, K, xk, q.k_pad, sx);
        /* in two column ranges, to cover partial blocks */
        tb_q8_gemm(xk, sx, 0, M, &q, 0, 16, bias, y, N);
        tb_q8_gemm(xk, sx, 0, M, &q, 16, N, bias, y, N);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                int32_t acc = 0;
                for (int c = 0; c < K; c++) {
                    float inv = q.scale[j] > 0 ? 1.0f / q.scale[j] : 0;
                    float v = w[j * K + c] * inv;
                    int wq = (int)(v + (v >= 0 ? 0.5f : -0.5f));
                    acc += xq[i * q.k_pad + c] * wq;
                }
                float want = sx[i] * q.scale[j] * (float)acc + bias[j];
                cr_assert_float_eq(y[i * N + j], want, 1e-3f * (1 + fabsf(want)),
                                   "%s: y[%d][%d] = %f, want %f", names[kk], i, j, y[i * N + j], want);
                /* and within the rounding bound of the float product:
                 * each x is off by at most sx/2, each w by sw/2 */
                float fl = bias[j], bound = 0;
                for (int c = 0; c < K; c++) {
                    fl += x[i * K + c] * w[j * K + c];
                    bound += 0.5f * sx[i] * (fabsf(w[j * K + c]) + 0.5f * q.scale[j]) +
                             0.5f * q.scale[j] * fabsf(x[i * K + c]);
                }
                cr_assert(fabsf(fl - want) <= bound * 1.001f + 1e-4f, "%s: %f vs float %f (bound %f)",
                          names[kk], want, fl, bound);
            }
    }
    cr_assert(tried >= 1);
    tb_q8_free(&q);
    tb_q8_select(names[0]);
    tb_q8_select(getenv("TASTEBUD_Q8_KERNEL") ? getenv("TASTEBUD_Q8_KERNEL") : "avx512vnni");
}

/* ---------------------------------------------------------------- options */

/* A scratch copy of a fixture: symlinks to every file, so a test can replace
 * one. Returns the directory (caller frees after rm_tree). */
static char *scratch_copy(const char *src)
{
    char tmpl[] = "/tmp/tb-bert-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "modules.json", "sentence_bert_config.json"};
    char cwd[1024];
    cr_assert(getcwd(cwd, sizeof cwd));
    for (size_t i = 0; i < TB_ARRAY_LEN(files); i++) {
        char *from = tb_asprintf("%s/%s/%s", cwd, src, files[i]);
        char *to = tb_asprintf("%s/%s", tmpl, files[i]);
        cr_assert_eq(symlink(from, to), 0);
        free(from);
        free(to);
    }
    char *pd = tb_asprintf("%s/1_Pooling", tmpl);
    cr_assert_eq(mkdir(pd, 0700), 0);
    char *from = tb_asprintf("%s/%s/1_Pooling/config.json", cwd, src);
    char *to = tb_asprintf("%s/config.json", pd);
    cr_assert_eq(symlink(from, to), 0);
    free(from);
    free(to);
    free(pd);
    return tb_strdup(tmpl);
}

static void rm_tree(char *dir)
{
    char *cmd = tb_asprintf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

static void put(const char *dir, const char *name, const char *text)
{
    char *p = tb_path_join(dir, name);
    unlink(p);
    cr_assert_eq(tb_write_file(p, text, strlen(text), NULL), 0);
    free(p);
}

Test(bert, prompts_per_kind)
{
    char *d = scratch_copy("tests/fixtures/bert-tiny");
    put(d, "config_sentence_transformers.json", "{\"prompts\": {\"query\": \"query: \"}}");
    tb_model *m = open_model(d, TB_BERT_F32, 1, 32);
    const char *x = "ab cd", *qx = "query: ab cd";
    float a[32], b[32], c[32];
    tb_err err;
    cr_assert_eq(m->ops->embed(m, &x, 1, TB_EMBED_QUERY, a, &err), 0);
    cr_assert_eq(m->ops->embed(m, &qx, 1, TB_EMBED_DOCUMENT, b, &err), 0);
    cr_assert_eq(m->ops->embed(m, &x, 1, TB_EMBED_DOCUMENT, c, &err), 0);
    cr_expect(memcmp(a, b, sizeof a) == 0, "query prompt not prepended");
    cr_expect(cosine(a, c, 32) < 0.9999, "query and document gave the same vector");
    m->ops->close(m);
    rm_tree(d);
}

Test(bert, truncation_to_max_seq)
{
    tb_model *m = open_model("tests/fixtures/bert-tiny", TB_BERT_F32, 1, 32);
    cr_assert_eq(tb_bert_model_config(m)->max_seq, 64); /* max_position_embeddings */
    int32_t row[100];
    for (int i = 0; i < 100; i++)
        row[i] = 104 + (i * 7) % 400;
    const int32_t *rows[1] = {row};
    size_t full = 100, cut = 64;
    float a[32], b[32];
    tb_err err;
    cr_assert_eq(tb_bert_embed_ids(m, rows, &full, 1, a, &err), 0, "%s", err.msg);
    cr_assert_eq(tb_bert_embed_ids(m, rows, &cut, 1, b, &err), 0);
    cr_expect(memcmp(a, b, sizeof a) == 0);
    m->ops->close(m);
    struct tb_bert_opts o = {.max_seq = 16, .threads = 1};
    m = tb_bert_open("tests/fixtures/bert-tiny", &o, &err);
    cr_assert(m);
    cut = 16;
    cr_assert_eq(tb_bert_embed_ids(m, rows, &full, 1, a, &err), 0);
    cr_assert_eq(tb_bert_embed_ids(m, rows, &cut, 1, b, &err), 0);
    cr_expect(memcmp(a, b, sizeof a) == 0);
    m->ops->close(m);
}

Test(bert, bad_token_ids_refused)
{
    tb_model *m = open_model("tests/fixtures/bert-tiny", TB_BERT_F32, 1, 32);
    int32_t row[3] = {101, 600, 102};
    const int32_t *rows[1] = {row};
    size_t n = 3, zero = 0;
    float out[32];
    tb_err err = {0};
    cr_assert_eq(tb_bert_embed_ids(m, rows, &n, 1, out, &err), -1);
    cr_expect(strstr(err.msg, "outside the vocabulary"), "%s", err.msg);
    cr_assert_eq(tb_bert_embed_ids(m, rows, &zero, 1, out, &err), -1);
    cr_expect(strstr(err.msg, "no tokens"), "%s", err.msg);
    m->ops->close(m);
}

Test(bert, probe)
{
    cr_expect_eq(tb_bert_probe("tests/fixtures/bert-tiny"), 1);
    cr_expect_eq(tb_bert_probe("tests/fixtures"), 0);
    cr_expect_eq(tb_bert_probe("/nonexistent"), 0);
}

/* ---------------------------------------------------------------- errors */

static void expect_open_fails(const char *dir, const char *needle)
{
    tb_err err = {0};
    tb_model *m = tb_bert_open(dir, NULL, &err);
    cr_expect_null(m, "opened a broken model (wanted: %s)", needle);
    if (m)
        m->ops->close(m);
    cr_expect(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

static const char *good_config =
    "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\", \"vocab_size\": 600,"
    " \"hidden_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"intermediate_size\": 64, \"hidden_act\": \"gelu\", \"max_position_embeddings\": 64,"
    " \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12}";

static char *with(const char *key, const char *value)
{
    /* good_config with one "key": value replaced (or added) */
    char *pat = tb_asprintf("\"%s\":", key);
    const char *p = strstr(good_config, pat);
    char *out;
    if (p) {
        const char *v = p + strlen(pat);
        const char *e = v;
        int depth = 0;
        while (*e && (depth || (*e != ',' && *e != '}'))) {
            if (*e == '[')
                depth++;
            if (*e == ']')
                depth--;
            e++;
        }
        out = tb_asprintf("%.*s %s%s", (int)(v - good_config), good_config, value, e);
    } else {
        out = tb_asprintf("{\"%s\": %s, %s", key, value, good_config + 1);
    }
    free(pat);
    return out;
}

Test(bert, config_errors)
{
    struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"num_attention_heads", "5", "does not divide hidden_size"},
        {"model_type", "\"roberta\"", "model_type \"roberta\" is not supported"},
        {"architectures", "[\"NomicBertModel\"]", "architecture NomicBertModel"},
        {"hidden_act", "\"relu\"", "hidden_act relu"},
        {"hidden_size", "-3", "\"hidden_size\" = -3 is out of range"},
        {"hidden_size", "\"32\"", "\"hidden_size\" must be an integer"},
        {"position_embedding_type", "\"relative_key\"", "position_embedding_type"},
        {"layer_norm_eps", "0", "layer_norm_eps"},
    };
    tb_bert_config cfg;
    for (size_t i = 0; i < TB_ARRAY_LEN(cases); i++) {
        char *j = with(cases[i].key, cases[i].value);
        tb_err err = {0};
        cr_expect_eq(tb_bert_config_parse(j, strlen(j), &cfg, &err), -1, "accepted %s", j);
        cr_expect(strstr(err.msg, cases[i].needle), "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                  cases[i].needle);
        free(j);
    }
    tb_err err = {0};
    cr_assert_eq(tb_bert_config_parse(good_config, strlen(good_config), &cfg, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(cfg.hidden, 32);
    cr_expect_eq(cfg.heads, 4);
    cr_expect_float_eq(cfg.eps, 1e-12f, 1e-18f);
    cr_expect_eq(tb_bert_config_parse("{\"vocab_size\":", 14, &cfg, &err), -1);
    cr_expect(strstr(err.msg, "invalid JSON"), "%s", err.msg);
    const char *nohidden = "{\"model_type\": \"bert\", \"vocab_size\": 5}";
    cr_expect_eq(tb_bert_config_parse(nohidden, strlen(nohidden), &cfg, &err), -1);
    cr_expect(strstr(err.msg, "missing \"hidden_size\""), "%s", err.msg);
}

Test(bert, pooling_config)
{
    tb_bert_config cfg = {0};
    tb_err err = {0};
    const char *two = "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}";
    cr_expect_eq(tb_bert_pooling_parse(two, strlen(two), &cfg, &err), -1);
    cr_expect(strstr(err.msg, "several pooling modes"), "%s", err.msg);
    const char *wm = "{\"pooling_mode_weightedmean_tokens\": true}";
    cr_expect_eq(tb_bert_pooling_parse(wm, strlen(wm), &cfg, &err), -1);
    cr_expect(strstr(err.msg, "not supported"), "%s", err.msg);
    const char *none = "{\"pooling_mode_cls_token\": false}";
    cr_expect_eq(tb_bert_pooling_parse(none, strlen(none), &cfg, &err), -1);
    const char *mx = "{\"pooling_mode_max_tokens\": true}";
    cr_expect_eq(tb_bert_pooling_parse(mx, strlen(mx), &cfg, &err), 0);
    cr_expect_eq(cfg.pooling, TB_POOL_MAX);
    const char *sq = "{\"pooling_mode_mean_sqrt_len_tokens\": true}";
    cr_expect_eq(tb_bert_pooling_parse(sq, strlen(sq), &cfg, &err), 0);
    cr_expect_eq(cfg.pooling, TB_POOL_MEAN_SQRT_LEN);
}

Test(bert, broken_model_dirs)
{
    char *d = scratch_copy("tests/fixtures/bert-tiny");
    /* heads not dividing hidden */
    char *j = with("num_attention_heads", "3");
    put(d, "config.json", j);
    free(j);
    expect_open_fails(d, "does not divide");
    /* config wider than the weights */
    j = with("hidden_size", "64");
    put(d, "config.json", j);
    free(j);
    expect_open_fails(d, "tensor \"embeddings.word_embeddings.weight\" has shape [600, 32], expected [600, 64]");
    /* more layers than the file has */
    j = with("num_hidden_layers", "3");
    put(d, "config.json", j);
    free(j);
    expect_open_fails(d, "missing tensor \"encoder.layer.2.attention.self.query.weight\"");
    put(d, "config.json", good_config);
    /* unknown module */
    put(d, "modules.json", "[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": \"\"},"
                          " {\"type\": \"sentence_transformers.models.LSTM\", \"path\": \"1_LSTM\"}]");
    expect_open_fails(d, "module type sentence_transformers.models.LSTM is not supported");
    put(d, "modules.json", "[]");
    /* a weights file with one tensor */
    static const char hdr[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    char file[8 + sizeof hdr - 1 + 4];
    uint64_t n = sizeof hdr - 1;
    memcpy(file, &n, 8);
    memcpy(file + 8, hdr, n);
    memset(file + 8 + n, 0, 4);
    char *p = tb_path_join(d, "model.safetensors");
    unlink(p);
    cr_assert_eq(tb_write_file(p, file, sizeof file, NULL), 0);
    expect_open_fails(d, "missing tensor \"embeddings.word_embeddings.weight\"");
    /* truncated weights */
    cr_assert_eq(tb_write_file(p, file, 12, NULL), 0);
    expect_open_fails(d, "model.safetensors");
    free(p);
    /* no config at all */
    p = tb_path_join(d, "config.json");
    unlink(p);
    free(p);
    expect_open_fails(d, "config.json: not found");
    rm_tree(d);
}

/* The public API: tb_model_open finds the BERT loader; TASTEBUD_QUANTIZE. */
Test(bert, through_tb_model_open)
{
    load_fixture("tests/fixtures/bert-tiny");
    tb_err err = {0};
    tb_model *m = tb_model_open("tests/fixtures/bert-tiny", NULL, &err);
    cr_assert(m, "%s", err.msg);
    cr_expect_eq(tb_model_dim(m), 32);
    cr_expect(tb_str_starts(tb_model_id(m), "bert:bert-tiny:"), "%s", tb_model_id(m));
    const char *texts[16];
    for (int t = 0; t < fx.ntexts; t++)
        texts[t] = fx.texts[t];
    static float out[16 * 32];
    cr_assert_eq(tb_model_embed(m, texts, (size_t)fx.ntexts, out, &err), 0, "%s", err.msg);
    for (int t = 0; t < fx.ntexts; t++)
        expect_close(out + t * 32, fx.ref[fx.n - fx.ntexts + t], 32, "tb_model_embed", t);
    tb_model_close(m);
    setenv("TASTEBUD_QUANTIZE", "int8", 1);
    m = tb_model_open("tests/fixtures/bert-tiny", NULL, &err);
    unsetenv("TASTEBUD_QUANTIZE");
    cr_assert(m, "%s", err.msg);
    cr_expect(tb_str_starts(tb_model_id(m), "bert-int8:"), "%s", tb_model_id(m));
    tb_model_close(m);
}

/* Found by fuzz_bert_config: an eps that rounds to 0 in float32. */
Test(bert, tiny_eps_refused)
{
    char *j = with("layer_norm_eps", "1e-172");
    tb_bert_config cfg;
    tb_err err = {0};
    cr_expect_eq(tb_bert_config_parse(j, strlen(j), &cfg, &err), -1);
    cr_expect(strstr(err.msg, "layer_norm_eps"), "%s", err.msg);
    free(j);
}

/* int8 results must not depend on how the work is cut: 1 thread vs 2,
 * one batch vs one row at a time, and every kernel the CPU has (integer
 * dot products are exact; only the float epilogue may round differently).
 * (A row-stride bug in the quantised-activation buffer once showed up only
 * when a layer was split into several chunks.) */
Test(bert, int8_independent_of_chunking_and_kernel)
{
    load_fixture("tests/fixtures/bert-tiny");
    const int32_t *rows[MAXROWS];
    for (int r = 0; r < fx.n; r++)
        rows[r] = fx.ids[r];
    static float ref[MAXROWS * 32], out[MAXROWS * 32];
    tb_err err = {0};
    cr_assert_eq(tb_q8_select("generic"), 0);
    tb_model *m = open_model("tests/fixtures/bert-tiny", TB_BERT_INT8, 1, 1);
    for (int r = 0; r < fx.n; r++)
        cr_assert_eq(tb_bert_embed_ids(m, rows + r, fx.len + r, 1, ref + r * 32, &err), 0);
    m->ops->close(m);
    const char *names[] = {"generic", "avx2", "avx512vnni"};
    for (size_t k = 0; k < 3; k++) {
        if (tb_q8_select(names[k]) < 0)
            continue;
        for (int threads = 1; threads <= 2; threads++) {
            m = open_model("tests/fixtures/bert-tiny", TB_BERT_INT8, threads, 32);
            cr_assert_eq(tb_bert_embed_ids(m, rows, fx.len, (size_t)fx.n, out, &err), 0);
            for (int i = 0; i < fx.n * 32; i++)
                cr_assert(fabsf(out[i] - ref[i]) < 1e-5f, "%s, %d threads: [%d] %g vs %g",
                          names[k], threads, i, out[i], ref[i]);
            m->ops->close(m);
        }
    }
    if (tb_q8_select("avx512vnni") < 0 && tb_q8_select("avx2") < 0)
        tb_q8_select("generic");
}

/* 2_Dense: a Dense layer that keeps the first 16 of 32 dimensions (identity
 * block, zero bias) must give the reference vector's first 16 components,
 * renormalised. */
Test(bert, dense_module)
{
    load_fixture("tests/fixtures/bert-tiny");
    char *d = scratch_copy("tests/fixtures/bert-tiny");
    put(d, "modules.json",
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
        "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"},"
        "{\"idx\":3,\"name\":\"3\",\"path\":\"3_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]");
    char *dd = tb_path_join(d, "2_Dense");
    cr_assert_eq(mkdir(dd, 0700), 0);
    put(dd, "config.json",
        "{\"in_features\": 32, \"out_features\": 16, \"bias\": true,"
        " \"activation_function\": \"torch.nn.modules.linear.Identity\"}");
    /* safetensors: linear.weight [16][32] then linear.bias [16] */
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"linear.weight\":{\"dtype\":\"F32\",\"shape\":[16,32],\"data_offsets\":[0,2048]},"
                      "\"linear.bias\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[2048,2112]}}");
    while (hl % 8)
        hdr[hl++] = ' ';
    size_t total = 8 + (size_t)hl + 2112;
    char *file = tb_calloc(1, total);
    uint64_t n = (uint64_t)hl;
    memcpy(file, &n, 8);
    memcpy(file + 8, hdr, (size_t)hl);
    float *w = (float *)(void *)(file + 8 + hl);
    for (int i = 0; i < 16; i++)
        w[i * 32 + i] = 1.0f;
    char *p = tb_path_join(dd, "model.safetensors");
    cr_assert_eq(tb_write_file(p, file, total, NULL), 0);
    free(p);
    free(file);
    tb_model *m = open_model(d, TB_BERT_F32, 2, 32);
    cr_assert_eq(m->dim, 16);
    const int32_t *rows[MAXROWS];
    for (int r = 0; r < fx.n; r++)
        rows[r] = fx.ids[r];
    static float out[MAXROWS * 16];
    tb_err err;
    cr_assert_eq(tb_bert_embed_ids(m, rows, fx.len, (size_t)fx.n, out, &err), 0, "%s", err.msg);
    for (int r = 0; r < fx.n; r++) {
        float want[16];
        memcpy(want, fx.ref[r], sizeof want);
        tb_l2_normalize(want, 16);
        expect_close(out + r * 16, want, 16, "dense", r);
    }
    char *desc = m->ops->describe(m);
    cr_expect(strstr(desc, "dense"), "%s", desc);
    free(desc);
    m->ops->close(m);
    /* an unsupported activation is refused */
    put(dd, "config.json",
        "{\"in_features\": 32, \"out_features\": 16, \"activation_function\": \"torch.nn.GELU\"}");
    expect_open_fails(d, "Dense activation torch.nn.GELU is not supported");
    free(dd);
    rm_tree(d);
}

/* The AMX kernel against the exact integer product and, bit for bit,
 * against avx512vnni (the two share the epilogue), over sizes that cover
 * every tail: rows around the 16- and 32-row tiles, k below 64, at 64 and
 * with a tail of 4 to 60 bytes past the last 64, outputs that leave one
 * 16-column tile or a partial one, and sub-ranges of rows and outputs as
 * the threaded layers ask for. Skipped where the CPU or kernel has no AMX. */
Test(bert, q8_amx_kernel_exact)
{
    if (tb_q8_select("amx") < 0) {
        tb_q8_select(getenv("TASTEBUD_Q8_KERNEL") ? getenv("TASTEBUD_Q8_KERNEL") : "avx512vnni");
        cr_skip_test("no AMX-INT8 on this CPU (or the kernel refused the tile state)");
    }
    static const int Ms[] = {1, 15, 16, 17, 31, 32, 33, 48, 70};
    static const int Ks[] = {4, 50, 64, 68, 130, 252, 384};
    static const int Ns[] = {1, 16, 17, 37, 64, 96};
    enum { MAXM = 70, MAXK = 384, MAXN = 96 };
    static float w[MAXN * MAXK], x[MAXM * MAXK], bias[MAXN], ya[MAXM * MAXN], yv[MAXM * MAXN];
    static int8_t xq[MAXM * MAXK];
    static float sx[MAXM];
    tb_rng rng;
    tb_rng_seed(&rng, 11);
    for (int i = 0; i < MAXN * MAXK; i++)
        w[i] = (float)tb_rng_normal(&rng);
    for (int i = 0; i < MAXM * MAXK; i++)
        x[i] = (float)tb_rng_normal(&rng) * 2;
    for (int i = 0; i < MAXN; i++)
        bias[i] = (float)i * 0.25f;
    int cases = 0;
    for (size_t a = 0; a < TB_ARRAY_LEN(Ms); a++)
        for (size_t b = 0; b < TB_ARRAY_LEN(Ks); b++)
            for (size_t c = 0; c < TB_ARRAY_LEN(Ns); c++) {
                int M = Ms[a], K = Ks[b], N = Ns[c];
                tb_q8_matrix q;
                tb_q8_pack(&q, w, N, K);
                int kp = q.k_pad, k4n = kp / 4;
                cr_assert_eq(tb_q8_select("amx"), 0);
                tb_q8_quantize_rows(x, K, M, K, xq, kp, sx);
                /* sub-ranges: all, then rows from 3 and outputs from 16 */
                for (int sub = 0; sub < 2; sub++) {
                    int m0 = sub ? TB_MIN(3, M - 1) : 0, n0 = sub && N > 16 ? 16 : 0;
                    for (size_t i = 0; i < TB_ARRAY_LEN(ya); i++)
                        ya[i] = yv[i] = -999.0f;
                    cr_assert_eq(tb_q8_select("amx"), 0);
                    tb_q8_gemm(xq, sx, m0, M, &q, n0, N, bias, ya, N);
                    cr_assert_eq(tb_q8_select("avx512vnni"), 0);
                    tb_q8_gemm(xq, sx, m0, M, &q, n0, N, bias, yv, N);
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            float got = ya[i * N + j];
                            if (i < m0 || j < n0) {
                                cr_assert_eq(got, -999.0f, "M%d K%d N%d: wrote outside [%d][%d]",
                                             M, K, N, i, j);
                                continue;
                            }
                            int32_t acc = 0;
                            for (int t = 0; t < K; t++) {
                                int xv = (int8_t)(xq[i * kp + t] ^ (int8_t)0x80);
                                int wv = q.w[(size_t)(j / 16) * (size_t)k4n * 64 +
                                             (size_t)(t / 4) * 64 + (size_t)(j % 16) * 4 +
                                             (size_t)(t % 4)];
                                acc += xv * wv;
                            }
                            float want = sx[i] * q.scale[j] * (float)acc + bias[j];
                            cr_assert_float_eq(got, want, 1e-4f * (1 + fabsf(want)),
                                               "M%d K%d N%d sub%d: y[%d][%d] = %f, want %f", M,
                                               K, N, sub, i, j, got, want);
                            cr_assert_eq(got, yv[i * N + j], "M%d K%d N%d: amx %f vs vnni %f", M,
                                         K, N, got, yv[i * N + j]);
                        }
                    cases++;
                }
                tb_q8_free(&q);
            }
    cr_assert_eq(cases, (int)(TB_ARRAY_LEN(Ms) * TB_ARRAY_LEN(Ks) * TB_ARRAY_LEN(Ns)) * 2);
    tb_q8_select(getenv("TASTEBUD_Q8_KERNEL") ? getenv("TASTEBUD_Q8_KERNEL") : "avx512vnni");
}

/* A whole int8 model gives the same vectors with the AMX kernel as with
 * avx512vnni (exact integer products; the epilogue is shared), with one
 * and two threads. */
Test(bert, int8_amx_same_as_vnni)
{
    if (tb_q8_select("amx") < 0)
        cr_skip_test("no AMX-INT8 on this CPU (or the kernel refused the tile state)");
    load_fixture("tests/fixtures/bert-tiny");
    const int32_t *rows[MAXROWS];
    for (int r = 0; r < fx.n; r++)
        rows[r] = fx.ids[r];
    static float ref[MAXROWS * 32], out[MAXROWS * 32];
    tb_err err = {0};
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(tb_q8_select("avx512vnni"), 0);
        tb_model *m = open_model("tests/fixtures/bert-tiny", TB_BERT_INT8, threads, 32);
        cr_assert_eq(tb_bert_embed_ids(m, rows, fx.len, (size_t)fx.n, ref, &err), 0);
        m->ops->close(m);
        cr_assert_eq(tb_q8_select("amx"), 0);
        m = open_model("tests/fixtures/bert-tiny", TB_BERT_INT8, threads, 32);
        cr_assert_eq(tb_bert_embed_ids(m, rows, fx.len, (size_t)fx.n, out, &err), 0);
        m->ops->close(m);
        for (int i = 0; i < fx.n * 32; i++)
            cr_assert(fabsf(out[i] - ref[i]) < 1e-6f, "%d threads: [%d] %g vs %g", threads, i,
                      out[i], ref[i]);
    }
    tb_q8_select(getenv("TASTEBUD_Q8_KERNEL") ? getenv("TASTEBUD_Q8_KERNEL") : "amx");
}

/* The AVX-512 element-wise kernels against the vecmath.h versions, for
 * every length from 0 to 80 (all 16-lane tails) and a long row: the
 * quantiser byte for byte with the same scale, GELU and softmax to 2e-6. */
Test(bert, vecmath512_matches_vecmath)
{
    if (!tb_vm512_available())
        cr_skip_test("no AVX-512 on this CPU");
    enum { MAXN = 1536 };
    static float src[MAXN], a[MAXN], b[MAXN];
    static int8_t qa[MAXN + 64], qb[MAXN + 64];
    tb_rng rng;
    tb_rng_seed(&rng, 21);
    for (int i = 0; i < MAXN; i++)
        src[i] = (float)tb_rng_normal(&rng) * (i % 7 == 0 ? 6.0f : 1.5f);
    src[3] = 0.0f;
    src[5] = -20.0f;
    src[9] = 30.0f;
    int lens[82];
    for (int n = 0; n <= 80; n++)
        lens[n] = n;
    lens[81] = MAXN;
    for (size_t t = 0; t < TB_ARRAY_LEN(lens); t++) {
        int n = lens[t];
        memcpy(a, src, sizeof a);
        memcpy(b, src, sizeof b);
        tb_vm_gelu(a, (size_t)n);
        tb_vm512_gelu(b, (size_t)n);
        for (int i = 0; i < MAXN; i++)
            cr_assert(fabsf(a[i] - b[i]) <= 2e-6f * (1 + fabsf(a[i])), "gelu n=%d [%d]: %g vs %g",
                      n, i, b[i], a[i]);
        memcpy(a, src, sizeof a);
        memcpy(b, src, sizeof b);
        tb_vm_softmax(a, (size_t)n, 0.3f);
        tb_vm512_softmax(b, (size_t)n, 0.3f);
        for (int i = 0; i < MAXN; i++)
            cr_assert(fabsf(a[i] - b[i]) <= 2e-6f * (1 + fabsf(a[i])),
                      "softmax n=%d [%d]: %g vs %g", n, i, b[i], a[i]);
        for (int flip = 0; flip <= 1; flip++) {
            int8_t fl = flip ? (int8_t)0x80 : 0;
            int kp = (n + 3) / 4 * 4;
            memset(qa, 0x55, sizeof qa);
            memset(qb, 0x55, sizeof qb);
            float sa = tb_vm_absmax(src, (size_t)n) / 127.0f, sb = -1;
            tb_vm_quantize(src, (size_t)n, sa > 0 ? 1.0f / sa : 0.0f, qa, fl);
            for (int c = n; c < kp; c++)
                qa[c] = fl;
            tb_vm512_quantize_rows(src, n, 1, n, qb, kp, &sb, fl);
            cr_assert_eq(sa, sb, "n=%d: scale %g vs %g", n, sb, sa);
            cr_assert(memcmp(qa, qb, sizeof qa) == 0, "quantize n=%d flip=%d differs", n, flip);
        }
    }
    /* several rows with a stride: each row as on its own */
    float sx[3];
    tb_vm512_quantize_rows(src, 100, 3, 77, qb, 80, sx, 0);
    for (int r = 0; r < 3; r++) {
        float s = tb_vm_absmax(src + 100 * r, 77) / 127.0f;
        cr_assert_eq(sx[r], s);
        tb_vm_quantize(src + 100 * r, 77, 1.0f / s, qa, 0);
        cr_assert(memcmp(qa, qb + 80 * r, 77) == 0, "row %d", r);
        for (int c = 77; c < 80; c++)
            cr_assert_eq(qb[80 * r + c], 0);
    }
}

/* Every fp32 kernel the CPU has against a double-precision product, over
 * sizes that leave every kind of tail: rows around the 8-row tile, outputs
 * that end inside a 16-wide vector or leave one or two vectors of the
 * 48-wide strip, K below, at and across the 128 block, with and without
 * bias, padded row strides, and row/column sub-ranges as the threaded
 * layers ask for. Nothing outside the asked range may be written. */
Test(bert, f32_kernels_match_reference)
{
    static const int Ms[] = {1, 7, 8, 9, 17, 64};
    static const int Ks[] = {1, 5, 32, 127, 128, 129, 300};
    static const int Ns[] = {1, 15, 16, 17, 33, 48, 49, 64, 100};
    enum { MAXM = 64, MAXK = 300, MAXN = 100, LDX = MAXK + 3, LDY = MAXN + 5 };
    static float w[MAXN * MAXK], x[MAXM * LDX], bias[MAXN], y[MAXM * LDY];
    tb_rng rng;
    tb_rng_seed(&rng, 31);
    for (int i = 0; i < MAXN * MAXK; i++)
        w[i] = (float)tb_rng_normal(&rng);
    for (int i = 0; i < MAXM * LDX; i++)
        x[i] = (float)tb_rng_normal(&rng);
    for (int i = 0; i < MAXN; i++)
        bias[i] = (float)tb_rng_normal(&rng);
    const char *names[] = {"avx512", "avx2"};
    int tried = 0;
    for (size_t kk = 0; kk < TB_ARRAY_LEN(names); kk++) {
        if (tb_f32_select(names[kk]) < 0)
            continue;
        tried++;
        for (size_t a = 0; a < TB_ARRAY_LEN(Ms); a++)
            for (size_t b = 0; b < TB_ARRAY_LEN(Ks); b++)
                for (size_t c = 0; c < TB_ARRAY_LEN(Ns); c++) {
                    int M = Ms[a], K = Ks[b], N = Ns[c];
                    tb_f32_matrix p;
                    tb_f32_pack(&p, w, N, K);
                    for (int sub = 0; sub < 2; sub++) {
                        int m0 = sub ? M / 3 : 0, n0 = sub && N > 16 ? 16 : 0;
                        const float *bb = sub ? NULL : bias;
                        for (size_t i = 0; i < TB_ARRAY_LEN(y); i++)
                            y[i] = -999.0f;
                        tb_f32_gemm(x, LDX, m0, M, &p, n0, N, bb, y, LDY);
                        for (int i = 0; i < MAXM; i++)
                            for (int j = 0; j < LDY; j++) {
                                float got = y[i * LDY + j];
                                if (i < m0 || i >= M || j < n0 || j >= N) {
                                    cr_assert_eq(got, -999.0f,
                                                 "%s M%d K%d N%d: wrote y[%d][%d]", names[kk],
                                                 M, K, N, i, j);
                                    continue;
                                }
                                double want = bb ? bb[j] : 0, mag = fabs(want);
                                for (int t = 0; t < K; t++) {
                                    want += (double)x[i * LDX + t] * w[j * K + t];
                                    mag += fabs((double)x[i * LDX + t] * w[j * K + t]);
                                }
                                cr_assert(fabs(got - want) <= 1e-6 * mag + 1e-6,
                                          "%s M%d K%d N%d sub%d: y[%d][%d] = %.7g, want %.7g",
                                          names[kk], M, K, N, sub, i, j, got, want);
                            }
                    }
                    tb_f32_free(&p);
                }
    }
    if (tb_f32_available())
        cr_assert(tried >= 1);
    if (tb_f32_select("avx512") < 0)
        tb_f32_select("avx2");
}

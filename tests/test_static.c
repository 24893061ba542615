/*
 * test_static.c -- static models: loading, SIF pooling, common component,
 * model dispatch, the importer.
 *
 * Each test builds a tiny model directory under /tmp: 5 words x 4 dims.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "model/static.h"
#include "util/util.h"

#define D 4
static const char *WORDS[] = {"the", "cat", "dog", "sandwich", "burger", "[UNK]"};
static const float VEC[6][D] = {
    {0.1f, 0.2f, 0.3f, 0.4f}, {1, 0, 0, 0}, {0.9f, 0.1f, 0, 0},
    {0, 0, 1, 0},             {0, 0, 0.9f, 0.1f}, {0, 0, 0, 0},
};

static char dir[64];

static void write_file(const char *name, const void *data, size_t n)
{
    char *p = tb_path_join(dir, name);
    tb_err err = {0};
    cr_assert_eq(tb_write_file(p, data, n, &err), 0, "%s", err.msg);
    free(p);
}

/* model.safetensors with embeddings in dtype (F32 or F16), optional weights. */
static void make_model(tb_dtype dt, const float *weights)
{
    snprintf(dir, sizeof dir, "/tmp/tb_static_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    size_t esz = dt == TB_DT_F32 ? 4 : 2, nb = 6 * D * esz;
    tb_buf h = {0};
    tb_buf_printf(&h, "{\"embeddings\":{\"dtype\":\"%s\",\"shape\":[6,%d],\"data_offsets\":[0,%zu]}",
                  tb_dtype_name(dt), D, nb);
    if (weights)
        tb_buf_printf(&h, ",\"weights\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[%zu,%zu]}",
                      nb, nb + 24);
    tb_buf_putc(&h, '}');
    while ((8 + h.len) % 8)
        tb_buf_putc(&h, ' ');
    tb_buf f = {0};
    uint64_t hl = h.len;
    tb_buf_append(&f, &hl, 8);
    tb_buf_append(&f, h.data, h.len);
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < D; c++) {
            if (dt == TB_DT_F32) {
                tb_buf_append(&f, &VEC[r][c], 4);
            } else {
                uint16_t x = tb_f32_to_f16(VEC[r][c]);
                tb_buf_append(&f, &x, 2);
            }
        }
    if (weights)
        tb_buf_append(&f, weights, 24);
    write_file("model.safetensors", f.data, f.len);
    tb_buf t = {0};
    tb_buf_puts(&t, "{\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":"
                    "\"Whitespace\"},\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\","
                    "\"vocab\":{");
    for (int i = 0; i < 6; i++)
        tb_buf_printf(&t, "%s\"%s\":%d", i ? "," : "", WORDS[i], i);
    tb_buf_puts(&t, "}}}");
    write_file("tokenizer.json", t.data, t.len);
    write_file("config.json", "{\"model_type\":\"static\"}", 23);
    tb_buf_free(&h);
    tb_buf_free(&f);
    tb_buf_free(&t);
}

static void cleanup(void)
{
    if (!dir[0])
        return;
    const char *files[] = {"model.safetensors", "tokenizer.json", "config.json", TB_COMMON_FILE,
                           "vocab.txt"};
    for (size_t i = 0; i < TB_ARRAY_LEN(files); i++) {
        char *p = tb_path_join(dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    dir[0] = 0;
}

static tb_model *open_ok(void)
{
    tb_err err = {0};
    tb_model *m = tb_model_open(dir, NULL, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

static void embed1(tb_model *m, const char *text, float *out)
{
    tb_err err = {0};
    cr_assert_eq(tb_model_embed(m, &text, 1, out, &err), 0, "%s", err.msg);
}

/* Zipf SIF weight of rank r in a vocabulary of v rows (the documented rule). */
static float sif(size_t r, size_t v)
{
    double h = 0;
    for (size_t k = 1; k <= v; k++)
        h += 1.0 / (double)k;
    double p = 1.0 / ((double)(r + 1) * h);
    return (float)(1e-3 / (1e-3 + p));
}

Test(static_model, single_word_is_its_unit_vector, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_model *m = open_ok();
    cr_expect_eq(tb_model_dim(m), D);
    cr_expect(tb_str_starts(tb_model_id(m), "static:tb_static_"), "%s", tb_model_id(m));
    float v[D];
    embed1(m, "DOG", v);
    float n = sqrtf(0.81f + 0.01f);
    cr_expect_float_eq(v[0], 0.9f / n, 1e-5);
    cr_expect_float_eq(v[1], 0.1f / n, 1e-5);
    cr_expect_float_eq(v[2], 0.0f, 1e-6);
    tb_model_close(m);
}

Test(static_model, sif_weighted_mean, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_model *m = open_ok();
    float v[D], want[D] = {0};
    embed1(m, "the cat, sandwich!", v);
    /* ranks: the 0, cat 1, sandwich 3; punctuation is unknown and skipped */
    size_t ids[] = {0, 1, 3};
    for (size_t i = 0; i < 3; i++)
        for (int c = 0; c < D; c++)
            want[c] += sif(ids[i], 6) * VEC[ids[i]][c];
    tb_l2_normalize(want, D);
    for (int c = 0; c < D; c++)
        cr_expect_float_eq(v[c], want[c], 1e-5, "dim %d: %f vs %f", c, v[c], want[c]);
    /* "the" (most frequent) weighs much less than "cat". */
    cr_expect(sif(0, 6) < sif(1, 6));
    tb_model_close(m);
}

Test(static_model, unknown_words_and_empty, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_model *m = open_ok();
    float v[D];
    embed1(m, "zebra giraffe ...", v);
    for (int c = 0; c < D; c++)
        cr_expect_eq(v[c], 0.0f);
    embed1(m, "", v);
    cr_expect_eq(tb_dot(v, v, D), 0.0f);
    float w[D];
    embed1(m, "zebra cat giraffe", v);
    embed1(m, "cat", w);
    cr_expect_float_eq(tb_dot(v, w, D), 1.0f, 1e-6);
    tb_model_close(m);
}

Test(static_model, f16_matches_f32, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_model *a = open_ok();
    float x[D], y[D];
    embed1(a, "the burger and the dog", x);
    tb_model_close(a);
    cleanup();
    make_model(TB_DT_F16, NULL);
    tb_model *b = open_ok();
    embed1(b, "the burger and the dog", y);
    for (int c = 0; c < D; c++)
        cr_expect_float_eq(x[c], y[c], 2e-3);
    tb_model_close(b);
}

Test(static_model, weights_tensor_overrides_zipf, .fini = cleanup)
{
    float w[6] = {0, 1, 1, 0, 0, 0}; /* only cat and dog count */
    make_model(TB_DT_F32, w);
    tb_model *m = open_ok();
    float v[D], want[D] = {1.9f, 0.1f, 0, 0};
    embed1(m, "the cat dog sandwich", v);
    tb_l2_normalize(want, D);
    for (int c = 0; c < D; c++)
        cr_expect_float_eq(v[c], want[c], 1e-5);
    char *desc = tb_model_describe(m);
    cr_expect(strstr(desc, "weights tensor") != NULL, "%s", desc);
    free(desc);
    tb_model_close(m);
}

Test(static_model, common_component, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_model *m = open_ok();
    const char *texts[] = {"cat dog", "cat", "dog cat the", "sandwich cat", "burger dog cat"};
    tb_err err = {0};
    cr_assert_eq(tb_static_learn_common(m, texts, 5, &err), 0, "%s", err.msg);
    char *p = tb_path_join(dir, TB_COMMON_FILE);
    cr_expect(tb_path_exists(p));
    /* The component is dominated by the cat/dog axis, so "cat" loses most of
     * its first coordinate. */
    tb_safetensors *st = tb_st_open(p, &err);
    cr_assert_not_null(st, "%s", err.msg);
    float u[D];
    tb_st_to_f32(tb_st_find(st, "common_component"), u);
    tb_st_close(st);
    cr_expect(fabsf(u[0]) > 0.8f && fabsf(u[0]) > fabsf(u[2]), "u = %f %f %f %f", u[0], u[1], u[2], u[3]);
    float v[D];
    embed1(m, "cat dog", v);
    cr_expect_float_eq(tb_dot(v, u, D), 0.0f, 1e-5, "vector keeps the common direction");
    tb_model_close(m);
    /* Reopened, the model still removes it. */
    m = open_ok();
    embed1(m, "dog burger", v);
    cr_expect_float_eq(tb_dot(v, u, D), 0.0f, 1e-5);
    char *desc = tb_model_describe(m);
    cr_expect(strstr(desc, "removed") != NULL);
    free(desc);
    cr_assert_eq(tb_static_forget_common(m, &err), 0);
    cr_expect(!tb_path_exists(p));
    embed1(m, "cat", v);
    cr_expect_float_eq(v[0], 1.0f, 1e-6);
    cr_expect_eq(tb_static_learn_common(m, texts, 1, &err), -1);
    free(p);
    tb_model_close(m);
}

Test(static_model, dispatch_errors, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    tb_err err = {0};
    /* Name lookup in <data_dir>/models. */
    char *parent = tb_strdup(dir);
    *strrchr(parent, '/') = 0;
    cr_expect_null(tb_model_open("no-such-model", parent, &err));
    cr_expect_eq(err.code, TB_ENOTFOUND);
    cr_expect(strstr(err.msg, "fetch-default-model") != NULL, "%s", err.msg);
    cr_expect_null(tb_model_open("/nonexistent/dir", NULL, &err));
    free(parent);
    char cache[256];
    tb_model_cache_dir("/x/y", cache, sizeof cache);
    cr_expect_str_eq(cache, "/x/y/models");
    /* A BERT config goes to the encoder's loader, which names what is missing. */
    write_file("config.json", "{\"model_type\":\"bert\"}", 21);
    cr_expect_null(tb_model_open(dir, NULL, &err));
    cr_expect(strstr(err.msg, "config.json: missing \"vocab_size\"") != NULL, "%s", err.msg);
    /* No embeddings tensor: not a model. */
    write_file("config.json", "{}", 2);
    write_file("model.safetensors", "\x02\0\0\0\0\0\0\0{}", 10);
    cr_expect_null(tb_model_open(dir, NULL, &err));
    cr_expect(strstr(err.msg, "not a model directory") != NULL, "%s", err.msg);
}

Test(static_model, tokenizer_bigger_than_table, .fini = cleanup)
{
    make_model(TB_DT_F32, NULL);
    const char *tj = "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{"
                     "\"[UNK]\":0,\"a\":1,\"b\":99}}}";
    write_file("tokenizer.json", tj, strlen(tj));
    tb_err err = {0};
    cr_expect_null(tb_model_open(dir, NULL, &err));
    cr_expect(strstr(err.msg, "only 6 rows") != NULL, "%s", err.msg);
}

Test(static_model, import_glove_roundtrip, .fini = cleanup)
{
    snprintf(dir, sizeof dir, "/tmp/tb_static_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char src[96];
    snprintf(src, sizeof src, "%s.txt", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs("the 0.1 0.2 0.3 0.4\ncat 1 0 0 0\ncat 5 5 5 5\nnew york 0 1 0 0\n", f);
    fclose(f);
    tb_err err = {0};
    cr_assert_eq(tb_import_glove(src, dir, NULL, NULL, &err), 0, "%s", err.msg);
    tb_model *m = open_ok();
    cr_expect_eq(tb_model_dim(m), 4);
    float v[D];
    embed1(m, "CAT", v); /* the first "cat" wins over the repeat */
    cr_expect_float_eq(v[0], 1.0f, 1e-3);
    tb_model_close(m);
    /* wink-style JSON */
    f = fopen(src, "w");
    fputs("{\"precision\":8,\"dimensions\":2,\"words\":[\"a\",\"b\"],\"vectors\":{\"a\":[1,0,1,0],"
          "\"b\\u00e9\":[0,2,2,1]},\"unkVector\":[0,0]}",
          f);
    fclose(f);
    cr_assert_eq(tb_import_glove(src, dir, NULL, NULL, &err), 0, "%s", err.msg);
    m = open_ok();
    cr_expect_eq(tb_model_dim(m), 2);
    float w[2];
    embed1(m, "B\xc3\x89", w);
    cr_expect_float_eq(w[1], 1.0f, 1e-3);
    tb_model_close(m);
    /* Broken inputs name the problem. */
    f = fopen(src, "w");
    fputs("{\"dimensions\":2,\"vectors\":{\"a\":[1]}}", f);
    fclose(f);
    cr_expect_eq(tb_import_glove(src, dir, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "has 1 values") != NULL, "%s", err.msg);
    f = fopen(src, "w");
    fputs("{\"vectors\":{\"a\":[1]}}", f);
    fclose(f);
    cr_expect_eq(tb_import_glove(src, dir, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "before \"dimensions\"") != NULL, "%s", err.msg);
    f = fopen(src, "w");
    fputs("a 1 2\nb 1\n", f);
    fclose(f);
    cr_expect_eq(tb_import_glove(src, dir, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
    unlink(src);
}

/*
 * static.c -- sentence vectors from static word vectors (model2vec layout).
 *
 * A sentence vector is the SIF average of its tokens' vectors (Arora, Liang,
 * Ma 2017, "A simple but tough-to-beat baseline for sentence embeddings"):
 *
 *     v = sum_t  a / (a + p(t)) * E[t]      (unknown tokens skipped)
 *     v = v - (v . u) u                     (if a common component u is learned)
 *     v = v / |v|
 *
 * p(t) is the token's unigram probability. Most word-vector files carry no
 * counts, but they are sorted by frequency, so p is estimated from the rank
 * with Zipf's law: p(rank r) = 1 / ((r + 1) * H_V), H_V the V-th harmonic
 * number. A "weights" tensor [vocab] in model.safetensors, when present,
 * replaces these weights (model2vec models ship one).
 *
 * Speed: the embedding table stays in the mmap'ed file (open is O(header),
 * pages fault in as tokens are used). Per-token weights are precomputed at
 * open (one float per token). F16 rows are converted while accumulating,
 * with the F16C instructions when the CPU has them (8 values per
 * instruction) and a 64K-entry lookup table otherwise. embed allocates its
 * scratch once per call, not per text or token.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "model/model.h"
#include "model/safetensors.h"
#include "model/static.h"
#include "text/tokenizer.h"
#include "util/util.h"

typedef struct static_model {
    tb_safetensors *st;        /* owns the mapping of model.safetensors */
    const tb_tensor *emb;      /* [vocab x dim], inside st */
    const void *rows;          /* emb data, or an aligned copy (owned) */
    void *rows_copy;           /* non-NULL when rows had to be copied */
    size_t vocab;              /* rows */
    tb_tokenizer *tok;         /* owned */
    float *weight;             /* [vocab] per-token weight, 0 for skipped ids (owned) */
    int weights_from_file;     /* 1: "weights" tensor, 0: Zipf SIF */
    float *common;             /* [dim] unit common component, or NULL (owned) */
} static_model;

static const struct tb_model_ops static_ops;

/* ------------------------------------------------------------ F16 rows */

static float f16_lut[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;
static int have_f16c;

static void f16_init(void)
{
    for (uint32_t h = 0; h < 65536; h++)
        f16_lut[h] = tb_f16_to_f32((uint16_t)h);
#if defined(__x86_64__)
    __builtin_cpu_init();
    /* clang's __builtin_cpu_supports does not know "f16c": ask cpuid (leaf 1,
     * ecx bit 29). avx2 implies the OS saves the YMM registers. */
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    have_f16c = f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

#if defined(__x86_64__)
__attribute__((target("f16c,avx2,fma"))) static void axpy_f16_hw(float *acc, const uint16_t *row,
                                                                 float w, size_t d)
{
    size_t i = 0;
    __m256 vw = _mm256_set1_ps(w);
    for (; i + 8 <= d; i += 8) {
        __m256 f = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(row + i)));
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(f, vw, _mm256_loadu_ps(acc + i)));
    }
    for (; i < d; i++)
        acc[i] += w * f16_lut[row[i]];
}
#endif

/* acc += w * row, row stored as dtype. */
static inline void axpy_row(float *acc, const void *row, tb_dtype dt, float w, size_t d)
{
    if (dt == TB_DT_F16) {
        const uint16_t *h = row;
#if defined(__x86_64__)
        if (have_f16c) {
            axpy_f16_hw(acc, h, w, d);
            return;
        }
#endif
        for (size_t i = 0; i < d; i++)
            acc[i] += w * f16_lut[h[i]];
    } else if (dt == TB_DT_BF16) {
        const uint16_t *h = row;
        for (size_t i = 0; i < d; i++) {
            uint32_t bits = (uint32_t)h[i] << 16;
            float f;
            memcpy(&f, &bits, 4);
            acc[i] += w * f;
        }
    } else {
        const float *f = row;
        for (size_t i = 0; i < d; i++)
            acc[i] += w * f[i];
    }
}

/* ------------------------------------------------------------ embedding */

/* Weighted sum of one text's token vectors into acc (dim floats, zeroed
 * here); no normalisation. Returns 0 or -1. */
static int sif_sum(const tb_model *m, const char *text, float *acc, tb_tokens *tk,
                   tb_tok_scratch *ws, tb_err *err)
{
    const static_model *sm = m->impl;
    size_t d = m->dim;
    memset(acc, 0, d * sizeof *acc);
    if (tb_tokenizer_encode_ws(sm->tok, text, text ? strlen(text) : 0, 0, false, tk, ws, err) < 0)
        return -1;
    size_t esz = sm->emb->dtype == TB_DT_F32 ? 4 : 2;
    const unsigned char *base = sm->rows;
    for (size_t i = 0; i < tk->n; i++) {
        int32_t id = tk->ids[i];
        if (id < 0 || (size_t)id >= sm->vocab)
            continue;
        float w = sm->weight[id];
        if (w == 0.0f)
            continue;
        axpy_row(acc, base + (size_t)id * d * esz, sm->emb->dtype, w, d);
    }
    return 0;
}

static void remove_common(const static_model *sm, float *v, size_t d)
{
    if (!sm->common)
        return;
    float p = tb_dot(v, sm->common, d);
    for (size_t i = 0; i < d; i++)
        v[i] -= p * sm->common[i];
}

static int static_embed(tb_model *m, const char *const *texts, size_t n, int kind, float *out,
                        tb_err *err)
{
    (void)kind; /* static models have no prompts */
    const static_model *sm = m->impl;
    tb_tokens tk = {0};
    tb_tok_scratch ws = {0};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        float *v = out + i * m->dim;
        if (sif_sum(m, texts[i], v, &tk, &ws, err) < 0) {
            tb_err_prefix(err, "text %zu", i);
            rc = -1;
            break;
        }
        remove_common(sm, v, m->dim);
        tb_l2_normalize(v, m->dim);
    }
    tb_tokens_free(&tk);
    tb_tok_scratch_free(&ws);
    return rc;
}

/* ------------------------------------------------------------ common component */

static int load_common(static_model *sm, const char *dir, size_t d, tb_err *err)
{
    char *p = tb_path_join(dir, TB_COMMON_FILE);
    int rc = 0;
    if (tb_path_exists(p)) {
        tb_safetensors *st = tb_st_open(p, err);
        const tb_tensor *t = st ? tb_st_find(st, "common_component") : NULL;
        if (!st) {
            rc = -1;
        } else if (!t || t->numel != d) {
            rc = tb_err_set(err, TB_EFORMAT, "%s: needs a \"common_component\" tensor of %zu values",
                            p, d);
        } else {
            sm->common = tb_malloc(d * sizeof *sm->common);
            tb_st_to_f32(t, sm->common);
            if (tb_l2_normalize(sm->common, d) == 0.0f) {
                free(sm->common);
                sm->common = NULL;
            }
        }
        tb_st_close(st);
    }
    free(p);
    return rc;
}

/* Write a one-tensor F32 safetensors file. */
static int write_f32_tensor(const char *path, const char *name, const float *v, size_t rows,
                            size_t cols, tb_err *err)
{
    tb_buf h = {0};
    tb_buf_printf(&h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[0,%zu]}}",
                  name, rows, cols, rows * cols * 4);
    while ((8 + h.len) % 8)
        tb_buf_putc(&h, ' ');
    tb_buf f = {0};
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    tb_buf_append(&f, len8, 8);
    tb_buf_append(&f, h.data, h.len);
    tb_buf_append(&f, v, rows * cols * 4);
    int rc = tb_write_file(path, f.data, f.len, err);
    tb_buf_free(&h);
    tb_buf_free(&f);
    return rc;
}

int tb_static_learn_common(tb_model *m, const char *const *texts, size_t n, tb_err *err)
{
    if (!tb_model_is_static(m))
        return tb_err_set(err, TB_EUNSUPPORTED, "a common component applies to static models only");
    if (n < 2)
        return tb_err_set(err, TB_EINVAL, "need at least 2 texts to learn a common component");
    static_model *sm = m->impl;
    size_t d = m->dim;
    /* Uncentred second-moment matrix C = sum v v^T of the unnormalised
     * sentence vectors (TruncatedSVD in the paper does not centre either),
     * then its top eigenvector by power iteration. d is small (~100-300). */
    double *c = tb_calloc(d * d, sizeof *c);
    float *v = tb_malloc(d * sizeof *v);
    tb_tokens tk = {0};
    tb_tok_scratch ws = {0};
    int rc = 0;
    size_t used = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (sif_sum(m, texts[i], v, &tk, &ws, err) < 0) {
            rc = -1;
            break;
        }
        if (tb_dot(v, v, d) == 0.0f)
            continue;
        used++;
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b < d; b++)
                c[a * d + b] += (double)v[a] * v[b];
    }
    tb_tokens_free(&tk);
    tb_tok_scratch_free(&ws);
    if (rc == 0 && used < 2)
        rc = tb_err_set(err, TB_EINVAL, "fewer than 2 texts had known words");
    if (rc == 0) {
        double *x = tb_malloc(d * sizeof *x), *y = tb_malloc(d * sizeof *y);
        for (size_t a = 0; a < d; a++)
            x[a] = 1.0 / sqrt((double)d) + 1e-3 * (double)a;
        for (int it = 0; it < 300; it++) {
            double norm = 0;
            for (size_t a = 0; a < d; a++) {
                double s = 0;
                for (size_t b = 0; b < d; b++)
                    s += c[a * d + b] * x[b];
                y[a] = s;
                norm += s * s;
            }
            norm = sqrt(norm);
            if (norm == 0)
                break;
            for (size_t a = 0; a < d; a++)
                x[a] = y[a] / norm;
        }
        float *u = tb_malloc(d * sizeof *u);
        for (size_t a = 0; a < d; a++)
            u[a] = (float)x[a];
        tb_l2_normalize(u, d);
        char *p = tb_path_join(m->path, TB_COMMON_FILE);
        rc = write_f32_tensor(p, "common_component", u, 1, d, err);
        free(p);
        if (rc == 0) {
            free(sm->common);
            sm->common = u;
        } else {
            free(u);
        }
        free(x);
        free(y);
    }
    free(c);
    free(v);
    return rc;
}

int tb_static_forget_common(tb_model *m, tb_err *err)
{
    if (!tb_model_is_static(m))
        return tb_err_set(err, TB_EUNSUPPORTED, "not a static model");
    static_model *sm = m->impl;
    char *p = tb_path_join(m->path, TB_COMMON_FILE);
    unlink(p);
    free(p);
    free(sm->common);
    sm->common = NULL;
    return 0;
}

/* ------------------------------------------------------------ open / close */

bool tb_static_detect(const char *dir)
{
    char *p = tb_path_join(dir, "model.safetensors");
    tb_safetensors *st = tb_path_exists(p) ? tb_st_open(p, NULL) : NULL;
    const tb_tensor *t = st ? tb_st_find(st, "embeddings") : NULL;
    bool yes = t && t->ndim == 2;
    tb_st_close(st);
    free(p);
    return yes;
}

bool tb_model_is_static(const tb_model *m)
{
    return m && m->ops == &static_ops;
}

static void static_close(tb_model *m)
{
    static_model *sm = m->impl;
    if (sm) {
        tb_st_close(sm->st);
        free(sm->rows_copy);
        tb_tokenizer_free(sm->tok);
        free(sm->weight);
        free(sm->common);
        free(sm);
    }
    free(m->name);
    free(m->path);
    free(m);
}

static char *static_describe(const tb_model *m)
{
    const static_model *sm = m->impl;
    tb_buf b = {0};
    tb_buf_printf(&b, "name:        %s\n", m->name);
    tb_buf_printf(&b, "path:        %s\n", m->path);
    tb_buf_printf(&b, "id:          %s\n", m->id);
    tb_buf_printf(&b, "kind:        static word vectors (model2vec layout)\n");
    tb_buf_printf(&b, "vocabulary:  %zu\n", sm->vocab);
    tb_buf_printf(&b, "dimensions:  %zu\n", m->dim);
    tb_buf_printf(&b, "dtype:       %s\n", tb_dtype_name(sm->emb->dtype));
    tb_buf_printf(&b, "size:        %.1f MB\n", (double)tb_st_file_size(sm->st) / 1e6);
    tb_buf_printf(&b, "tokenizer:   %s\n", tb_tokenizer_describe(sm->tok));
    tb_buf_printf(&b, "pooling:     %s\n",
                  sm->weights_from_file ? "weighted mean (weights tensor), L2-normalised"
                                        : "SIF weighted mean a/(a+p(w)), a=1e-3, p from Zipf "
                                          "rank; L2-normalised");
    tb_buf_printf(&b, "common component: %s\n",
                  sm->common ? "removed (" TB_COMMON_FILE ")" : "not learned");
    return tb_buf_steal(&b);
}

static const struct tb_model_ops static_ops = {
    .embed = static_embed,
    .describe = static_describe,
    .close = static_close,
};

static void compute_weights(static_model *sm, int32_t unk)
{
    size_t v = sm->vocab;
    sm->weight = tb_malloc(v * sizeof *sm->weight);
    double h = 0;
    for (size_t r = 1; r <= v; r++)
        h += 1.0 / (double)r;
    for (size_t r = 0; r < v; r++) {
        double p = 1.0 / ((double)(r + 1) * h);
        sm->weight[r] = (float)(TB_SIF_A / (TB_SIF_A + p));
    }
    if (unk >= 0 && (size_t)unk < v)
        sm->weight[unk] = 0.0f;
}

tb_model *tb_static_open(const char *dir, tb_err *err)
{
    pthread_once(&f16_once, f16_init);
    static_model *sm = tb_calloc(1, sizeof *sm);
    tb_model *m = tb_calloc(1, sizeof *m);
    m->ops = &static_ops;
    m->impl = sm;
    m->path = tb_strdup(dir);
    {
        /* Base name of dir, ignoring trailing slashes. */
        size_t e = strlen(dir);
        while (e > 1 && dir[e - 1] == '/')
            e--;
        size_t st = e;
        while (st > 0 && dir[st - 1] != '/')
            st--;
        m->name = tb_strndup(dir + st, e - st);
    }

    char *p = tb_path_join(dir, "model.safetensors");
    sm->st = tb_st_open(p, err);
    free(p);
    if (!sm->st)
        goto fail;
    sm->emb = tb_st_find(sm->st, "embeddings");
    if (!sm->emb || sm->emb->ndim != 2 || sm->emb->shape[0] == 0 || sm->emb->shape[1] == 0) {
        tb_err_set(err, TB_EFORMAT, "%s/model.safetensors: no 2-D \"embeddings\" tensor", dir);
        goto fail;
    }
    sm->vocab = (size_t)sm->emb->shape[0];
    m->dim = (size_t)sm->emb->shape[1];
    size_t align = sm->emb->dtype == TB_DT_F32 ? 4 : 2;
    sm->rows = sm->emb->data;
    if ((uintptr_t)sm->rows % align) {
        /* Unaligned tensor data (legal in the format): copy once. */
        sm->rows_copy = tb_malloc(sm->emb->nbytes ? sm->emb->nbytes : 1);
        memcpy(sm->rows_copy, sm->emb->data, sm->emb->nbytes);
        sm->rows = sm->rows_copy;
    }
    sm->tok = tb_tokenizer_load(dir, err);
    if (!sm->tok)
        goto fail;
    if (tb_tokenizer_vocab_size(sm->tok) > sm->vocab) {
        tb_err_set(err, TB_EFORMAT,
                   "%s: tokenizer has %zu ids but the embeddings only %zu rows", dir,
                   tb_tokenizer_vocab_size(sm->tok), sm->vocab);
        goto fail;
    }
    const tb_tensor *wt = tb_st_find(sm->st, "weights");
    if (wt) {
        if (wt->numel != sm->vocab) {
            tb_err_set(err, TB_EFORMAT, "%s: \"weights\" has %zu values for %zu rows", dir,
                       wt->numel, sm->vocab);
            goto fail;
        }
        sm->weight = tb_malloc(sm->vocab * sizeof *sm->weight);
        tb_st_to_f32(wt, sm->weight);
        sm->weights_from_file = 1;
        for (size_t i = 0; i < sm->vocab; i++)
            if (!isfinite(sm->weight[i]))
                sm->weight[i] = 0.0f;
    } else {
        compute_weights(sm, tb_tokenizer_unk_id(sm->tok));
    }
    if (load_common(sm, dir, m->dim, err) < 0)
        goto fail;
    /* Id: header hash plus a sample of the weights, so a retrained table of
     * the same shape gets a new id without reading 100+ MB at open. */
    size_t hl;
    const char *hdr = tb_st_header(sm->st, &hl);
    uint64_t hh = tb_hash64(hdr, hl, 0x7462);
    const unsigned char *data = sm->emb->data;
    size_t step = sm->emb->nbytes / 64 + 1;
    for (size_t off = 0; off < sm->emb->nbytes; off += step)
        hh = tb_hash64(data + off, TB_MIN(64, sm->emb->nbytes - off), hh);
    snprintf(m->id, sizeof m->id, "static:%.100s:%016llx", m->name, (unsigned long long)hh);
    return m;
fail:
    tb_err_prefix(err, "opening static model %s", dir);
    static_close(m);
    return NULL;
}

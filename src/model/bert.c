/*
 * bert.c -- BERT-family sentence encoders on the CPU (see bert.h).
 *
 * Structure (after llama2.c): a config (bert.h), the weights, the run state,
 * and one forward() that reads top to bottom like the math:
 *
 *     x   = LayerNorm(word[id] + pos[t] + type[tt])
 *     for each layer:
 *         q,k,v = x Wqkv^T + bqkv                 (one GEMM, Q/K/V fused at load)
 *         ctx   = softmax(q k^T / sqrt(hd)) v     (per sequence and head)
 *         x     = LayerNorm(x + ctx Wo^T + bo)
 *         x     = LayerNorm(x + gelu(x Wi^T + bi) Wout^T + bout)
 *     e = pool(x) [-> Dense] -> L2-normalise
 *
 * Packed batches. A batch holds several sequences back to back, without
 * padding: row r of x is one token of one sequence. Linear layers, GELU and
 * LayerNorm act per token, so they run on all rows at once as one GEMM;
 * only attention looks at sequence boundaries (seq_off/seq_len). This is the
 * same arithmetic as the padded batch with an attention mask -- masked keys
 * get weight exp(-inf) = 0 -- without computing the padding. Sequences are
 * still sorted by length and cut into batches of similar lengths (length
 * bucketing), so attention work is balanced and the order of floating-point
 * sums does not depend on which other texts share a call.
 *
 * Threads. One tb_pool per model. GEMMs are cut into chunks of rows (or, for
 * short batches, of output columns) and each chunk is one single-threaded
 * cblas_sgemm or int8 kernel call; attention runs one task per (sequence,
 * head). OpenBLAS's own threading is turned off while a pool of more than one
 * thread drives it (openblas_set_num_threads(1)): measured on 2 cores this is
 * faster than letting OpenBLAS split each GEMM, because the small attention
 * and LayerNorm steps then run in parallel too, and two thread pools do not
 * spin against each other. TASTEBUD_BLAS_THREADS=1 selects the other scheme
 * (our pool of 1, OpenBLAS threads) for comparison.
 *
 * Memory. Weights are converted to float32 once (F16/BF16 widened; the word
 * embedding table is used in place from the mmap when the file stores F32).
 * The run state is allocated at open for max_tokens rows; forward() does not
 * allocate. In int8 mode the four linear layers of each layer are packed by
 * q8.c and their float copies dropped.
 *
 * Concurrency: tb_model_embed on one model is serialised by a mutex (one run
 * state); open several models for parallel callers.
 */
#include "model/bert.h"
#include "model/f32gemm.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/q8.h"
#include "model/vecmath512.h"
#include "model/safetensors.h"
#include "model/vecmath.h"
#include "text/tokenizer.h"
#include "util/util.h"

/* From OpenBLAS (cblas.h declares it, but not every cblas.h does). */
void openblas_set_num_threads(int num_threads);

#define BERT_MAX_SEQ 1024      /* attention scratch bound; BERT models use 512 */
#define BERT_MAX_LAYERS 256
#define BERT_MAX_HIDDEN 16384
#define BERT_MAX_VOCAB 10000000
#define BERT_CONFIG_MAX_BYTES (1u << 20)

#define TB_BERT_CHUNK 1024     /* texts tokenised and sorted together */

enum { ACT_NONE = 0, ACT_GELU, ACT_TANH };

struct row_key {
    size_t len, idx;
};

/* ---------------------------------------------------------------- structs */

typedef struct bert_layer {
    float *wqkv;        /* [3H][H] query, key, value weights stacked; owned, freed after load */
    float *bqkv;        /* [3H]; owned */
    const float *wo;    /* [H][H] attention output */
    const float *bo;    /* [H] */
    const float *ln1_g; /* [H] attention.output.LayerNorm */
    const float *ln1_b; /* [H] */
    const float *wi;    /* [F][H] intermediate (FFN up) */
    const float *bi;    /* [F] */
    const float *wout;  /* [H][F] output (FFN down) */
    const float *bout;  /* [H] */
    const float *ln2_g; /* [H] output.LayerNorm */
    const float *ln2_b; /* [H] */
    tb_q8_matrix q_qkv, q_o, q_i, q_out; /* int8 mode: packed copies of the four above */
    /* fp32 mode: the four weight matrices transposed, [K][N] (owned). With
     * W^T stored row-major, sgemm's packing reads rows instead of striding
     * down columns: measured 1.5x faster for one short text. */
    float *t_qkv;       /* [H][3H] */
    float *t_o;         /* [H][H] */
    float *t_i;         /* [H][F] */
    float *t_out;       /* [F][H] */
    /* fp32 mode on x86 with AVX2/AVX-512: packed once for f32gemm.c instead */
    tb_f32_matrix p_qkv, p_o, p_i, p_out;
} bert_layer;

typedef struct bert_weights {
    const float *word;    /* [vocab][H] */
    const float *pos;     /* [max_pos][H] */
    const float *type;    /* [type_vocab][H] */
    const float *emb_g;   /* [H] embeddings.LayerNorm */
    const float *emb_b;   /* [H] */
    bert_layer *layer;    /* [layers]; owned */
    const float *dense_w; /* [D][H] optional 2_Dense, NULL if none */
    const float *dense_b; /* [D] or NULL */
    int dense_out;        /* D (0 without Dense) */
    int dense_act;        /* ACT_NONE or ACT_TANH */
    void **owned;         /* every float buffer converted at load; freed at close */
    size_t n_owned, cap_owned;
} bert_weights;

typedef struct bert_state {
    /* sized for max_tokens rows (N) and max_batch sequences (B) */
    float *x;         /* [N][H] hidden states */
    float *qkv;       /* [N][3H] */
    float *ctx;       /* [N][H] attention output, heads side by side */
    float *tmp;       /* [N][H] projection output before residual + LayerNorm */
    float *ffn;       /* [N][F] */
    float *scores;    /* [threads][scratch_floats] attention scratch, one per worker */
    atomic_int *busy; /* [threads] scratch slot in use */
    int8_t *xq;       /* [N][kq] quantised activations (int8 mode), kq = max(H,F) padded */
    float *sx;        /* [N] their scales */
    float *pooled;    /* [B][max(H, D)] */
    float *dense;     /* [B][D] */
    int32_t *ids;     /* [N] token ids of the batch */
    int32_t *types;   /* [N] token type ids */
    int32_t *pos;     /* [N] position of each row in its sequence */
    int *seq_off;     /* [B] first row of each sequence */
    int *seq_len;     /* [B] rows of each sequence */
    size_t *out_rows; /* [B] output row of each sequence */
    int rows;         /* N: capacity in tokens */
    int nslots;       /* attention scratch slots (workers that share this state) */
} bert_state;

/* Where one forward pass runs: a run state, and either the model's pool
 * (every op split across par workers) or NULL (this thread alone, par 1). */
typedef struct bert_exec {
    struct bert_model *bm;
    bert_state *s;
    tb_pool *pool;
    int par;
} bert_exec;

typedef struct bert_model {
    tb_model base;       /* what tb_model_* sees; base.impl points back here */
    tb_bert_config cfg;
    struct tb_bert_opts opts;
    bert_weights w;
    /* run[0] holds max_tokens rows and serves a batch split op by op across
     * the pool; run[1..threads-1] (max_tokens / threads + max_seq rows) join
     * it when a batch is split by sequences instead (see embed_rows). */
    bert_state *run;
    tb_safetensors *st;  /* kept open when the word table is used in place */
    tb_tokenizer *tok;   /* loaded at open */
    tb_pool *pool;
    int threads;
    int blas_threads;    /* 1: OpenBLAS threads the GEMMs, our pool is 1 */
    bool packed_f32;     /* fp32 GEMMs by f32gemm.c (else cblas_sgemm) */
    int max_batch;       /* sequences per forward */
    int max_tokens;      /* rows per forward */
    int max_seq;         /* effective truncation length */
    int kq;              /* padded width of xq rows */
    size_t scratch_floats; /* attention scratch per worker (see state_alloc) */
    size_t params;
    pthread_mutex_t mu;
    /* per-call scratch for tb_model_embed (grown under mu, outside forward) */
    tb_tokens toks[TB_BERT_CHUNK]; /* tokenised texts of one chunk */
    struct row_key *keys;          /* [TB_BERT_CHUNK] sort keys */
} bert_model;

/* ---------------------------------------------------------------- json helpers */

static int json_load_text(const char *json, size_t len, json_t **out, const char *what, tb_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return tb_err_set(err, TB_EFORMAT, "%s: invalid JSON at line %d: %s", what, je.line,
                          je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return tb_err_set(err, TB_EFORMAT, "%s: expected a JSON object", what);
    }
    *out = root;
    return 0;
}

/* An integer field in [lo, hi]; absent -> def (or an error when def < 0). */
static int json_int_field(json_t *o, const char *key, long long lo, long long hi, long long def,
                          int *out, const char *what, tb_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def < 0)
            return tb_err_set(err, TB_EFORMAT, "%s: missing \"%s\"", what, key);
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v))
        return tb_err_set(err, TB_EFORMAT, "%s: \"%s\" must be an integer", what, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return tb_err_set(err, TB_EFORMAT, "%s: \"%s\" = %lld is out of range [%lld, %lld]", what,
                          key, x, lo, hi);
    *out = (int)x;
    return 0;
}

static int read_small_file(const char *dir, const char *name, tb_buf *b, bool required,
                           bool *found, tb_err *err)
{
    char *p = tb_path_join(dir, name);
    *found = tb_path_exists(p);
    int rc = 0;
    if (*found)
        rc = tb_read_file(p, b, BERT_CONFIG_MAX_BYTES, err);
    else if (required)
        rc = tb_err_set(err, TB_ENOTFOUND, "%s: not found", p);
    free(p);
    return rc;
}

/* ---------------------------------------------------------------- config */

int tb_bert_config_parse(const char *json, size_t len, tb_bert_config *cfg, tb_err *err)
{
    static const char what[] = "config.json";
    json_t *root;
    memset(cfg, 0, sizeof *cfg);
    if (json_load_text(json, len, &root, what, err) < 0)
        return -1;
    int rc = -1;
    /* Architecture: model_type "bert" or a Bert* architecture name. Anything
     * else (RoBERTa, NomicBert, ...) has other weights or positions. */
    json_t *mt = json_object_get(root, "model_type");
    json_t *arch = json_object_get(root, "architectures");
    bool is_bert = json_is_string(mt) && strcmp(json_string_value(mt), "bert") == 0;
    if (json_is_string(mt) && !is_bert) {
        tb_err_set(err, TB_EUNSUPPORTED,
                   "%s: model_type \"%s\" is not supported (only BERT-family encoders: \"bert\")",
                   what, json_string_value(mt));
        goto out;
    }
    if (json_is_array(arch) && json_array_size(arch) > 0) {
        json_t *a0 = json_array_get(arch, 0);
        if (!json_is_string(a0) || strncmp(json_string_value(a0), "Bert", 4) != 0) {
            tb_err_set(err, TB_EUNSUPPORTED,
                       "%s: architecture %s is not supported (expected BertModel)", what,
                       json_is_string(a0) ? json_string_value(a0) : "(not a string)");
            goto out;
        }
        is_bert = true;
    }
    if (!is_bert) {
        tb_err_set(err, TB_EUNSUPPORTED,
                   "%s: neither model_type \"bert\" nor a Bert* architecture", what);
        goto out;
    }
    if (json_int_field(root, "vocab_size", 1, BERT_MAX_VOCAB, -1, &cfg->vocab_size, what, err) < 0 ||
        json_int_field(root, "hidden_size", 1, BERT_MAX_HIDDEN, -1, &cfg->hidden, what, err) < 0 ||
        json_int_field(root, "num_hidden_layers", 1, BERT_MAX_LAYERS, -1, &cfg->layers, what, err) < 0 ||
        json_int_field(root, "num_attention_heads", 1, BERT_MAX_HIDDEN, -1, &cfg->heads, what, err) < 0 ||
        json_int_field(root, "intermediate_size", 1, 4 * BERT_MAX_HIDDEN, -1, &cfg->ffn, what, err) < 0 ||
        json_int_field(root, "max_position_embeddings", 1, 1 << 20, 512, &cfg->max_pos, what, err) < 0 ||
        json_int_field(root, "type_vocab_size", 0, 1 << 16, 2, &cfg->type_vocab, what, err) < 0)
        goto out;
    if (cfg->hidden % cfg->heads != 0) {
        tb_err_set(err, TB_EFORMAT,
                   "%s: num_attention_heads (%d) does not divide hidden_size (%d)", what,
                   cfg->heads, cfg->hidden);
        goto out;
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && !json_is_null(act)) {
        if (!json_is_string(act) || strcmp(json_string_value(act), "gelu") != 0) {
            tb_err_set(err, TB_EUNSUPPORTED,
                       "%s: hidden_act %s is not supported (only \"gelu\", the erf form)", what,
                       json_is_string(act) ? json_string_value(act) : "(not a string)");
            goto out;
        }
    }
    json_t *pet = json_object_get(root, "position_embedding_type");
    if (pet && !json_is_null(pet) &&
        (!json_is_string(pet) || strcmp(json_string_value(pet), "absolute") != 0)) {
        tb_err_set(err, TB_EUNSUPPORTED,
                   "%s: position_embedding_type %s is not supported (only \"absolute\")", what,
                   json_is_string(pet) ? json_string_value(pet) : "(not a string)");
        goto out;
    }
    json_t *eps = json_object_get(root, "layer_norm_eps");
    cfg->eps = 1e-12f;
    if (eps && !json_is_null(eps)) {
        /* the lower bound keeps it a positive float32 (1e-172 would round to 0) */
        if (!json_is_number(eps) || !(json_number_value(eps) >= 1e-30) ||
            !(json_number_value(eps) < 1)) {
            tb_err_set(err, TB_EFORMAT, "%s: layer_norm_eps must be a number in [1e-30, 1)", what);
            goto out;
        }
        cfg->eps = (float)json_number_value(eps);
    }
    if (cfg->type_vocab < 1)
        cfg->type_vocab = 1; /* a zero-size table would mean no token type row: refuse below */
    cfg->pooling = TB_POOL_MEAN;
    cfg->max_seq = cfg->max_pos;
    cfg->normalize = true;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int tb_bert_pooling_parse(const char *json, size_t len, tb_bert_config *cfg, tb_err *err)
{
    static const char what[] = "1_Pooling/config.json";
    static const struct {
        const char *key;
        int mode;
    } modes[] = {
        {"pooling_mode_cls_token", TB_POOL_CLS},
        {"pooling_mode_mean_tokens", TB_POOL_MEAN},
        {"pooling_mode_max_tokens", TB_POOL_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", TB_POOL_MEAN_SQRT_LEN},
        {"pooling_mode_weightedmean_tokens", -1},
        {"pooling_mode_lasttoken", -1},
    };
    json_t *root;
    if (json_load_text(json, len, &root, what, err) < 0)
        return -1;
    int chosen = -2, count = 0;
    const char *chosen_key = NULL;
    for (size_t i = 0; i < TB_ARRAY_LEN(modes); i++) {
        json_t *v = json_object_get(root, modes[i].key);
        if (v && !json_is_boolean(v) && !json_is_null(v)) {
            json_decref(root);
            return tb_err_set(err, TB_EFORMAT, "%s: \"%s\" must be true or false", what,
                              modes[i].key);
        }
        if (json_is_true(v)) {
            count++;
            chosen = modes[i].mode;
            chosen_key = modes[i].key;
        }
    }
    /* The newer single-string form: "pooling_mode": "mean". */
    json_t *pm = json_object_get(root, "pooling_mode");
    if (count == 0 && json_is_string(pm)) {
        const char *s = json_string_value(pm);
        chosen_key = s;
        count = 1;
        chosen = strcmp(s, "mean") == 0   ? TB_POOL_MEAN
                 : strcmp(s, "cls") == 0  ? TB_POOL_CLS
                 : strcmp(s, "max") == 0  ? TB_POOL_MAX
                 : strcmp(s, "mean_sqrt_len_tokens") == 0 ? TB_POOL_MEAN_SQRT_LEN
                                          : -1;
    }
    int rc = 0;
    if (count == 0)
        rc = tb_err_set(err, TB_EFORMAT, "%s: no pooling mode is enabled", what);
    else if (count > 1)
        rc = tb_err_set(err, TB_EUNSUPPORTED,
                        "%s: several pooling modes at once (concatenated) are not supported",
                        what);
    else if (chosen < 0)
        rc = tb_err_set(err, TB_EUNSUPPORTED,
                        "%s: pooling %s is not supported (cls, mean, max, mean_sqrt_len)", what,
                        chosen_key);
    else
        cfg->pooling = chosen;
    json_decref(root);
    return rc;
}

/* Prompts from config_sentence_transformers.json: {"prompts": {"query":
 * "query: ", "passage": "passage: "}} (e5); "document" and "doc" are the
 * other names used for the document side. */
static int prompts_parse(const char *json, size_t len, tb_bert_config *cfg, tb_err *err)
{
    static const char what[] = "config_sentence_transformers.json";
    json_t *root;
    if (json_load_text(json, len, &root, what, err) < 0)
        return -1;
    json_t *pr = json_object_get(root, "prompts");
    int rc = 0;
    if (pr && !json_is_null(pr)) {
        if (!json_is_object(pr)) {
            rc = tb_err_set(err, TB_EFORMAT, "%s: \"prompts\" must be an object", what);
        } else {
            static const char *const qn[] = {"query"};
            static const char *const dn[] = {"document", "passage", "doc"};
            for (int side = 0; side < 2 && rc == 0; side++) {
                const char *const *names = side ? dn : qn;
                size_t nn = side ? TB_ARRAY_LEN(dn) : TB_ARRAY_LEN(qn);
                char *dst = side ? cfg->document_prompt : cfg->query_prompt;
                for (size_t i = 0; i < nn; i++) {
                    json_t *v = json_object_get(pr, names[i]);
                    if (!v)
                        continue;
                    if (!json_is_string(v) || strlen(json_string_value(v)) >= 128) {
                        rc = tb_err_set(err, TB_EFORMAT,
                                        "%s: prompt \"%s\" must be a string under 128 bytes",
                                        what, names[i]);
                        break;
                    }
                    snprintf(dst, 128, "%s", json_string_value(v));
                    break;
                }
            }
        }
    }
    json_decref(root);
    return rc;
}

/* modules.json: Transformer, Pooling, optional Dense, optional Normalize.
 * Sets *dense_path (caller frees) when there is a Dense module. */
static int modules_parse(const char *json, size_t len, tb_bert_config *cfg, char **dense_path,
                         char **pool_path, tb_err *err)
{
    static const char what[] = "modules.json";
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return tb_err_set(err, TB_EFORMAT, "%s: invalid JSON at line %d: %s", what, je.line,
                          je.text);
    int rc = 0;
    if (!json_is_array(root)) {
        rc = tb_err_set(err, TB_EFORMAT, "%s: expected an array", what);
        goto out;
    }
    cfg->normalize = false;
    size_t i;
    json_t *mod;
    json_array_foreach(root, i, mod) {
        json_t *type = json_object_get(mod, "type");
        json_t *path = json_object_get(mod, "path");
        if (!json_is_string(type)) {
            rc = tb_err_set(err, TB_EFORMAT, "%s: module %zu has no \"type\"", what, i);
            goto out;
        }
        const char *t = json_string_value(type);
        const char *dot = strrchr(t, '.');
        const char *base = dot ? dot + 1 : t;
        const char *p = json_is_string(path) ? json_string_value(path) : "";
        if (strstr(p, "..") || p[0] == '/') {
            rc = tb_err_set(err, TB_EFORMAT, "%s: module path \"%s\" leaves the model directory",
                            what, p);
            goto out;
        }
        if (strcmp(base, "Transformer") == 0) {
            if (i != 0 || p[0]) {
                rc = tb_err_set(err, TB_EUNSUPPORTED,
                                "%s: the Transformer must be the first module, at the top", what);
                goto out;
            }
        } else if (strcmp(base, "Pooling") == 0) {
            free(*pool_path);
            *pool_path = tb_strdup(p);
        } else if (strcmp(base, "Dense") == 0) {
            if (*dense_path) {
                rc = tb_err_set(err, TB_EUNSUPPORTED, "%s: more than one Dense module", what);
                goto out;
            }
            *dense_path = tb_strdup(p);
        } else if (strcmp(base, "Normalize") == 0) {
            cfg->normalize = true;
        } else {
            rc = tb_err_set(err, TB_EUNSUPPORTED, "%s: module type %s is not supported", what, t);
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

static int config_load(const char *dir, tb_bert_config *cfg, char **dense_path, tb_err *err)
{
    tb_buf b = {0};
    bool found;
    char *pool_path = NULL;
    int rc = -1;
    *dense_path = NULL;
    if (read_small_file(dir, "config.json", &b, true, &found, err) < 0 ||
        tb_bert_config_parse(b.data ? b.data : "", b.len, cfg, err) < 0)
        goto out;
    tb_buf_clear(&b);
    if (read_small_file(dir, "modules.json", &b, false, &found, err) < 0)
        goto out;
    if (found && modules_parse(b.data, b.len, cfg, dense_path, &pool_path, err) < 0)
        goto out;
    /* Pooling config: where modules.json says, else 1_Pooling; absent means
     * the sentence-transformers default, mean pooling. */
    tb_buf_clear(&b);
    {
        char *pc = tb_asprintf("%s/config.json", pool_path && pool_path[0] ? pool_path : "1_Pooling");
        int r = read_small_file(dir, pc, &b, false, &found, err);
        if (r == 0 && found) {
            r = tb_bert_pooling_parse(b.data, b.len, cfg, err);
        }
        free(pc);
        if (r < 0)
            goto out;
    }
    tb_buf_clear(&b);
    if (read_small_file(dir, "sentence_bert_config.json", &b, false, &found, err) < 0)
        goto out;
    if (found) {
        json_t *root;
        if (json_load_text(b.data, b.len, &root, "sentence_bert_config.json", err) < 0)
            goto out;
        int ms = cfg->max_pos;
        int r = json_int_field(root, "max_seq_length", 1, 1 << 20, cfg->max_pos, &ms,
                               "sentence_bert_config.json", err);
        json_decref(root);
        if (r < 0)
            goto out;
        cfg->max_seq = ms;
    }
    tb_buf_clear(&b);
    if (read_small_file(dir, "config_sentence_transformers.json", &b, false, &found, err) < 0)
        goto out;
    if (found && prompts_parse(b.data, b.len, cfg, err) < 0)
        goto out;
    if (cfg->max_seq > cfg->max_pos)
        cfg->max_seq = cfg->max_pos;
    if (cfg->max_seq > BERT_MAX_SEQ)
        cfg->max_seq = BERT_MAX_SEQ;
    rc = 0;
out:
    tb_buf_free(&b);
    free(pool_path);
    if (rc < 0) {
        free(*dense_path);
        *dense_path = NULL;
    }
    return rc;
}

int tb_bert_config_load(const char *dir, tb_bert_config *cfg, tb_err *err)
{
    char *dense = NULL;
    int rc = config_load(dir, cfg, &dense, err);
    free(dense);
    return rc;
}

int tb_bert_probe(const char *dir)
{
    char *st = tb_path_join(dir, "model.safetensors");
    bool ok = tb_path_exists(st);
    free(st);
    if (!ok)
        return 0;
    tb_buf b = {0};
    bool found;
    tb_err e;
    if (read_small_file(dir, "config.json", &b, true, &found, &e) < 0) {
        tb_buf_free(&b);
        return 0;
    }
    json_t *root = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    tb_buf_free(&b);
    if (!root)
        return 0;
    json_t *mt = json_object_get(root, "model_type");
    json_t *a0 = json_array_get(json_object_get(root, "architectures"), 0);
    int yes = (json_is_string(mt) && strcmp(json_string_value(mt), "bert") == 0) ||
              (json_is_string(a0) && strncmp(json_string_value(a0), "Bert", 4) == 0);
    json_decref(root);
    return yes;
}

/* ---------------------------------------------------------------- weights */

static void *own(bert_weights *w, void *p)
{
    if (w->n_owned == w->cap_owned) {
        w->cap_owned = w->cap_owned ? 2 * w->cap_owned : 64;
        w->owned = tb_realloc(w->owned, w->cap_owned * sizeof *w->owned);
    }
    w->owned[w->n_owned++] = p;
    return p;
}

/* Find name (or "bert." + name) with the given 1-D/2-D shape (d1 = 0 for 1-D). */
static const tb_tensor *find_tensor(const tb_safetensors *st, const char *file, const char *name,
                                    int64_t d0, int64_t d1, tb_err *err)
{
    const tb_tensor *t = tb_st_find(st, name);
    if (!t) {
        char pre[320];
        snprintf(pre, sizeof pre, "bert.%s", name);
        t = tb_st_find(st, pre);
    }
    if (!t) {
        tb_err_set(err, TB_EFORMAT, "%s: missing tensor \"%s\"", file, name);
        return NULL;
    }
    int want_nd = d1 ? 2 : 1;
    if (t->ndim != want_nd || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
        char got[96] = "";
        size_t o = 0;
        for (int i = 0; i < t->ndim && o < sizeof got - 24; i++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        if (d1)
            tb_err_set(err, TB_EFORMAT, "%s: tensor \"%s\" has shape [%s], expected [%lld, %lld]",
                       file, name, got, (long long)d0, (long long)d1);
        else
            tb_err_set(err, TB_EFORMAT, "%s: tensor \"%s\" has shape [%s], expected [%lld]", file,
                       name, got, (long long)d0);
        return NULL;
    }
    return t;
}

/* A float32 view of a tensor: in place when possible, else a converted
 * copy owned by w. */
static const float *tensor_f32(bert_weights *w, const tb_tensor *t)
{
    const float *v = tb_st_f32_view(t);
    if (v)
        return v;
    float *c = own(w, tb_malloc(t->numel * sizeof(float)));
    tb_st_to_f32(t, c);
    return c;
}

static const float *get(bert_weights *w, const tb_safetensors *st, const char *file,
                        const char *name, int64_t d0, int64_t d1, tb_err *err)
{
    const tb_tensor *t = find_tensor(st, file, name, d0, d1, err);
    return t ? tensor_f32(w, t) : NULL;
}

/* A new [k][n] copy of w [n][k] (caller frees). */
static float *transpose(const float *w, int n, int k)
{
    float *t = tb_malloc((size_t)n * (size_t)k * sizeof(float));
    for (int j = 0; j < n; j++)
        for (int c = 0; c < k; c++)
            t[(size_t)c * (size_t)n + (size_t)j] = w[(size_t)j * (size_t)k + (size_t)c];
    return t;
}

static int load_weights(bert_model *bm, tb_err *err)
{
    const tb_bert_config *c = &bm->cfg;
    bert_weights *w = &bm->w;
    const tb_safetensors *st = bm->st;
    const char *f = "model.safetensors";
    const int64_t H = c->hidden, F = c->ffn;
    char n[256];
#define GET(dst, name, d0, d1)                                   \
    do {                                                         \
        if (!((dst) = get(w, st, f, (name), (d0), (d1), err)))   \
            return -1;                                           \
    } while (0)
    GET(w->word, "embeddings.word_embeddings.weight", c->vocab_size, H);
    GET(w->pos, "embeddings.position_embeddings.weight", c->max_pos, H);
    GET(w->type, "embeddings.token_type_embeddings.weight", c->type_vocab, H);
    GET(w->emb_g, "embeddings.LayerNorm.weight", H, 0);
    GET(w->emb_b, "embeddings.LayerNorm.bias", H, 0);
    bm->params = (size_t)(c->vocab_size + c->max_pos + c->type_vocab + 2) * (size_t)H;
    w->layer = tb_calloc((size_t)c->layers, sizeof *w->layer);
    for (int l = 0; l < c->layers; l++) {
        bert_layer *L = &w->layer[l];
        static const char *const qkv[3] = {"query", "key", "value"};
        L->wqkv = tb_malloc((size_t)(3 * H * H) * sizeof(float));
        L->bqkv = tb_malloc((size_t)(3 * H) * sizeof(float));
        for (int j = 0; j < 3; j++) {
            const float *p;
            snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
            GET(p, n, H, H);
            memcpy(L->wqkv + (size_t)(j * H * H), p, (size_t)(H * H) * sizeof(float));
            snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
            GET(p, n, H, 0);
            memcpy(L->bqkv + (size_t)(j * H), p, (size_t)H * sizeof(float));
        }
#define GETL(dst, suffix, d0, d1)                                        \
    do {                                                                 \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, (suffix));       \
        GET(dst, n, d0, d1);                                             \
    } while (0)
        GETL(L->wo, "attention.output.dense.weight", H, H);
        GETL(L->bo, "attention.output.dense.bias", H, 0);
        GETL(L->ln1_g, "attention.output.LayerNorm.weight", H, 0);
        GETL(L->ln1_b, "attention.output.LayerNorm.bias", H, 0);
        GETL(L->wi, "intermediate.dense.weight", F, H);
        GETL(L->bi, "intermediate.dense.bias", F, 0);
        GETL(L->wout, "output.dense.weight", H, F);
        GETL(L->bout, "output.dense.bias", H, 0);
        GETL(L->ln2_g, "output.LayerNorm.weight", H, 0);
        GETL(L->ln2_b, "output.LayerNorm.bias", H, 0);
#undef GETL
        bm->params += (size_t)(4 * H * H + 2 * H * F + 9 * H + F);
        if (bm->opts.quantize == TB_BERT_INT8) {
            tb_q8_pack(&L->q_qkv, L->wqkv, (int)(3 * H), (int)H);
            tb_q8_pack(&L->q_o, L->wo, (int)H, (int)H);
            tb_q8_pack(&L->q_i, L->wi, (int)F, (int)H);
            tb_q8_pack(&L->q_out, L->wout, (int)H, (int)F);
        } else if (bm->packed_f32) {
            tb_f32_pack(&L->p_qkv, L->wqkv, (int)(3 * H), (int)H);
            tb_f32_pack(&L->p_o, L->wo, (int)H, (int)H);
            tb_f32_pack(&L->p_i, L->wi, (int)F, (int)H);
            tb_f32_pack(&L->p_out, L->wout, (int)H, (int)F);
        } else {
            L->t_qkv = transpose(L->wqkv, (int)(3 * H), (int)H);
            L->t_o = transpose(L->wo, (int)H, (int)H);
            L->t_i = transpose(L->wi, (int)F, (int)H);
            L->t_out = transpose(L->wout, (int)H, (int)F);
        }
        free(L->wqkv);
        L->wqkv = NULL;
    }
#undef GET
    /* The float copies of int8 layers that were converted (not mmap views)
     * are dead now, but they sit in w->owned with the rest; freeing them
     * individually would need bookkeeping per tensor, and F16 files in int8
     * mode are rare. They go at close. */
    return 0;
}

/* 2_Dense: {in_features, out_features, bias, activation_function} and
 * model.safetensors with linear.weight [out][in], linear.bias [out]. */
static const float *get_copy(bert_weights *w, const tb_safetensors *st, const char *file,
                             const char *name, int64_t d0, int64_t d1, tb_err *err)
{
    const tb_tensor *t = find_tensor(st, file, name, d0, d1, err);
    if (!t)
        return NULL;
    float *c = own(w, tb_malloc(t->numel * sizeof(float)));
    tb_st_to_f32(t, c);
    return c;
}

static int load_dense(bert_model *bm, const char *dir, const char *sub, tb_err *err)
{
    tb_safetensors *st = NULL;
    char *ddir = tb_path_join(dir, sub);
    tb_buf b = {0};
    bool found;
    json_t *root = NULL;
    int rc = -1, in = 0, outf = 0;
    if (read_small_file(ddir, "config.json", &b, true, &found, err) < 0 ||
        json_load_text(b.data, b.len, &root, "2_Dense/config.json", err) < 0)
        goto out;
    if (json_int_field(root, "in_features", 1, BERT_MAX_HIDDEN, -1, &in, "Dense config.json", err) < 0 ||
        json_int_field(root, "out_features", 1, BERT_MAX_HIDDEN, -1, &outf, "Dense config.json", err) < 0)
        goto out;
    if (in != bm->cfg.hidden) {
        tb_err_set(err, TB_EFORMAT, "%s: Dense in_features %d != hidden_size %d", ddir, in,
                   bm->cfg.hidden);
        goto out;
    }
    json_t *act = json_object_get(root, "activation_function");
    const char *a = json_is_string(act) ? json_string_value(act) : "torch.nn.modules.linear.Identity";
    if (strstr(a, "Identity"))
        bm->w.dense_act = ACT_NONE;
    else if (strstr(a, "Tanh"))
        bm->w.dense_act = ACT_TANH;
    else {
        tb_err_set(err, TB_EUNSUPPORTED, "%s: Dense activation %s is not supported", ddir, a);
        goto out;
    }
    bool has_bias = !json_is_false(json_object_get(root, "bias"));
    char *sp = tb_path_join(ddir, "model.safetensors");
    if (!tb_path_exists(sp)) {
        tb_err_set(err, TB_EUNSUPPORTED, "%s: Dense weights must be in model.safetensors", ddir);
        free(sp);
        goto out;
    }
    st = tb_st_open(sp, err);
    free(sp);
    if (!st)
        goto out;
    /* copies, so the Dense file need not stay mapped */
    if (!(bm->w.dense_w = get_copy(&bm->w, st, "2_Dense/model.safetensors", "linear.weight", outf, in, err)))
        goto out;
    if (has_bias &&
        !(bm->w.dense_b = get_copy(&bm->w, st, "2_Dense/model.safetensors", "linear.bias", outf, 0, err)))
        goto out;
    bm->w.dense_out = outf;
    rc = 0;
out:
    if (st)
        tb_st_close(st);
    json_decref(root);
    tb_buf_free(&b);
    free(ddir);
    return rc;
}

/* ---------------------------------------------------------------- math kernels */

/* GELU and softmax's exp come from vecmath.h, compiled twice: for the
 * baseline ISA and, on x86-64, for AVX2+FMA; the choice is made once. */
static void gelu_base(float *x, size_t n) { tb_vm_gelu(x, n); }
static void softmax_base(float *x, size_t n, float scale) { tb_vm_softmax(x, n, scale); }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void gelu_avx2(float *x, size_t n)
{
    tb_vm_gelu(x, n);
}
__attribute__((target("avx2,fma"))) static void softmax_avx2(float *x, size_t n, float scale)
{
    tb_vm_softmax(x, n, scale);
}
#endif

static void ln_base(float *x, const float *a, int n, const float *g, const float *b, float eps)
{
    tb_vm_add_layernorm(x, a, (size_t)n, g, b, eps);
}
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void ln_avx2(float *x, const float *a, int n,
                                                        const float *g, const float *b, float eps)
{
    tb_vm_add_layernorm(x, a, (size_t)n, g, b, eps);
}
#endif

static void (*gelu_inplace)(float *x, size_t n) = gelu_base;
/* x = LayerNorm(x + a) over one row of n; a may be NULL */
static void (*add_layernorm)(float *x, const float *a, int n, const float *g, const float *b,
                             float eps) = ln_base;
/* x = softmax(x * scale) */
static void (*softmax)(float *x, size_t n, float scale) = softmax_base;

static void pick_vecmath(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        gelu_inplace = gelu_avx2;
        softmax = softmax_avx2;
        add_layernorm = ln_avx2;
    }
    if (tb_vm512_available()) {
        gelu_inplace = tb_vm512_gelu;
        softmax = tb_vm512_softmax;
    }
#endif
}

/* ---------------------------------------------------------------- parallel ops */

/* y[M][N] (row stride ldy) = act(x[M][K] W[N][K]^T + b), fp32 (from W^T) or int8. */
typedef struct lin_job {
    bert_model *bm;
    bert_state *s;
    const float *x;
    int m, k, n, ldy;
    const float *w;            /* fp32 weights transposed, [k][n], or NULL */
    const tb_q8_matrix *q;     /* int8 weights, or NULL */
    const tb_f32_matrix *pf;   /* packed fp32 weights, or NULL */
    const float *b;
    float *y;
    int act;
    int split_m;               /* chunks over rows (1) or over outputs (0) */
    int chunk;                 /* rows or outputs per chunk */
} lin_job;

static void lin_task(void *ctx, size_t i)
{
    lin_job *j = ctx;
    int m0 = 0, m1 = j->m, n0 = 0, n1 = j->n;
    if (j->split_m) {
        m0 = (int)i * j->chunk;
        m1 = TB_MIN(j->m, m0 + j->chunk);
    } else {
        n0 = (int)i * j->chunk;
        n1 = TB_MIN(j->n, n0 + j->chunk);
    }
    if (m0 >= m1 || n0 >= n1)
        return;
    if (j->q) {
        tb_q8_gemm(j->s->xq, j->s->sx, m0, m1, j->q, n0, n1, j->b, j->y, j->ldy);
    } else if (j->pf) {
        tb_f32_gemm(j->x, j->k, m0, m1, j->pf, n0, n1, j->b, j->y, j->ldy);
    } else {
        for (int r = m0; r < m1; r++)
            memcpy(j->y + (size_t)r * (size_t)j->ldy + n0, j->b + n0,
                   (size_t)(n1 - n0) * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, n1 - n0, j->k, 1.0f,
                    j->x + (size_t)m0 * (size_t)j->k, j->k, j->w + n0, j->n, 1.0f,
                    j->y + (size_t)m0 * (size_t)j->ldy + n0, j->ldy);
    }
    if (j->act == ACT_GELU)
        for (int r = m0; r < m1; r++)
            gelu_inplace(j->y + (size_t)r * (size_t)j->ldy + n0, (size_t)(n1 - n0));
}

typedef struct rows_job {
    bert_model *bm;
    bert_state *s;
    int m, chunk;
    void (*fn)(struct rows_job *j, int r0, int r1);
    /* operands for the row functions below */
    float *x;
    const float *a;
    const float *g, *b;
    int k;
} rows_job;

static void rows_task(void *ctx, size_t i)
{
    rows_job *j = ctx;
    int r0 = (int)i * j->chunk, r1 = TB_MIN(j->m, r0 + j->chunk);
    if (r0 < r1)
        j->fn(j, r0, r1);
}

/* fn(ctx, i) for i < n: across the pool, or here */
static void run_for(const bert_exec *ex, size_t n, void (*fn)(void *, size_t), void *ctx)
{
    if (ex->pool) {
        tb_pool_for(ex->pool, n, fn, ctx);
    } else {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
    }
}

static void rows_for(const bert_exec *ex, rows_job *j)
{
    int tasks = ex->pool ? ex->par * 2 : 1;
    j->bm = ex->bm;
    j->s = ex->s;
    j->chunk = (j->m + tasks - 1) / tasks;
    if (j->chunk < 1)
        j->chunk = 1;
    run_for(ex, (size_t)((j->m + j->chunk - 1) / j->chunk), rows_task, j);
}

static void quantize_rows_fn(rows_job *j, int r0, int r1)
{
    bert_state *s = j->s;
    /* rows of stride k_pad, as the kernel reads them (xq holds N x kq bytes,
     * kq >= k_pad for every layer) */
    int kp = (j->k + 3) / 4 * 4;
    tb_q8_quantize_rows(j->x + (size_t)r0 * (size_t)j->k, j->k, r1 - r0, j->k,
                        s->xq + (size_t)r0 * (size_t)kp, kp, s->sx + r0);
}

static void linear(const bert_exec *ex, const float *x, int m, int k, const float *w,
                   const tb_f32_matrix *pf, const tb_q8_matrix *q, const float *b, float *y,
                   int n, int act)
{
    bert_model *bm = ex->bm;
    lin_job j = {.bm = bm, .s = ex->s, .x = x, .m = m, .k = k, .n = n, .ldy = n, .w = w, .q = q,
                 .pf = bm->packed_f32 && !q ? pf : NULL, .b = b, .y = y, .act = act};
    if (q) {
        /* Quantise the activations once; the kernel wants rows of stride
         * k_pad, which is what bm->kq holds for this k (kq >= k_pad). */
        rows_job r = {.m = m, .fn = quantize_rows_fn, .x = (float *)x, .k = k};
        rows_for(ex, &r);
    }
    int T = ex->pool ? ex->par : 1;
    size_t tasks;
    if (T == 1) {
        j.split_m = 1;
        j.chunk = m;
        tasks = 1;
    } else if (m >= 32 * T) {
        /* rows: multiples of 8 (the int8 tile height) */
        int per = (m + 2 * T - 1) / (2 * T);
        j.split_m = 1;
        j.chunk = TB_MAX(8, (per + 7) / 8 * 8);
        tasks = (size_t)((m + j.chunk - 1) / j.chunk);
    } else {
        /* few rows (one short text): split the outputs, multiples of 32 */
        int per = (n + 2 * T - 1) / (2 * T);
        j.split_m = 0;
        j.chunk = TB_MAX(32, (per + 31) / 32 * 32);
        tasks = (size_t)((n + j.chunk - 1) / j.chunk);
    }
    if (bm->blas_threads && !q && !j.pf) {
        j.split_m = 1;
        j.chunk = m;
        tasks = 1;
    }
    run_for(ex, tasks, lin_task, &j);
}

static void add_ln_fn(rows_job *j, int r0, int r1)
{
    int H = j->k;
    for (int r = r0; r < r1; r++)
        add_layernorm(j->x + (size_t)r * (size_t)H, j->a ? j->a + (size_t)r * (size_t)H : NULL,
                      H, j->g, j->b, j->bm->cfg.eps);
}

static void embed_fn(rows_job *j, int r0, int r1)
{
    bert_model *bm = j->bm;
    const bert_weights *w = &bm->w;
    bert_state *s = j->s;
    int H = bm->cfg.hidden;
    for (int r = r0; r < r1; r++) {
        float *xr = s->x + (size_t)r * (size_t)H;
        const float *we = w->word + (size_t)s->ids[r] * (size_t)H;
        const float *pe = w->pos + (size_t)s->pos[r] * (size_t)H;
        const float *te = w->type + (size_t)s->types[r] * (size_t)H;
        for (int i = 0; i < H; i++)
            xr[i] = we[i] + pe[i] + te[i];
        add_layernorm(xr, NULL, H, w->emb_g, w->emb_b, bm->cfg.eps);
    }
}

/* int8: a single batch of fewer tokens runs on one thread (see embed) */
#define TB_BERT_INT8_SPLIT_TOKENS 256

/* floats of the [T][T] scores, rounded up to a cache line */
#define TT16(T) (((T) * (T) + 15) / 16 * 16)

/* Attention for one (sequence, head): ctx = softmax(q k^T / sqrt(hd)) v. */
typedef struct att_job {
    bert_model *bm;
    bert_state *s;
    int nseq;
} att_job;

static int slot_acquire(bert_state *s, int n)
{
    for (;;)
        for (int i = 0; i < n; i++)
            if (!atomic_exchange(&s->busy[i], 1))
                return i;
}

static void att_task(void *ctx, size_t idx)
{
    att_job *j = ctx;
    bert_model *bm = j->bm;
    bert_state *s = j->s;
    const int H = bm->cfg.hidden, nh = bm->cfg.heads, hd = H / nh;
    int b = (int)idx / nh, h = (int)idx % nh;
    int off = s->seq_off[b], L = s->seq_len[b];
    const float *q = s->qkv + (size_t)off * (size_t)(3 * H) + (size_t)h * (size_t)hd;
    const float *k = q + H, *v = q + 2 * H;
    int slot = slot_acquire(s, s->nslots);
    float *S = s->scores + (size_t)slot * bm->scratch_floats;
    float scale = 1.0f / sqrtf((float)hd);
    float *co = s->ctx + (size_t)off * (size_t)H + (size_t)h * (size_t)hd;
    if (bm->packed_f32) {
        /* S = q k^T with k packed as the "weights" (L outputs of hd), then
         * ctx = P v with v^T packed (hd outputs of L): the packed kernels
         * beat a general sgemm at these sizes (hd 32, L <= 512). */
        float *kp = S + TT16((size_t)bm->max_seq);
        float *vp = kp + (size_t)((bm->max_seq + 15) / 16 * 16) * (size_t)hd;
        tb_f32_matrix km, vm;
        tb_f32_pack_into(&km, kp, k, 3 * H, L, hd, false);
        tb_f32_pack_into(&vm, vp, v, 3 * H, hd, L, true);
        tb_f32_gemm(q, 3 * H, 0, L, &km, 0, L, NULL, S, L);
        for (int t = 0; t < L; t++)
            softmax(S + (size_t)t * (size_t)L, (size_t)L, scale);
        tb_f32_gemm(S, L, 0, L, &vm, 0, hd, NULL, co, H);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, 1.0f, q, 3 * H, k,
                    3 * H, 0.0f, S, L);
        for (int t = 0; t < L; t++)
            softmax(S + (size_t)t * (size_t)L, (size_t)L, scale);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, S, L, v, 3 * H,
                    0.0f, co, H);
    }
    atomic_store(&s->busy[slot], 0);
}

/* ---------------------------------------------------------------- forward */

/* Run the encoder on the batch in s (ids/types/pos for N rows, nseq
 * sequences) and write nseq pooled, normalised embeddings to out. */
static void forward(const bert_exec *ex, int N, int nseq, float *out)
{
    bert_model *bm = ex->bm;
    const tb_bert_config *c = &bm->cfg;
    const bert_weights *w = &bm->w;
    bert_state *s = ex->s;
    const size_t *out_rows = s->out_rows;
    const int H = c->hidden, F = c->ffn;
    const bool q8 = bm->opts.quantize == TB_BERT_INT8;

    /* x = LayerNorm(word + position + type) */
    rows_job e = {.m = N, .fn = embed_fn};
    rows_for(ex, &e);

    for (int l = 0; l < c->layers; l++) {
        const bert_layer *L = &w->layer[l];
        /* q, k, v = x Wqkv^T + bqkv */
        linear(ex, s->x, N, H, L->t_qkv, &L->p_qkv, q8 ? &L->q_qkv : NULL, L->bqkv, s->qkv, 3 * H, ACT_NONE);
        /* ctx = softmax(q k^T / sqrt(hd)) v, per sequence and head */
        att_job aj = {.bm = bm, .s = s, .nseq = nseq};
        run_for(ex, (size_t)nseq * (size_t)c->heads, att_task, &aj);
        /* x = LayerNorm(x + ctx Wo^T + bo) */
        linear(ex, s->ctx, N, H, L->t_o, &L->p_o, q8 ? &L->q_o : NULL, L->bo, s->tmp, H, ACT_NONE);
        rows_job r1 = {.m = N, .fn = add_ln_fn, .x = s->x, .a = s->tmp, .g = L->ln1_g,
                       .b = L->ln1_b, .k = H};
        rows_for(ex, &r1);
        /* x = LayerNorm(x + gelu(x Wi^T + bi) Wout^T + bout) */
        linear(ex, s->x, N, H, L->t_i, &L->p_i, q8 ? &L->q_i : NULL, L->bi, s->ffn, F, ACT_GELU);
        linear(ex, s->ffn, N, F, L->t_out, &L->p_out, q8 ? &L->q_out : NULL, L->bout, s->tmp, H, ACT_NONE);
        rows_job r2 = {.m = N, .fn = add_ln_fn, .x = s->x, .a = s->tmp, .g = L->ln2_g,
                       .b = L->ln2_b, .k = H};
        rows_for(ex, &r2);
    }

    /* pool each sequence, optional Dense, L2-normalise */
    const int D = (int)bm->base.dim;
    for (int b = 0; b < nseq; b++) {
        float *p = s->pooled + (size_t)b * (size_t)H;
        const float *xs = s->x + (size_t)s->seq_off[b] * (size_t)H;
        int len = s->seq_len[b];
        if (c->pooling == TB_POOL_CLS) {
            memcpy(p, xs, (size_t)H * sizeof(float));
        } else if (c->pooling == TB_POOL_MAX) {
            memcpy(p, xs, (size_t)H * sizeof(float));
            for (int t = 1; t < len; t++)
                for (int i = 0; i < H; i++)
                    p[i] = fmaxf(p[i], xs[(size_t)t * (size_t)H + i]);
        } else {
            memset(p, 0, (size_t)H * sizeof(float));
            for (int t = 0; t < len; t++)
                for (int i = 0; i < H; i++)
                    p[i] += xs[(size_t)t * (size_t)H + i];
            float div = c->pooling == TB_POOL_MEAN ? (float)len : sqrtf((float)len);
            for (int i = 0; i < H; i++)
                p[i] /= div;
        }
        float *o = out + out_rows[b] * (size_t)D;
        if (w->dense_w) {
            for (int d = 0; d < D; d++) {
                float v = (w->dense_b ? w->dense_b[d] : 0.0f) +
                          tb_dot(w->dense_w + (size_t)d * (size_t)H, p, (size_t)H);
                o[d] = w->dense_act == ACT_TANH ? tanhf(v) : v;
            }
        } else {
            memcpy(o, p, (size_t)H * sizeof(float));
        }
        tb_l2_normalize(o, (size_t)D);
    }
}

/* ---------------------------------------------------------------- batching */

static int key_cmp(const void *a, const void *b)
{
    const struct row_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Copy sequences keys[0], keys[step], keys[2 step], ... (nseq / step of
 * them, rounded up) into s as one packed batch. Returns the token count. */
static int fill_state(bert_state *s, const struct row_key *keys, int nseq, int step,
                      const int32_t *const *ids, const int32_t *const *types)
{
    int N = 0, b = 0;
    for (int k = 0; k < nseq; k += step, b++) {
        size_t r = keys[k].idx;
        int L = (int)keys[k].len;
        s->seq_off[b] = N;
        s->seq_len[b] = L;
        s->out_rows[b] = r;
        for (int t = 0; t < L; t++) {
            s->ids[N + t] = ids[r][t];
            s->types[N + t] = types && types[r] ? types[r][t] : 0;
            s->pos[N + t] = t;
        }
        N += L;
    }
    return N;
}

typedef struct dp_job {
    bert_model *bm;
    const struct row_key *keys;
    int nseq;
    const int32_t *const *ids, *const *types;
    float *out;
} dp_job;

/* Worker w of a batch split by sequences: sequences w, w + T, w + 2T, ...
 * (sorted by length, so every worker gets about N / T tokens, at most one
 * sequence more than the others -- within run[w]'s max_tokens / T + max_seq). */
static void dp_task(void *ctx, size_t w)
{
    dp_job *j = ctx;
    bert_model *bm = j->bm;
    if ((int)w >= j->nseq)
        return;
    bert_exec ex = {.bm = bm, .s = &bm->run[w], .pool = NULL, .par = 1};
    int mine = (j->nseq - (int)w + bm->threads - 1) / bm->threads;
    int n = fill_state(ex.s, j->keys + w, j->nseq - (int)w, bm->threads, j->ids, j->types);
    forward(&ex, n, mine, j->out);
}

/* Embed n rows (ids[i], types[i] or NULL for type 0, lens[i]) into
 * out + base_row * dim: sort by length, cut into batches of at most
 * max_batch sequences and max_tokens rows, forward each. Caller holds mu. */
static int embed_rows(bert_model *bm, const int32_t *const *ids, const int32_t *const *types,
                      const size_t *lens, size_t n, float *out, tb_err *err)
{
    const tb_bert_config *c = &bm->cfg;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0)
            return tb_err_set(err, TB_EINVAL, "row %zu has no tokens", i);
        size_t L = TB_MIN(lens[i], (size_t)bm->max_seq);
        for (size_t t = 0; t < L; t++) {
            if (ids[i][t] < 0 || ids[i][t] >= c->vocab_size)
                return tb_err_set(err, TB_EINVAL, "row %zu: token id %d is outside the vocabulary (%d)",
                                  i, ids[i][t], c->vocab_size);
            if (types && types[i] && (types[i][t] < 0 || types[i][t] >= c->type_vocab))
                return tb_err_set(err, TB_EINVAL, "row %zu: token type %d is outside [0, %d)", i,
                                  types[i][t], c->type_vocab);
        }
    }
    for (size_t c0 = 0; c0 < n; c0 += TB_BERT_CHUNK) {
        size_t cn = TB_MIN(n - c0, (size_t)TB_BERT_CHUNK);
        for (size_t i = 0; i < cn; i++) {
            bm->keys[i].len = TB_MIN(lens[c0 + i], (size_t)bm->max_seq);
            bm->keys[i].idx = c0 + i;
        }
        qsort(bm->keys, cn, sizeof *bm->keys, key_cmp);
        size_t i = 0;
        while (i < cn) {
            /* a batch: up to max_batch sequences of similar length */
            size_t start = i;
            int nseq = 0, N = 0;
            while (i < cn && nseq < bm->max_batch &&
                   N + (int)bm->keys[i].len <= bm->max_tokens) {
                N += (int)bm->keys[i].len;
                nseq++;
                i++;
            }
            /* int8 ops are cheap enough that a wake-up of the pool per op
             * (~20-40 us on a condition variable, and far worse when another
             * process holds the other CPU) costs more than splitting them
             * saves: int8 splits by sequence as soon as every worker gets
             * one, and runs a single short text on this thread alone
             * (measured on 2 CPUs: 1 x 64 tokens 2.2x faster alone). */
            const bool q8 = bm->opts.quantize == TB_BERT_INT8;
            if (bm->threads > 1 && nseq >= (q8 ? 1 : 2) * bm->threads) {
                /* enough sequences for every worker: each runs a whole
                 * forward pass on every threads-th sequence, alone. No
                 * synchronisation inside the pass. */
                dp_job dj = {.bm = bm, .keys = bm->keys + start, .nseq = nseq, .ids = ids,
                             .types = types, .out = out};
                tb_pool_for(bm->pool, (size_t)bm->threads, dp_task, &dj);
            } else {
                /* one short batch: every op split across the pool */
                bool alone = q8 && N < TB_BERT_INT8_SPLIT_TOKENS;
                bert_exec ex = {.bm = bm, .s = &bm->run[0], .pool = alone ? NULL : bm->pool,
                                .par = alone ? 1 : bm->threads};
                int n0 = fill_state(ex.s, bm->keys + start, nseq, 1, ids, types);
                forward(&ex, n0, nseq, out);
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- tb_model ops */

static int bert_embed(tb_model *m, const char *const *texts, size_t n, int kind, float *out,
                      tb_err *err)
{
    bert_model *bm = m->impl;
    const char *prompt = kind == TB_EMBED_QUERY ? bm->cfg.query_prompt : bm->cfg.document_prompt;
    const int32_t *ids[TB_BERT_CHUNK], *types[TB_BERT_CHUNK];
    size_t lens[TB_BERT_CHUNK];
    tb_buf text = {0};
    int rc = 0;
    pthread_mutex_lock(&bm->mu);
    for (size_t c0 = 0; c0 < n && rc == 0; c0 += TB_BERT_CHUNK) {
        size_t cn = TB_MIN(n - c0, (size_t)TB_BERT_CHUNK);
        for (size_t i = 0; i < cn; i++) {
            const char *t = texts[c0 + i] ? texts[c0 + i] : "";
            if (prompt[0]) {
                tb_buf_clear(&text);
                tb_buf_puts(&text, prompt);
                tb_buf_puts(&text, t);
                t = tb_buf_cstr(&text);
            }
            if (tb_tokenizer_encode(bm->tok, t, (size_t)bm->max_seq, true, &bm->toks[i], err) < 0) {
                tb_err_prefix(err, "text %zu", c0 + i);
                rc = -1;
                break;
            }
            ids[i] = bm->toks[i].ids;
            types[i] = bm->toks[i].type_ids;
            lens[i] = bm->toks[i].n;
            if (lens[i] == 0) {
                /* a tokenizer without [CLS]/[SEP] and an empty text: embed the pad token */
                static const int32_t zero = 0;
                ids[i] = &zero;
                types[i] = NULL;
                lens[i] = 1;
            }
        }
        if (rc == 0)
            rc = embed_rows(bm, ids, types, lens, cn, out + c0 * m->dim, err);
    }
    pthread_mutex_unlock(&bm->mu);
    tb_buf_free(&text);
    return rc;
}

int tb_bert_embed_ids(tb_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                      float *out, tb_err *err)
{
    if (!m || m->ops->embed != bert_embed)
        return tb_err_set(err, TB_EINVAL, "not a BERT model");
    bert_model *bm = m->impl;
    pthread_mutex_lock(&bm->mu);
    int rc = 0;
    for (size_t c0 = 0; c0 < n && rc == 0; c0 += TB_BERT_CHUNK) {
        size_t cn = TB_MIN(n - c0, (size_t)TB_BERT_CHUNK);
        rc = embed_rows(bm, ids + c0, NULL, lens + c0, cn, out + c0 * m->dim, err);
        if (rc < 0 && c0)
            tb_err_prefix(err, "rows from %zu", c0);
    }
    pthread_mutex_unlock(&bm->mu);
    return rc;
}

static const char *pooling_name(int p)
{
    switch (p) {
    case TB_POOL_CLS: return "cls";
    case TB_POOL_MAX: return "max";
    case TB_POOL_MEAN_SQRT_LEN: return "mean_sqrt_len";
    default: return "mean";
    }
}

static char *bert_describe(const tb_model *m)
{
    const bert_model *bm = m->impl;
    const tb_bert_config *c = &bm->cfg;
    tb_buf b = {0};
    tb_buf_printf(&b, "name:        %s\n", m->name);
    tb_buf_printf(&b, "path:        %s\n", m->path);
    tb_buf_printf(&b, "id:          %s\n", m->id);
    tb_buf_printf(&b, "kind:        bert encoder (sentence-transformers layout)\n");
    tb_buf_printf(&b, "shape:       %d layers, hidden %d, %d heads, ffn %d, vocab %d, %.1fM parameters\n",
                  c->layers, c->hidden, c->heads, c->ffn, c->vocab_size, (double)bm->params / 1e6);
    tb_buf_printf(&b, "dimensions:  %zu\n", m->dim);
    tb_buf_printf(&b, "pooling:     %s%s, L2-normalised\n", pooling_name(c->pooling),
                  bm->w.dense_w ? " + dense" : "");
    tb_buf_printf(&b, "max_seq:     %d tokens\n", bm->max_seq);
    if (bm->opts.quantize == TB_BERT_INT8)
        tb_buf_printf(&b, "compute:     int8 linear layers (%s kernel)", tb_q8_kernel());
    else
        tb_buf_printf(&b, "compute:     fp32 (%s)",
                      bm->packed_f32 ? tb_f32_kernel() : "OpenBLAS sgemm");
    tb_buf_printf(&b, ", %d threads\n", bm->threads);
    if (c->query_prompt[0] || c->document_prompt[0])
        tb_buf_printf(&b, "prompts:     query \"%s\", document \"%s\"\n", c->query_prompt,
                      c->document_prompt);
    return tb_buf_steal(&b);
}

static void state_free(bert_state *s);

static void bert_free(bert_model *bm)
{
    if (!bm)
        return;
    if (bm->w.layer) {
        for (int l = 0; l < bm->cfg.layers; l++) {
            bert_layer *L = &bm->w.layer[l];
            free(L->wqkv);
            free(L->bqkv);
            free(L->t_qkv);
            free(L->t_o);
            free(L->t_i);
            free(L->t_out);
            tb_f32_free(&L->p_qkv);
            tb_f32_free(&L->p_o);
            tb_f32_free(&L->p_i);
            tb_f32_free(&L->p_out);
            tb_q8_free(&L->q_qkv);
            tb_q8_free(&L->q_o);
            tb_q8_free(&L->q_i);
            tb_q8_free(&L->q_out);
        }
        free(bm->w.layer);
    }
    for (size_t i = 0; i < bm->w.n_owned; i++)
        free(bm->w.owned[i]);
    free(bm->w.owned);
    if (bm->run) {
        for (int t = 0; t < bm->threads; t++)
            state_free(&bm->run[t]);
        free(bm->run);
    }
    for (size_t i = 0; i < TB_BERT_CHUNK; i++)
        tb_tokens_free(&bm->toks[i]);
    free(bm->keys);
    if (bm->pool)
        tb_pool_free(bm->pool);
    if (bm->tok)
        tb_tokenizer_free(bm->tok);
    if (bm->st)
        tb_st_close(bm->st);
    pthread_mutex_destroy(&bm->mu);
    free(bm->base.name);
    free(bm->base.path);
    free(bm);
}

static void bert_close(tb_model *m)
{
    if (m)
        bert_free(m->impl);
}

static const struct tb_model_ops bert_ops = {
    .embed = bert_embed,
    .describe = bert_describe,
    .close = bert_close,
};

const tb_bert_config *tb_bert_model_config(const tb_model *m)
{
    if (!m || m->ops != &bert_ops)
        return NULL;
    return &((const bert_model *)m->impl)->cfg;
}

/* ---------------------------------------------------------------- open */

/* Allocate one run state for `rows` tokens, max_batch sequences and
 * `slots` concurrent attention tasks. */
static void state_alloc(bert_model *bm, bert_state *s, size_t rows, int slots)
{
    const tb_bert_config *c = &bm->cfg;
    size_t N = rows, H = (size_t)c->hidden, F = (size_t)c->ffn;
    size_t B = (size_t)bm->max_batch, T = (size_t)bm->max_seq;
    size_t D = TB_MAX(H, (size_t)bm->w.dense_out);
    s->rows = (int)rows;
    s->nslots = slots;
    s->x = tb_f32_alloc(N * H);
    s->qkv = tb_f32_alloc(N * 3 * H);
    s->ctx = tb_f32_alloc(N * H);
    s->tmp = tb_f32_alloc(N * H);
    s->ffn = tb_f32_alloc(N * F);
    /* per slot: scores [T][T], packed K [T16][hd], packed V^T [hd16][T] */
    size_t hd = H / (size_t)c->heads, T16 = (T + 15) / 16 * 16, hd16 = (hd + 15) / 16 * 16;
    /* (each part a whole number of cache lines: the kernels' 16-float rows
     * then never straddle two) */
    bm->scratch_floats = TT16(T) + T16 * hd + (hd16 * T + 15) / 16 * 16;
    s->scores = tb_f32_alloc((size_t)slots * bm->scratch_floats);
    s->busy = tb_calloc((size_t)slots, sizeof *s->busy);
    if (bm->opts.quantize == TB_BERT_INT8) {
        bm->kq = (int)((TB_MAX(H, F) + 3) / 4 * 4);
        s->xq = (int8_t *)tb_f32_alloc((N * (size_t)bm->kq + 3) / 4);
        s->sx = tb_malloc(N * sizeof(float));
    }
    s->pooled = tb_malloc(B * D * sizeof(float));
    s->ids = tb_malloc(N * sizeof(int32_t));
    s->types = tb_malloc(N * sizeof(int32_t));
    s->pos = tb_malloc(N * sizeof(int32_t));
    s->seq_off = tb_malloc(B * sizeof(int));
    s->seq_len = tb_malloc(B * sizeof(int));
    s->out_rows = tb_malloc(B * sizeof(size_t));
}

static void state_free(bert_state *s)
{
    free(s->x);
    free(s->qkv);
    free(s->ctx);
    free(s->tmp);
    free(s->ffn);
    free(s->scores);
    free(s->busy);
    free(s->xq);
    free(s->sx);
    free(s->pooled);
    free(s->ids);
    free(s->types);
    free(s->pos);
    free(s->seq_off);
    free(s->seq_len);
    free(s->out_rows);
}

static void states_alloc(bert_model *bm)
{
    bm->run = tb_calloc((size_t)bm->threads, sizeof *bm->run);
    state_alloc(bm, &bm->run[0], (size_t)bm->max_tokens, bm->threads);
    for (int t = 1; t < bm->threads; t++)
        state_alloc(bm, &bm->run[t], (size_t)(bm->max_tokens / bm->threads + bm->max_seq), 1);
    bm->keys = tb_malloc(TB_BERT_CHUNK * sizeof *bm->keys);
}

/* Model id: "bert:<name>:<hash>" (or bert-int8:...), the hash over the
 * config, the tensor table and a sample of the weights, so two directories
 * with the same files share an id and different weights never do. */
static void make_id(bert_model *bm)
{
    uint64_t h = tb_hash64(&bm->cfg, offsetof(tb_bert_config, normalize), 0x62657274);
    h = tb_hash64(&bm->cfg.pooling, sizeof bm->cfg.pooling, h);
    for (size_t i = 0; i < tb_st_count(bm->st); i++) {
        const tb_tensor *t = tb_st_at(bm->st, i);
        h = tb_hash64(t->name, strlen(t->name), h);
        h = tb_hash64(t->shape, (size_t)t->ndim * sizeof t->shape[0], h);
        h = tb_hash64(t->data, TB_MIN(t->nbytes, (size_t)4096), h);
    }
    if (bm->w.dense_w)
        h = tb_hash64(bm->w.dense_w, (size_t)bm->w.dense_out * sizeof(float), h);
    snprintf(bm->base.id, sizeof bm->base.id, "%s:%.100s:%016llx",
             bm->opts.quantize == TB_BERT_INT8 ? "bert-int8" : "bert", bm->base.name,
             (unsigned long long)h);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    int64_t x;
    if (v && tb_parse_i64(v, &x) == 0 && x > 0 && x < 4096)
        return (int)x;
    return def;
}

tb_model *tb_bert_open(const char *dir, const struct tb_bert_opts *opts, tb_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pick_vecmath);
    bert_model *bm = tb_calloc(1, sizeof *bm);
    pthread_mutex_init(&bm->mu, NULL);
    char *dense_path = NULL;
    if (opts) {
        bm->opts = *opts;
    } else {
        /* no options (tb_model_open): TASTEBUD_QUANTIZE=int8 selects int8 */
        const char *q = getenv("TASTEBUD_QUANTIZE");
        if (q && !strcmp(q, "int8"))
            bm->opts.quantize = TB_BERT_INT8;
        else if (q && *q && strcmp(q, "none") && strcmp(q, "f32") && strcmp(q, "fp32")) {
            tb_err_set(err, TB_EINVAL, "TASTEBUD_QUANTIZE=%s: expected int8 or none", q);
            goto fail;
        }
    }
    if (bm->opts.quantize != TB_BERT_F32 && bm->opts.quantize != TB_BERT_INT8) {
        tb_err_set(err, TB_EINVAL, "unknown quantisation mode %d", bm->opts.quantize);
        goto fail;
    }
    bm->base.ops = &bert_ops;
    bm->base.impl = bm;
    bm->base.path = tb_strdup(dir);
    {
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/')
            dl--;
        const char *slash = dl ? memrchr(dir, '/', dl) : NULL;
        const char *start = slash ? slash + 1 : dir;
        bm->base.name = tb_strndup(start, (size_t)(dir + dl - start));
    }
    /* TASTEBUD_F32_GEMM=blas forces cblas_sgemm (for comparison) */
    bm->packed_f32 = tb_f32_available() && !(getenv("TASTEBUD_F32_GEMM") &&
                                             !strcmp(getenv("TASTEBUD_F32_GEMM"), "blas"));
    if (config_load(dir, &bm->cfg, &dense_path, err) < 0)
        goto fail;
    char *stp = tb_path_join(dir, "model.safetensors");
    bm->st = tb_st_open(stp, err);
    free(stp);
    if (!bm->st)
        goto fail;
    if (load_weights(bm, err) < 0)
        goto fail;
    if (dense_path && load_dense(bm, dir, dense_path, err) < 0)
        goto fail;
    bm->tok = tb_tokenizer_load(dir, err);
    if (!bm->tok)
        goto fail;
    if (tb_tokenizer_vocab_size(bm->tok) > (size_t)bm->cfg.vocab_size) {
        tb_err_set(err, TB_EFORMAT, "%s: the tokenizer has %zu tokens but the model only %d", dir,
                   tb_tokenizer_vocab_size(bm->tok), bm->cfg.vocab_size);
        goto fail;
    }
    bm->base.dim = bm->w.dense_out ? (size_t)bm->w.dense_out : (size_t)bm->cfg.hidden;
    bm->max_seq = bm->cfg.max_seq;
    if (bm->opts.max_seq > 0 && bm->opts.max_seq < (size_t)bm->max_seq)
        bm->max_seq = (int)bm->opts.max_seq;
    bm->max_batch = bm->opts.max_batch > 0 ? (int)TB_MIN(bm->opts.max_batch, (size_t)4096) : 32;
    /* rows per forward pass: a batch of 128-token texts, but at most 16384
     * (the run state costs about (6 H + F) * 4 bytes per row: 63 MB for
     * 4096 rows of MiniLM) and at least one longest text */
    bm->max_tokens = TB_MIN(bm->max_batch * TB_MIN(128, bm->max_seq), 16384);
    bm->max_tokens = TB_MAX(bm->max_tokens, bm->max_seq);
    bm->threads = bm->opts.threads > 0 ? TB_MIN(bm->opts.threads, 256)
                                       : env_int("TASTEBUD_THREADS", tb_ncpu());
    bm->blas_threads = env_int("TASTEBUD_BLAS_THREADS", 0) == 1;
    if (bm->blas_threads) {
        openblas_set_num_threads(bm->threads);
        bm->pool = tb_pool_new(1);
    } else {
        /* our pool drives single-threaded GEMMs (see the top of the file) */
        if (bm->threads > 1)
            openblas_set_num_threads(1);
        bm->pool = tb_pool_new(bm->threads);
    }
    bm->threads = tb_pool_size(bm->pool);
    states_alloc(bm);
    make_id(bm);
    free(dense_path);
    return &bm->base;
fail:
    tb_err_prefix(err, "%s", dir);
    free(dense_path);
    bert_free(bm);
    return NULL;
}

/*
 * bert.h -- BERT-family transformer sentence encoders (MiniLM, BGE, E5, GTE).
 *
 * A model directory in the Hugging Face sentence-transformers layout
 * (config.json, model.safetensors, tokenizer.json or vocab.txt, modules.json,
 * 1_Pooling/config.json, optional 2_Dense/ and Normalize, optional
 * sentence_bert_config.json and config_sentence_transformers.json) is opened
 * as a tb_model whose ops run the encoder natively on the CPU: OpenBLAS
 * sgemm for the fp32 projections, or our own int8 GEMM (int8_gemm.c) when
 * the model is opened quantised. docs/ENCODERS.md is the user's guide.
 *
 * tb_bert_open is called by tb_model_open (model.c) for directories where
 * tb_bert_probe says yes. The lower-level entry points below (config parsing,
 * embedding pre-tokenised rows) exist for tests, the fuzzer and the
 * benchmark.
 */
#ifndef TB_BERT_H
#define TB_BERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tastebud.h"

enum tb_bert_quant {
    TB_BERT_F32 = 0,  /* weights as float32 (F16/BF16 files are widened) */
    TB_BERT_INT8 = 1, /* linear layers int8 per output row, activations per row */
};

enum tb_bert_pooling {
    TB_POOL_MEAN = 0,
    TB_POOL_CLS,
    TB_POOL_MAX,
    TB_POOL_MEAN_SQRT_LEN,
};

/* Options for tb_bert_open. Zero-initialise for the defaults. */
struct tb_bert_opts {
    int quantize;      /* enum tb_bert_quant; TB_BERT_F32 by default */
    int threads;       /* worker threads; 0 = TASTEBUD_THREADS env or all CPUs */
    size_t max_seq;    /* 0 = the model's max_seq_length; else truncate to this */
    size_t max_batch;  /* sequences per forward pass; 0 = 32 */
};

/* Everything the forward pass needs to know about the architecture, read
 * from config.json, 1_Pooling/config.json, sentence_bert_config.json and
 * config_sentence_transformers.json. */
typedef struct tb_bert_config {
    int vocab_size;        /* rows of word_embeddings */
    int hidden;            /* H, hidden_size */
    int layers;            /* num_hidden_layers */
    int heads;             /* num_attention_heads, divides H */
    int ffn;               /* intermediate_size */
    int max_pos;           /* max_position_embeddings */
    int type_vocab;        /* type_vocab_size (>= 1) */
    float eps;             /* layer_norm_eps */
    int pooling;           /* enum tb_bert_pooling */
    int max_seq;           /* max_seq_length (tokens, specials included) */
    bool normalize;        /* a Normalize module follows pooling */
    char query_prompt[128];    /* prepended for TB_EMBED_QUERY ("" if none) */
    char document_prompt[128]; /* prepended for TB_EMBED_DOCUMENT */
} tb_bert_config;

/* Parse config.json text (len bytes) into cfg (architecture fields only;
 * pooling = mean, max_seq = max_pos, normalize = true until the other
 * files say otherwise). Refuses non-BERT architectures, activations other
 * than gelu, relative position embeddings, heads not dividing hidden, and
 * out-of-range sizes, with a message naming the field. */
int tb_bert_config_parse(const char *json, size_t len, tb_bert_config *cfg, tb_err *err);
/* Parse 1_Pooling/config.json text into cfg->pooling. Refuses combined or
 * unknown pooling modes. */
int tb_bert_pooling_parse(const char *json, size_t len, tb_bert_config *cfg, tb_err *err);
/* Read every config file of a model directory into cfg. */
int tb_bert_config_load(const char *dir, tb_bert_config *cfg, tb_err *err);

/* True when dir looks like a BERT-family model directory (config.json says
 * model_type "bert" or a Bert* architecture, and model.safetensors exists).
 * Returns 1 or 0; never fails. */
int tb_bert_probe(const char *dir);

/* Open the encoder in dir. opts may be NULL for the defaults, and then the
 * environment decides: TASTEBUD_QUANTIZE=int8 opens it quantised. Returns a
 * tb_model freed with tb_model_close (or m->ops->close), or NULL with err
 * set. */
tb_model *tb_bert_open(const char *dir, const struct tb_bert_opts *opts, tb_err *err);

/* Embed n pre-tokenised rows (ids[i] has lens[i] tokens, specials included,
 * token type 0) into out (n * dim floats). Rows longer than the model's
 * maximum are truncated. Used by tests and the benchmark. */
int tb_bert_embed_ids(tb_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                      float *out, tb_err *err);
/* The configuration of an open BERT model (NULL if m is not one). */
const tb_bert_config *tb_bert_model_config(const tb_model *m);

#endif

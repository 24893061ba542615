/*
 * opml.h -- subscription lists in and out (OPML 1.0/2.0).
 */
#ifndef TB_FEED_OPML_H
#define TB_FEED_OPML_H

#include "store/store.h"
#include "util/util.h"

/* One feed outline. Strings owned by the array (free with tb_opml_free). */
typedef struct tb_opml_outline {
    char *xml_url;
    char *html_url;  /* may be NULL */
    char *title;     /* text or title attribute; may be NULL */
    char *category;  /* parent outline titles joined with "/", or the
                        category attribute; NULL when at the top level */
} tb_opml_outline;

/* Parse an OPML document: every outline with an xmlUrl, at any depth.
 * Tolerates bare '&' and other damage (libxml2 recover mode, no network,
 * no entities). Returns 0 and a malloc'd array in *out (NULL when empty);
 * -1 with TB_EFORMAT when the document is not OPML at all. */
int tb_opml_parse(const char *data, size_t len, tb_opml_outline **out, size_t *n,
                  tb_err *err);
void tb_opml_free(tb_opml_outline *o, size_t n);

/* Write an OPML 2.0 document of the given outlines, grouped by category. */
void tb_opml_write(const tb_opml_outline *o, size_t n, const char *title, tb_buf *out);

/* Import: add every feed and subscribe user to it (with category and title).
 * *n_feeds (may be NULL) gets the number of outlines imported. */
int tb_opml_import(tb_store *s, const char *user, const char *data, size_t len,
                   size_t *n_feeds, tb_err *err);

/* Export user's subscriptions. With rewrite_base (e.g.
 * "https://tastebud.example"), each xmlUrl becomes
 * "<rewrite_base>/feed/<user>/<feed id>" -- the filtered copy tastebud
 * serves -- so the file can be imported into any RSS reader. */
int tb_opml_export(tb_store *s, const char *user, const char *rewrite_base, tb_buf *out,
                   tb_err *err);

#endif

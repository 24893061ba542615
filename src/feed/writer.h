/*
 * writer.h -- writing feeds back out as RSS 2.0, with every link routed
 * through a caller-supplied rewriter.
 *
 * The filtered feeds `tastebud serve` hands to RSS readers are RSS 2.0
 * documents built from stored items. Every link a reader can follow is
 * passed to a rewrite callback, which for the server turns it into
 * /r/{user}/{item}[?l=N] so that the click is recorded before the reader is
 * redirected.
 *
 * Links inside an item's HTML are identified by their index N among the
 * <a href> elements of the stored HTML in document order
 * (tb_html_link_at). The index, never the URL, travels in the rewritten
 * link: the redirect looks the URL up again in the stored HTML, so a
 * request can only ever lead to a URL tastebud stored (no open redirect).
 *
 * While rewriting, the HTML is also defanged: <script>, <style>, <iframe>,
 * <object>, <embed>, <form>, <base> and <meta> elements and on* / style
 * attributes are dropped, and non-http(s) href/src values are removed, so a
 * hostile feed cannot smuggle script to a reader that renders HTML
 * carelessly.
 */
#ifndef TB_FEED_WRITER_H
#define TB_FEED_WRITER_H

#include <stddef.h>

#include "store/store.h"
#include "tastebud.h"
#include "util/util.h"

/* Which link of an item is being rewritten. */
#define TB_LINK_ITEM (-1)     /* the item's <link> / <guid> permalink */
#define TB_LINK_COMMENTS (-2) /* the item's <comments> */
/* >= 0: the N-th <a href> of the item's stored HTML. */

/* Write the replacement URL for link `which` of item `it` (orig is the
 * absolute original URL) into out (appending). */
typedef void (*tb_link_rewriter)(void *ctx, const tb_item *it, int which, const char *orig,
                                 tb_buf *out);

struct tb_rss_opts {
    const char *self_url;      /* atom:link rel="self" (may be NULL) */
    tb_link_rewriter rewrite;  /* NULL: links are kept as they are */
    void *ctx;
    int64_t build_date;        /* lastBuildDate (unix time; 0: none) */
};

/* Append an RSS 2.0 document for feed (title, link, description kept) with
 * items[0..n) in that order to out. Text is XML-escaped; item HTML is
 * rewritten (see above) and escaped as text. Never fails. */
void tb_rss_write(const tb_feed *feed, const tb_item *items, size_t n,
                  const struct tb_rss_opts *o, tb_buf *out);

/* Append the HTML fragment html (from an item whose URL is base, for
 * resolving relative links; may be NULL) to out with links rewritten and
 * the markup defanged. it and the callback as above (rewrite may be NULL). */
void tb_html_rewrite(const char *html, const char *base, const tb_item *it,
                     tb_link_rewriter rewrite, void *ctx, tb_buf *out);

/* The absolute http(s) URL of the n-th <a href> of html (in document
 * order, counting every <a> with an href, resolved against base). Returns
 * a new string (caller frees) or NULL when there is no such link or it is
 * not http(s). */
char *tb_html_link_at(const char *html, const char *base, int n);

/* Resolve ref against base; returns a new string (caller frees) when the
 * result is an absolute http or https URL, else NULL. base may be NULL. */
char *tb_url_resolve_http(const char *base, const char *ref);

#endif

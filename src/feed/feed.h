/*
 * feed.h -- understanding feeds: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed.
 *
 * tb_feed_parse turns the bytes of a feed into a tb_parsed_feed whose items
 * are tb_item structs (src/store/store.h) ready for tb_store_item_upsert. The
 * parsers never touch the network and never expand entities: libxml2 runs in
 * recover mode with XML_PARSE_NONET and without XML_PARSE_NOENT / DTD
 * loading, and the text walkers skip entity-reference nodes, so neither XXE
 * nor "billion laughs" can do anything.
 *
 * Beside the parser this header offers the small pieces it is made of and
 * that others reuse: date parsing (dates.c), HTML to plain text (html.c) and
 * feed discovery in HTML pages (discover.c).
 */
#ifndef TB_FEED_H
#define TB_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tastebud.h"
#include "util/util.h"

/* What a feed said about itself, plus its items. All strings are owned by
 * the struct (NULL when absent); free everything with tb_parsed_feed_free. */
typedef struct tb_parsed_feed {
    const char *format;  /* static: "rss2", "rss1", "rss090", "atom10", "atom03", "json" */
    char *title;
    char *site_url;      /* the feed's home page (<link>, Atom rel=alternate) */
    char *description;
    char *image;         /* logo / icon / itunes:image */
    int ttl;             /* seconds between fetches the feed asks for, 0 none */
    tb_item *items;      /* n_items entries; id, feed_id, collection, created unset (0/NULL) */
    size_t n_items;
} tb_parsed_feed;

/* Parse a feed. url is where it came from (used to resolve relative links;
 * may be NULL); charset is the HTTP Content-Type charset (may be NULL). The
 * format is detected from the content. Encodings: a BOM wins, then the HTTP
 * charset, then the XML declaration; bytes declared UTF-8 that are not valid
 * UTF-8 are read as windows-1252, ISO-8859-1 as windows-1252, and bytes
 * declared as a single-byte charset that are valid multi-byte UTF-8 as UTF-8.
 * On success fills *out (zeroed first) and returns 0; on input that is no
 * feed at all returns -1 with TB_EFORMAT and a message saying why. */
int tb_feed_parse(const char *data, size_t len, const char *url, const char *charset,
                  tb_parsed_feed *out, tb_err *err);
/* Free every string and item of f and zero it. Safe on a zeroed struct. */
void tb_parsed_feed_free(tb_parsed_feed *f);

/* ------------------------------------------------------------------ dates */

/* Parse a date as feeds write them: RFC 822/1123 (with or without weekday or
 * seconds, 2-digit years, named zones such as EST/PDT/CET, lower-case or
 * full month names), RFC 3339 / ISO 8601 (date only, no seconds, fractions,
 * "Z", "+hh:mm", "+hhmm", space instead of T) and a few common variants.
 * Returns 0 and the unix time in *out, or -1 when the text is no date. */
int tb_date_parse(const char *s, int64_t *out);

/* ------------------------------------------------------------------- html */

/* Reduce an HTML fragment to plain text for embedding: text nodes only,
 * script/style/head skipped, entities decoded, block elements separate
 * words, whitespace collapsed to single spaces, trimmed. Appends to out.
 * When first_img is not NULL and *first_img is NULL, the src of the first
 * <img> is stored there (caller frees; not resolved against any base).
 * Never fails: garbage in, best-effort text out. */
void tb_html_to_text(const char *html, size_t len, tb_buf *out, char **first_img);
/* Collapse runs of whitespace to one space and trim, appending to out. */
void tb_text_collapse(const char *s, size_t len, tb_buf *out);

/* -------------------------------------------------------------- discovery */

/* Find feeds announced in an HTML page (<link rel="alternate"
 * type="application/rss+xml|atom+xml|feed+json|json" href=...>), resolved
 * against <base href> and page_url. Returns the number found (0 if none) and
 * a malloc'd array of malloc'd URLs in *urls (caller frees each and the
 * array; NULL when none). Never fails. */
size_t tb_feed_discover(const char *html, size_t len, const char *page_url, char ***urls);
/* Does this body look like an HTML page rather than a feed? (Used by
 * `feed add` to decide whether to run discovery.) */
bool tb_feed_looks_html(const char *data, size_t len, const char *content_type);

/* ---------------------------------------------------------------- helpers */

/* Copy data into out with every '&' that does not start a character or
 * entity reference replaced by "&amp;" (CDATA sections and comments are left
 * alone). Returns true and fills out when something was changed; false (out
 * untouched) when the input needed no fix. Used for OPML and feeds written
 * by hand. */
bool tb_xml_fix_amps(const char *data, size_t len, tb_buf *out);

#endif /* TB_FEED_H */

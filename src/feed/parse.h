/*
 * parse.h -- what the format parsers (parse_xml.c, parse_json.c) share with
 * the dispatcher (parse.c). Private to src/feed.
 */
#ifndef TB_FEED_PARSE_H
#define TB_FEED_PARSE_H

#include "feed/feed.h"

/* Append a zeroed item to f and return it. The array grows geometrically. */
tb_item *tb_pf_item_new(tb_parsed_feed *f);

/* Fields an item collects while being parsed, before tb_pf_item_finish
 * turns them into the stored tb_item. Strings are owned by the draft until
 * finish takes them (finish frees what it does not keep). */
typedef struct tb_item_draft {
    char *guid;        /* guid / id / rdf:about: the preferred stable key */
    char *link;        /* resolved absolute URL */
    char *title;       /* as found: HTML when title_html, else plain text */
    bool title_html;   /* title is markup (Atom type=html/xhtml) */
    bool title_plain;  /* title is certainly text (Atom type=text); else guess */
    char *html;        /* content as HTML */
    char *author;
    tb_buf tags;       /* ", "-joined */
    int64_t published; /* 0 unknown */
    int64_t updated;
    char *date_raw;    /* the date text, for the hash key when no guid/link */
    char *image;       /* resolved image URL from media / enclosure elements */
    char *comments;
    char *enclosure_url, *enclosure_type;
    int64_t enclosure_length;
    char *base;        /* base URL to resolve an <img> found in html, or NULL */
} tb_item_draft;

/* Build item it (already allocated with tb_pf_item_new) from d: key (guid,
 * else link, else a hash of title and date), plain-text title, text from
 * html, first <img> as image fallback, extra JSON for the enclosure. Frees
 * everything left in d and zeroes it. */
void tb_pf_item_finish(tb_item *it, tb_item_draft *d);
/* Add one tag to d->tags (trimmed; empty and duplicate tags are skipped). */
void tb_pf_add_tag(tb_item_draft *d, const char *tag);
/* Resolve ref against base (either may be NULL); malloc'd result or NULL
 * when ref is empty. Non-resolvable input is returned trimmed, as is. */
char *tb_pf_resolve(const char *ref, const char *base);
/* Trimmed, whitespace-collapsed copy of s, or NULL when s is NULL/blank. */
char *tb_pf_clean(const char *s);

/* First occurrence of needle[0..n) (n >= 1) in [p, end), or NULL. A
 * memchr on the first byte then a compare: much faster than glibc's memmem
 * for the short needles ("]]>", "-->") with a rare first byte we look for. */
const char *tb_pf_find(const char *p, const char *end, const char *needle, size_t n);

/* Initialise libxml2 once and silence its generic error output for the
 * calling thread (tb_feed_parse, OPML, discovery and html.c call it). */
void tb_feed_xml_quiet(void);

int tb_feed_parse_xml(const char *data, size_t len, const char *url, const char *encoding,
                      tb_parsed_feed *out, tb_err *err);
int tb_feed_parse_json(const char *data, size_t len, const char *url, tb_parsed_feed *out,
                       tb_err *err);

#endif

/*
 * html.c -- HTML fragments to plain text, for embedding.
 *
 * An item's description is HTML (often broken HTML). The embedder wants the
 * words only, so the fragment goes through libxml2's forgiving HTML parser
 * (htmlReadMemory, no network, no error output) and a walk over the tree
 * keeps text nodes, skips script/style/head/template, and turns element
 * boundaries into word breaks unless the element is inline (<b>, <a>, ...),
 * so "<p>one</p><p>two</p>" reads "one two" but "<b>w</b>ord" stays "word".
 * Whitespace, including no-break spaces, collapses to single spaces while
 * the text is appended, so no second pass is needed.
 *
 * Plain text with no '<' and no '&' takes a fast path that skips the parser:
 * many feeds put plain text in <description>, and the parser is the costly
 * part of ingesting a feed.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "feed/parse.h"

/* Appends text with whitespace collapsed. space_pending carries a pending
 * separator across calls; nothing is emitted before the first word. */
typedef struct collapser {
    tb_buf *out;
    size_t start; /* out->len when we began: no leading space before it */
    bool space;
} collapser;

static void col_put(collapser *c, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            c->space = true;
            i++;
            continue;
        }
        if (ch == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) { /* U+00A0 */
            c->space = true;
            i += 2;
            continue;
        }
        /* Copy a run of non-space bytes at once. */
        size_t j = i + 1;
        while (j < n) {
            unsigned char d = (unsigned char)s[j];
            if (d == ' ' || d == '\t' || d == '\n' || d == '\r' || d == '\f' || d == '\v' ||
                (d == 0xC2 && j + 1 < n && (unsigned char)s[j + 1] == 0xA0))
                break;
            j++;
        }
        if (c->space && c->out->len > c->start)
            tb_buf_putc(c->out, ' ');
        c->space = false;
        tb_buf_append(c->out, s + i, j - i);
        i = j;
    }
}

void tb_text_collapse(const char *s, size_t len, tb_buf *out)
{
    collapser c = {out, out->len, false};
    col_put(&c, s, len);
    if (!out->data)
        tb_buf_puts(out, "");
}

static bool name_in(const xmlChar *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp((const char *)name, *list) == 0)
            return true;
    return false;
}

static const char *const skip_tags[] = {"script", "style", "head", "template", "noscript",
                                        "iframe", "object", "svg", "math", NULL};
static const char *const inline_tags[] = {"a", "b", "i", "em", "strong", "span", "code",
                                          "small", "sub", "sup", "u", "abbr", "font", "mark",
                                          "q", "s", "cite", "tt", "kbd", "var", "big", "strike",
                                          "del", "ins", "time", "bdi", "bdo", NULL};

static void walk(xmlNode *n, collapser *c, char **first_img, int depth)
{
    /* libxml2 bounds the tree depth already (256 by default for HTML, in
     * recover mode); the check is a belt for the recursion. */
    if (depth > 512)
        return;
    for (; n; n = n->next) {
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (n->content)
                col_put(c, (const char *)n->content, strlen((const char *)n->content));
            break;
        case XML_ELEMENT_NODE: {
            if (name_in(n->name, skip_tags))
                break;
            if (first_img && !*first_img && strcmp((const char *)n->name, "img") == 0) {
                xmlChar *src = xmlGetProp(n, (const xmlChar *)"src");
                if (src && *src)
                    *first_img = tb_strdup((const char *)src);
                xmlFree(src);
            }
            bool block = !name_in(n->name, inline_tags);
            if (block)
                c->space = true;
            walk(n->children, c, first_img, depth + 1);
            if (block)
                c->space = true;
            break;
        }
        default:
            /* comments, PIs, entity references: no text for the reader */
            break;
        }
    }
}

void tb_html_to_text(const char *html, size_t len, tb_buf *out, char **first_img)
{
    collapser c = {out, out->len, false};
    if (!out->data)
        tb_buf_puts(out, "");
    if (!html || !len)
        return;
    if (!memchr(html, '<', len) && !memchr(html, '&', len)) {
        col_put(&c, html, len);
        return;
    }
    if (len > (size_t)INT32_MAX)
        len = (size_t)INT32_MAX;
    tb_feed_xml_quiet();
    htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                                        HTML_PARSE_NOWARNING | HTML_PARSE_IGNORE_ENC);
    if (!doc) {
        col_put(&c, html, len); /* no tree at all: better raw text than nothing */
        return;
    }
    walk(doc->children, &c, first_img, 0);
    xmlFreeDoc(doc);
}

/*
 * writer.c -- RSS 2.0 output, HTML link rewriting and defanging.
 * (OPML output is tb_opml_write in opml.c.)
 *
 * Output is written by hand into a tb_buf (no DOM for the document itself):
 * a feed is a flat list of a dozen elements per item and string appends are
 * both the fastest and the easiest to audit. Every piece of text that came
 * from a feed goes through tb_buf_xml_escape.
 *
 * Item HTML is the exception: it is parsed with libxml2's HTML parser
 * (recover mode, no network, no implied DOCTYPE), walked twice and
 * serialised again. Pass one numbers the <a href> elements in document
 * order and rewrites them; pass two removes what could run script. The same
 * numbering is used by tb_html_link_at, which the redirect endpoint calls
 * with the index from the request -- both parse the same stored bytes with
 * the same options, so index N always names the same URL.
 */
#include "feed/writer.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
#include <libxml/uri.h>

#define HTML_OPTS                                                                            \
    (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |    \
     HTML_PARSE_NODEFDTD)

/* ------------------------------------------------------------------ URLs */

static bool is_http_url(const char *u)
{
    return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) &&
           !strpbrk(u, " \t\r\n<>\"");
}

char *tb_url_resolve_http(const char *base, const char *ref)
{
    if (!ref)
        return NULL;
    while (*ref && isspace((unsigned char)*ref))
        ref++;
    size_t n = strlen(ref);
    while (n && isspace((unsigned char)ref[n - 1]))
        n--;
    if (n == 0 || n > 8192)
        return NULL;
    char *r = tb_strndup(ref, n);
    char *res = NULL;
    if (is_http_url(r)) {
        res = r;
        r = NULL;
    } else if (base && is_http_url(base)) {
        xmlChar *u = xmlBuildURI((const xmlChar *)r, (const xmlChar *)base);
        if (u && is_http_url((const char *)u))
            res = tb_strdup((const char *)u);
        xmlFree(u);
    }
    free(r);
    return res;
}

/* ------------------------------------------------------------------ HTML */

static htmlDocPtr parse_fragment(const char *html)
{
    if (!html || !*html)
        return NULL;
    /* Wrapping in a known body lets us find the fragment's nodes again
     * whatever the parser implied around them. */
    tb_buf b = {0};
    tb_buf_puts(&b, "<html><head><meta charset=\"utf-8\"></head><body>");
    tb_buf_puts(&b, html);
    tb_buf_puts(&b, "</body></html>");
    htmlDocPtr doc = htmlReadMemory(b.data, (int)b.len, NULL, "UTF-8", HTML_OPTS);
    tb_buf_free(&b);
    return doc;
}

static xmlNodePtr find_body(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, "body") == 0)
            return n;
        xmlNodePtr b = find_body(n->children);
        if (b)
            return b;
    }
    return NULL;
}

struct walk {
    const char *base;
    const tb_item *it;
    tb_link_rewriter rewrite;
    void *ctx;
    int next;         /* next <a href> index */
    int want;         /* tb_html_link_at: the index asked for */
    char *found;      /* tb_html_link_at: its resolved URL */
    tb_buf tmp;
};

/* Pass one: number the <a href> elements in document order. */
static void walk_links(xmlNodePtr n, struct walk *w)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcasecmp((const char *)n->name, "a") == 0) {
            xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
            if (href) {
                int idx = w->next++;
                char *abs = tb_url_resolve_http(w->base, (const char *)href);
                if (w->want >= 0) {
                    if (idx == w->want && !w->found)
                        w->found = abs, abs = NULL;
                } else if (abs) {
                    tb_buf_clear(&w->tmp);
                    if (w->rewrite)
                        w->rewrite(w->ctx, w->it, idx, abs, &w->tmp);
                    else
                        tb_buf_puts(&w->tmp, abs);
                    xmlSetProp(n, (const xmlChar *)"href", (const xmlChar *)tb_buf_cstr(&w->tmp));
                } else {
                    xmlUnsetProp(n, (const xmlChar *)"href");
                }
                free(abs);
                xmlFree(href);
            }
        }
        walk_links(n->children, w);
    }
}

static bool dangerous_element(const char *name)
{
    static const char *bad[] = {"script", "style", "iframe", "frame", "frameset", "object",
                                "embed", "applet", "form", "base", "meta", "link", "noscript",
                                "svg", "math", "template", "input", "button", "textarea",
                                "select"};
    for (size_t i = 0; i < TB_ARRAY_LEN(bad); i++)
        if (strcasecmp(name, bad[i]) == 0)
            return true;
    return false;
}

/* Pass two: drop elements and attributes that can run script or restyle the
 * reader; make src attributes absolute http(s) or remove them. */
static void defang(xmlNodePtr n, const char *base)
{
    while (n) {
        xmlNodePtr next = n->next;
        if (n->type == XML_ELEMENT_NODE) {
            if (dangerous_element((const char *)n->name)) {
                xmlUnlinkNode(n);
                xmlFreeNode(n);
                n = next;
                continue;
            }
            xmlAttrPtr a = n->properties;
            while (a) {
                xmlAttrPtr an = a->next;
                const char *name = (const char *)a->name;
                bool drop = strncasecmp(name, "on", 2) == 0 || strcasecmp(name, "style") == 0 ||
                            strcasecmp(name, "srcset") == 0 || strcasecmp(name, "formaction") == 0 ||
                            strcasecmp(name, "action") == 0 || strcasecmp(name, "srcdoc") == 0 ||
                            strcasecmp(name, "xmlns") == 0 || strchr(name, ':') != NULL;
                if (!drop && (strcasecmp(name, "src") == 0 || strcasecmp(name, "href") == 0 ||
                              strcasecmp(name, "poster") == 0 || strcasecmp(name, "background") == 0 ||
                              strcasecmp(name, "cite") == 0)) {
                    xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
                    char *abs = tb_url_resolve_http(base, (const char *)v);
                    xmlFree(v);
                    if (abs) {
                        /* <a href> was already rewritten to our own URL. */
                        if (strcasecmp(name, "href") != 0 ||
                            strcasecmp((const char *)n->name, "a") != 0)
                            xmlSetProp(n, a->name, (const xmlChar *)abs);
                    } else {
                        drop = true;
                    }
                    free(abs);
                }
                if (drop)
                    xmlRemoveProp(a);
                a = an;
            }
            defang(n->children, base);
        } else if (n->type == XML_PI_NODE || n->type == XML_COMMENT_NODE ||
                   n->type == XML_DTD_NODE) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        n = next;
    }
}

void tb_html_rewrite(const char *html, const char *base, const tb_item *it,
                     tb_link_rewriter rewrite, void *ctx, tb_buf *out)
{
    htmlDocPtr doc = parse_fragment(html);
    if (!doc)
        return;
    xmlNodePtr body = find_body(xmlDocGetRootElement(doc));
    if (body) {
        struct walk w = {.base = base, .it = it, .rewrite = rewrite, .ctx = ctx, .want = -1};
        walk_links(body->children, &w);
        tb_buf_free(&w.tmp);
        defang(body->children, base);
        xmlBufferPtr xb = xmlBufferCreate();
        for (xmlNodePtr c = body->children; c; c = c->next)
            htmlNodeDump(xb, doc, c);
        tb_buf_append(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
        xmlBufferFree(xb);
    }
    xmlFreeDoc(doc);
}

char *tb_html_link_at(const char *html, const char *base, int n)
{
    if (n < 0)
        return NULL;
    htmlDocPtr doc = parse_fragment(html);
    if (!doc)
        return NULL;
    char *res = NULL;
    xmlNodePtr body = find_body(xmlDocGetRootElement(doc));
    if (body) {
        struct walk w = {.base = base, .want = n};
        walk_links(body->children, &w);
        res = w.found;
        tb_buf_free(&w.tmp);
    }
    xmlFreeDoc(doc);
    return res;
}

/* ------------------------------------------------------------------ RSS */

static void elem(tb_buf *b, const char *name, const char *text)
{
    if (!text || !*text)
        return;
    tb_buf_printf(b, "<%s>", name);
    tb_buf_xml_escape(b, text);
    tb_buf_printf(b, "</%s>\n", name);
}

static void link_elem(tb_buf *b, const char *name, const tb_item *it, int which,
                      const char *orig, const struct tb_rss_opts *o, tb_buf *tmp)
{
    char *abs = tb_url_resolve_http(NULL, orig);
    if (!abs)
        return;
    tb_buf_clear(tmp);
    if (o && o->rewrite)
        o->rewrite(o->ctx, it, which, abs, tmp);
    else
        tb_buf_puts(tmp, abs);
    elem(b, name, tb_buf_cstr(tmp));
    free(abs);
}

void tb_rss_write(const tb_feed *feed, const tb_item *items, size_t n,
                  const struct tb_rss_opts *o, tb_buf *out)
{
    tb_buf tmp = {0}, html = {0};
    tb_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" "
                     "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n");
    const char *title = feed->title && *feed->title ? feed->title : feed->url;
    elem(out, "title", title ? title : "untitled feed");
    char *site = tb_url_resolve_http(NULL, feed->site_url ? feed->site_url : feed->url);
    elem(out, "link", site ? site : "http://localhost/");
    free(site);
    elem(out, "description", feed->description && *feed->description
                                 ? feed->description
                                 : "A feed filtered by tastebud");
    if (o && o->self_url) {
        tb_buf_puts(out, "<atom:link rel=\"self\" type=\"application/rss+xml\" href=\"");
        tb_buf_xml_escape(out, o->self_url);
        tb_buf_puts(out, "\"/>\n");
    }
    char date[40];
    if (o && o->build_date > 0) {
        tb_time_rfc822(o->build_date, date, sizeof date);
        elem(out, "lastBuildDate", date);
    }
    elem(out, "generator", "tastebud " TB_VERSION);
    for (size_t i = 0; i < n; i++) {
        const tb_item *it = &items[i];
        tb_buf_puts(out, "<item>\n");
        elem(out, "title", it->title && *it->title ? it->title : "(untitled)");
        link_elem(out, "link", it, TB_LINK_ITEM, it->url, o, &tmp);
        if (it->key && *it->key) {
            /* The original guid keeps readers' read/unread state stable when
             * a feed switches from pass-through to filtered. */
            tb_buf_puts(out, "<guid isPermaLink=\"false\">");
            tb_buf_xml_escape(out, it->key);
            tb_buf_puts(out, "</guid>\n");
        }
        if (it->html && *it->html) {
            tb_buf_clear(&html);
            tb_html_rewrite(it->html, it->url, it, o ? o->rewrite : NULL, o ? o->ctx : NULL,
                            &html);
            elem(out, "description", tb_buf_cstr(&html));
        } else if (it->text && *it->text) {
            elem(out, "description", it->text);
        }
        elem(out, "dc:creator", it->author);
        if (it->tags && *it->tags) {
            const char *p = it->tags;
            while (*p) {
                const char *e = strstr(p, ", ");
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len) {
                    char *t = tb_strndup(p, len);
                    elem(out, "category", t);
                    free(t);
                }
                p += len + (e ? 2 : 0);
            }
        }
        if (it->published > 0) {
            tb_time_rfc822(it->published, date, sizeof date);
            elem(out, "pubDate", date);
        }
        link_elem(out, "comments", it, TB_LINK_COMMENTS, it->comments_url, o, &tmp);
        tb_buf_puts(out, "</item>\n");
    }
    tb_buf_puts(out, "</channel>\n</rss>\n");
    tb_buf_free(&tmp);
    tb_buf_free(&html);
}

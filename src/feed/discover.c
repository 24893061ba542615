/*
 * discover.c -- finding the feeds a web page announces.
 *
 * People paste a blog's address, not its feed's. Pages announce their feeds
 * with <link rel="alternate" type="application/rss+xml" href="...">; we
 * parse the page with libxml2's HTML parser (forgiving, no network), collect
 * those links in document order and resolve them against <base href> (if
 * any) and the page URL.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "feed/parse.h"

static bool feed_type(const char *t)
{
    static const char *types[] = {"application/rss+xml", "application/atom+xml",
                                  "application/feed+json", "application/json",
                                  "application/rdf+xml", "application/x.atom+xml", NULL};
    for (const char **p = types; *p; p++)
        if (strncasecmp(t, *p, strlen(*p)) == 0)
            return true;
    return false;
}

/* rel is a space-separated token list; is "alternate" one of them? */
static bool rel_alternate(const char *rel)
{
    const char *p = rel;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p - s == 9 && strncasecmp(s, "alternate", 9) == 0)
            return true;
    }
    return false;
}

typedef struct disc {
    char *base;
    char **urls;
    size_t n;
} disc;

static void walk(xmlNode *n, disc *d, int depth)
{
    if (depth > 64)
        return;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        if (strcmp(name, "base") == 0) {
            xmlChar *h = xmlGetProp(n, (const xmlChar *)"href");
            if (h && *h) {
                char *nb = tb_pf_resolve((const char *)h, d->base);
                free(d->base);
                d->base = nb;
            }
            xmlFree(h);
        } else if (strcmp(name, "link") == 0) {
            xmlChar *rel = xmlGetProp(n, (const xmlChar *)"rel");
            xmlChar *type = xmlGetProp(n, (const xmlChar *)"type");
            xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
            if (rel && type && href && *href && rel_alternate((const char *)rel) &&
                feed_type((const char *)type)) {
                char *u = tb_pf_resolve((const char *)href, d->base);
                bool dup = false;
                for (size_t i = 0; u && i < d->n; i++)
                    dup |= strcmp(d->urls[i], u) == 0;
                if (u && !dup) {
                    d->urls = tb_realloc(d->urls, (d->n + 1) * sizeof *d->urls);
                    d->urls[d->n++] = u;
                } else {
                    free(u);
                }
            }
            xmlFree(rel);
            xmlFree(type);
            xmlFree(href);
        } else if (strcmp(name, "body") == 0) {
            /* feeds are announced in <head>; some CMSs put links in the body too */
        }
        walk(n->children, d, depth + 1);
    }
}

size_t tb_feed_discover(const char *html, size_t len, const char *page_url, char ***urls)
{
    *urls = NULL;
    if (!html || !len || len > (size_t)INT32_MAX)
        return 0;
    tb_feed_xml_quiet();
    htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, NULL,
                                    HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                                        HTML_PARSE_NOWARNING);
    if (!doc)
        return 0;
    disc d = {.base = page_url ? tb_strdup(page_url) : NULL};
    walk(doc->children, &d, 0);
    xmlFreeDoc(doc);
    free(d.base);
    *urls = d.urls;
    return d.n;
}

bool tb_feed_looks_html(const char *data, size_t len, const char *content_type)
{
    size_t i = 0;
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB)
        i = 3;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    const char *p = data + i;
    size_t n = len - i;
    /* an XML declaration or a JSON object is never a web page, whatever the
     * server calls it */
    if ((n >= 5 && memcmp(p, "<?xml", 5) == 0) || (n && *p == '{'))
        return false;
    if (content_type && (strncasecmp(content_type, "text/html", 9) == 0 ||
                         strncasecmp(content_type, "application/xhtml", 17) == 0))
        return true;
    if (n >= 9 && strncasecmp(p, "<!doctype", 9) == 0)
        return n >= 14 && strncasecmp(p + 10, "html", 4) == 0;
    return n >= 5 && strncasecmp(p, "<html", 5) == 0;
}

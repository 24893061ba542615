/*
 * opml.c -- OPML import and export.
 *
 * Import walks every <outline> at any depth; one with an xmlUrl is a feed,
 * one without is a folder whose title becomes the category of the feeds
 * inside it (nested folders join with "/"). A category attribute on the feed
 * outline wins over folders. Exported files from real readers are often not
 * well-formed (a bare '&' in a title is the classic), so the bytes go
 * through tb_xml_fix_amps first and libxml2 parses in recover mode without
 * network access or entity substitution.
 *
 * Export writes OPML 2.0 with one folder per category, either the original
 * feed URLs or, for the "use tastebud from any reader" case, URLs of
 * tastebud's filtered copy of each feed: BASE/feed/USER/FEEDID.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "feed/opml.h"
#include "feed/parse.h"

static char *prop(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *c = tb_pf_clean((const char *)v);
    xmlFree(v);
    return c;
}

typedef struct acc {
    tb_opml_outline *o;
    size_t n, cap;
} acc;

static void walk(xmlNode *n, const char *cat, acc *a, int depth)
{
    if (depth > 64)
        return;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, "outline") != 0) {
            walk(n->children, cat, a, depth + 1);
            continue;
        }
        char *xml = prop(n, "xmlUrl");
        if (!xml)
            xml = prop(n, "xmlurl"); /* some exporters lower-case it */
        char *title = prop(n, "title");
        char *text = prop(n, "text");
        if (xml) {
            if (a->n == a->cap) {
                a->cap = a->cap ? a->cap * 2 : 16;
                a->o = tb_realloc(a->o, a->cap * sizeof *a->o);
            }
            tb_opml_outline *o = &a->o[a->n++];
            o->xml_url = xml;
            o->html_url = prop(n, "htmlUrl");
            o->title = text ? text : title;
            if (text)
                free(title);
            char *c = prop(n, "category");
            /* category="/Tech/News,/Other": take the first, without slashes around */
            if (c) {
                c[strcspn(c, ",")] = '\0';
                char *s = c;
                while (*s == '/')
                    s++;
                size_t l = strlen(s);
                while (l && s[l - 1] == '/')
                    s[--l] = '\0';
                o->category = *s ? tb_strdup(s) : (cat ? tb_strdup(cat) : NULL);
                free(c);
            } else {
                o->category = cat ? tb_strdup(cat) : NULL;
            }
            walk(n->children, cat, a, depth + 1); /* feeds inside feeds: rare, kept */
        } else {
            const char *name = text ? text : title;
            char *sub = NULL;
            if (name)
                sub = cat ? tb_asprintf("%s/%s", cat, name) : tb_strdup(name);
            walk(n->children, sub ? sub : cat, a, depth + 1);
            free(sub);
            free(text);
            free(title);
        }
    }
}

int tb_opml_parse(const char *data, size_t len, tb_opml_outline **out, size_t *n, tb_err *err)
{
    *out = NULL;
    *n = 0;
    tb_feed_xml_quiet();
    tb_buf fixed = {0};
    if (data && tb_xml_fix_amps(data, len, &fixed)) {
        data = fixed.data;
        len = fixed.len;
    }
    if (!data || !len || len > (size_t)INT32_MAX) {
        tb_buf_free(&fixed);
        return tb_err_set(err, TB_EFORMAT, "not OPML: the document is empty");
    }
    xmlDoc *doc = xmlReadMemory(data, (int)len, NULL, NULL,
                                XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
                                    XML_PARSE_NOWARNING | XML_PARSE_COMPACT);
    tb_buf_free(&fixed);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "opml") != 0) {
        int rc = tb_err_set(err, TB_EFORMAT, "not OPML: %s%s%s",
                            root ? "the root element is <" : "not well-formed XML",
                            root ? (const char *)root->name : "", root ? ">" : "");
        xmlFreeDoc(doc);
        return rc;
    }
    acc a = {0};
    walk(root->children, NULL, &a, 0);
    xmlFreeDoc(doc);
    *out = a.o;
    *n = a.n;
    return 0;
}

void tb_opml_free(tb_opml_outline *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(o[i].xml_url);
        free(o[i].html_url);
        free(o[i].title);
        free(o[i].category);
    }
    free(o);
}

static void outline(tb_buf *b, const tb_opml_outline *o, const char *indent)
{
    tb_buf_printf(b, "%s<outline type=\"rss\" text=\"", indent);
    tb_buf_xml_escape(b, o->title ? o->title : o->xml_url);
    tb_buf_puts(b, "\" title=\"");
    tb_buf_xml_escape(b, o->title ? o->title : o->xml_url);
    tb_buf_puts(b, "\" xmlUrl=\"");
    tb_buf_xml_escape(b, o->xml_url);
    tb_buf_putc(b, '"');
    if (o->html_url) {
        tb_buf_puts(b, " htmlUrl=\"");
        tb_buf_xml_escape(b, o->html_url);
        tb_buf_putc(b, '"');
    }
    tb_buf_puts(b, "/>\n");
}

static bool same_cat(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void tb_opml_write(const tb_opml_outline *o, size_t n, const char *title, tb_buf *out)
{
    tb_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n"
                     "  <head>\n    <title>");
    tb_buf_xml_escape(out, title ? title : "tastebud subscriptions");
    tb_buf_puts(out, "</title>\n  </head>\n  <body>\n");
    bool *done = tb_calloc(n ? n : 1, sizeof *done);
    for (size_t i = 0; i < n; i++) { /* uncategorised first, then one folder per category */
        if (o[i].category)
            continue;
        outline(out, &o[i], "    ");
        done[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        tb_buf_puts(out, "    <outline text=\"");
        tb_buf_xml_escape(out, o[i].category);
        tb_buf_puts(out, "\" title=\"");
        tb_buf_xml_escape(out, o[i].category);
        tb_buf_puts(out, "\">\n");
        for (size_t j = i; j < n; j++)
            if (!done[j] && same_cat(o[i].category, o[j].category)) {
                outline(out, &o[j], "      ");
                done[j] = true;
            }
        tb_buf_puts(out, "    </outline>\n");
    }
    free(done);
    tb_buf_puts(out, "  </body>\n</opml>\n");
}

int tb_opml_import(tb_store *s, const char *user, const char *data, size_t len,
                   size_t *n_feeds, tb_err *err)
{
    tb_opml_outline *o;
    size_t n;
    if (tb_opml_parse(data, len, &o, &n, err) != 0)
        return -1;
    if (tb_store_begin(s, err) != 0) {
        tb_opml_free(o, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        if (tb_store_feed_add(s, o[i].xml_url, &id, err) != 0 ||
            tb_store_subscribe(s, user, id, o[i].category, o[i].title, err) != 0) {
            tb_store_rollback(s);
            tb_err_prefix(err, "importing %s", o[i].xml_url);
            tb_opml_free(o, n);
            return -1;
        }
    }
    tb_opml_free(o, n);
    if (tb_store_commit(s, err) != 0)
        return -1;
    if (n_feeds)
        *n_feeds = n;
    return 0;
}

int tb_opml_export(tb_store *s, const char *user, const char *rewrite_base, tb_buf *out,
                   tb_err *err)
{
    tb_feed *f;
    char **cats;
    size_t n;
    if (tb_store_subscriptions(s, user, &f, &cats, &n, err) != 0)
        return -1;
    tb_opml_outline *o = tb_calloc(n ? n : 1, sizeof *o);
    size_t bl = rewrite_base ? strlen(rewrite_base) : 0;
    while (bl && rewrite_base[bl - 1] == '/')
        bl--;
    for (size_t i = 0; i < n; i++) {
        o[i].xml_url = rewrite_base ? tb_asprintf("%.*s/feed/%s/%lld", (int)bl, rewrite_base, user,
                                                  (long long)f[i].id)
                                    : tb_strdup(f[i].url);
        o[i].html_url = tb_strdup(f[i].site_url);
        o[i].title = tb_strdup(f[i].title ? f[i].title : f[i].url);
        o[i].category = cats && cats[i] && *cats[i] ? tb_strdup(cats[i]) : NULL;
    }
    char *title = tb_asprintf("tastebud: %s's subscriptions%s", user,
                              rewrite_base ? " (filtered by tastebud)" : "");
    tb_opml_write(o, n, title, out);
    free(title);
    tb_opml_free(o, n);
    for (size_t i = 0; cats && i < n; i++)
        free(cats[i]);
    free(cats);
    tb_feed_list_free(f, n);
    return 0;
}

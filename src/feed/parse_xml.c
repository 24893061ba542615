/*
 * parse_xml.c -- RSS 0.9x/2.0, RSS 1.0 / 0.90 (RDF) and Atom 1.0 / 0.3.
 *
 * One DOM pass: libxml2 builds the tree (recover mode, so broken feeds still
 * give what they can; no network, no entity substitution, no DTD loading),
 * then a walker per format picks fields out of it. Elements are matched by a
 * "qualified key": a canonical prefix for each namespace feeds use ("dc",
 * "content", "media", "itunes", "sy", "atom", ...) plus the local name, so
 * <dc:creator> matches whatever prefix the feed bound the namespace to, and
 * an undeclared "dc:creator" (which recover mode leaves as a plain name)
 * matches too. RSS 1.0 and RSS 0.90 element namespaces count as no prefix,
 * and in Atom documents so does Atom's own.
 *
 * Safety: text is gathered from text and CDATA nodes only; entity-reference
 * nodes are skipped, never expanded, so an entity declared in an internal
 * subset contributes nothing (no billion laughs via our own walker, and
 * libxml2 without XML_PARSE_NOENT/DTDLOAD never fetches external ones).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>

#include "feed/parse.h"

enum fmt { F_RSS, F_RDF, F_ATOM };

/* A CDATA section moved out of the document before parsing (see
 * cdata_out): its content is data[off .. off+len) of the original bytes. */
typedef struct cdata {
    size_t off, len;
} cdata;

/* The processing instruction that stands in for a moved CDATA section. */
#define CD_PI "tb-cdata"

typedef struct px {
    xmlDoc *doc;
    enum fmt fmt;
    tb_parsed_feed *out;
    char *feed_author; /* Atom feed-level author, the fallback for entries */
    const char *cd_base; /* the document as given; NULL when no CDATA was moved */
    cdata *cd;           /* n_cd sections, owned by tb_feed_parse_xml */
    size_t n_cd;
} px;

static const struct { const char *href; const char *prefix; } known_ns[] = {
    {"http://www.w3.org/2005/Atom", "atom"},
    {"http://purl.org/atom/ns#", "atom"},
    {"http://purl.org/rss/1.0/", ""},
    {"http://my.netscape.com/rdf/simple/0.9/", ""},
    {"http://channel.netscape.com/rdf/simple/0.9/", ""},
    {"http://backend.userland.com/rss2", ""},
    {"http://purl.org/rss/1.0/modules/content/", "content"},
    {"http://purl.org/dc/elements/1.1/", "dc"},
    {"http://purl.org/dc/terms/", "dcterms"},
    {"http://search.yahoo.com/mrss/", "media"},
    {"http://search.yahoo.com/mrss", "media"},
    {"http://www.itunes.com/dtds/podcast-1.0.dtd", "itunes"},
    {"http://purl.org/rss/1.0/modules/syndication/", "sy"},
    {"http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf"},
    {"http://www.w3.org/1999/xhtml", "xhtml"},
    {"http://rssnamespace.org/feedburner/ext/1.0", "feedburner"},
};

/* Write n's qualified key into buf (see the file comment). */
static const char *qkey(const px *x, const xmlNode *n, char *buf, size_t bufn)
{
    const char *local = (const char *)n->name;
    if (!n->ns || !n->ns->href)
        return local; /* may itself be "dc:creator" when the prefix was undeclared */
    const char *href = (const char *)n->ns->href;
    const char *prefix = NULL;
    for (size_t i = 0; i < TB_ARRAY_LEN(known_ns); i++)
        if (strcmp(href, known_ns[i].href) == 0) {
            prefix = known_ns[i].prefix;
            break;
        }
    if (!prefix)
        prefix = n->ns->prefix ? (const char *)n->ns->prefix : "?";
    if (x->fmt == F_ATOM && strcmp(prefix, "atom") == 0)
        prefix = "";
    if (!*prefix)
        return local;
    snprintf(buf, bufn, "%s:%s", prefix, local);
    return buf;
}

#define IS(key, lit) (strcmp((key), (lit)) == 0)

/* The CDATA section that PI node n stands for, or NULL (a PI of the feed's
 * own, or one that names no section we moved). */
static const cdata *cdata_of(const px *x, const xmlNode *n)
{
    if (!x->cd || !n->name || !n->content || strcmp((const char *)n->name, CD_PI) != 0)
        return NULL;
    const char *c = (const char *)n->content;
    char *e;
    unsigned long i = strtoul(c, &e, 10);
    if (e == c || *e || i >= x->n_cd)
        return NULL;
    return &x->cd[i];
}

/* Append the text of a moved CDATA section, with line ends normalised as
 * the XML parser would have done ("\r\n" and "\r" -> "\n"). */
static void cdata_put(const px *x, const xmlNode *n, tb_buf *b)
{
    const cdata *c = cdata_of(x, n);
    if (!c)
        return;
    const char *s = x->cd_base + c->off;
    size_t l = c->len;
    const char *cr;
    while ((cr = memchr(s, '\r', l)) != NULL) {
        size_t k = (size_t)(cr - s);
        tb_buf_append(b, s, k);
        tb_buf_putc(b, '\n');
        k++;
        if (k < l && s[k] == '\n')
            k++;
        s += k;
        l -= k;
    }
    tb_buf_append(b, s, l);
}

/* Text of n's subtree (text and CDATA nodes, no entity expansion). */
static void gather(const px *x, const xmlNode *n, tb_buf *b, int depth)
{
    if (depth > 256)
        return;
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                tb_buf_puts(b, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            gather(x, n->children, b, depth + 1);
        } else if (n->type == XML_PI_NODE) {
            cdata_put(x, n, b);
        }
    }
}

/* malloc'd text content of element n, or NULL when empty. */
static char *text_of(const px *x, const xmlNode *n)
{
    tb_buf b = {0};
    gather(x, n->children, &b, 0);
    if (!b.len) {
        tb_buf_free(&b);
        return NULL;
    }
    return tb_buf_steal(&b);
}

/* Like text_of, whitespace-collapsed (for names and titles). */
static char *clean_of(const px *x, const xmlNode *n)
{
    char *t = text_of(x, n);
    char *c = tb_pf_clean(t);
    free(t);
    return c;
}

static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

/* Turn the moved-CDATA PIs under n back into text nodes, so that a
 * serialisation of the subtree shows their text (escaped), as it would
 * have with the CDATA parsed in place. */
static void materialize(px *x, xmlNode *n, int depth)
{
    if (depth > 256)
        return;
    for (xmlNode *c = n->children, *next; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE) {
            materialize(x, c, depth + 1);
        } else if (c->type == XML_PI_NODE && cdata_of(x, c)) {
            tb_buf b = {0};
            cdata_put(x, c, &b);
            xmlNode *t = xmlNewDocTextLen(x->doc, (const xmlChar *)tb_buf_cstr(&b), (int)b.len);
            tb_buf_free(&b);
            if (!t)
                continue;
            xmlReplaceNode(c, t);
            xmlFreeNode(c);
        }
    }
}

/* The children of n serialized as markup (for inline XHTML content). */
static char *inner_xml(px *x, const xmlNode *n)
{
    xmlBuffer *xb = xmlBufferCreate();
    if (!xb)
        return NULL;
    if (x->cd)
        materialize(x, (xmlNode *)n, 0); /* the tree is ours to change */
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ENTITY_REF_NODE || c->type == XML_ENTITY_DECL ||
            c->type == XML_DTD_NODE)
            continue;
        xmlNodeDump(xb, x->doc, c, 0, 0);
    }
    char *s = xmlBufferLength(xb) ? tb_strdup((const char *)xmlBufferContent(xb)) : NULL;
    xmlBufferFree(xb);
    return s;
}

static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = tb_strdup((const char *)v);
    xmlFree(v);
    return s;
}

static bool attr_is(const xmlNode *n, const char *name, const char *val)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    bool r = v && tb_str_eq_nocase((const char *)v, val);
    xmlFree(v);
    return r;
}

static bool attr_starts(const xmlNode *n, const char *name, const char *prefix)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    bool r = v && strncasecmp((const char *)v, prefix, strlen(prefix)) == 0;
    xmlFree(v);
    return r;
}

/* Resolve href against n's xml:base chain and the document URL. */
static char *resolve_at(px *x, const xmlNode *n, const char *href)
{
    if (!href)
        return NULL;
    xmlChar *base = xmlNodeGetBase(x->doc, n);
    char *r = tb_pf_resolve(href, (const char *)base);
    xmlFree(base);
    return r;
}

static char *base_of(px *x, const xmlNode *n)
{
    xmlChar *base = xmlNodeGetBase(x->doc, n);
    char *r = base ? tb_strdup((const char *)base) : NULL;
    xmlFree(base);
    return r;
}

static void set_str(char **dst, char *v)
{
    if (!v)
        return;
    if (*dst) {
        free(v);
        return;
    }
    *dst = v;
}

/* Replace *dst with v when v is longer (content:encoded over description). */
static void set_longer(char **dst, char *v)
{
    if (!v)
        return;
    if (*dst && strlen(*dst) >= strlen(v)) {
        free(v);
        return;
    }
    free(*dst);
    *dst = v;
}

static void set_date(int64_t *dst, char **raw, const char *s)
{
    int64_t t;
    if (!s || *dst)
        return;
    if (tb_date_parse(s, &t) == 0) {
        *dst = t;
        if (!*raw)
            *raw = tb_strdup(s);
    } else if (!*raw) {
        *raw = tb_strdup(s);
    }
}

/* Media RSS and enclosure images. */
static void media_image(px *x, const xmlNode *n, const char *k, tb_item_draft *d)
{
    if (d->image)
        return;
    if (IS(k, "media:thumbnail")) {
        char *u = attr(n, "url");
        d->image = resolve_at(x, n, u);
        free(u);
    } else if (IS(k, "media:content")) {
        if (attr_is(n, "medium", "image") || attr_starts(n, "type", "image/")) {
            char *u = attr(n, "url");
            d->image = resolve_at(x, n, u);
            free(u);
        }
    } else if (IS(k, "itunes:image")) {
        char *u = attr(n, "href");
        d->image = resolve_at(x, n, u);
        free(u);
    }
}

static void enclosure(px *x, const xmlNode *n, const char *urlattr, tb_item_draft *d)
{
    char *u = attr(n, urlattr);
    char *url = resolve_at(x, n, u);
    free(u);
    if (!url)
        return;
    char *type = attr(n, "type");
    if (type && strncasecmp(type, "image/", 6) == 0 && !d->image) {
        d->image = url;
        free(type);
        return;
    }
    if (d->enclosure_url) {
        free(url);
        free(type);
        return;
    }
    d->enclosure_url = url;
    d->enclosure_type = type;
    char *len = attr(n, "length");
    int64_t l;
    if (len && tb_parse_i64(len, &l) == 0)
        d->enclosure_length = l;
    free(len);
}

/* ------------------------------------------------------------ Atom text */

/* An Atom text construct as HTML (for content) -- type text, html, xhtml,
 * and Atom 0.3's mode="escaped"/"xml" with MIME types. *is_html tells the
 * caller whether the result is markup. */
static char *atom_text(px *x, const xmlNode *n, bool *is_html)
{
    xmlChar *type = xmlGetProp(n, (const xmlChar *)"type");
    xmlChar *mode = xmlGetProp(n, (const xmlChar *)"mode");
    const char *t = type ? (const char *)type : "text";
    char *r;
    if (strstr(t, "xhtml") || (mode && strcmp((const char *)mode, "xml") == 0) ||
        has_element_child(n)) {
        /* inline markup: the content of the wrapping <div> (or of n) */
        const xmlNode *src = n;
        for (const xmlNode *c = n->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE) {
                if (strcmp((const char *)c->name, "div") == 0)
                    src = c;
                break;
            }
        r = inner_xml(x, src);
        *is_html = true;
    } else if (strstr(t, "html")) {
        r = text_of(x, n);
        *is_html = true;
    } else {
        r = text_of(x, n);
        *is_html = false;
    }
    xmlFree(type);
    xmlFree(mode);
    return r;
}

static char *escape_text(char *s)
{
    if (!s)
        return NULL;
    tb_buf b = {0};
    tb_buf_xml_escape(&b, s);
    free(s);
    return tb_buf_steal(&b);
}

/* ------------------------------------------------------------ items */

static void rss_item(px *x, xmlNode *item)
{
    tb_item_draft d = {0};
    char kb[128];
    char *desc = NULL, *content = NULL, *guid_link = NULL, *atom_link = NULL;
    d.guid = NULL;
    if (x->fmt == F_RDF) {
        xmlChar *about = xmlGetNsProp(item, (const xmlChar *)"about",
                                      (const xmlChar *)"http://www.w3.org/1999/02/22-rdf-syntax-ns#");
        if (about)
            d.guid = tb_strdup((const char *)about);
        xmlFree(about);
    }
    for (xmlNode *n = item->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *k = qkey(x, n, kb, sizeof kb);
        if (IS(k, "title")) {
            set_str(&d.title, text_of(x, n));
        } else if (IS(k, "link")) {
            char *t = text_of(x, n);
            if (!d.link)
                d.link = resolve_at(x, n, t);
            free(t);
        } else if (IS(k, "atom:link")) {
            if (!atom_link && (!xmlHasProp(n, (const xmlChar *)"rel") ||
                               attr_is(n, "rel", "alternate"))) {
                char *h = attr(n, "href");
                atom_link = resolve_at(x, n, h);
                free(h);
            }
        } else if (IS(k, "guid")) {
            char *g = text_of(x, n);
            if (g && !attr_is(n, "isPermaLink", "false") && !guid_link &&
                (strstr(g, "://") != NULL))
                guid_link = resolve_at(x, n, g);
            free(d.guid); /* an explicit guid beats rdf:about */
            d.guid = g;
        } else if (IS(k, "description") || IS(k, "dc:description") ||
                   IS(k, "itunes:summary") || IS(k, "media:description")) {
            set_str(&desc, has_element_child(n) ? inner_xml(x, n) : text_of(x, n));
        } else if (IS(k, "content:encoded") || IS(k, "xhtml:body")) {
            set_longer(&content, has_element_child(n) ? inner_xml(x, n) : text_of(x, n));
        } else if (IS(k, "author") || IS(k, "dc:creator") || IS(k, "itunes:author")) {
            set_str(&d.author, text_of(x, n));
        } else if (IS(k, "category") || IS(k, "dc:subject")) {
            char *t = text_of(x, n);
            tb_pf_add_tag(&d, t);
            free(t);
        } else if (IS(k, "pubDate") || IS(k, "dc:date") || IS(k, "dcterms:created") ||
                   IS(k, "dcterms:issued") || IS(k, "atom:published")) {
            char *t = text_of(x, n);
            set_date(&d.published, &d.date_raw, t);
            free(t);
        } else if (IS(k, "atom:updated") || IS(k, "dcterms:modified")) {
            char *t = text_of(x, n);
            set_date(&d.updated, &d.date_raw, t);
            free(t);
        } else if (IS(k, "comments")) {
            char *t = text_of(x, n);
            if (!d.comments)
                d.comments = resolve_at(x, n, t);
            free(t);
        } else if (IS(k, "enclosure")) {
            enclosure(x, n, "url", &d);
        } else if (IS(k, "media:group")) {
            for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                char kb2[128];
                const char *k2 = qkey(x, c, kb2, sizeof kb2);
                media_image(x, c, k2, &d);
                if (IS(k2, "media:description"))
                    set_str(&desc, text_of(x, c));
            }
        } else {
            media_image(x, n, k, &d);
        }
    }
    /* no <link>: a permalink guid, else an atom:link */
    if (!d.link && guid_link) {
        d.link = guid_link;
        guid_link = NULL;
    } else if (!d.link && atom_link) {
        d.link = atom_link;
        atom_link = NULL;
    }
    free(guid_link);
    free(atom_link);
    /* content:encoded is the full text; description often a teaser */
    if (content) {
        d.html = content;
        free(desc);
    } else {
        d.html = desc;
    }
    d.base = base_of(x, item);
    tb_pf_item_finish(tb_pf_item_new(x->out), &d);
}

static void atom_entry(px *x, xmlNode *entry)
{
    tb_item_draft d = {0};
    char kb[128];
    char *summary = NULL, *content = NULL;
    bool summary_html = false, content_html = false;
    for (xmlNode *n = entry->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *k = qkey(x, n, kb, sizeof kb);
        if (IS(k, "title")) {
            if (!d.title) {
                d.title = atom_text(x, n, &d.title_html);
                d.title_plain = !d.title_html;
            }
        } else if (IS(k, "id")) {
            set_str(&d.guid, text_of(x, n));
        } else if (IS(k, "link")) {
            xmlChar *rel = xmlGetProp(n, (const xmlChar *)"rel");
            const char *r = rel ? (const char *)rel : "alternate";
            if (strcmp(r, "alternate") == 0) {
                /* several alternates: prefer text/html */
                if (!d.link || attr_starts(n, "type", "text/html")) {
                    char *h = attr(n, "href");
                    char *u = resolve_at(x, n, h);
                    free(h);
                    if (u) {
                        free(d.link);
                        d.link = u;
                    }
                }
            } else if (strcmp(r, "enclosure") == 0) {
                enclosure(x, n, "href", &d);
            } else if (strcmp(r, "replies") == 0 && attr_starts(n, "type", "text/html")) {
                char *h = attr(n, "href");
                if (!d.comments)
                    d.comments = resolve_at(x, n, h);
                free(h);
            }
            xmlFree(rel);
        } else if (IS(k, "summary") || IS(k, "media:description")) {
            if (!summary)
                summary = atom_text(x, n, &summary_html);
        } else if (IS(k, "content")) {
            if (!content)
                content = atom_text(x, n, &content_html);
        } else if (IS(k, "author")) {
            for (xmlNode *c = n->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "name") == 0)
                    set_str(&d.author, text_of(x, c));
        } else if (IS(k, "dc:creator")) {
            set_str(&d.author, text_of(x, n));
        } else if (IS(k, "category")) {
            char *t = attr(n, "term");
            if (!t)
                t = text_of(x, n);
            tb_pf_add_tag(&d, t);
            free(t);
        } else if (IS(k, "dc:subject")) {
            char *t = text_of(x, n);
            tb_pf_add_tag(&d, t);
            free(t);
        } else if (IS(k, "published") || IS(k, "issued") || IS(k, "created") ||
                   IS(k, "dc:date")) {
            char *t = text_of(x, n);
            set_date(&d.published, &d.date_raw, t);
            free(t);
        } else if (IS(k, "updated") || IS(k, "modified")) {
            char *t = text_of(x, n);
            set_date(&d.updated, &d.date_raw, t);
            free(t);
        } else if (IS(k, "media:group")) {
            for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                char kb2[128];
                const char *k2 = qkey(x, c, kb2, sizeof kb2);
                media_image(x, c, k2, &d);
                if (IS(k2, "media:description") && !summary)
                    summary = atom_text(x, c, &summary_html);
            }
        } else {
            media_image(x, n, k, &d);
        }
    }
    char *body = content ? content : summary;
    bool body_html = content ? content_html : summary_html;
    if (content)
        free(summary);
    d.html = body_html ? body : escape_text(body);
    if (!d.author && x->feed_author)
        d.author = tb_strdup(x->feed_author);
    d.base = base_of(x, entry);
    tb_pf_item_finish(tb_pf_item_new(x->out), &d);
}

/* ------------------------------------------------------------ channels */

static int sy_period_seconds(const char *p)
{
    if (!p)
        return 0;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "hourly", 6) == 0)
        return 3600;
    if (strncmp(p, "daily", 5) == 0)
        return 86400;
    if (strncmp(p, "weekly", 6) == 0)
        return 7 * 86400;
    if (strncmp(p, "monthly", 7) == 0)
        return 30 * 86400;
    if (strncmp(p, "yearly", 6) == 0)
        return 365 * 86400;
    return 0;
}

static int clean_int(const char *s, int64_t *v)
{
    char *c = tb_pf_clean(s);
    int r = c ? tb_parse_i64(c, v) : -1;
    free(c);
    return r;
}

/* Channel-level elements shared by RSS 2.0 and RSS 1.0. */
static void rss_channel_field(px *x, xmlNode *n, const char *k, int *sy_period, int *sy_freq)
{
    tb_parsed_feed *f = x->out;
    if (IS(k, "title")) {
        set_str(&f->title, clean_of(x, n));
    } else if (IS(k, "link")) {
        char *t = text_of(x, n);
        if (!f->site_url)
            f->site_url = resolve_at(x, n, t);
        free(t);
    } else if (IS(k, "description") || IS(k, "dc:description")) {
        set_str(&f->description, clean_of(x, n));
    } else if (IS(k, "ttl")) {
        char *t = text_of(x, n);
        int64_t v;
        if (clean_int(t, &v) == 0 && v > 0 && v < 525600)
            f->ttl = (int)(v * 60);
        free(t);
    } else if (IS(k, "sy:updatePeriod")) {
        char *t = text_of(x, n);
        *sy_period = sy_period_seconds(t);
        free(t);
    } else if (IS(k, "sy:updateFrequency")) {
        char *t = text_of(x, n);
        int64_t v;
        if (clean_int(t, &v) == 0 && v > 0 && v < 100000)
            *sy_freq = (int)v;
        free(t);
    } else if (IS(k, "image")) {
        for (xmlNode *c = n->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "url") == 0 &&
                !f->image) {
                char *t = text_of(x, c);
                f->image = resolve_at(x, c, t);
                free(t);
            }
    } else if (IS(k, "itunes:image") && !f->image) {
        char *h = attr(n, "href");
        f->image = resolve_at(x, n, h);
        free(h);
    }
}

static void finish_ttl(tb_parsed_feed *f, int sy_period, int sy_freq)
{
    if (!f->ttl && sy_period)
        f->ttl = sy_period / (sy_freq > 0 ? sy_freq : 1);
}

/* Items that recover mode nested inside an unclosed channel element (an
 * <itunes:category> without its end tag swallows the rest of the channel). */
static void nested_items(px *x, xmlNode *n, int depth)
{
    if (depth > 32)
        return;
    char kb[128];
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (IS(qkey(x, c, kb, sizeof kb), "item"))
            rss_item(x, c);
        else
            nested_items(x, c, depth + 1);
    }
}

static void parse_rss(px *x, xmlNode *root)
{
    int sy_period = 0, sy_freq = 1;
    char kb[128];
    for (xmlNode *ch = root->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        const char *ck = qkey(x, ch, kb, sizeof kb);
        if (IS(ck, "item")) { /* some broken feeds put items beside the channel */
            rss_item(x, ch);
            continue;
        }
        if (!IS(ck, "channel"))
            continue;
        for (xmlNode *n = ch->children; n; n = n->next) {
            if (n->type != XML_ELEMENT_NODE)
                continue;
            char kb2[128];
            const char *k = qkey(x, n, kb2, sizeof kb2);
            if (IS(k, "item")) {
                rss_item(x, n);
            } else {
                rss_channel_field(x, n, k, &sy_period, &sy_freq);
                if (n->children && n->children->next)
                    nested_items(x, n, 0);
            }
        }
    }
    finish_ttl(x->out, sy_period, sy_freq);
}

static void parse_rdf(px *x, xmlNode *root)
{
    int sy_period = 0, sy_freq = 1;
    char kb[128];
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *k = qkey(x, n, kb, sizeof kb);
        if (IS(k, "channel")) {
            for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                char kb2[128];
                const char *k2 = qkey(x, c, kb2, sizeof kb2);
                if (!IS(k2, "image") && !IS(k2, "items"))
                    rss_channel_field(x, c, k2, &sy_period, &sy_freq);
            }
        } else if (IS(k, "item")) {
            rss_item(x, n);
        } else if (IS(k, "image")) {
            for (xmlNode *c = n->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "url") == 0 &&
                    !x->out->image) {
                    char *t = text_of(x, c);
                    x->out->image = resolve_at(x, c, t);
                    free(t);
                }
        }
    }
    finish_ttl(x->out, sy_period, sy_freq);
}

static void parse_atom(px *x, xmlNode *root)
{
    tb_parsed_feed *f = x->out;
    char kb[128];
    /* feed-level author first: entries without one inherit it */
    for (xmlNode *n = root->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && IS(qkey(x, n, kb, sizeof kb), "author"))
            for (xmlNode *c = n->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "name") == 0)
                    set_str(&x->feed_author, text_of(x, c));
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *k = qkey(x, n, kb, sizeof kb);
        if (IS(k, "entry")) {
            atom_entry(x, n);
        } else if (IS(k, "title")) {
            if (!f->title) {
                bool h;
                char *t = atom_text(x, n, &h);
                if (t && h) {
                    tb_buf b = {0};
                    tb_html_to_text(t, strlen(t), &b, NULL);
                    free(t);
                    t = b.len ? tb_buf_steal(&b) : NULL;
                    tb_buf_free(&b);
                }
                f->title = t;
            }
        } else if (IS(k, "subtitle") || IS(k, "tagline")) {
            set_str(&f->description, clean_of(x, n));
        } else if (IS(k, "link")) {
            if (!xmlHasProp(n, (const xmlChar *)"rel") || attr_is(n, "rel", "alternate")) {
                if (!f->site_url || attr_starts(n, "type", "text/html")) {
                    char *h = attr(n, "href");
                    char *u = resolve_at(x, n, h);
                    free(h);
                    if (u) {
                        free(f->site_url);
                        f->site_url = u;
                    }
                }
            }
        } else if (IS(k, "logo") || IS(k, "icon")) {
            char *t = text_of(x, n);
            if (!f->image || IS(k, "logo")) {
                char *u = resolve_at(x, n, t);
                if (u) {
                    free(f->image);
                    f->image = u;
                }
            }
            free(t);
        }
    }
}

/* ------------------------------------------------------------ entry */

/* Move every CDATA section (outside comments) out of data: out gets the
 * document with each section replaced by <?tb-cdata N?>, *cd the place of
 * section N's content in data. libxml2 2.9 reads CDATA one character at a
 * time through its generic decoder, which made CDATA (a third of the bytes
 * of the real-feed corpus, mostly HTML) the most costly part of a parse;
 * a PI costs the same whatever the size of the section, and the walkers
 * read the bytes from data. Only for documents already in UTF-8 (and
 * validated as such by tb_feed_parse), where the bytes are the text.
 * Returns false (out and *cd untouched) when there is no section. */
static bool cdata_out(const char *data, size_t len, tb_buf *out, cdata **cd, size_t *n_cd)
{
    const char *p = data, *end = data + len, *copied = data;
    size_t n = 0;
    while (p < end) {
        const char *lt = tb_pf_find(p, end, "<!", 2);
        if (!lt)
            break;
        if (end - lt >= 4 && lt[2] == '-' && lt[3] == '-') {
            const char *c = tb_pf_find(lt + 4, end, "-->", 3);
            if (!c)
                break;
            p = c + 3;
            continue;
        }
        if (end - lt < 9 || memcmp(lt, "<![CDATA[", 9) != 0) {
            p = lt + 2;
            continue;
        }
        const char *c = tb_pf_find(lt + 9, end, "]]>", 3);
        if (!c)
            break; /* unterminated: libxml2 deals with it */
        if (n == 0)
            tb_buf_reserve(out, len);
        if ((n & (n - 1)) == 0) /* n is 0 or a power of two: grow */
            *cd = tb_realloc(*cd, (n ? n * 2 : 16) * sizeof **cd);
        (*cd)[n].off = (size_t)(lt + 9 - data);
        (*cd)[n].len = (size_t)(c - (lt + 9));
        tb_buf_append(out, copied, (size_t)(lt - copied));
        tb_buf_printf(out, "<?" CD_PI " %zu?>", n);
        n++;
        copied = p = c + 3;
    }
    if (n == 0)
        return false;
    tb_buf_append(out, copied, (size_t)(end - copied));
    *n_cd = n;
    return true;
}

int tb_feed_parse_xml(const char *data, size_t len, const char *url, const char *encoding,
                      tb_parsed_feed *out, tb_err *err)
{
    px x = {.out = out};
    tb_buf moved = {0}, fixed = {0};
    if (encoding && strcmp(encoding, "UTF-8") == 0 &&
        cdata_out(data, len, &moved, &x.cd, &x.n_cd)) {
        x.cd_base = data;
        data = moved.data;
        len = moved.len;
    }
    if (tb_xml_fix_amps(data, len, &fixed)) {
        tb_buf_free(&moved);
        data = fixed.data;
        len = fixed.len;
    }
    if (len > (size_t)INT32_MAX) {
        tb_buf_free(&moved);
        tb_buf_free(&fixed);
        free(x.cd);
        return tb_err_set(err, TB_ENOMEM, "feed too large (%zu bytes)", len);
    }
    int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
               XML_PARSE_NOCDATA | XML_PARSE_COMPACT;
    if (encoding)
        opts |= XML_PARSE_IGNORE_ENC;
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        tb_buf_free(&moved);
        tb_buf_free(&fixed);
        free(x.cd);
        return tb_err_set(err, TB_ENOMEM, "out of memory creating the XML parser");
    }
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, data, (int)len, url, encoding, opts);
    tb_buf_free(&moved);
    tb_buf_free(&fixed);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[200] = "no root element";
        if (e && e->message) {
            snprintf(msg, sizeof msg, "line %d: %s", e->line, e->message);
            size_t l = strlen(msg);
            while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
                msg[--l] = '\0';
        }
        xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        free(x.cd);
        return tb_err_set(err, TB_EFORMAT, "not a feed: not well-formed XML (%s)", msg);
    }
    xmlFreeParserCtxt(ctxt);
    x.doc = doc;
    const char *name = (const char *)root->name;
    const char *href = root->ns && root->ns->href ? (const char *)root->ns->href : "";
    const char *colon = strchr(name, ':'); /* "rdf:RDF" with an undeclared prefix */
    const char *local = colon ? colon + 1 : name;
    int rc = 0;
    if (strcmp(local, "rss") == 0) {
        x.fmt = F_RSS;
        out->format = "rss2";
        parse_rss(&x, root);
    } else if (strcmp(local, "RDF") == 0) {
        x.fmt = F_RDF;
        out->format = "rss1";
        for (xmlNs *ns = root->nsDef; ns; ns = ns->next)
            if (ns->href && strstr((const char *)ns->href, "netscape.com/rdf/simple/0.9"))
                out->format = "rss090";
        parse_rdf(&x, root);
    } else if (strcmp(local, "feed") == 0) {
        x.fmt = F_ATOM;
        out->format = strcmp(href, "http://purl.org/atom/ns#") == 0 ? "atom03" : "atom10";
        parse_atom(&x, root);
    } else if (strcmp(local, "channel") == 0) { /* RSS 0.9x without <rss>, seen in the wild */
        x.fmt = F_RSS;
        out->format = "rss2";
        xmlNode fake = {0};
        fake.children = root;
        parse_rss(&x, &fake);
    } else {
        bool html = tb_str_eq_nocase(local, "html");
        rc = tb_err_set(err, TB_EFORMAT, "not a feed: the root element is <%s>%s", name,
                        html ? " (an HTML page; try feed discovery)"
                             : " (expected rss, rdf:RDF or feed)");
    }
    free(x.feed_author);
    free(x.cd);
    xmlFreeDoc(doc);
    if (rc)
        tb_parsed_feed_free(out);
    return rc;
}

/* ------------------------------------------------------------ bare '&' */

static bool ref_ok(const char *p, const char *end)
{
    /* p points after '&' */
    if (p < end && *p == '#') {
        p++;
        bool hex = p < end && (*p == 'x' || *p == 'X');
        if (hex)
            p++;
        const char *s = p;
        while (p < end && (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)))
            p++;
        return p > s && p < end && *p == ';';
    }
    if (p >= end || !(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
        return false;
    const char *s = p;
    while (p < end && p - s < 64 &&
           (isalnum((unsigned char)*p) || *p == '_' || *p == ':' || *p == '-' || *p == '.'))
        p++;
    return p < end && *p == ';';
}

bool tb_xml_fix_amps(const char *data, size_t len, tb_buf *out)
{
    const char *p = data, *end = data + len, *copied = data;
    bool changed = false;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp)
            break;
        /* skip CDATA sections and comments that start before this '&' */
        const char *lt = p;
        bool skipped = false;
        while ((lt = memchr(lt, '<', (size_t)(amp - lt))) != NULL) {
            const char *close = NULL;
            if (end - lt >= 9 && memcmp(lt, "<![CDATA[", 9) == 0)
                close = tb_pf_find(lt + 9, end, "]]>", 3);
            else if (end - lt >= 4 && memcmp(lt, "<!--", 4) == 0)
                close = tb_pf_find(lt + 4, end, "-->", 3);
            else {
                lt++;
                continue;
            }
            if (!close) { /* unterminated: leave the rest alone */
                p = end;
                skipped = true;
                break;
            }
            if (close + 3 > amp) {
                p = close + 3;
                skipped = true;
                break;
            }
            lt = close + 3;
        }
        if (skipped)
            continue;
        if (!ref_ok(amp + 1, end)) {
            if (!changed)
                tb_buf_reserve(out, len + 64);
            tb_buf_append(out, copied, (size_t)(amp - copied) + 1);
            tb_buf_puts(out, "amp;");
            copied = amp + 1;
            changed = true;
        }
        p = amp + 1;
    }
    if (changed)
        tb_buf_append(out, copied, (size_t)(end - copied));
    return changed;
}

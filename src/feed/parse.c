/*
 * parse.c -- the entry point of feed parsing: sniffing and encodings.
 *
 * tb_feed_parse looks at the bytes before any parser does. It skips a BOM
 * and anything before the first '<' (a blank line before <?xml, a stray
 * PHP warning), sends '{' to the JSON Feed parser, and picks the character
 * encoding the XML parser is told to use, because feeds lie about it:
 *
 *   1. a byte-order mark wins;
 *   2. then the HTTP charset, then the encoding in the XML declaration;
 *   3. "UTF-8" (stated or by default) but not valid UTF-8 -> windows-1252,
 *      the encoding such text is almost always in;
 *   4. ISO-8859-1 / US-ASCII -> windows-1252 (a superset, as browsers do);
 *      a single-byte charset but the bytes are valid UTF-8 with non-ASCII
 *      characters -> UTF-8 (such text is practically never Latin-1);
 *   5. an encoding name iconv does not know -> UTF-8 or windows-1252 by
 *      the validity test of rule 3.
 *
 * The chosen name is passed to libxml2 with XML_PARSE_IGNORE_ENC so the
 * declaration cannot override it. It also holds the pieces the format
 * parsers share: item assembly (key, text, image fallback) and freeing.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/encoding.h>
#include <libxml/uri.h>

#include "feed/parse.h"

/* ------------------------------------------------------------ item helpers */

tb_item *tb_pf_item_new(tb_parsed_feed *f)
{
    size_t n = f->n_items;
    /* capacity is the next power of two >= n: grow when n is one */
    if (n == 0 || (n & (n - 1)) == 0)
        f->items = tb_realloc(f->items, (n ? n * 2 : 8) * sizeof *f->items);
    memset(&f->items[n], 0, sizeof f->items[n]);
    f->n_items = n + 1;
    return &f->items[n];
}

const char *tb_pf_find(const char *p, const char *end, const char *needle, size_t n)
{
    while (p < end && (size_t)(end - p) >= n) {
        const char *c = memchr(p, needle[0], (size_t)(end - p) - (n - 1));
        if (!c)
            return NULL;
        if (memcmp(c + 1, needle + 1, n - 1) == 0)
            return c;
        p = c + 1;
    }
    return NULL;
}

char *tb_pf_clean(const char *s)
{
    if (!s)
        return NULL;
    tb_buf b = {0};
    tb_text_collapse(s, strlen(s), &b);
    if (b.len == 0) {
        tb_buf_free(&b);
        return NULL;
    }
    return tb_buf_steal(&b);
}

char *tb_pf_resolve(const char *ref, const char *base)
{
    char *r = tb_pf_clean(ref);
    if (!r)
        return NULL;
    if (!base || !*base)
        return r;
    xmlChar *u = xmlBuildURI((const xmlChar *)r, (const xmlChar *)base);
    if (!u)
        return r; /* not a URI libxml2 understands: keep what the feed said */
    free(r);
    char *res = tb_strdup((const char *)u);
    xmlFree(u);
    return res;
}

void tb_pf_add_tag(tb_item_draft *d, const char *tag)
{
    char *t = tb_pf_clean(tag);
    if (!t)
        return;
    /* skip duplicates: feeds often repeat a category as dc:subject */
    if (d->tags.len) {
        const char *p = d->tags.data;
        size_t tl = strlen(t);
        while (p) {
            const char *e = strstr(p, ", ");
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == tl && strncmp(p, t, l) == 0) {
                free(t);
                return;
            }
            p = e ? e + 2 : NULL;
        }
        tb_buf_puts(&d->tags, ", ");
    }
    tb_buf_puts(&d->tags, t);
    free(t);
}

void tb_pf_item_finish(tb_item *it, tb_item_draft *d)
{
    /* title: plain text for everyone */
    if (d->title) {
        tb_buf b = {0};
        if (d->title_html ||
            (!d->title_plain && (strchr(d->title, '<') || strchr(d->title, '&'))))
            tb_html_to_text(d->title, strlen(d->title), &b, NULL);
        else
            tb_text_collapse(d->title, strlen(d->title), &b);
        it->title = b.len ? tb_buf_steal(&b) : NULL;
        tb_buf_free(&b);
    }
    /* text from the html, and the first <img> as a last-resort image */
    char *img = NULL;
    tb_buf text = {0};
    if (d->html)
        tb_html_to_text(d->html, strlen(d->html), &text, d->image ? NULL : &img);
    it->text = tb_buf_steal(&text);
    if (!d->image && img)
        d->image = tb_pf_resolve(img, d->base);
    free(img);
    it->html = d->html;
    d->html = NULL;
    it->url = d->link;
    d->link = NULL;
    it->author = tb_pf_clean(d->author);
    it->tags = d->tags.len ? tb_buf_steal(&d->tags) : NULL;
    it->published = d->published ? d->published : d->updated;
    it->image_url = d->image;
    d->image = NULL;
    it->comments_url = d->comments;
    d->comments = NULL;
    /* the key: guid, else link, else a hash of what identifies the entry */
    char *g = tb_pf_clean(d->guid);
    if (g) {
        it->key = g;
    } else if (it->url) {
        it->key = tb_strdup(it->url);
    } else {
        tb_buf h = {0};
        tb_buf_puts(&h, it->title ? it->title : "");
        tb_buf_putc(&h, '\n');
        tb_buf_puts(&h, d->date_raw ? d->date_raw : "");
        if (!it->title && !d->date_raw) /* nothing else: the content decides */
            tb_buf_puts(&h, it->text);
        char hex[17];
        uint64_t x = tb_hash64(h.data, h.len, 0x7461737465627564ULL);
        tb_hex(&x, sizeof x, hex);
        it->key = tb_asprintf("hash:%s", hex);
        tb_buf_free(&h);
    }
    if (d->enclosure_url) {
        tb_buf x = {0};
        tb_buf_puts(&x, "{\"enclosure\":{\"url\":");
        tb_buf_json_str(&x, d->enclosure_url);
        if (d->enclosure_type) {
            tb_buf_puts(&x, ",\"type\":");
            tb_buf_json_str(&x, d->enclosure_type);
        }
        if (d->enclosure_length > 0)
            tb_buf_printf(&x, ",\"length\":%lld", (long long)d->enclosure_length);
        tb_buf_puts(&x, "}}");
        it->extra = tb_buf_steal(&x);
    }
    free(d->guid);
    free(d->title);
    free(d->html);
    free(d->author);
    tb_buf_free(&d->tags);
    free(d->date_raw);
    free(d->image);
    free(d->comments);
    free(d->enclosure_url);
    free(d->enclosure_type);
    free(d->base);
    memset(d, 0, sizeof *d);
}


void tb_parsed_feed_free(tb_parsed_feed *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_items; i++)
        tb_item_clear(&f->items[i]);
    free(f->items);
    free(f->title);
    free(f->site_url);
    free(f->description);
    free(f->image);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- sniffing */

/* The encoding named in an XML declaration at the start of p, copied into
 * out (lower-cased); false when there is none. */
static bool declared_encoding(const char *p, size_t len, char *out, size_t outn)
{
    if (len < 6 || memcmp(p, "<?xml", 5) != 0)
        return false;
    size_t end = 0;
    while (end + 1 < len && end < 512 && !(p[end] == '?' && p[end + 1] == '>'))
        end++;
    for (size_t i = 5; i + 8 < end; i++) {
        if (memcmp(p + i, "encoding", 8) != 0)
            continue;
        size_t j = i + 8;
        while (j < end && isspace((unsigned char)p[j]))
            j++;
        if (j >= end || p[j] != '=')
            return false;
        j++;
        while (j < end && isspace((unsigned char)p[j]))
            j++;
        if (j >= end || (p[j] != '"' && p[j] != '\''))
            return false;
        char q = p[j++];
        size_t k = 0;
        while (j < end && p[j] != q && k + 1 < outn)
            out[k++] = (char)tolower((unsigned char)p[j++]);
        out[k] = '\0';
        return k > 0;
    }
    return false;
}

/* tb_utf8_valid with a fast path over ASCII, 16 bytes at a time: every
 * XML feed is checked once before parsing, and most are mostly ASCII. */
static bool utf8_valid(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i + 16 <= n) {
            uint64_t a, b;
            memcpy(&a, p + i, 8);
            memcpy(&b, p + i + 8, 8);
            if ((a | b) & 0x8080808080808080ULL)
                break;
            i += 16;
        }
        if (i >= n)
            break;
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        /* one sequence: the lead byte and the continuation bytes after it */
        size_t j = i + 1;
        while (j < n && j < i + 4 && ((unsigned char)p[j] & 0xC0) == 0x80)
            j++;
        if (!tb_utf8_valid(p + i, j - i))
            return false;
        i = j;
    }
    return true;
}

static bool has_high_bytes(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

static bool is_utf8_name(const char *e)
{
    return tb_str_eq_nocase(e, "utf-8") || tb_str_eq_nocase(e, "utf8");
}

static bool is_latin1_name(const char *e)
{
    return tb_str_eq_nocase(e, "iso-8859-1") || tb_str_eq_nocase(e, "iso8859-1") ||
           tb_str_eq_nocase(e, "latin1") || tb_str_eq_nocase(e, "latin-1") ||
           tb_str_eq_nocase(e, "us-ascii") || tb_str_eq_nocase(e, "ascii") ||
           tb_str_eq_nocase(e, "windows-1252") || tb_str_eq_nocase(e, "cp1252") ||
           tb_str_eq_nocase(e, "iso-8859-15");
}

/* windows-1252 to UTF-8. Done here rather than by iconv because iconv
 * refuses the five unassigned bytes (0x81 0x8D 0x8F 0x90 0x9D) and would stop
 * the parse there; like browsers, we map them to the C1 controls. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static void cp1252_to_utf8(const char *p, size_t n, tb_buf *out)
{
    tb_buf_reserve(out, n + n / 2 + 16);
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i];
        if (c < 0x80) {
            size_t j = i;
            while (j < n && (unsigned char)p[j] < 0x80)
                j++;
            tb_buf_append(out, p + i, j - i);
            i = j - 1;
            continue;
        }
        unsigned u = c < 0xA0 ? cp1252_hi[c - 0x80] : c;
        char e[3];
        if (u < 0x800) {
            e[0] = (char)(0xC0 | (u >> 6));
            e[1] = (char)(0x80 | (u & 0x3F));
            tb_buf_append(out, e, 2);
        } else {
            e[0] = (char)(0xE0 | (u >> 12));
            e[1] = (char)(0x80 | ((u >> 6) & 0x3F));
            e[2] = (char)(0x80 | (u & 0x3F));
            tb_buf_append(out, e, 3);
        }
    }
}

/* Choose the encoding libxml2 must use (static string or a pointer into
 * declared/charset), or NULL to let it detect (UTF-16/32 without BOM). */
static const char *choose_encoding(const char *p, size_t n, const char *charset,
                                   const char *declared)
{
    if (n >= 4 && (p[0] == 0 || p[1] == 0 || p[2] == 0 || p[3] == 0))
        return NULL; /* UTF-16/32 without BOM: libxml2 detects these */
    const char *e = (charset && *charset) ? charset : declared;
    if (e && !is_utf8_name(e) && !is_latin1_name(e)) {
        xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(e);
        if (h) {
            xmlCharEncCloseFunc(h);
            if (!tb_str_eq_nocase(e, "utf-16") && !tb_str_eq_nocase(e, "utf16"))
                return e;
            /* "UTF-16" declared on ASCII-compatible bytes is a lie */
        }
        e = NULL; /* unknown to iconv: decide by the bytes below */
    }
    bool valid = utf8_valid(p, n);
    if (!e || is_utf8_name(e))
        return valid ? "UTF-8" : "windows-1252";
    /* a single-byte Western charset */
    if (valid && has_high_bytes(p, n))
        return "UTF-8";
    if (tb_str_eq_nocase(e, "iso-8859-15"))
        return "ISO-8859-15";
    return "windows-1252";
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* libxml2 reports some errors (encoding conversion, I/O) through its
 * generic handler even with XML_PARSE_NOERROR; that handler is per thread,
 * so every parse silences it for the calling thread. */
static void xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

void tb_feed_xml_quiet(void)
{
    pthread_once(&xml_once, xml_init);
    xmlSetGenericErrorFunc(NULL, xml_silent);
}

int tb_feed_parse(const char *data, size_t len, const char *url, const char *charset,
                  tb_parsed_feed *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    tb_feed_xml_quiet();
    if (!data)
        len = 0;
    const char *p = data;
    size_t n = len;
    bool bom_utf8 = false, bom16 = false;
    if (n >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) {
        bom_utf8 = true;
        p += 3;
        n -= 3;
    } else if (n >= 2 && (((unsigned char)p[0] == 0xFF && (unsigned char)p[1] == 0xFE) ||
                          ((unsigned char)p[0] == 0xFE && (unsigned char)p[1] == 0xFF))) {
        bom16 = true; /* libxml2 reads UTF-16 with a BOM by itself */
    }
    if (!bom16) {
        /* whatever comes before the first '<' or '{' is not part of a feed */
        size_t i = 0;
        while (i < n && p[i] != '<' && p[i] != '{')
            i++;
        if (i == n)
            return tb_err_set(err, TB_EFORMAT, "not a feed: %s",
                              n == 0 ? "the document is empty" : "no markup in the document");
        if (p[i] == '{')
            return tb_feed_parse_json(p + i, n - i, url, out, err);
        if (tb_feed_looks_html(p + i, n - i, NULL))
            return tb_err_set(err, TB_EFORMAT,
                              "not a feed: this is an HTML page (feed discovery can find "
                              "the feeds it links to)");
        p += i;
        n -= i;
    }
    const char *enc = NULL;
    char declared[64];
    bool has_decl = !bom16 && declared_encoding(p, n, declared, sizeof declared);
    if (bom16)
        enc = NULL;
    else if (bom_utf8)
        enc = utf8_valid(p, n) ? "UTF-8" : "windows-1252";
    else
        enc = choose_encoding(p, n, charset, has_decl ? declared : NULL);
    if (enc && strcmp(enc, "windows-1252") == 0) {
        tb_buf u = {0};
        cp1252_to_utf8(p, n, &u);
        int rc = tb_feed_parse_xml(u.data, u.len, url, "UTF-8", out, err);
        tb_buf_free(&u);
        return rc;
    }
    return tb_feed_parse_xml(bom16 ? data : p, bom16 ? len : n, url, enc, out, err);
}

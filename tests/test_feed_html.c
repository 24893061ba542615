/*
 * test_feed_html.c -- the single-pass HTML-to-text reducer (src/feed/html.c)
 * and the CDATA fast path of the XML parser (src/feed/parse_xml.c).
 *
 * The reducer is pinned down case by case, then compared with a reference:
 * libxml2's HTML parser followed by a tree walk with the same rules (the
 * implementation html.c had before), on the content of every item of the
 * real-feed corpus. The CDATA fast path is checked against libxml2 reading
 * the same CDATA in place (the path taken for non-UTF-8 documents).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "feed/feed.h"

static char *text(const char *html, char **img)
{
    tb_buf b = {0};
    tb_html_to_text(html, strlen(html), &b, img);
    cr_assert(tb_utf8_valid(b.data, b.len), "invalid UTF-8 out of \"%s\"", html);
    cr_assert_eq(strlen(b.data), b.len, "NUL inside the text of \"%s\"", html);
    return tb_buf_steal(&b);
}

static void expect(const char *html, const char *want)
{
    char *t = text(html, NULL);
    cr_expect_str_eq(t, want, "\"%s\" gave \"%s\", want \"%s\"", html, t, want);
    free(t);
}

Test(html_text, tags_and_whitespace)
{
    expect("<p>one</p><p>two</p>", "one two");
    expect("<b>w</b>ord <I>it</I><SPAN>x</SPAN>", "word itx");
    expect("a<br>b<br/>c<hr />d<img src=x>e", "a b c d e");
    expect("  \t\n lead and trail \r\n ", "lead and trail");
    expect("x\xc2\xa0\xc2\xa0y &nbsp; z&#160;w", "x y z w");
    expect("<xhtml:p>a</xhtml:p><xhtml:b>b</xhtml:b>c", "a bc");
    expect("<unknowntag>a</unknowntag>b", "a b");
    expect("<averyveryverylongtagname>a</averyveryverylongtagname>b", "a b");
    expect("a < b > c", "a < b > c");
    expect("a <3 b", "a <3 b");
    expect("x</ >y", "xy");
    expect("<a href=\"x>y\" title='a>b'>link</a> text", "link text");
    expect("<a href=x>unquoted</a>", "unquoted");
    expect("<p class=\"unterminated>a</p>b", "a b"); /* the tag ends at the next '>' */
    expect("<p>unclosed <b>tags", "unclosed tags");
    expect("before <p", "before");
    expect("<", "<");
}

Test(html_text, skipped_content)
{
    expect("a<!-- <p>hidden</p> -->b", "ab");
    expect("a<!-- never closed", "a");
    expect("a<![CDATA[ x ]]>b", "ab");
    expect("<!DOCTYPE html><?php echo ?>text", "text");
    expect("a<script>if (a < b) { x = '</p>'; }</script>b", "a b");
    expect("a<SCRIPT type=x>document.write('<b>')</Script >b", "a b");
    expect("a<style>p > b { }</style>b", "a b");
    expect("<head><title>t</title></head>body", "body");
    expect("a<svg><svg><text>x</text></svg><text>y</text></svg>b", "a b"); /* nested */
    expect("a<iframe src=x></iframe>b<iframe src=\"y\"/>c", "a b c"); /* self-closed */
    expect("a<noscript><img src=n.png></noscript>b<template>t</template>c", "a b c");
    expect("a<script>never closed", "a");
    char *img = NULL;
    char *t = text("<noscript><img src=hidden.png></noscript><img src=shown.png>", &img);
    cr_assert_str_eq(img, "shown.png");
    free(img);
    free(t);
}

Test(html_text, references)
{
    expect("&amp;&lt;&gt;&quot;&apos;", "&<>\"'");
    expect("&eacute;&Eacute;&szlig;&yuml;&OElig;&euro;&hellip;&mdash;&thetasym;&diams;",
           "\xc3\xa9\xc3\x89\xc3\x9f\xc3\xbf\xc5\x92\xe2\x82\xac\xe2\x80\xa6\xe2\x80\x94"
           "\xcf\x91\xe2\x99\xa6");
    expect("&#65;&#x42;&#X43;&#0068;", "ABCD");
    expect("&#65 &#x42", "A B"); /* the ';' is optional for numbers */
    expect("&#x1F600;", "\xf0\x9f\x98\x80");
    expect("&#0;|&#xD800;|&#x110000;|&#99999999999999999999;", /* all U+FFFD */
           "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd");
    expect("&#150;&#x93;q&#x94;", "\xe2\x80\x93\xe2\x80\x9cq\xe2\x80\x9d"); /* windows-1252 */
    expect("&unknown; &amp &; &#; &#x; AT&T", "&unknown; &amp &; &#; &#x; AT&T");
    expect("&Amp;", "&Amp;"); /* names are case-sensitive */
    expect("&#32;x&#10;&#9;y", "x y");
    char *img = NULL;
    char *t = text("<p>x<IMG alt='a' SRC=\"/i.png?a=1&amp;b=&#50;\"><img src=\"/second.png\">",
                   &img);
    cr_assert_str_eq(t, "x");
    cr_assert_str_eq(img, "/i.png?a=1&b=2");
    free(img);
    free(t);
    img = NULL;
    t = text("<img src=\"\"><img src='/later.png'>", &img); /* an empty src is no image */
    cr_assert_str_eq(img, "/later.png");
    free(img);
    free(t);
}

Test(html_text, bytes)
{
    expect("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", /* valid: unchanged */
           "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    expect("a\xff" "b\xc3(c", "a\xef\xbf\xbd" "b\xef\xbf\xbd(c");
    expect("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");       /* a surrogate */
    expect("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");                         /* overlong */
    expect("tail\xe2\x82", "tail\xef\xbf\xbd\xef\xbf\xbd");                 /* truncated */
    tb_buf b = {0};
    tb_html_to_text("a\0b", 3, &b, NULL);
    cr_assert_str_eq(b.data, "a\xef\xbf\xbd" "b");
    cr_assert_eq(b.len, 5);
    /* appends to what is there, with no space at the seam */
    tb_buf_clear(&b);
    tb_buf_puts(&b, "pre:");
    tb_html_to_text("  <p>x</p>", 10, &b, NULL);
    cr_assert_str_eq(b.data, "pre:x");
    tb_buf_clear(&b);
    tb_html_to_text(NULL, 0, &b, NULL);
    cr_assert_str_eq(tb_buf_cstr(&b), "");
    tb_buf_free(&b);
}

/* ------------------------------------------------- libxml2 reference */

static bool inline_tag(const char *n)
{
    static const char *const l[] = {"a",   "b",     "i",     "em",   "strong", "span", "code",
                                    "small", "sub", "sup",   "u",    "abbr",   "font", "mark",
                                    "q",   "s",     "cite",  "tt",   "kbd",    "var",  "big",
                                    "strike", "del", "ins",  "time", "bdi",    "bdo"};
    for (size_t i = 0; i < TB_ARRAY_LEN(l); i++)
        if (strcmp(n, l[i]) == 0)
            return true;
    return false;
}

static bool skip_tag(const char *n)
{
    static const char *const l[] = {"script",   "style",  "head",   "template", "noscript",
                                    "iframe",   "object", "svg",    "math"};
    for (size_t i = 0; i < TB_ARRAY_LEN(l); i++)
        if (strcmp(n, l[i]) == 0)
            return true;
    return false;
}

static void ref_walk(xmlNode *n, tb_buf *b, int depth)
{
    for (; n && depth < 512; n = n->next) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            tb_buf_puts(b, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE && !skip_tag((const char *)n->name)) {
            bool block = !inline_tag((const char *)n->name);
            if (block)
                tb_buf_putc(b, ' ');
            ref_walk(n->children, b, depth + 1);
            if (block)
                tb_buf_putc(b, ' ');
        }
    }
}

/* The reference text: libxml2's HTML parser, the walk, then whitespace
 * (and U+00A0) collapsed by tb_text_collapse. */
static char *ref_text(const char *html)
{
    tb_buf raw = {0}, out = {0};
    htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                                        HTML_PARSE_NOWARNING | HTML_PARSE_IGNORE_ENC);
    if (doc) {
        ref_walk(doc->children, &raw, 0);
        xmlFreeDoc(doc);
    }
    tb_text_collapse(tb_buf_cstr(&raw), raw.len, &out);
    tb_buf_free(&raw);
    return tb_buf_steal(&out);
}

Test(html_text, agrees_with_libxml2_on_real_feeds)
{
    const char *dir = "../shared/data/feeds/real";
    DIR *d = opendir(dir);
    if (!d)
        cr_skip_test("%s is absent", dir);
    size_t n = 0, same = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tb_buf b = {0};
        tb_err err;
        tb_parsed_feed f;
        cr_assert_eq(tb_read_file(path, &b, 0, &err), 0, "%s", path);
        cr_assert_eq(tb_feed_parse(b.data, b.len, NULL, NULL, &f, &err), 0, "%s", path);
        for (size_t i = 0; i < f.n_items; i++) {
            if (!f.items[i].html)
                continue;
            char *want = ref_text(f.items[i].html);
            n++;
            if (strcmp(want, f.items[i].text) == 0)
                same++;
            else
                cr_log_warn("%s item %zu differs:\n  libxml2: %.300s\n  reducer: %.300s", path,
                            i, want, f.items[i].text);
            free(want);
        }
        tb_parsed_feed_free(&f);
        tb_buf_free(&b);
    }
    closedir(d);
    cr_log_info("%zu of %zu item texts agree with libxml2", same, n);
    cr_assert_gt(n, 500, "only %zu items with content", n);
    /* the differences that are allowed are the documented ones (windows-1252
     * numeric references, libxml2's recovery on broken markup) */
    cr_assert_geq(same * 1000, n * 990, "only %zu of %zu item texts agree with libxml2", same, n);
}

/* ------------------------------------------------- CDATA fast path */

static void parse_str(const char *xml, const char *charset, tb_parsed_feed *f)
{
    tb_err err = {0};
    cr_assert_eq(tb_feed_parse(xml, strlen(xml), "https://x.example/", charset, f, &err), 0,
                 "%s", err.msg);
}

static void same_str(const char *a, const char *b, const char *what)
{
    if (!a || !b)
        cr_assert_eq(a, b, "%s: %s vs %s", what, a ? a : "(null)", b ? b : "(null)");
    else
        cr_assert_str_eq(a, b, "%s", what);
}

Test(feed_cdata, moved_sections_read_as_in_place)
{
    /* ASCII only, so UTF-8 (CDATA moved out) and KOI8-R (CDATA parsed in
     * place by libxml2) must give identical items */
    static const char *feed =
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" "
        "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel>"
        "<title><![CDATA[Chan & nel]]></title>"
        "<!-- <![CDATA[ in a comment, never closed"
        " -->"
        "<item><title>a <![CDATA[<b>b</b>]]> c</title><link>https://x.example/1</link>"
        "<description><![CDATA[<p>line one\r\nline two\rthree</p>]]></description>"
        "<content:encoded><![CDATA[]]></content:encoded></item>"
        "<item><title>x</title><guid>g2</guid>"
        "<description><p>mixed <![CDATA[<i>i</i> & ]]><b>bold</b></p></description>"
        "<?tb-cdata 7?><?tb-cdata 0?></item>"
        "<item><title>pi<?tb-cdata 99?><?tb-cdata x?><?other 1?></title><guid>g3</guid>"
        "<description>&lt;p&gt;escaped&lt;/p&gt; <![CDATA[&amp; raw]]></description></item>"
        "</channel></rss>";
    tb_parsed_feed a, b;
    parse_str(feed, NULL, &a);
    parse_str(feed, "koi8-r", &b);
    same_str(a.title, b.title, "channel title");
    cr_assert_str_eq(a.title, "Chan & nel");
    cr_assert_eq(a.n_items, 3);
    cr_assert_eq(b.n_items, 3);
    for (size_t i = 0; i < a.n_items; i++) {
        same_str(a.items[i].title, b.items[i].title, "title");
        same_str(a.items[i].html, b.items[i].html, "html");
        same_str(a.items[i].text, b.items[i].text, "text");
        same_str(a.items[i].key, b.items[i].key, "key");
    }
    cr_assert_str_eq(a.items[0].title, "a b c"); /* markup in an RSS title is HTML */
    cr_assert_str_eq(a.items[0].html, "<p>line one\nline two\nthree</p>");
    cr_assert_str_eq(a.items[0].text, "line one line two three");
    cr_assert(strstr(a.items[1].html, "&lt;i&gt;i&lt;/i&gt; &amp; ") != NULL, "%s",
              a.items[1].html);
    cr_assert_str_eq(a.items[1].text, "mixed <i>i</i> & bold");
    cr_assert_str_eq(a.items[2].title, "pi");
    cr_assert_str_eq(a.items[2].text, "escaped & raw");
    tb_parsed_feed_free(&a);
    tb_parsed_feed_free(&b);
}

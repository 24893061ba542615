/*
 * test_feed_parse.c -- feed parsers, dates, HTML to text, discovery.
 *
 * Local fixtures (tests/fixtures/feeds) pin down every format and encoding
 * case exactly; the shared corpus (../shared/data/feeds) checks real feeds
 * for plausible fields and the edge cases for "parse or clear error, never
 * a crash or a hang". Tests needing ../shared skip when it is absent.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <dirent.h>

#include "feed/feed.h"

#define FIX "tests/fixtures/feeds/"
#define SHARED "../shared/data/feeds/"

static int parse_file(const char *path, const char *url, tb_parsed_feed *f, tb_err *err)
{
    tb_buf b = {0};
    if (tb_read_file(path, &b, 0, err) != 0)
        return -2;
    int rc = tb_feed_parse(b.data, b.len, url, NULL, f, err);
    tb_buf_free(&b);
    return rc;
}

static void must_parse(const char *path, const char *url, tb_parsed_feed *f)
{
    tb_err err = {0};
    int rc = parse_file(path, url, f, &err);
    cr_assert_eq(rc, 0, "%s: %s", path, err.msg);
}

static int64_t ts(const char *s)
{
    int64_t t = 0;
    cr_assert_eq(tb_date_parse(s, &t), 0, "date \"%s\" did not parse", s);
    return t;
}

/* ------------------------------------------------------------ fixtures */

Test(feed_parse, rss2_fields)
{
    tb_parsed_feed f;
    must_parse(FIX "rss2.xml", "https://example.org/feed.xml", &f);
    cr_assert_str_eq(f.format, "rss2");
    cr_assert_str_eq(f.title, "Fixture RSS 2.0");
    cr_assert_str_eq(f.site_url, "https://example.org/");
    cr_assert_eq(f.ttl, 90 * 60);
    cr_assert_eq(f.n_items, 3);
    tb_item *a = &f.items[0], *b = &f.items[1], *c = &f.items[2];
    cr_assert_str_eq(a->key, "post-1");
    cr_assert_str_eq(a->url, "https://example.org/posts/1"); /* resolved against the feed URL */
    cr_assert_str_eq(a->title, "First & best");
    cr_assert_str_eq(a->text, "Full text of one."); /* content:encoded wins, script dropped */
    cr_assert(strstr(a->html, "<b>text</b>") != NULL);
    cr_assert_str_eq(a->author, "Ann Author");
    cr_assert_str_eq(a->tags, "alpha, beta");
    cr_assert_eq(a->published, ts("2003-06-03T09:39:21Z"));
    cr_assert_str_eq(a->image_url, "https://example.org/img/one.jpg"); /* first <img> */
    cr_assert_str_eq(a->comments_url, "https://example.org/posts/1#comments");
    cr_assert_str_eq(b->key, "https://example.org/posts/2"); /* no guid: the link */
    cr_assert_str_eq(b->text, "Escaped html");
    cr_assert_eq(b->published, ts("2003-06-03T15:00:00Z")); /* 10:00 EST */
    cr_assert_str_eq(b->image_url, "https://example.org/thumb2.jpg");
    cr_assert(b->extra && strstr(b->extra, "a.mp3") && strstr(b->extra, "1234"));
    cr_assert(strncmp(c->key, "hash:", 5) == 0, "no guid and no link: a hash key");
    cr_assert_str_eq(c->image_url, "https://example.org/pic.png"); /* image enclosure */
    cr_assert_eq(c->published, ts("2003-06-04T06:00:00Z"));
    tb_parsed_feed_free(&f);
}

Test(feed_parse, hash_key_is_stable)
{
    tb_parsed_feed f1, f2;
    must_parse(FIX "rss2.xml", NULL, &f1);
    must_parse(FIX "rss2.xml", NULL, &f2);
    cr_assert_str_eq(f1.items[2].key, f2.items[2].key);
    cr_assert_str_neq(f1.items[2].key, f1.items[1].key);
    tb_parsed_feed_free(&f1);
    tb_parsed_feed_free(&f2);
}

Test(feed_parse, rss1_rdf)
{
    tb_parsed_feed f;
    must_parse(FIX "rss1.rdf", NULL, &f);
    cr_assert_str_eq(f.format, "rss1");
    cr_assert_str_eq(f.title, "Fixture RDF");
    cr_assert_eq(f.ttl, 86400 / 4); /* sy:updatePeriod daily, frequency 4 */
    cr_assert_eq(f.n_items, 2);
    cr_assert_str_eq(f.items[0].key, "https://example.net/a");
    cr_assert_eq(f.items[0].published, ts("2004-02-29T11:30:00Z"));
    cr_assert_str_eq(f.items[0].tags, "rdf");
    cr_assert_eq(f.items[1].published, ts("2004-03-01T00:00:00Z"));
    tb_parsed_feed_free(&f);
}

Test(feed_parse, rss091_with_doctype_and_bare_ampersand)
{
    tb_parsed_feed f;
    must_parse(FIX "rss091.xml", NULL, &f);
    cr_assert_str_eq(f.title, "Fixture 0.91");
    cr_assert_str_eq(f.image, "http://example.com/logo.gif");
    cr_assert_eq(f.n_items, 1);
    cr_assert_str_eq(f.items[0].url, "http://example.com/old?a=1&b=2");
    tb_parsed_feed_free(&f);
}

Test(feed_parse, atom10_xml_base_and_text_constructs)
{
    tb_parsed_feed f;
    must_parse(FIX "atom10.xml", "https://ignored.example/feed", &f);
    cr_assert_str_eq(f.format, "atom10");
    cr_assert_str_eq(f.title, "Fixture Atom");
    cr_assert_str_eq(f.site_url, "https://blog.example.com/");
    cr_assert_str_eq(f.image, "https://blog.example.com/logo.png");
    cr_assert_eq(f.n_items, 2);
    tb_item *a = &f.items[0], *b = &f.items[1];
    cr_assert_str_eq(a->url, "https://blog.example.com/posts/one.html");
    cr_assert_str_eq(a->image_url, "https://blog.example.com/posts/one.jpg");
    cr_assert_str_eq(a->comments_url, "https://blog.example.com/posts/one.html#comments");
    cr_assert_str_eq(a->text, "XHTML content here");
    cr_assert_str_eq(a->author, "Feed Author"); /* inherited */
    cr_assert_str_eq(a->tags, "cats");
    cr_assert_eq(a->published, ts("2005-07-31T10:29:29Z"));
    cr_assert_str_eq(b->title, "Entry <two>"); /* type=text keeps the brackets */
    cr_assert_str_eq(b->author, "Bob");
    cr_assert_str_eq(b->text, "HTML & content");
    cr_assert_eq(b->published, ts("2005-08-02T15:00:00Z")); /* only <updated> */
    tb_parsed_feed_free(&f);
}

Test(feed_parse, atom03)
{
    tb_parsed_feed f;
    must_parse(FIX "atom03.xml", NULL, &f);
    cr_assert_str_eq(f.format, "atom03");
    cr_assert_str_eq(f.description, "Old Atom");
    cr_assert_eq(f.n_items, 1);
    cr_assert_str_eq(f.items[0].text, "Escaped content");
    cr_assert_eq(f.items[0].published, ts("2003-12-13T12:29:29Z"));
    tb_parsed_feed_free(&f);
}

Test(feed_parse, json_feed_11)
{
    tb_parsed_feed f;
    must_parse(FIX "jsonfeed11.json", "https://json.example.com/feed.json", &f);
    cr_assert_str_eq(f.format, "json");
    cr_assert_str_eq(f.title, "Fixture JSON Feed");
    cr_assert_str_eq(f.image, "https://json.example.com/icon.png");
    cr_assert_eq(f.n_items, 2);
    cr_assert_str_eq(f.items[0].text, "Hello JSON");
    cr_assert_str_eq(f.items[0].tags, "x, y");
    cr_assert_str_eq(f.items[0].author, "Jay Son");
    cr_assert_eq(f.items[0].published, ts("2020-02-03T04:05:06Z"));
    cr_assert_str_eq(f.items[1].key, "2"); /* numeric id */
    cr_assert_str_eq(f.items[1].url, "https://json.example.com/2");
    cr_assert_str_eq(f.items[1].text, "Text only & raw");
    cr_assert(strstr(f.items[1].html, "&amp;") != NULL, "content_text is escaped into html");
    cr_assert(f.items[1].extra && strstr(f.items[1].extra, "2.mp3"));
    tb_parsed_feed_free(&f);
}

Test(feed_parse, xxe_not_expanded)
{
    tb_parsed_feed f;
    must_parse(FIX "xxe.xml", NULL, &f);
    cr_assert_eq(f.n_items, 1);
    cr_assert(!strstr(f.title, "root:"), "external entity was read: %s", f.title);
    cr_assert(!strstr(f.items[0].text, "root:"));
    cr_assert_str_eq(f.items[0].text, "secret:");
    tb_parsed_feed_free(&f);
}

Test(feed_parse, billion_laughs_is_harmless)
{
    tb_parsed_feed f;
    tb_err err = {0};
    double t0 = tb_mono();
    int rc = parse_file(FIX "billion-laughs.xml", NULL, &f, &err);
    cr_assert_lt(tb_mono() - t0, 2.0, "entity expansion took too long");
    if (rc == 0) {
        for (size_t i = 0; i < f.n_items; i++) {
            cr_assert_lt(strlen(f.items[i].text), 1000);
            cr_assert(!f.items[i].title || strlen(f.items[i].title) < 1000);
        }
        tb_parsed_feed_free(&f);
    } else {
        cr_assert_eq(err.code, TB_EFORMAT);
    }
}

Test(feed_parse, encodings)
{
    static const char *files[] = {FIX "windows-1252.xml", FIX "utf8-mismatch.xml"};
    for (size_t i = 0; i < 2; i++) {
        tb_parsed_feed f;
        must_parse(files[i], NULL, &f);
        cr_assert_str_eq(f.title, "Caf\xc3\xa9 \xe2\x80\x9cquotes\xe2\x80\x9d \xe2\x82\xac", "%s",
                         files[i]);
        cr_assert_str_eq(f.items[0].title, "Na\xc3\xafve \xe2\x80\x94 dash");
        cr_assert_str_eq(f.items[0].text, "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65");
        tb_parsed_feed_free(&f);
    }
    tb_parsed_feed f;
    must_parse(FIX "windows-1251.xml", NULL, &f);
    cr_assert_str_eq(f.title, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"); /* Привет */
    tb_parsed_feed_free(&f);
    must_parse(FIX "bom.xml", NULL, &f);
    cr_assert_str_eq(f.title, "BOM \xc3\xbc\x62\x65r");
    tb_parsed_feed_free(&f);
    must_parse(FIX "leading-blank.xml", NULL, &f);
    cr_assert_str_eq(f.title, "Blank \xc3\xbc\x62\x65r");
    cr_assert_eq(f.n_items, 1);
    tb_parsed_feed_free(&f);
}

Test(feed_parse, http_charset_overrides_declaration)
{
    /* Latin-1 bytes, declared UTF-8 in the document, charset from HTTP */
    const char doc[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><channel><title>"
                       "Se\xf1or</title></channel></rss>";
    tb_parsed_feed f;
    tb_err err = {0};
    cr_assert_eq(tb_feed_parse(doc, sizeof doc - 1, NULL, "iso-8859-1", &f, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(f.title, "Se\xc3\xb1or");
    tb_parsed_feed_free(&f);
    const char koi[] = "<rss><channel><title>\xf0\xd2\xc9\xd7\xc5\xd4</title></channel></rss>";
    cr_assert_eq(tb_feed_parse(koi, sizeof koi - 1, NULL, "koi8-r", &f, &err), 0, "%s", err.msg);
    cr_assert_str_eq(f.title, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    tb_parsed_feed_free(&f);
}

Test(feed_parse, not_a_feed_errors)
{
    tb_parsed_feed f;
    tb_err err = {0};
    cr_assert_eq(tb_feed_parse("", 0, NULL, NULL, &f, &err), -1);
    cr_assert_eq(err.code, TB_EFORMAT);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    const char *html = "<!doctype html><html><body>hi</body></html>";
    cr_assert_eq(tb_feed_parse(html, strlen(html), NULL, NULL, &f, &err), -1);
    cr_assert(strstr(err.msg, "HTML"), "%s", err.msg);
    const char *js = "{\"hello\": 1}";
    cr_assert_eq(tb_feed_parse(js, strlen(js), NULL, NULL, &f, &err), -1);
    cr_assert(strstr(err.msg, "jsonfeed"), "%s", err.msg);
    const char *bad = "{\"version\": ";
    cr_assert_eq(tb_feed_parse(bad, strlen(bad), NULL, NULL, &f, &err), -1);
    cr_assert(strstr(err.msg, "invalid JSON"), "%s", err.msg);
    cr_assert_eq(tb_feed_parse("just words", 10, NULL, NULL, &f, &err), -1);
}

/* ------------------------------------------------------------ dates */

Test(feed_dates, variants)
{
    int64_t ref = ts("2006-01-02T15:04:05Z");
    static const char *same[] = {
        "Mon, 02 Jan 2006 15:04:05 GMT", "Mon, 02 Jan 2006 15:04:05 +0000",
        "02 Jan 2006 15:04:05 UT", "Mon, 2 Jan 06 15:04:05 Z", "mon, 02 jan 2006 15:04:05 gmt",
        "Monday, 02 January 2006 10:04:05 EST", "Mon, 02 Jan 2006 07:04:05 PST",
        "Mon, 02 Jan 2006 08:04:05 PDT", "2006-01-02T16:04:05+01:00", "2006-01-02T16:04:05+0100",
        "2006-01-02 15:04:05Z", "2006-01-02T15:04:05.999Z", "2006-01-02T15:04:05 UTC",
        "Mon, 02 Jan 2006 16:04:05 CET", "Mon 02 Jan 2006 15:04:05 -00:00",
        "January 2, 2006 3:04:05 PM GMT", "2006/01/02 15:04:05"};
    for (size_t i = 0; i < TB_ARRAY_LEN(same); i++)
        cr_assert_eq(ts(same[i]), ref, "\"%s\" gave %lld, want %lld", same[i],
                     (long long)ts(same[i]), (long long)ref);
    cr_assert_eq(ts("Mon, 02 Jan 2006 15:04 GMT"), ref - 5); /* no seconds */
    cr_assert_eq(ts("2006-01-02"), ts("2006-01-02T00:00:00Z"));
    cr_assert_eq(ts("2 Jan 99 00:00 GMT"), ts("1999-01-02T00:00:00Z")); /* 2-digit year */
    cr_assert_eq(ts("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(ts("2024-02-29T12:00:00Z") - ts("2024-02-28T12:00:00Z"), 86400);
    int64_t t;
    static const char *bad[] = {"", "yesterday", "2006-13-02", "Mon, 32 Jan 2006",
                                "not a date at all", "12:00", "2006-01-02T25:00:00Z", "<b>"};
    for (size_t i = 0; i < TB_ARRAY_LEN(bad); i++)
        cr_assert_eq(tb_date_parse(bad[i], &t), -1, "\"%s\" should not parse", bad[i]);
    cr_assert_eq(tb_date_parse(NULL, &t), -1);
}

/* ------------------------------------------------------------ html */

Test(feed_html, to_text)
{
    tb_buf b = {0};
    char *img = NULL;
    const char *h = "<div><p>One&nbsp;two</p><p>three <b>fo</b>ur</p><script>x()</script>"
                    "<style>p{}</style><img src=\"/a.png\"><img src=\"/b.png\"> &eacute;&amp;</div>";
    tb_html_to_text(h, strlen(h), &b, &img);
    cr_assert_str_eq(b.data, "One two three four \xc3\xa9&");
    cr_assert_str_eq(img, "/a.png");
    free(img);
    tb_buf_clear(&b);
    tb_html_to_text("  plain\n\ttext  ", 15, &b, NULL);
    cr_assert_str_eq(b.data, "plain text");
    tb_buf_clear(&b);
    tb_html_to_text("<p>unclosed <b>tags", 19, &b, NULL);
    cr_assert_str_eq(b.data, "unclosed tags");
    tb_buf_clear(&b);
    tb_html_to_text("", 0, &b, NULL);
    cr_assert_str_eq(tb_buf_cstr(&b), "");
    tb_buf_free(&b);
}

Test(feed_html, fix_amps)
{
    tb_buf b = {0};
    const char *ok = "<a>x &amp; &#38; &#x26; &nbsp;</a><![CDATA[ a & b ]]>";
    cr_assert_eq(tb_xml_fix_amps(ok, strlen(ok), &b), false);
    const char *bad = "<a href=\"?a=1&b=2\">R&D &</a><![CDATA[ & ]]><!-- & -->";
    cr_assert_eq(tb_xml_fix_amps(bad, strlen(bad), &b), true);
    cr_assert_str_eq(b.data, "<a href=\"?a=1&amp;b=2\">R&amp;D &amp;</a><![CDATA[ & ]]><!-- & -->");
    tb_buf_free(&b);
}

/* ------------------------------------------------------------ discovery */

Test(feed_discover, link_alternate)
{
    const char *page =
        "<html><head><base href=\"https://site.example/blog/\">"
        "<link rel=\"stylesheet\" href=\"s.css\">"
        "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"rss.xml\">"
        "<LINK REL=\"Alternate\" TYPE=\"application/atom+xml\" HREF=\"/atom.xml\">"
        "<link rel=\"alternate\" type=\"application/feed+json\" href=\"https://cdn.example/f.json\">"
        "<link rel=\"alternate\" type=\"text/html\" hreflang=\"de\" href=\"/de/\">"
        "</head><body></body></html>";
    char **urls = NULL;
    size_t n = tb_feed_discover(page, strlen(page), "https://site.example/x", &urls);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(urls[0], "https://site.example/blog/rss.xml");
    cr_assert_str_eq(urls[1], "https://site.example/atom.xml");
    cr_assert_str_eq(urls[2], "https://cdn.example/f.json");
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    cr_assert_eq(tb_feed_discover("<p>nothing</p>", 14, "https://a/", &urls), 0);
    cr_assert_null(urls);
    cr_assert(tb_feed_looks_html(page, strlen(page), NULL));
    cr_assert(tb_feed_looks_html("x", 1, "text/html; charset=utf-8"));
    cr_assert(!tb_feed_looks_html("<?xml version=\"1.0\"?><rss/>", 27, "text/html"));
}

/* ------------------------------------------------------------ shared corpus */

typedef struct expect {
    const char *file, *format, *title;
    size_t items;
    const char *first_url;   /* prefix of the first item's link */
    int dates;               /* 1: every item must have a date */
} expect;

static const expect real[] = {
    {"techcrunch_rss2.xml", "rss2", "TechCrunch", 20, "http://feedproxy.google.com/~r/Techcrunch/", 1},
    {"samruby_atom.xml", "atom10", "Sam Ruby", 20, "http", 1},
    {"craigslist_rss1_rdf.xml", "rss1", "craigslist SF bay area | apts/housing for rent search", 25,
     "http://sfbay.craigslist.org/", 1},
    {"heise_rss090_rdf.xml", "rss090", "heise online News", 60, "https://www.heise.de/", 0},
    {"inessential_jsonfeed_v1.json", "json", "inessential.com", 20, "http://inessential.com/", 1},
    {"guardian_us_rss2.xml", "rss2", "The Guardian", 55, "https://www.theguardian.com/", 1},
    {"youtube_channel_atom.xml", "atom10", "Google", 15, "http://www.youtube.com/watch?v=", 1},
    {"ibash_windows-1251_rss2.xml", "rss2", "iBash.Org.Ru", 50, "http://ibash.org.ru/quote.php", 1},
    {"golem_iso8859-1_rss2.xml", "rss2", "Golem.de", 40, "https://www.golem.de/", 1},
    {"jn_pt_iso8859-1_rss2.xml", "rss2", "Jornal de Not\xc3\xad\x63ias - \xc3\x9altimas Not\xc3\xad\x63ias", 40,
     "http://feeds.jn.pt/", 1},
    {"cre_podcast_rss2.xml", "rss2", "CRE: Technik, Kultur, Gesellschaft", 30, "http", 1},
    {"dustri_atom.xml", "atom10", "Artificial truth", 25, "https://dustri.org/b/", 1},
    {"dustri_rss2.xml", "rss2", "Artificial truth", 25, "https://dustri.org/b/", 1},
};

Test(feed_corpus, real_feeds_expected_fields)
{
    if (!tb_is_dir(SHARED "real"))
        cr_skip_test("../shared/data/feeds is absent");
    for (size_t i = 0; i < TB_ARRAY_LEN(real); i++) {
        char path[512];
        snprintf(path, sizeof path, SHARED "real/%s", real[i].file);
        tb_parsed_feed f;
        must_parse(path, "https://feed.example/", &f);
        cr_assert_str_eq(f.format, real[i].format, "%s", real[i].file);
        cr_assert_str_eq(f.title, real[i].title, "%s", real[i].file);
        cr_assert_eq(f.n_items, real[i].items, "%s: %zu items", real[i].file, f.n_items);
        cr_assert(f.items[0].url && tb_str_starts(f.items[0].url, real[i].first_url), "%s: %s",
                  real[i].file, f.items[0].url);
        for (size_t j = 0; j < f.n_items; j++) {
            tb_item *it = &f.items[j];
            cr_assert(it->key && *it->key, "%s item %zu: no key", real[i].file, j);
            cr_assert(it->title && *it->title, "%s item %zu: no title", real[i].file, j);
            cr_assert(tb_utf8_valid(it->title, strlen(it->title)));
            cr_assert(tb_utf8_valid(it->text, strlen(it->text)));
            if (real[i].dates) /* 2000-01-01 .. 2030-01-01 */
                cr_assert(it->published > 946684800 && it->published < 1893456000,
                          "%s item %zu: date %lld", real[i].file, j, (long long)it->published);
        }
        tb_parsed_feed_free(&f);
    }
}

/* every file in real/ and edge/: parses, or fails with a message; in time */
static void sweep(const char *dir, bool must_succeed)
{
    DIR *d = opendir(dir);
    if (!d)
        cr_skip_test("%s is absent", dir);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tb_parsed_feed f;
        tb_err err = {0};
        double t0 = tb_mono();
        int rc = parse_file(path, "https://feed.example/", &f, &err);
        cr_assert_lt(tb_mono() - t0, 5.0, "%s took too long", path);
        if (rc == 0) {
            cr_assert(f.format != NULL);
            for (size_t j = 0; j < f.n_items; j++)
                cr_assert(f.items[j].key && f.items[j].text, "%s", path);
            tb_parsed_feed_free(&f);
        } else {
            cr_assert(!must_succeed, "%s: %s", path, err.msg);
            cr_assert_eq(err.code, TB_EFORMAT, "%s", path);
            cr_assert(strlen(err.msg) > 10, "%s: unclear error \"%s\"", path, err.msg);
        }
        n++;
    }
    closedir(d);
    cr_assert_gt(n, 0);
}

Test(feed_corpus, every_real_feed_parses)
{
    sweep(SHARED "real", true);
}

Test(feed_corpus, every_edge_case_parses_or_fails_cleanly)
{
    sweep(SHARED "edge", false);
}

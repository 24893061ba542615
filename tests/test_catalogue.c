/*
 * test_catalogue.c -- the CSV reader's edge cases and catalogue import from
 * JSONL and CSV (field mapping, skipped rows, malformed files).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec/catalogue.h"
#include "rec/csv.h"

/* Parse all records of s; returns the number, fields joined with '|' and
 * records with '#' into out. -1 on error. */
static int parse_all(const char *s, size_t n, tb_buf *out, tb_err *err)
{
    tb_csv c;
    tb_csv_init(&c, s, n);
    char **f;
    size_t nf;
    int recs = 0, rc;
    while ((rc = tb_csv_next(&c, &f, &nf, err)) == 1) {
        for (size_t i = 0; i < nf; i++) {
            if (i)
                tb_buf_putc(out, '|');
            tb_buf_puts(out, f[i]);
        }
        tb_buf_putc(out, '#');
        tb_csv_fields_free(f, nf);
        recs++;
    }
    tb_csv_free(&c);
    return rc < 0 ? -1 : recs;
}

static void expect(const char *in, int recs, const char *joined)
{
    tb_buf b = {0};
    tb_err e;
    int r = parse_all(in, strlen(in), &b, &e);
    cr_assert_eq(r, recs, "input [%s]: %d records (%s)", in, r, r < 0 ? e.msg : "");
    cr_assert_str_eq(tb_buf_cstr(&b), joined, "input [%s]", in);
    tb_buf_free(&b);
}

Test(csv, basics_and_edges)
{
    expect("a,b,c\n1,2,3\n", 2, "a|b|c#1|2|3#");
    expect("a,b\r\n1,2\r\n", 2, "a|b#1|2#");                  /* CRLF */
    expect("\xEF\xBB\xBFid,t\nx,y", 2, "id|t#x|y#");          /* BOM, no final newline */
    expect("\"a,b\",\"say \"\"hi\"\"\"\n", 1, "a,b|say \"hi\"#"); /* quotes */
    expect("\"line1\nline2\",x\r\n", 1, "line1\nline2|x#");   /* embedded newline */
    expect("\"crlf\r\ninside\",x\n", 1, "crlf\r\ninside|x#");
    expect("a,,c,\n", 1, "a||c|#");                           /* empty fields */
    expect("\"\",x\n", 1, "|x#");                             /* empty quoted */
    expect("\n\na\n\n", 1, "a#");                             /* blank lines */
    expect("ab\"c,d\n", 1, "ab\"c|d#");                       /* stray quote kept */
    expect("", 0, "");
}

Test(csv, errors_name_the_line)
{
    tb_buf b = {0};
    tb_err e;
    const char *s1 = "a,b\n\"open,x\n";
    cr_assert_eq(parse_all(s1, strlen(s1), &b, &e), -1);
    cr_assert(strstr(e.msg, "line 2"), "%s", e.msg);
    cr_assert(strstr(e.msg, "never closed"), "%s", e.msg);
    const char *s2 = "a\n\"x\"y,z\n";
    cr_assert_eq(parse_all(s2, strlen(s2), &b, &e), -1);
    cr_assert(strstr(e.msg, "after a closing quote"), "%s", e.msg);
    tb_buf_free(&b);
}

static char dir[64];
static tb_store *s;

static void setup(void)
{
    strcpy(dir, "/tmp/tb-cat-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof p, "%s/t.db", dir);
    tb_err e;
    s = tb_store_open(p, &e);
    cr_assert_not_null(s, "%s", e.msg);
}

static void teardown(void)
{
    tb_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *write_tmp(const char *name, const char *content)
{
    char *p = tb_path_join(dir, name);
    cr_assert_eq(tb_write_file(p, content, strlen(content), NULL), 0);
    return p;
}

TestSuite(catalogue, .init = setup, .fini = teardown);

Test(catalogue, jsonl_import)
{
    char *p = write_tmp("b.jsonl",
                        "{\"id\": 1, \"title\": \"Dune\", \"text\": \"desert planet\", "
                        "\"tags\": [\"sf\", \"classic\"], \"url\": \"http://x/1\"}\n"
                        "\n"
                        "{\"id\": \"b2\", \"title\": \"Emma\"}\n"
                        "{\"title\": \"no id\"}\n"
                        "{\"id\": 3}\n");
    struct tb_catalogue_stats st;
    int64_t *ids;
    size_t n;
    tb_err e;
    cr_assert_eq(tb_catalogue_import(s, "books", p, NULL, &ids, &n, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.rows, 4);
    cr_assert_eq(st.imported, 2);
    cr_assert_eq(st.skipped, 2);
    cr_assert_eq(n, 2);
    tb_item it = {0};
    cr_assert_eq(tb_store_item_get_by_key(s, "books", "1", &it, &e), 0, "%s", e.msg);
    cr_assert_str_eq(it.title, "Dune");
    cr_assert_str_eq(it.tags, "sf, classic");
    cr_assert_str_eq(it.url, "http://x/1");
    tb_item_clear(&it);
    free(ids);
    /* Reimport updates, does not duplicate. */
    cr_assert_eq(tb_catalogue_import(s, "books", p, NULL, NULL, NULL, &st, &e), 0);
    cr_assert_eq(st.added, 0);
    cr_assert_eq(tb_store_item_count(s, "books", &e), 2);
    free(p);
    p = write_tmp("bad.jsonl", "{\"id\": 1, \"title\": \"a\"}\n{broken\n");
    cr_assert_eq(tb_catalogue_import(s, "books", p, NULL, NULL, NULL, &st, &e), -1);
    cr_assert(strstr(e.msg, "line 2"), "%s", e.msg);
    free(p);
}

Test(catalogue, csv_import_with_field_mapping)
{
    char *p = write_tmp("f.csv", "movieId,name,plot\r\n"
                                 "10,\"Alien, the film\",\"space\r\nhorror\"\r\n"
                                 "11,Heat,crime\r\n");
    struct tb_catalogue_fields f = {.id = "movieId", .title = "name", .text = "plot"};
    struct tb_catalogue_stats st;
    tb_err e;
    cr_assert_eq(tb_catalogue_import(s, "films", p, &f, NULL, NULL, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.imported, 2);
    tb_item it = {0};
    cr_assert_eq(tb_store_item_get_by_key(s, "films", "10", &it, &e), 0);
    cr_assert_str_eq(it.title, "Alien, the film");
    cr_assert_str_eq(it.text, "space\r\nhorror");
    tb_item_clear(&it);
    /* Without the mapping the id column is missing: a clear error. */
    cr_assert_eq(tb_catalogue_import(s, "films", p, NULL, NULL, NULL, &st, &e), -1);
    cr_assert(strstr(e.msg, "no 'id' column"), "%s", e.msg);
    free(p);
    cr_assert_eq(tb_catalogue_import(s, "films", "/nonexistent.csv", NULL, NULL, NULL, &st, &e),
                 -1);
    cr_assert_eq(tb_catalogue_import(s, "feed:1", "x.csv", NULL, NULL, NULL, &st, &e), -1);
}

/* Unit tests for the store: migrations, refusal of foreign files, and every
 * table's operations. The cases written with STORE_CASE run twice: on SQLite
 * (suite "store") and on PostgreSQL (suite "store_pg"), the latter when
 * TB_TEST_PG_URL names a server (make test starts a throwaway one with
 * scripts/pg-test-server) and skipped otherwise. */
#include <criterion/criterion.h>
#ifdef TB_WITH_PG
#include <libpq-fe.h>
#endif
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char dir[64];
static char path[128];
static char spec[1024]; /* what open_ok() opens: path, or a PostgreSQL URL */

static void setup(void)
{
    strcpy(dir, "/tmp/tb-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
    snprintf(spec, sizeof spec, "%s", path);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static tb_store *open_ok(void)
{
    tb_err e = {0};
    tb_store *s = tb_store_open(spec, &e);
    cr_assert_not_null(s, "open failed: %s", e.msg);
    return s;
}

#ifdef TB_WITH_PG
/* Each PostgreSQL test gets its own schema, so tests can run in parallel
 * against one server; the schema rides in the URL as a search_path option. */
static char pg_schema[40];

static void pg_exec(const char *sql_text)
{
    PGconn *c = PQconnectdb(getenv("TB_TEST_PG_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, sql_text);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
              "%s: %s", sql_text, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void pg_setup(void)
{
    const char *url = getenv("TB_TEST_PG_URL");
    if (!url || !*url)
        return; /* the test skips itself */
    unsigned char raw[6];
    char hex[13];
    cr_assert_eq(tb_random_bytes(raw, sizeof raw), 0);
    tb_hex(raw, sizeof raw, hex);
    snprintf(pg_schema, sizeof pg_schema, "t_%s", hex);
    char sql_text[96];
    snprintf(sql_text, sizeof sql_text, "CREATE SCHEMA %s", pg_schema);
    pg_exec(sql_text);
    snprintf(spec, sizeof spec, "%s%soptions=-csearch_path%%3D%s", url,
             strchr(url, '?') ? "&" : "?", pg_schema);
}

static void pg_teardown(void)
{
    if (!pg_schema[0])
        return;
    char sql_text[96];
    snprintf(sql_text, sizeof sql_text, "DROP SCHEMA %s CASCADE", pg_schema);
    pg_exec(sql_text);
}

#define PG_SKIP_IF_ABSENT()                                                                \
    do {                                                                                   \
        if (!getenv("TB_TEST_PG_URL") || !*getenv("TB_TEST_PG_URL"))                        \
            cr_skip_test("TB_TEST_PG_URL not set: no PostgreSQL server for this run");     \
    } while (0)

#define STORE_CASE(name)                                                                   \
    static void case_##name(void);                                                         \
    Test(store, name, .init = setup, .fini = teardown) { case_##name(); }                  \
    Test(store_pg, name, .init = pg_setup, .fini = pg_teardown)                            \
    {                                                                                      \
        PG_SKIP_IF_ABSENT();                                                               \
        case_##name();                                                                     \
    }                                                                                      \
    static void case_##name(void)
#else
#define STORE_CASE(name)                                                                   \
    static void case_##name(void);                                                         \
    Test(store, name, .init = setup, .fini = teardown) { case_##name(); }                  \
    static void case_##name(void)
#endif

static void sql(const char *stmt)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, stmt, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

TestSuite(store, .init = setup, .fini = teardown);
#ifdef TB_WITH_PG
TestSuite(store_pg);
#endif

STORE_CASE(open_new_then_existing)
{
    tb_store *s = open_ok();
    cr_assert_eq(tb_store_schema_version(s), TB_SCHEMA_VERSION);
    cr_assert_str_eq(tb_store_backend(s), strchr(spec, ':') ? "postgres" : "sqlite");
    tb_err e = {0};
    cr_assert_eq(tb_store_user_create(s, "u1", "One", &e), 0, "%s", e.msg);
    tb_store_close(s);
    s = open_ok();
    cr_assert_eq(tb_store_user_exists(s, "u1", &e), 1, "data survives reopening");
    cr_assert_eq(tb_store_user_exists(s, "u2", &e), 0);
    tb_store_close(s);
}

Test(store, refuses_newer_schema)
{
    tb_store_close(open_ok());
    char stmt[64];
    snprintf(stmt, sizeof stmt, "PRAGMA user_version = %d", TB_SCHEMA_VERSION + 1);
    sql(stmt);
    tb_err e = {0};
    cr_assert_null(tb_store_open(path, &e));
    cr_assert_eq(e.code, TB_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "newer tastebud"), "message: %s", e.msg);
}

Test(store, refuses_non_sqlite_file)
{
    FILE *f = fopen(path, "w");
    fputs("<rss>definitely not sqlite</rss>", f);
    fclose(f);
    tb_err e = {0};
    cr_assert_null(tb_store_open(path, &e));
    cr_assert_eq(e.code, TB_EFORMAT);
    cr_assert(strstr(e.msg, "not a SQLite database"), "message: %s", e.msg);
}

Test(store, refuses_corrupt_sqlite_file)
{
    tb_store_close(open_ok());
    /* Keep the magic string, destroy the rest of the header page. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 16, SEEK_SET);
    for (int i = 0; i < 4000; i++)
        fputc(0xA5, f);
    fclose(f);
    tb_err e = {0};
    tb_store *s = tb_store_open(path, &e);
    cr_assert_null(s);
    cr_assert_neq(e.msg[0], '\0');
}

Test(store, refuses_foreign_sqlite_database)
{
    sql("CREATE TABLE photos(id INTEGER PRIMARY KEY, path TEXT)");
    tb_err e = {0};
    cr_assert_null(tb_store_open(path, &e));
    cr_assert_eq(e.code, TB_EFORMAT);
    cr_assert(strstr(e.msg, "not a tastebud one"), "message: %s", e.msg);
    sql("PRAGMA application_id = 1234");
    cr_assert_null(tb_store_open(path, &e));
    cr_assert(strstr(e.msg, "another application"), "message: %s", e.msg);
}

Test(store, wal_and_foreign_keys_on)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    /* foreign keys: subscribing an unknown user fails */
    int64_t fid;
    cr_assert_eq(tb_store_feed_add(s, "https://example.org/feed.xml", &fid, &e), 0);
    cr_assert_eq(tb_store_subscribe(s, "ghost", fid, NULL, NULL, &e), -1);
    cr_assert_eq(e.code, TB_ENOTFOUND);
    tb_store_close(s);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

STORE_CASE(feeds_and_subscriptions)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    int64_t a, b, a2;
    cr_assert_eq(tb_store_feed_add(s, "https://a.example/rss", &a, &e), 0);
    cr_assert_eq(tb_store_feed_add(s, "https://b.example/atom", &b, &e), 0);
    cr_assert_eq(tb_store_feed_add(s, "https://a.example/rss", &a2, &e), 0);
    cr_assert_eq(a, a2, "same URL, same feed");
    cr_assert_neq(a, b);

    tb_feed f;
    cr_assert_eq(tb_store_feed_get(s, a, &f, &e), 0);
    cr_assert_str_eq(f.url, "https://a.example/rss");
    f.title = tb_strdup("Feed A");
    f.etag = tb_strdup("\"abc\"");
    f.failures = 2;
    f.next_fetch = 100;
    cr_assert_eq(tb_store_feed_update(s, &f, &e), 0, "%s", e.msg);
    tb_feed_clear(&f);
    cr_assert_eq(tb_store_feed_get_by_url(s, "https://a.example/rss", &f, &e), 0);
    cr_assert_str_eq(f.title, "Feed A");
    cr_assert_str_eq(f.etag, "\"abc\"");
    cr_assert_eq(f.failures, 2);
    tb_feed_clear(&f);
    cr_assert_eq(tb_store_feed_get(s, 999, &f, &e), -1);
    cr_assert_eq(e.code, TB_ENOTFOUND);

    cr_assert_eq(tb_store_user_create(s, "u", NULL, &e), 0);
    tb_feed *list;
    size_t n;
    cr_assert_eq(tb_store_feed_due(s, 1000, &list, &n, &e), 0);
    cr_assert_eq(n, 0, "no subscriber, nothing due");
    tb_feed_list_free(list, n);
    cr_assert_eq(tb_store_subscribe(s, "u", a, "News", "A", &e), 0);
    cr_assert_eq(tb_store_subscribe(s, "u", a, NULL, NULL, &e), 0, "idempotent");
    cr_assert_eq(tb_store_is_subscribed(s, "u", a, &e), 1);
    cr_assert_eq(tb_store_is_subscribed(s, "u", b, &e), 0);
    cr_assert_eq(tb_store_feed_due(s, 50, &list, &n, &e), 0);
    cr_assert_eq(n, 0, "not due before next_fetch");
    tb_feed_list_free(list, n);
    cr_assert_eq(tb_store_feed_due(s, 100, &list, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(list[0].id, a);
    tb_feed_list_free(list, n);

    char **cats;
    cr_assert_eq(tb_store_subscriptions(s, "u", &list, &cats, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(cats[0], "News", "category kept by the second subscribe");
    free(cats[0]);
    free(cats);
    tb_feed_list_free(list, n);
    cr_assert_eq(tb_store_unsubscribe(s, "u", a, &e), 0);
    cr_assert_eq(tb_store_is_subscribed(s, "u", a, &e), 0);
    cr_assert_eq(tb_store_feed_list(s, &list, &n, &e), 0);
    cr_assert_eq(n, 2);
    tb_feed_list_free(list, n);
    tb_store_close(s);
}

static tb_item make_item(const char *coll, const char *key, const char *title, const char *text)
{
    tb_item it = {0};
    it.collection = (char *)coll;
    it.key = (char *)key;
    it.title = (char *)title;
    it.text = (char *)text;
    it.url = (char *)"https://example.org/x";
    return it;
}

STORE_CASE(items_dedup_and_stale_embeddings)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    bool is_new;
    tb_item it = make_item("films", "tt1", "Alien", "space horror");
    cr_assert_eq(tb_store_item_upsert(s, &it, &is_new, &e), 0, "%s", e.msg);
    cr_assert(is_new);
    int64_t id = it.id;
    cr_assert_gt(id, 0);
    float v[3] = {1, 0, 0}, out[3];
    cr_assert_eq(tb_store_embedding_put(s, id, "m", v, 3, &e), 0);
    cr_assert_eq(tb_store_embedding_get(s, id, "m", out, 3, &e), 1);
    cr_assert_float_eq(out[0], 1.0f, 0);
    cr_assert_eq(tb_store_embedding_get(s, id, "m", out, 4, &e), -1, "dimension mismatch");

    /* Same item again, same text: update in place, embedding kept. */
    it = make_item("films", "tt1", "Alien", "space horror");
    it.author = (char *)"Ridley Scott";
    cr_assert_eq(tb_store_item_upsert(s, &it, &is_new, &e), 0);
    cr_assert_not(is_new);
    cr_assert_eq(it.id, id);
    cr_assert_eq(tb_store_embedding_get(s, id, "m", out, 3, &e), 1);
    cr_assert_eq(tb_store_item_count(s, "films", &e), 1);

    /* Changed text: the embedding is stale and goes. */
    it = make_item("films", "tt1", "Alien (1979)", "space horror");
    cr_assert_eq(tb_store_item_upsert(s, &it, &is_new, &e), 0);
    cr_assert_eq(tb_store_embedding_get(s, id, "m", out, 3, &e), 0);

    int64_t *ids;
    size_t n;
    cr_assert_eq(tb_store_embedding_missing(s, "m", 0, &ids, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ids[0], id);
    free(ids);

    tb_item got;
    cr_assert_eq(tb_store_item_get_by_key(s, "films", "tt1", &got, &e), 0);
    cr_assert_str_eq(got.title, "Alien (1979)");
    cr_assert_null(got.author, "an update writes every field");
    tb_item_clear(&got);
    cr_assert_eq(tb_store_item_get(s, 12345, &got, &e), -1);
    cr_assert_eq(e.code, TB_ENOTFOUND);

    it = make_item("", "k", "t", "x");
    cr_assert_eq(tb_store_item_upsert(s, &it, NULL, &e), -1);
    cr_assert_eq(e.code, TB_EINVAL);
    tb_store_close(s);
}

STORE_CASE(feed_items_order_and_collections)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    int64_t fid;
    cr_assert_eq(tb_store_feed_add(s, "https://f.example/", &fid, &e), 0);
    char coll[32];
    tb_feed_collection(fid, coll, sizeof coll);
    for (int i = 0; i < 5; i++) {
        char key[8], title[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(title, sizeof title, "item %d", i);
        tb_item it = make_item(coll, key, title, "text");
        it.feed_id = fid;
        it.published = 1000 + i;
        cr_assert_eq(tb_store_item_upsert(s, &it, NULL, &e), 0, "%s", e.msg);
    }
    tb_item cat = make_item("books", "b1", "Dune", "desert planet");
    cr_assert_eq(tb_store_item_upsert(s, &cat, NULL, &e), 0);
    tb_item *items;
    size_t n;
    cr_assert_eq(tb_store_items_by_feed(s, fid, 3, &items, &n, &e), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(items[0].title, "item 4", "newest first");
    cr_assert_eq(items[0].feed_id, fid);
    tb_item_list_free(items, n);
    char **names;
    cr_assert_eq(tb_store_collections(s, &names, &n, &e), 0);
    cr_assert_eq(n, 1, "feed collections are not catalogues");
    cr_assert_str_eq(names[0], "books");
    free(names[0]);
    free(names);
    cr_assert_eq(tb_store_feed_delete(s, fid, &e), 0);
    cr_assert_eq(tb_store_item_count(s, coll, &e), 0, "items go with their feed");
    tb_store_close(s);
}

STORE_CASE(embeddings_load_by_collection)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    const char *colls[] = {"a", "b"};
    for (int i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof key, "%d", i);
        tb_item it = make_item(colls[i % 2], key, key, key);
        cr_assert_eq(tb_store_item_upsert(s, &it, NULL, &e), 0);
        float v[2] = {(float)i, 1};
        cr_assert_eq(tb_store_embedding_put(s, it.id, "m", v, 2, &e), 0);
    }
    int64_t *ids;
    float *vecs;
    size_t n;
    cr_assert_eq(tb_store_embeddings_load(s, "b", "m", 2, &ids, &vecs, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq((int)vecs[2 * i] % 2, 1);
    free(ids);
    free(vecs);
    cr_assert_eq(tb_store_embeddings_load(s, NULL, "m", 2, &ids, &vecs, &n, &e), 0);
    cr_assert_eq(n, 10);
    free(ids);
    free(vecs);
    cr_assert_eq(tb_store_embeddings_load(s, NULL, "m", 3, &ids, &vecs, &n, &e), -1);
    cr_assert_eq(tb_store_embedding_put(s, 9999, "m", (float[]){1, 2}, 2, &e), -1);
    tb_store_close(s);
}

STORE_CASE(events_and_profiles)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    cr_assert_eq(tb_store_user_create(s, "u", NULL, &e), 0);
    tb_item it = make_item("c", "1", "t", "x");
    cr_assert_eq(tb_store_item_upsert(s, &it, NULL, &e), 0);
    cr_assert_eq(tb_store_event_last_id(s, "u", &e), 0);
    cr_assert_eq(tb_store_event_add(s, "u", it.id, TB_EV_READ, 10, &e), 0);
    cr_assert_eq(tb_store_event_add(s, "u", it.id, TB_EV_LIKE, 11, &e), 0);
    cr_assert_eq(tb_store_event_add(s, "u", it.id, TB_EV_DISLIKE, 0, &e), 0);
    cr_assert_eq(tb_store_event_add(s, "u", it.id, 99, 0, &e), -1);
    cr_assert_eq(tb_store_event_add(s, "nobody", it.id, TB_EV_READ, 0, &e), -1);
    cr_assert_eq(tb_store_event_add(s, "u", 777, TB_EV_READ, 0, &e), -1);
    tb_event *ev;
    size_t n;
    cr_assert_eq(tb_store_events(s, "u", 0, &ev, &n, &e), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(ev[0].kind, TB_EV_READ);
    cr_assert_eq(ev[1].kind, TB_EV_LIKE);
    cr_assert_eq(ev[1].ts, 11);
    cr_assert_gt(ev[2].ts, 1000000000, "ts 0 means now");
    int64_t second = ev[1].id;
    free(ev);
    cr_assert_eq(tb_store_events(s, "u", second, &ev, &n, &e), 0);
    cr_assert_eq(n, 1);
    free(ev);
    cr_assert_eq(tb_store_event_last_id(s, "u", &e), second + 1);

    tb_buf b = {0};
    int64_t last = -1;
    cr_assert_eq(tb_store_profile_get(s, "u", "m", &b, &last, &e), 0);
    cr_assert_eq(tb_store_profile_put(s, "u", "m", "\x01\x02\x00\x03", 4, 42, &e), 0);
    cr_assert_eq(tb_store_profile_get(s, "u", "m", &b, &last, &e), 1);
    cr_assert_eq(b.len, 4);
    cr_assert_eq(memcmp(b.data, "\x01\x02\x00\x03", 4), 0);
    cr_assert_eq(last, 42);
    tb_buf_free(&b);
    cr_assert_eq(tb_event_kind_parse("dislike"), TB_EV_DISLIKE);
    cr_assert_eq(tb_event_kind_parse("love"), -1);
    cr_assert_str_eq(tb_event_kind_name(TB_EV_SHOWN), "shown");

    tb_store_stats st;
    cr_assert_eq(tb_store_stats_get(s, &st, &e), 0);
    cr_assert_eq(st.users, 1);
    cr_assert_eq(st.events, 3);
    cr_assert_eq(st.profiles, 1);
    tb_store_close(s);
}

STORE_CASE(transactions_roll_back)
{
    tb_store *s = open_ok();
    tb_err e = {0};
    cr_assert_eq(tb_store_begin(s, &e), 0, "%s", e.msg);
    cr_assert_eq(tb_store_user_create(s, "temp", NULL, &e), 0);
    tb_store_rollback(s);
    cr_assert_eq(tb_store_user_exists(s, "temp", &e), 0);
    cr_assert_eq(tb_store_begin(s, &e), 0);
    cr_assert_eq(tb_store_user_create(s, "kept", NULL, &e), 0);
    cr_assert_eq(tb_store_commit(s, &e), 0);
    cr_assert_eq(tb_store_user_exists(s, "kept", &e), 1);
    cr_assert_eq(tb_store_user_create(s, "kept", NULL, &e), -1);
    cr_assert_eq(e.code, TB_EEXIST);
    tb_store_close(s);
}

Test(store, unreachable_postgres_is_a_clear_error)
{
    tb_err e = {0};
    /* A socket folder that does not exist: fails at once, without network. */
    cr_assert_null(
        tb_store_open("postgresql://u:secret@/tastebud?host=/nonexistent-tb-socket", &e));
#ifdef TB_WITH_PG
    cr_assert_eq(e.code, TB_EDB);
    cr_assert(strstr(e.msg, "cannot connect"), "message: %s", e.msg);
    cr_assert_null(strstr(e.msg, "secret"), "the password is not printed: %s", e.msg);
#else
    cr_assert_eq(e.code, TB_EUNSUPPORTED);
#endif
    cr_assert_null(tb_store_open("", &e));
}

#ifdef TB_WITH_PG
Test(store_pg, refuses_newer_schema_and_foreign_database, .init = pg_setup, .fini = pg_teardown)
{
    PG_SKIP_IF_ABSENT();
    tb_store_close(open_ok());
    char sql_text[160];
    snprintf(sql_text, sizeof sql_text,
             "UPDATE %s.tastebud_meta SET value = '%d' WHERE key = 'schema_version'", pg_schema,
             TB_SCHEMA_VERSION + 1);
    pg_exec(sql_text);
    tb_err e = {0};
    cr_assert_null(tb_store_open(spec, &e));
    cr_assert_eq(e.code, TB_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "newer tastebud"), "message: %s", e.msg);
    snprintf(sql_text, sizeof sql_text,
             "DROP TABLE %s.tastebud_meta; CREATE TABLE %s.photos(id int)", pg_schema, pg_schema);
    pg_exec(sql_text);
    cr_assert_null(tb_store_open(spec, &e));
    cr_assert_eq(e.code, TB_EFORMAT);
    cr_assert(strstr(e.msg, "not a tastebud database"), "message: %s", e.msg);
}
#endif

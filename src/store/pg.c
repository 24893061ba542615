/*
 * pg.c -- the PostgreSQL backend, for deployments that outgrow one file.
 *
 * Same data model and semantics as sqlite.c (see docs/STORE.md); chosen by a
 * postgres:// or postgresql:// URL in the `database` setting. One connection
 * per tb_store; store.c serialises calls, so the connection is never used by
 * two threads at once.
 *
 * Identity and versioning: a table tastebud_meta holds ('app', 'tastebud')
 * and ('schema_version', N). A database with tables but no tastebud_meta is
 * someone else's and is refused; a newer schema is refused; older ones are
 * migrated step by step inside transactions, as with SQLite.
 *
 * All statements use PQexecParams with text parameters (bytea as binary
 * parameters) and text results; bytea results are decoded with
 * PQunescapeBytea. Simplicity over the last few percent of speed: the hot
 * paths (ranking) read vectors in bulk, once per request.
 */
#ifdef TB_WITH_PG

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

static const char *PG_MIGRATIONS[] = {
    NULL,
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY, name TEXT, created BIGINT NOT NULL);"
    "CREATE TABLE feeds ("
    "  id BIGSERIAL PRIMARY KEY, url TEXT NOT NULL UNIQUE,"
    "  title TEXT, site_url TEXT, description TEXT, etag TEXT, last_modified TEXT,"
    "  last_fetch BIGINT NOT NULL DEFAULT 0, last_ok BIGINT NOT NULL DEFAULT 0,"
    "  next_fetch BIGINT NOT NULL DEFAULT 0, ttl INTEGER NOT NULL DEFAULT 0,"
    "  failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    "  disabled BOOLEAN NOT NULL DEFAULT false, created BIGINT NOT NULL);"
    "CREATE TABLE subscriptions ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  feed_id BIGINT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,"
    "  category TEXT, title TEXT, created BIGINT NOT NULL,"
    "  PRIMARY KEY (user_id, feed_id));"
    "CREATE INDEX subscriptions_feed ON subscriptions(feed_id);"
    "CREATE TABLE items ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  feed_id BIGINT REFERENCES feeds(id) ON DELETE CASCADE,"
    "  collection TEXT NOT NULL, key TEXT NOT NULL,"
    "  url TEXT, title TEXT, html TEXT, text TEXT, author TEXT, tags TEXT,"
    "  published BIGINT NOT NULL DEFAULT 0, image_url TEXT, comments_url TEXT, extra TEXT,"
    "  created BIGINT NOT NULL, UNIQUE (collection, key));"
    "CREATE INDEX items_feed ON items(feed_id, published);"
    "CREATE TABLE embeddings ("
    "  item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL, dim INTEGER NOT NULL, vec BYTEA NOT NULL,"
    "  PRIMARY KEY (item_id, model));"
    "CREATE TABLE events ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('read','like','dislike','shown')),"
    "  ts BIGINT NOT NULL);"
    "CREATE INDEX events_user ON events(user_id, id);"
    "CREATE TABLE profiles ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL, data BYTEA NOT NULL,"
    "  last_event BIGINT NOT NULL DEFAULT 0, updated BIGINT NOT NULL,"
    "  PRIMARY KEY (user_id, model));",
};
_Static_assert((int)TB_ARRAY_LEN(PG_MIGRATIONS) - 1 == TB_SCHEMA_VERSION,
               "one PostgreSQL migration per schema version");

typedef struct pg {
    PGconn *conn;
    char *where; /* the URL without its password, for messages */
    int version;
} pg;

/* A small argument list for PQexecParams: text values, or binary blobs. */
typedef struct pargs {
    int n;
    const char *v[16];
    int len[16];
    int fmt[16];
    char num[16][24];
} pargs;

static void a_text(pargs *a, const char *s)
{
    a->v[a->n] = s;
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

static void a_int(pargs *a, int64_t x)
{
    snprintf(a->num[a->n], sizeof a->num[0], "%lld", (long long)x);
    a_text(a, a->num[a->n]);
}

static void a_blob(pargs *a, const void *p, size_t n)
{
    a->v[a->n] = p;
    a->len[a->n] = (int)n;
    a->fmt[a->n] = 1;
    a->n++;
}

static const char *sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* Run a statement; returns the result (caller PQclear) or NULL with err set.
 * Unique/foreign-key violations map to TB_EEXIST / TB_ENOTFOUND. */
static PGresult *run(pg *q, const char *sql, const pargs *a, tb_err *err, const char *what)
{
    PGresult *r = PQexecParams(q->conn, sql, a ? a->n : 0, NULL, a ? a->v : NULL,
                               a ? a->len : NULL, a ? a->fmt : NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *code = sqlstate(r);
    int ec = strcmp(code, "23505") == 0 ? TB_EEXIST
             : strcmp(code, "23503") == 0 ? TB_ENOTFOUND
                                          : TB_EDB;
    tb_err_set(err, ec, "%s: %s: %s", q->where, what, PQerrorMessage(q->conn));
    /* PQerrorMessage ends in a newline; drop it from our message */
    if (err) {
        size_t n = strlen(err->msg);
        while (n > 0 && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
            err->msg[--n] = '\0';
    }
    PQclear(r);
    return NULL;
}

static int run_done(pg *q, const char *sql, const pargs *a, tb_err *err, const char *what)
{
    PGresult *r = run(q, sql, a, err, what);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* Run several statements without parameters (migrations). */
static int run_script(pg *q, const char *sql, tb_err *err, const char *what)
{
    PGresult *r = PQexec(q->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    tb_err_set(err, TB_EDB, "%s: %s: %s", q->where, what, PQerrorMessage(q->conn));
    return -1;
}

static char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : tb_strdup(PQgetvalue(r, row, col));
}

static int64_t ival(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void pg_close(void *impl)
{
    pg *q = impl;
    if (!q)
        return;
    PQfinish(q->conn);
    free(q->where);
    free(q);
}

static int pg_migrate(pg *q, tb_err *err)
{
    PGresult *r = run(q,
                      "SELECT (SELECT count(*) FROM information_schema.tables WHERE "
                      "table_schema = current_schema()), "
                      "to_regclass('tastebud_meta') IS NOT NULL",
                      NULL, err, "reading the schema");
    if (!r)
        return -1;
    int64_t tables = ival(r, 0, 0);
    bool has_meta = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    int version = 0;
    if (has_meta) {
        r = run(q,
                "SELECT (SELECT value FROM tastebud_meta WHERE key='app'), "
                "(SELECT value FROM tastebud_meta WHERE key='schema_version')",
                NULL, err, "reading the schema version");
        if (!r)
            return -1;
        const char *app = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
        if (strcmp(app, "tastebud") != 0) {
            PQclear(r);
            return tb_err_set(err, TB_EFORMAT, "%s holds a tastebud_meta table that is not "
                                               "tastebud's", q->where);
        }
        version = (int)ival(r, 0, 1);
        PQclear(r);
    } else if (tables > 0) {
        return tb_err_set(err, TB_EFORMAT,
                          "%s is not a tastebud database (it has tables and no tastebud "
                          "schema); use an empty database",
                          q->where);
    }
    if (version > TB_SCHEMA_VERSION)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "%s has schema version %d, written by a newer tastebud; this build "
                          "knows versions up to %d. Upgrade tastebud.",
                          q->where, version, TB_SCHEMA_VERSION);
    for (int v = version + 1; v <= TB_SCHEMA_VERSION; v++) {
        if (run_done(q, "BEGIN", NULL, err, "starting a migration"))
            return -1;
        pargs a = {0};
        a_int(&a, v);
        if ((v == 1 && run_script(q,
                                  "CREATE TABLE tastebud_meta (key TEXT PRIMARY KEY, value TEXT);"
                                  "INSERT INTO tastebud_meta VALUES ('app', 'tastebud'), "
                                  "('schema_version', '0')",
                                  err, "creating tastebud_meta")) ||
            run_script(q, PG_MIGRATIONS[v], err, "migrating") ||
            run_done(q, "UPDATE tastebud_meta SET value = $1 WHERE key = 'schema_version'", &a,
                     err, "recording the schema version")) {
            tb_err_prefix(err, "applying schema migration %d", v);
            PQclear(PQexec(q->conn, "ROLLBACK"));
            return -1;
        }
        if (run_done(q, "COMMIT", NULL, err, "committing a migration"))
            return -1;
    }
    q->version = TB_SCHEMA_VERSION;
    return 0;
}

static int pg_version(void *impl) { return ((pg *)impl)->version; }
static int pg_begin(void *impl, tb_err *err) { return run_done(impl, "BEGIN", NULL, err, "BEGIN"); }
static int pg_commit(void *impl, tb_err *err)
{
    return run_done(impl, "COMMIT", NULL, err, "COMMIT");
}
static void pg_rollback(void *impl)
{
    pg *q = impl;
    if (PQtransactionStatus(q->conn) != PQTRANS_IDLE)
        PQclear(PQexec(q->conn, "ROLLBACK"));
}

/* ------------------------------------------------------------- users */

static int pg_user_create(void *impl, const char *id, const char *name, tb_err *err)
{
    pargs a = {0};
    a_text(&a, id);
    a_text(&a, name);
    a_int(&a, tb_unix_now());
    if (run_done(impl, "INSERT INTO users(id, name, created) VALUES ($1, $2, $3)", &a, err,
                 "creating a user") == 0)
        return 0;
    if (err && err->code == TB_EEXIST)
        tb_err_set(err, TB_EEXIST, "user '%s' already exists", id);
    return -1;
}

static int pg_user_exists(void *impl, const char *id, tb_err *err)
{
    pargs a = {0};
    a_text(&a, id);
    PGresult *r = run(impl, "SELECT 1 FROM users WHERE id = $1", &a, err, "looking up a user");
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

static int pg_user_list(void *impl, tb_user **out, size_t *n, tb_err *err)
{
    PGresult *r = run(impl, "SELECT id, name, created FROM users ORDER BY created, id", NULL,
                      err, "listing users");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    tb_user *u = tb_calloc(len ? len : 1, sizeof *u);
    for (size_t i = 0; i < len; i++) {
        u[i].id = val(r, (int)i, 0);
        u[i].name = val(r, (int)i, 1);
        u[i].created = ival(r, (int)i, 2);
    }
    PQclear(r);
    *out = u;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- feeds */

#define PG_FEED_COLS                                                                       \
    "f.id, f.url, f.title, f.site_url, f.description, f.etag, f.last_modified, "           \
    "f.last_fetch, f.last_ok, f.next_fetch, f.ttl, f.failures, f.last_error, f.disabled, " \
    "f.created"

static void read_feed(PGresult *r, int i, tb_feed *f)
{
    memset(f, 0, sizeof *f);
    f->id = ival(r, i, 0);
    f->url = val(r, i, 1);
    f->title = val(r, i, 2);
    f->site_url = val(r, i, 3);
    f->description = val(r, i, 4);
    f->etag = val(r, i, 5);
    f->last_modified = val(r, i, 6);
    f->last_fetch = ival(r, i, 7);
    f->last_ok = ival(r, i, 8);
    f->next_fetch = ival(r, i, 9);
    f->ttl = (int)ival(r, i, 10);
    f->failures = (int)ival(r, i, 11);
    f->last_error = val(r, i, 12);
    f->disabled = PQgetvalue(r, i, 13)[0] == 't';
    f->created = ival(r, i, 14);
}

static int pg_feed_add(void *impl, const char *url, int64_t *id, tb_err *err)
{
    pargs a = {0};
    a_text(&a, url);
    a_int(&a, tb_unix_now());
    /* DO UPDATE (a no-op) rather than DO NOTHING so RETURNING always yields the id. */
    PGresult *r = run(impl,
                      "INSERT INTO feeds(url, created) VALUES ($1, $2) ON CONFLICT (url) DO "
                      "UPDATE SET url = excluded.url RETURNING id",
                      &a, err, "adding a feed");
    if (!r)
        return -1;
    if (id)
        *id = ival(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_feed_get(void *impl, int64_t id, const char *url, tb_feed *out, tb_err *err)
{
    pargs a = {0};
    if (url)
        a_text(&a, url);
    else
        a_int(&a, id);
    PGresult *r = run(impl,
                      url ? "SELECT " PG_FEED_COLS " FROM feeds f WHERE f.url = $1"
                          : "SELECT " PG_FEED_COLS " FROM feeds f WHERE f.id = $1",
                      &a, err, "reading a feed");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (url)
            return tb_err_set(err, TB_ENOTFOUND, "no feed with URL %s", url);
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)id);
    }
    read_feed(r, 0, out);
    PQclear(r);
    return 0;
}

static int pg_feed_update(void *impl, const tb_feed *f, tb_err *err)
{
    pargs a = {0};
    a_text(&a, f->title);
    a_text(&a, f->site_url);
    a_text(&a, f->description);
    a_text(&a, f->etag);
    a_text(&a, f->last_modified);
    a_int(&a, f->last_fetch);
    a_int(&a, f->last_ok);
    a_int(&a, f->next_fetch);
    a_int(&a, f->ttl);
    a_int(&a, f->failures);
    a_text(&a, f->last_error);
    a_text(&a, f->disabled ? "true" : "false");
    a_int(&a, f->id);
    PGresult *r = run(impl,
                      "UPDATE feeds SET title=$1, site_url=$2, description=$3, etag=$4, "
                      "last_modified=$5, last_fetch=$6, last_ok=$7, next_fetch=$8, ttl=$9, "
                      "failures=$10, last_error=$11, disabled=$12 WHERE id=$13",
                      &a, err, "updating a feed");
    if (!r)
        return -1;
    bool none = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (none)
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)f->id);
    return 0;
}

static int feeds_from(PGresult *r, tb_feed **out, char ***cats, size_t *n)
{
    size_t len = (size_t)PQntuples(r);
    tb_feed *f = tb_calloc(len ? len : 1, sizeof *f);
    char **c = cats ? tb_calloc(len ? len : 1, sizeof *c) : NULL;
    for (size_t i = 0; i < len; i++) {
        read_feed(r, (int)i, &f[i]);
        if (c)
            c[i] = val(r, (int)i, 15);
    }
    PQclear(r);
    *out = f;
    if (cats)
        *cats = c;
    *n = len;
    return 0;
}

static int pg_feed_list(void *impl, int64_t due_before, tb_feed **out, size_t *n, tb_err *err)
{
    pargs a = {0};
    PGresult *r;
    if (due_before < 0) {
        r = run(impl, "SELECT " PG_FEED_COLS " FROM feeds f ORDER BY f.id", NULL, err,
                "listing feeds");
    } else {
        a_int(&a, due_before);
        r = run(impl,
                "SELECT " PG_FEED_COLS " FROM feeds f WHERE NOT f.disabled AND f.next_fetch <= "
                "$1 AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id) "
                "ORDER BY f.next_fetch, f.id",
                &a, err, "listing due feeds");
    }
    if (!r)
        return -1;
    return feeds_from(r, out, NULL, n);
}

static int pg_feed_delete(void *impl, int64_t id, tb_err *err)
{
    pargs a = {0};
    a_int(&a, id);
    PGresult *r = run(impl, "DELETE FROM feeds WHERE id = $1", &a, err, "deleting a feed");
    if (!r)
        return -1;
    bool none = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (none)
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)id);
    return 0;
}

/* ------------------------------------------------------- subscriptions */

static int pg_subscribe(void *impl, const char *user, int64_t feed_id, const char *category,
                        const char *title, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_int(&a, feed_id);
    a_text(&a, category);
    a_text(&a, title);
    a_int(&a, tb_unix_now());
    if (run_done(impl,
                 "INSERT INTO subscriptions(user_id, feed_id, category, title, created) VALUES "
                 "($1, $2, $3, $4, $5) ON CONFLICT (user_id, feed_id) DO UPDATE SET "
                 "category = coalesce(excluded.category, subscriptions.category), "
                 "title = coalesce(excluded.title, subscriptions.title)",
                 &a, err, "subscribing") == 0)
        return 0;
    if (err && err->code == TB_ENOTFOUND)
        tb_err_set(err, TB_ENOTFOUND, "no user '%s' or no feed %lld", user, (long long)feed_id);
    return -1;
}

static int pg_unsubscribe(void *impl, const char *user, int64_t feed_id, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_int(&a, feed_id);
    return run_done(impl, "DELETE FROM subscriptions WHERE user_id = $1 AND feed_id = $2", &a,
                    err, "unsubscribing");
}

static int pg_is_subscribed(void *impl, const char *user, int64_t feed_id, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_int(&a, feed_id);
    PGresult *r = run(impl, "SELECT 1 FROM subscriptions WHERE user_id = $1 AND feed_id = $2",
                      &a, err, "reading subscriptions");
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

static int pg_subscriptions(void *impl, const char *user, tb_feed **out, char ***categories,
                            size_t *n, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    PGresult *r = run(impl,
                      "SELECT " PG_FEED_COLS ", s.category FROM subscriptions s JOIN feeds f ON "
                      "f.id = s.feed_id WHERE s.user_id = $1 ORDER BY f.id",
                      &a, err, "reading subscriptions");
    if (!r)
        return -1;
    return feeds_from(r, out, categories, n);
}

/* ------------------------------------------------------------- items */

#define PG_ITEM_COLS                                                                       \
    "id, feed_id, collection, key, url, title, html, text, author, tags, published, "      \
    "image_url, comments_url, extra, created"

static void read_item(PGresult *r, int i, tb_item *it)
{
    memset(it, 0, sizeof *it);
    it->id = ival(r, i, 0);
    it->feed_id = ival(r, i, 1);
    it->collection = val(r, i, 2);
    it->key = val(r, i, 3);
    it->url = val(r, i, 4);
    it->title = val(r, i, 5);
    it->html = val(r, i, 6);
    it->text = val(r, i, 7);
    it->author = val(r, i, 8);
    it->tags = val(r, i, 9);
    it->published = ival(r, i, 10);
    it->image_url = val(r, i, 11);
    it->comments_url = val(r, i, 12);
    it->extra = val(r, i, 13);
    it->created = ival(r, i, 14);
}

static int pg_item_upsert(void *impl, tb_item *it, bool *is_new, tb_err *err)
{
    pg *q = impl;
    pargs a = {0};
    a_text(&a, it->collection);
    a_text(&a, it->key);
    a_text(&a, it->title);
    a_text(&a, it->text);
    PGresult *r = run(q,
                      "SELECT id, created, coalesce(title,'') = coalesce($3,'') AND "
                      "coalesce(text,'') = coalesce($4,'') FROM items WHERE collection = $1 "
                      "AND key = $2",
                      &a, err, "looking up an item");
    if (!r)
        return -1;
    bool exists = PQntuples(r) > 0;
    int64_t id = exists ? ival(r, 0, 0) : 0;
    int64_t created = exists ? ival(r, 0, 1) : tb_unix_now();
    bool same_text = exists && PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);

    pargs b = {0};
    if (it->feed_id)
        a_int(&b, it->feed_id);
    else
        a_text(&b, NULL);
    a_text(&b, it->url);
    a_text(&b, it->title);
    a_text(&b, it->html);
    a_text(&b, it->text);
    a_text(&b, it->author);
    a_text(&b, it->tags);
    a_int(&b, it->published);
    a_text(&b, it->image_url);
    a_text(&b, it->comments_url);
    a_text(&b, it->extra);
    if (exists) {
        a_int(&b, id);
        if (run_done(q,
                     "UPDATE items SET feed_id=$1, url=$2, title=$3, html=$4, text=$5, "
                     "author=$6, tags=$7, published=$8, image_url=$9, comments_url=$10, "
                     "extra=$11 WHERE id=$12",
                     &b, err, "storing an item"))
            return -1;
        if (!same_text) {
            pargs c = {0};
            a_int(&c, id);
            if (run_done(q, "DELETE FROM embeddings WHERE item_id = $1", &c, err,
                         "dropping stale embeddings"))
                return -1;
        }
    } else {
        a_text(&b, it->collection);
        a_text(&b, it->key);
        a_int(&b, created);
        r = run(q,
                "INSERT INTO items(feed_id, url, title, html, text, author, tags, published, "
                "image_url, comments_url, extra, collection, key, created) VALUES "
                "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) RETURNING id",
                &b, err, "storing an item");
        if (!r)
            return -1;
        id = ival(r, 0, 0);
        PQclear(r);
    }
    it->id = id;
    it->created = created;
    if (is_new)
        *is_new = !exists;
    return 0;
}

static int pg_item_get(void *impl, int64_t id, const char *collection, const char *key,
                       tb_item *out, tb_err *err)
{
    pargs a = {0};
    if (collection) {
        a_text(&a, collection);
        a_text(&a, key);
    } else {
        a_int(&a, id);
    }
    PGresult *r = run(impl,
                      collection ? "SELECT " PG_ITEM_COLS
                                   " FROM items WHERE collection = $1 AND key = $2"
                                 : "SELECT " PG_ITEM_COLS " FROM items WHERE id = $1",
                      &a, err, "reading an item");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (collection)
            return tb_err_set(err, TB_ENOTFOUND, "no item '%s' in %s", key, collection);
        return tb_err_set(err, TB_ENOTFOUND, "no item with id %lld", (long long)id);
    }
    read_item(r, 0, out);
    PQclear(r);
    return 0;
}

static int pg_items_list(void *impl, const char *collection, size_t limit, tb_item **out,
                         size_t *n, tb_err *err)
{
    pargs a = {0};
    a_text(&a, collection);
    if (limit)
        a_int(&a, (int64_t)limit);
    else
        a_text(&a, NULL); /* LIMIT NULL = no limit */
    PGresult *r = run(impl,
                      "SELECT " PG_ITEM_COLS " FROM items WHERE collection = $1 ORDER BY "
                      "published DESC, created DESC, id DESC LIMIT $2",
                      &a, err, "listing items");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    tb_item *it = tb_calloc(len ? len : 1, sizeof *it);
    for (size_t i = 0; i < len; i++)
        read_item(r, (int)i, &it[i]);
    PQclear(r);
    *out = it;
    *n = len;
    return 0;
}

static int64_t pg_item_count(void *impl, const char *collection, tb_err *err)
{
    pargs a = {0};
    if (collection)
        a_text(&a, collection);
    PGresult *r = run(impl,
                      collection ? "SELECT count(*) FROM items WHERE collection = $1"
                                 : "SELECT count(*) FROM items",
                      &a, err, "counting items");
    if (!r)
        return -1;
    int64_t c = ival(r, 0, 0);
    PQclear(r);
    return c;
}

static int pg_collections(void *impl, char ***names, size_t *n, tb_err *err)
{
    PGresult *r = run(impl,
                      "SELECT DISTINCT collection FROM items WHERE feed_id IS NULL ORDER BY "
                      "collection",
                      NULL, err, "listing collections");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    char **v = tb_calloc(len ? len : 1, sizeof *v);
    for (size_t i = 0; i < len; i++)
        v[i] = val(r, (int)i, 0);
    PQclear(r);
    *names = v;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- embeddings */

static int pg_embedding_put(void *impl, int64_t item, const char *model, const float *v,
                            size_t dim, tb_err *err)
{
    pargs a = {0};
    a_int(&a, item);
    a_text(&a, model);
    a_int(&a, (int64_t)dim);
    a_blob(&a, v, dim * sizeof(float));
    if (run_done(impl,
                 "INSERT INTO embeddings(item_id, model, dim, vec) VALUES ($1, $2, $3, $4) ON "
                 "CONFLICT (item_id, model) DO UPDATE SET dim = excluded.dim, vec = excluded.vec",
                 &a, err, "storing an embedding") == 0)
        return 0;
    if (err && err->code == TB_ENOTFOUND)
        tb_err_set(err, TB_ENOTFOUND, "no item with id %lld", (long long)item);
    return -1;
}

/* Decode a bytea result cell into exactly n bytes at out; -1 on mismatch. */
static int bytea(PGresult *r, int row, int col, void *out, size_t n)
{
    size_t len = 0;
    unsigned char *p = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &len);
    if (!p)
        return -1;
    int ok = len == n;
    if (ok)
        memcpy(out, p, n);
    PQfreemem(p);
    return ok ? 0 : -1;
}

static int pg_embedding_get(void *impl, int64_t item, const char *model, float *out,
                            size_t dim, tb_err *err)
{
    pargs a = {0};
    a_int(&a, item);
    a_text(&a, model);
    PGresult *r = run(impl, "SELECT dim, vec FROM embeddings WHERE item_id = $1 AND model = $2",
                      &a, err, "reading an embedding");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    size_t d = (size_t)ival(r, 0, 0);
    int bad = d != dim || bytea(r, 0, 1, out, dim * sizeof(float)) != 0;
    PQclear(r);
    if (bad)
        return tb_err_set(err, TB_EFORMAT,
                          "embedding of item %lld for %s has dimension %zu, expected %zu",
                          (long long)item, model, d, dim);
    return 1;
}

static int pg_embedding_missing(void *impl, const char *model, size_t limit, int64_t **ids,
                                size_t *n, tb_err *err)
{
    pargs a = {0};
    a_text(&a, model);
    if (limit)
        a_int(&a, (int64_t)limit);
    else
        a_text(&a, NULL);
    PGresult *r = run(impl,
                      "SELECT i.id FROM items i WHERE NOT EXISTS (SELECT 1 FROM embeddings e "
                      "WHERE e.item_id = i.id AND e.model = $1) ORDER BY i.id LIMIT $2",
                      &a, err, "reading the embedding queue");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    int64_t *v = tb_malloc((len ? len : 1) * sizeof *v);
    for (size_t i = 0; i < len; i++)
        v[i] = ival(r, (int)i, 0);
    PQclear(r);
    *ids = v;
    *n = len;
    return 0;
}

static int pg_embeddings_load(void *impl, const char *collection, const char *model,
                              size_t dim, int64_t **ids, float **vecs, size_t *n, tb_err *err)
{
    pargs a = {0};
    a_text(&a, model);
    if (collection)
        a_text(&a, collection);
    PGresult *r = run(impl,
                      collection ? "SELECT e.item_id, e.dim, e.vec FROM embeddings e JOIN items "
                                   "i ON i.id = e.item_id WHERE e.model = $1 AND i.collection "
                                   "= $2 ORDER BY e.item_id"
                                 : "SELECT item_id, dim, vec FROM embeddings WHERE model = $1 "
                                   "ORDER BY item_id",
                      &a, err, "loading embeddings");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    int64_t *iv = tb_malloc((len ? len : 1) * sizeof *iv);
    float *fv = tb_malloc((len ? len : 1) * dim * sizeof *fv);
    for (size_t i = 0; i < len; i++) {
        iv[i] = ival(r, (int)i, 0);
        if ((size_t)ival(r, (int)i, 1) != dim ||
            bytea(r, (int)i, 2, fv + i * dim, dim * sizeof(float)) != 0) {
            PQclear(r);
            free(iv);
            free(fv);
            return tb_err_set(err, TB_EFORMAT, "stored embeddings for %s are not %zu-d", model,
                              dim);
        }
    }
    PQclear(r);
    *ids = iv;
    *vecs = fv;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- events */

static int pg_event_add(void *impl, const char *user, int64_t item, int kind, int64_t ts,
                        tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_int(&a, item);
    a_text(&a, tb_event_kind_name(kind));
    a_int(&a, ts ? ts : tb_unix_now());
    if (run_done(impl, "INSERT INTO events(user_id, item_id, kind, ts) VALUES ($1,$2,$3,$4)",
                 &a, err, "recording an event") == 0)
        return 0;
    if (err && err->code == TB_ENOTFOUND)
        tb_err_set(err, TB_ENOTFOUND, "no user '%s' or no item %lld", user, (long long)item);
    return -1;
}

static int pg_events(void *impl, const char *user, int64_t since, tb_event **out, size_t *n,
                     tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_int(&a, since);
    PGresult *r = run(impl,
                      "SELECT id, item_id, kind, ts FROM events WHERE user_id = $1 AND id > $2 "
                      "ORDER BY id",
                      &a, err, "reading events");
    if (!r)
        return -1;
    size_t len = (size_t)PQntuples(r);
    tb_event *v = tb_malloc((len ? len : 1) * sizeof *v);
    for (size_t i = 0; i < len; i++) {
        v[i].id = ival(r, (int)i, 0);
        v[i].item_id = ival(r, (int)i, 1);
        v[i].kind = tb_event_kind_parse(PQgetvalue(r, (int)i, 2));
        v[i].ts = ival(r, (int)i, 3);
    }
    PQclear(r);
    *out = v;
    *n = len;
    return 0;
}

static int64_t pg_event_last_id(void *impl, const char *user, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    PGresult *r = run(impl, "SELECT coalesce(max(id), 0) FROM events WHERE user_id = $1", &a,
                      err, "reading events");
    if (!r)
        return -1;
    int64_t v = ival(r, 0, 0);
    PQclear(r);
    return v;
}

/* ------------------------------------------------------------- profiles */

static int pg_profile_get(void *impl, const char *user, const char *model, tb_buf *out,
                          int64_t *last_event, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_text(&a, model);
    PGresult *r = run(impl,
                      "SELECT data, last_event FROM profiles WHERE user_id = $1 AND model = $2",
                      &a, err, "reading a profile");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    size_t len = 0;
    unsigned char *p = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);
    if (p) {
        tb_buf_append(out, p, len);
        PQfreemem(p);
    }
    if (last_event)
        *last_event = ival(r, 0, 1);
    PQclear(r);
    return 1;
}

static int pg_profile_put(void *impl, const char *user, const char *model, const void *blob,
                          size_t n, int64_t last_event, tb_err *err)
{
    pargs a = {0};
    a_text(&a, user);
    a_text(&a, model);
    a_blob(&a, blob, n);
    a_int(&a, last_event);
    a_int(&a, tb_unix_now());
    if (run_done(impl,
                 "INSERT INTO profiles(user_id, model, data, last_event, updated) VALUES "
                 "($1,$2,$3,$4,$5) ON CONFLICT (user_id, model) DO UPDATE SET data = "
                 "excluded.data, last_event = excluded.last_event, updated = excluded.updated",
                 &a, err, "storing a profile") == 0)
        return 0;
    if (err && err->code == TB_ENOTFOUND)
        tb_err_set(err, TB_ENOTFOUND, "no user '%s'", user);
    return -1;
}

static int pg_stats(void *impl, tb_store_stats *out, tb_err *err)
{
    PGresult *r = run(impl,
                      "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM feeds), "
                      "(SELECT count(*) FROM feeds WHERE disabled), "
                      "(SELECT count(*) FROM subscriptions), (SELECT count(*) FROM items), "
                      "(SELECT count(*) FROM embeddings), (SELECT count(*) FROM events), "
                      "(SELECT count(*) FROM profiles)",
                      NULL, err, "counting rows");
    if (!r)
        return -1;
    out->users = ival(r, 0, 0);
    out->feeds = ival(r, 0, 1);
    out->feeds_disabled = ival(r, 0, 2);
    out->subscriptions = ival(r, 0, 3);
    out->items = ival(r, 0, 4);
    out->embeddings = ival(r, 0, 5);
    out->events = ival(r, 0, 6);
    out->profiles = ival(r, 0, 7);
    PQclear(r);
    return 0;
}

static const struct tb_store_ops PG_OPS = {
    .name = "postgres",
    .close = pg_close,
    .schema_version = pg_version,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .user_create = pg_user_create,
    .user_exists = pg_user_exists,
    .user_list = pg_user_list,
    .feed_add = pg_feed_add,
    .feed_get = pg_feed_get,
    .feed_update = pg_feed_update,
    .feed_list = pg_feed_list,
    .feed_delete = pg_feed_delete,
    .subscribe = pg_subscribe,
    .unsubscribe = pg_unsubscribe,
    .is_subscribed = pg_is_subscribed,
    .subscriptions = pg_subscriptions,
    .item_upsert = pg_item_upsert,
    .item_get = pg_item_get,
    .items_list = pg_items_list,
    .item_count = pg_item_count,
    .collections = pg_collections,
    .embedding_put = pg_embedding_put,
    .embedding_get = pg_embedding_get,
    .embedding_missing = pg_embedding_missing,
    .embeddings_load = pg_embeddings_load,
    .event_add = pg_event_add,
    .events = pg_events,
    .event_last_id = pg_event_last_id,
    .profile_get = pg_profile_get,
    .profile_put = pg_profile_put,
    .stats = pg_stats,
};

/* For messages: "postgres://user:secret@host/db?password=x" ->
 * "postgres://user:***@host/db?password=***". */
static char *redact(const char *url)
{
    tb_buf b = {0};
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - (scheme + 3))) : NULL;
    if (at && slash && slash < at)
        colon = NULL; /* the '@' is in the path or query, not the user info */
    if (colon) {
        tb_buf_append(&b, url, (size_t)(colon - url));
        tb_buf_puts(&b, ":***");
        url = at;
    }
    for (const char *p = url; *p;) {
        const char *pw = strstr(p, "password=");
        if (!pw) {
            tb_buf_puts(&b, p);
            break;
        }
        tb_buf_append(&b, p, (size_t)(pw - p) + 9);
        tb_buf_puts(&b, "***");
        p = pw + 9;
        while (*p && *p != '&')
            p++;
    }
    return tb_buf_steal(&b);
}

void *tb_pg_open(const char *url, const struct tb_store_ops **ops, tb_err *err)
{
    pg *q = tb_calloc(1, sizeof *q);
    q->where = redact(url);
    q->conn = PQconnectdb(url);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        tb_err_set(err, TB_EDB, "cannot connect to %s: %s", q->where, PQerrorMessage(q->conn));
        pg_close(q);
        return NULL;
    }
    /* Keep server notices (e.g. "relation already exists, skipping") off stderr. */
    PQclear(PQexec(q->conn, "SET client_min_messages = warning"));
    if (pg_migrate(q, err) != 0) {
        pg_close(q);
        return NULL;
    }
    *ops = &PG_OPS;
    return q;
}

#else
/* Built without libpq: keep the translation unit non-empty for ISO C. */
typedef int tb_pg_not_built;
#endif /* TB_WITH_PG */

/*
 * sqlite.c -- the SQLite backend, tastebud's embedded default.
 *
 * The file is a normal SQLite database in WAL mode (readers never block the
 * writer, and a crash loses nothing committed), with foreign keys on and a
 * busy timeout so a second process (the CLI next to a running server) waits
 * instead of failing.
 *
 * Identity and versioning: PRAGMA application_id holds TB_APP_ID so a foreign
 * SQLite file is recognised and refused; PRAGMA user_version holds the schema
 * version. MIGRATIONS[v] upgrades version v-1 to v; opening applies every
 * missing step, each in its own transaction. A file from a newer tastebud is
 * refused rather than misread.
 *
 * Statements are prepared once and cached by their SQL text's address (every
 * SQL string here is a literal), so hot paths such as item upserts do not
 * re-parse SQL.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define TB_APP_ID 0x74737462 /* "tstb" */

static const char *MIGRATIONS[] = {
    NULL,
    /* 1: the initial schema */
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE feeds ("
    "  id INTEGER PRIMARY KEY,"
    "  url TEXT NOT NULL UNIQUE,"
    "  title TEXT, site_url TEXT, description TEXT,"
    "  etag TEXT, last_modified TEXT,"
    "  last_fetch INTEGER NOT NULL DEFAULT 0,"
    "  last_ok INTEGER NOT NULL DEFAULT 0,"
    "  next_fetch INTEGER NOT NULL DEFAULT 0,"
    "  ttl INTEGER NOT NULL DEFAULT 0,"
    "  failures INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE subscriptions ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,"
    "  category TEXT, title TEXT,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, feed_id));"
    "CREATE INDEX subscriptions_feed ON subscriptions(feed_id);"
    "CREATE TABLE items ("
    "  id INTEGER PRIMARY KEY,"
    "  feed_id INTEGER REFERENCES feeds(id) ON DELETE CASCADE,"
    "  collection TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  url TEXT, title TEXT, html TEXT, text TEXT, author TEXT, tags TEXT,"
    "  published INTEGER NOT NULL DEFAULT 0,"
    "  image_url TEXT, comments_url TEXT, extra TEXT,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (collection, key));"
    "CREATE INDEX items_feed ON items(feed_id, published);"
    "CREATE TABLE embeddings ("
    "  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  vec BLOB NOT NULL,"
    "  PRIMARY KEY (item_id, model)) WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('read','like','dislike','shown')),"
    "  ts INTEGER NOT NULL);"
    "CREATE INDEX events_user ON events(user_id, id);"
    "CREATE TABLE profiles ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  data BLOB NOT NULL,"
    "  last_event INTEGER NOT NULL DEFAULT 0,"
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, model));",
};

#define N_MIGRATIONS ((int)TB_ARRAY_LEN(MIGRATIONS) - 1)
_Static_assert(N_MIGRATIONS == TB_SCHEMA_VERSION, "one migration per schema version");

#define STMT_CACHE 64

typedef struct sq {
    sqlite3 *db;
    char *path;
    int version;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
} sq;

static int db_err(sq *q, tb_err *err, const char *what)
{
    return tb_err_set(err, TB_EDB, "%s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
}

/* A prepared statement for this SQL literal, reset and unbound. */
static sqlite3_stmt *stmt(sq *q, const char *sql, tb_err *err)
{
    int free_slot = -1;
    for (int i = 0; i < STMT_CACHE; i++) {
        if (q->cache[i].sql == sql) {
            sqlite3_reset(q->cache[i].st);
            sqlite3_clear_bindings(q->cache[i].st);
            return q->cache[i].st;
        }
        if (!q->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        db_err(q, err, "preparing a statement");
        return NULL;
    }
    if (free_slot >= 0) {
        q->cache[free_slot].sql = sql;
        q->cache[free_slot].st = st;
    }
    /* With no free slot the statement leaks until close; the cache is sized
     * above the number of distinct statements in this file. */
    return st;
}

static int exec(sq *q, const char *sql, tb_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tb_err_set(err, TB_EDB, "%s: %s", q->path, msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int pragma_int(sq *q, const char *sql, int *out, tb_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(q, err, "reading the database header");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return db_err(q, err, "reading the database header");
    return 0;
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? tb_strdup((const char *)t) : NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void sq_close(void *impl)
{
    sq *q = impl;
    if (!q)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        if (q->cache[i].st)
            sqlite3_finalize(q->cache[i].st);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

/* A file that exists and is not empty must start with SQLite's magic string;
 * checking it ourselves gives a clearer message than SQLITE_NOTADB. */
static int check_header(const char *path, tb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* new file */
    char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n == 0)
        return 0;
    if (n < sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s is not a SQLite database (not a tastebud data file?); "
                          "move it away or point `database` elsewhere",
                          path);
    return 0;
}

static int migrate(sq *q, tb_err *err)
{
    int app = 0, version = 0, tables = 0;
    if (pragma_int(q, "PRAGMA application_id", &app, err) ||
        pragma_int(q, "PRAGMA user_version", &version, err) ||
        pragma_int(q, "SELECT count(*) FROM sqlite_master", &tables, err))
        return -1;
    if (app != 0 && app != TB_APP_ID)
        return tb_err_set(err, TB_EFORMAT,
                          "%s belongs to another application (SQLite application_id "
                          "0x%08x), not tastebud",
                          q->path, (unsigned)app);
    if (app == 0 && tables > 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s is a SQLite database but not a tastebud one (it has tables "
                          "and no tastebud schema)",
                          q->path);
    if (version > TB_SCHEMA_VERSION)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "%s has schema version %d, written by a newer tastebud; this "
                          "build knows versions up to %d. Upgrade tastebud.",
                          q->path, version, TB_SCHEMA_VERSION);
    for (int v = version + 1; v <= TB_SCHEMA_VERSION; v++) {
        char pragmas[96];
        snprintf(pragmas, sizeof pragmas, "PRAGMA user_version=%d; PRAGMA application_id=%d;",
                 v, TB_APP_ID);
        if (exec(q, "BEGIN IMMEDIATE", err))
            return -1;
        if (exec(q, MIGRATIONS[v], err) || exec(q, pragmas, err)) {
            tb_err_prefix(err, "applying schema migration %d", v);
            exec(q, "ROLLBACK", NULL);
            return -1;
        }
        if (exec(q, "COMMIT", err))
            return -1;
        tb_debug("%s: migrated schema to version %d", q->path, v);
    }
    q->version = TB_SCHEMA_VERSION;
    return 0;
}

/* ------------------------------------------------------------- basics */

static int sq_version(void *impl) { return ((sq *)impl)->version; }

static int sq_begin(void *impl, tb_err *err) { return exec(impl, "BEGIN IMMEDIATE", err); }
static int sq_commit(void *impl, tb_err *err) { return exec(impl, "COMMIT", err); }

static void sq_rollback(void *impl)
{
    sq *q = impl;
    if (!sqlite3_get_autocommit(q->db))
        exec(q, "ROLLBACK", NULL);
}

/* Run a statement that returns no rows; maps constraint failures to EEXIST. */
static int step_done(sq *q, sqlite3_stmt *st, tb_err *err, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_EEXIST, "%s: %s", what, sqlite3_errmsg(q->db));
    return db_err(q, err, what);
}

/* ------------------------------------------------------------- users */

static int sq_user_create(void *impl, const char *id, const char *name, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "INSERT INTO users(id, name, created) VALUES (?, ?, ?)", err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, tb_unix_now());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_EEXIST, "user '%s' already exists", id);
    return db_err(q, err, "creating a user");
}

static int sq_user_exists(void *impl, const char *id, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "SELECT 1 FROM users WHERE id = ?", err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_err(q, err, "looking up a user");
}

static int sq_user_list(void *impl, tb_user **out, size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "SELECT id, name, created FROM users ORDER BY created, id", err);
    if (!st)
        return -1;
    size_t cap = 8, len = 0;
    tb_user *u = tb_malloc(cap * sizeof *u);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap)
            u = tb_realloc(u, (cap *= 2) * sizeof *u);
        u[len].id = col_text(st, 0);
        u[len].name = col_text(st, 1);
        u[len].created = sqlite3_column_int64(st, 2);
        len++;
    }
    if (rc != SQLITE_DONE) {
        tb_user_list_free(u, len);
        return db_err(q, err, "listing users");
    }
    *out = u;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- feeds */

#define FEED_COLS                                                                          \
    "f.id, f.url, f.title, f.site_url, f.description, f.etag, f.last_modified, "           \
    "f.last_fetch, f.last_ok, f.next_fetch, f.ttl, f.failures, f.last_error, f.disabled, " \
    "f.created"

static void read_feed(sqlite3_stmt *st, tb_feed *f)
{
    f->id = sqlite3_column_int64(st, 0);
    f->url = col_text(st, 1);
    f->title = col_text(st, 2);
    f->site_url = col_text(st, 3);
    f->description = col_text(st, 4);
    f->etag = col_text(st, 5);
    f->last_modified = col_text(st, 6);
    f->last_fetch = sqlite3_column_int64(st, 7);
    f->last_ok = sqlite3_column_int64(st, 8);
    f->next_fetch = sqlite3_column_int64(st, 9);
    f->ttl = sqlite3_column_int(st, 10);
    f->failures = sqlite3_column_int(st, 11);
    f->last_error = col_text(st, 12);
    f->disabled = sqlite3_column_int(st, 13) != 0;
    f->created = sqlite3_column_int64(st, 14);
}

static int sq_feed_add(void *impl, const char *url, int64_t *id, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        stmt(q, "INSERT INTO feeds(url, created) VALUES (?, ?) ON CONFLICT(url) DO NOTHING", err);
    if (!st)
        return -1;
    bind_text(st, 1, url);
    sqlite3_bind_int64(st, 2, tb_unix_now());
    if (step_done(q, st, err, "adding a feed"))
        return -1;
    st = stmt(q, "SELECT id FROM feeds WHERE url = ?", err);
    if (!st)
        return -1;
    bind_text(st, 1, url);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_err(q, err, "adding a feed");
    if (id)
        *id = sqlite3_column_int64(st, 0);
    return 0;
}

static int sq_feed_get(void *impl, int64_t id, const char *url, tb_feed *out, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = url ? stmt(q, "SELECT " FEED_COLS " FROM feeds f WHERE f.url = ?", err)
                           : stmt(q, "SELECT " FEED_COLS " FROM feeds f WHERE f.id = ?", err);
    if (!st)
        return -1;
    if (url)
        bind_text(st, 1, url);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        read_feed(st, out);
        return 0;
    }
    if (rc == SQLITE_DONE) {
        if (url)
            return tb_err_set(err, TB_ENOTFOUND, "no feed with URL %s", url);
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)id);
    }
    return db_err(q, err, "reading a feed");
}

static int sq_feed_update(void *impl, const tb_feed *f, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "UPDATE feeds SET title=?, site_url=?, description=?, etag=?, "
                            "last_modified=?, last_fetch=?, last_ok=?, next_fetch=?, ttl=?, "
                            "failures=?, last_error=?, disabled=? WHERE id=?",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, f->title);
    bind_text(st, 2, f->site_url);
    bind_text(st, 3, f->description);
    bind_text(st, 4, f->etag);
    bind_text(st, 5, f->last_modified);
    sqlite3_bind_int64(st, 6, f->last_fetch);
    sqlite3_bind_int64(st, 7, f->last_ok);
    sqlite3_bind_int64(st, 8, f->next_fetch);
    sqlite3_bind_int(st, 9, f->ttl);
    sqlite3_bind_int(st, 10, f->failures);
    bind_text(st, 11, f->last_error);
    sqlite3_bind_int(st, 12, f->disabled ? 1 : 0);
    sqlite3_bind_int64(st, 13, f->id);
    if (step_done(q, st, err, "updating a feed"))
        return -1;
    if (sqlite3_changes(q->db) == 0)
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)f->id);
    return 0;
}

static int collect_feeds(sq *q, sqlite3_stmt *st, tb_feed **out, char ***cats, size_t *n,
                         tb_err *err)
{
    size_t cap = 8, len = 0;
    tb_feed *f = tb_malloc(cap * sizeof *f);
    char **c = cats ? tb_malloc(cap * sizeof *c) : NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap *= 2;
            f = tb_realloc(f, cap * sizeof *f);
            if (c)
                c = tb_realloc(c, cap * sizeof *c);
        }
        memset(&f[len], 0, sizeof *f);
        read_feed(st, &f[len]);
        if (c)
            c[len] = col_text(st, 15);
        len++;
    }
    if (rc != SQLITE_DONE) {
        tb_feed_list_free(f, len);
        for (size_t i = 0; c && i < len; i++)
            free(c[i]);
        free(c);
        return db_err(q, err, "listing feeds");
    }
    *out = f;
    if (cats)
        *cats = c;
    *n = len;
    return 0;
}

static int sq_feed_list(void *impl, int64_t due_before, tb_feed **out, size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st;
    if (due_before < 0) {
        st = stmt(q, "SELECT " FEED_COLS " FROM feeds f ORDER BY f.id", err);
    } else {
        st = stmt(q,
                  "SELECT " FEED_COLS " FROM feeds f WHERE f.disabled = 0 AND f.next_fetch <= ? "
                  "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id) "
                  "ORDER BY f.next_fetch, f.id",
                  err);
        if (st)
            sqlite3_bind_int64(st, 1, due_before);
    }
    if (!st)
        return -1;
    return collect_feeds(q, st, out, NULL, n, err);
}

static int sq_feed_delete(void *impl, int64_t id, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "DELETE FROM feeds WHERE id = ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (step_done(q, st, err, "deleting a feed"))
        return -1;
    if (sqlite3_changes(q->db) == 0)
        return tb_err_set(err, TB_ENOTFOUND, "no feed with id %lld", (long long)id);
    return 0;
}

/* ------------------------------------------------------- subscriptions */

static int sq_subscribe(void *impl, const char *user, int64_t feed_id, const char *category,
                        const char *title, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "INSERT INTO subscriptions(user_id, feed_id, category, title, created) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, feed_id) DO UPDATE SET "
                            "category = coalesce(excluded.category, category), "
                            "title = coalesce(excluded.title, title)",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, feed_id);
    bind_text(st, 3, category);
    bind_text(st, 4, title);
    sqlite3_bind_int64(st, 5, tb_unix_now());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_ENOTFOUND, "no user '%s' or no feed %lld", user,
                          (long long)feed_id);
    return db_err(q, err, "subscribing");
}

static int sq_unsubscribe(void *impl, const char *user, int64_t feed_id, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "DELETE FROM subscriptions WHERE user_id = ? AND feed_id = ?", err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, feed_id);
    return step_done(q, st, err, "unsubscribing");
}

static int sq_is_subscribed(void *impl, const char *user, int64_t feed_id, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        stmt(q, "SELECT 1 FROM subscriptions WHERE user_id = ? AND feed_id = ?", err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, feed_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_err(q, err, "reading subscriptions");
}

static int sq_subscriptions(void *impl, const char *user, tb_feed **out, char ***categories,
                            size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT " FEED_COLS ", s.category FROM subscriptions s "
                            "JOIN feeds f ON f.id = s.feed_id WHERE s.user_id = ? ORDER BY f.id",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    return collect_feeds(q, st, out, categories, n, err);
}

/* ------------------------------------------------------------- items */

#define ITEM_COLS                                                                          \
    "id, feed_id, collection, key, url, title, html, text, author, tags, published, "      \
    "image_url, comments_url, extra, created"

static void read_item(sqlite3_stmt *st, tb_item *it)
{
    memset(it, 0, sizeof *it);
    it->id = sqlite3_column_int64(st, 0);
    it->feed_id = sqlite3_column_int64(st, 1);
    it->collection = col_text(st, 2);
    it->key = col_text(st, 3);
    it->url = col_text(st, 4);
    it->title = col_text(st, 5);
    it->html = col_text(st, 6);
    it->text = col_text(st, 7);
    it->author = col_text(st, 8);
    it->tags = col_text(st, 9);
    it->published = sqlite3_column_int64(st, 10);
    it->image_url = col_text(st, 11);
    it->comments_url = col_text(st, 12);
    it->extra = col_text(st, 13);
    it->created = sqlite3_column_int64(st, 14);
}

static int sq_item_upsert(void *impl, tb_item *it, bool *is_new, tb_err *err)
{
    sq *q = impl;
    /* Look up first: we need to know whether it is new and whether the text
     * changed (then its embeddings are stale). */
    sqlite3_stmt *st = stmt(q,
                            "SELECT id, created, coalesce(title,'') = coalesce(?3,'') AND "
                            "coalesce(text,'') = coalesce(?4,'') FROM items "
                            "WHERE collection = ?1 AND key = ?2",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, it->collection);
    bind_text(st, 2, it->key);
    bind_text(st, 3, it->title);
    bind_text(st, 4, it->text);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(q, err, "looking up an item");
    bool exists = rc == SQLITE_ROW;
    int64_t id = exists ? sqlite3_column_int64(st, 0) : 0;
    int64_t created = exists ? sqlite3_column_int64(st, 1) : tb_unix_now();
    bool same_text = exists && sqlite3_column_int(st, 2);
    sqlite3_reset(st);

    if (exists) {
        st = stmt(q,
                  "UPDATE items SET feed_id=?, url=?, title=?, html=?, text=?, author=?, tags=?, "
                  "published=?, image_url=?, comments_url=?, extra=? WHERE id=?",
                  err);
    } else {
        st = stmt(q,
                  "INSERT INTO items(feed_id, url, title, html, text, author, tags, published, "
                  "image_url, comments_url, extra, collection, key, created) "
                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  err);
    }
    if (!st)
        return -1;
    if (it->feed_id)
        sqlite3_bind_int64(st, 1, it->feed_id);
    else
        sqlite3_bind_null(st, 1);
    bind_text(st, 2, it->url);
    bind_text(st, 3, it->title);
    bind_text(st, 4, it->html);
    bind_text(st, 5, it->text);
    bind_text(st, 6, it->author);
    bind_text(st, 7, it->tags);
    sqlite3_bind_int64(st, 8, it->published);
    bind_text(st, 9, it->image_url);
    bind_text(st, 10, it->comments_url);
    bind_text(st, 11, it->extra);
    if (exists) {
        sqlite3_bind_int64(st, 12, id);
    } else {
        bind_text(st, 12, it->collection);
        bind_text(st, 13, it->key);
        sqlite3_bind_int64(st, 14, created);
    }
    if (step_done(q, st, err, "storing an item"))
        return -1;
    if (!exists)
        id = sqlite3_last_insert_rowid(q->db);
    if (exists && !same_text) {
        st = stmt(q, "DELETE FROM embeddings WHERE item_id = ?", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        if (step_done(q, st, err, "dropping stale embeddings"))
            return -1;
    }
    it->id = id;
    it->created = created;
    if (is_new)
        *is_new = !exists;
    return 0;
}

static int sq_item_get(void *impl, int64_t id, const char *collection, const char *key,
                       tb_item *out, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        collection ? stmt(q, "SELECT " ITEM_COLS " FROM items WHERE collection = ? AND key = ?",
                          err)
                   : stmt(q, "SELECT " ITEM_COLS " FROM items WHERE id = ?", err);
    if (!st)
        return -1;
    if (collection) {
        bind_text(st, 1, collection);
        bind_text(st, 2, key);
    } else {
        sqlite3_bind_int64(st, 1, id);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_item(st, out);
        return 0;
    }
    if (rc == SQLITE_DONE) {
        if (collection)
            return tb_err_set(err, TB_ENOTFOUND, "no item '%s' in %s", key, collection);
        return tb_err_set(err, TB_ENOTFOUND, "no item with id %lld", (long long)id);
    }
    return db_err(q, err, "reading an item");
}

static int sq_items_list(void *impl, const char *collection, size_t limit, tb_item **out,
                         size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT " ITEM_COLS " FROM items WHERE collection = ? "
                            "ORDER BY published DESC, created DESC, id DESC LIMIT ?",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, collection);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    size_t cap = 16, len = 0;
    tb_item *it = tb_malloc(cap * sizeof *it);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap)
            it = tb_realloc(it, (cap *= 2) * sizeof *it);
        read_item(st, &it[len++]);
    }
    if (rc != SQLITE_DONE) {
        tb_item_list_free(it, len);
        return db_err(q, err, "listing items");
    }
    *out = it;
    *n = len;
    return 0;
}

static int64_t sq_item_count(void *impl, const char *collection, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = collection
                           ? stmt(q, "SELECT count(*) FROM items WHERE collection = ?", err)
                           : stmt(q, "SELECT count(*) FROM items", err);
    if (!st)
        return -1;
    if (collection)
        bind_text(st, 1, collection);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_err(q, err, "counting items");
    return sqlite3_column_int64(st, 0);
}

static int sq_collections(void *impl, char ***names, size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT DISTINCT collection FROM items WHERE feed_id IS NULL "
                            "ORDER BY collection",
                            err);
    if (!st)
        return -1;
    size_t cap = 8, len = 0;
    char **v = tb_malloc(cap * sizeof *v);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap)
            v = tb_realloc(v, (cap *= 2) * sizeof *v);
        v[len++] = col_text(st, 0);
    }
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < len; i++)
            free(v[i]);
        free(v);
        return db_err(q, err, "listing collections");
    }
    *names = v;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- embeddings */

static int sq_embedding_put(void *impl, int64_t item, const char *model, const float *v,
                            size_t dim, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "INSERT OR REPLACE INTO embeddings(item_id, model, dim, vec) "
                            "VALUES (?, ?, ?, ?)",
                            err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, item);
    bind_text(st, 2, model);
    sqlite3_bind_int64(st, 3, (int64_t)dim);
    sqlite3_bind_blob(st, 4, v, (int)(dim * sizeof(float)), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_ENOTFOUND, "no item with id %lld", (long long)item);
    return db_err(q, err, "storing an embedding");
}

static int sq_embedding_get(void *impl, int64_t item, const char *model, float *out,
                            size_t dim, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        stmt(q, "SELECT dim, vec FROM embeddings WHERE item_id = ? AND model = ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, item);
    bind_text(st, 2, model);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(q, err, "reading an embedding");
    size_t d = (size_t)sqlite3_column_int64(st, 0);
    int bytes = sqlite3_column_bytes(st, 1);
    if (d != dim || (size_t)bytes != dim * sizeof(float))
        return tb_err_set(err, TB_EFORMAT,
                          "embedding of item %lld for %s has dimension %zu, expected %zu",
                          (long long)item, model, d, dim);
    memcpy(out, sqlite3_column_blob(st, 1), dim * sizeof(float));
    return 1;
}

static int sq_embedding_missing(void *impl, const char *model, size_t limit, int64_t **ids,
                                size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT i.id FROM items i WHERE NOT EXISTS (SELECT 1 FROM embeddings "
                            "e WHERE e.item_id = i.id AND e.model = ?) ORDER BY i.id LIMIT ?",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, model);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    size_t cap = 64, len = 0;
    int64_t *v = tb_malloc(cap * sizeof *v);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap)
            v = tb_realloc(v, (cap *= 2) * sizeof *v);
        v[len++] = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return db_err(q, err, "reading the embedding queue");
    }
    *ids = v;
    *n = len;
    return 0;
}

static int sq_embeddings_load(void *impl, const char *collection, const char *model,
                              size_t dim, int64_t **ids, float **vecs, size_t *n, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        collection ? stmt(q,
                          "SELECT e.item_id, e.dim, e.vec FROM embeddings e JOIN items i ON "
                          "i.id = e.item_id WHERE i.collection = ? AND e.model = ? ORDER BY "
                          "e.item_id",
                          err)
                   : stmt(q,
                          "SELECT item_id, dim, vec FROM embeddings WHERE model = ?2 "
                          "ORDER BY item_id",
                          err);
    if (!st)
        return -1;
    if (collection)
        bind_text(st, 1, collection);
    bind_text(st, 2, model);
    size_t cap = 256, len = 0;
    int64_t *iv = tb_malloc(cap * sizeof *iv);
    float *fv = tb_malloc(cap * dim * sizeof *fv);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_int64(st, 1) != dim ||
            (size_t)sqlite3_column_bytes(st, 2) != dim * sizeof(float)) {
            free(iv);
            free(fv);
            return tb_err_set(err, TB_EFORMAT, "stored embeddings for %s are not %zu-d", model,
                              dim);
        }
        if (len == cap) {
            cap *= 2;
            iv = tb_realloc(iv, cap * sizeof *iv);
            fv = tb_realloc(fv, cap * dim * sizeof *fv);
        }
        iv[len] = sqlite3_column_int64(st, 0);
        memcpy(fv + len * dim, sqlite3_column_blob(st, 2), dim * sizeof(float));
        len++;
    }
    if (rc != SQLITE_DONE) {
        free(iv);
        free(fv);
        return db_err(q, err, "loading embeddings");
    }
    *ids = iv;
    *vecs = fv;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- events */

static const char *KINDS[] = {"read", "like", "dislike", "shown"};

static int sq_event_add(void *impl, const char *user, int64_t item, int kind, int64_t ts,
                        tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st =
        stmt(q, "INSERT INTO events(user_id, item_id, kind, ts) VALUES (?, ?, ?, ?)", err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, item);
    bind_text(st, 3, KINDS[kind]);
    sqlite3_bind_int64(st, 4, ts ? ts : tb_unix_now());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_ENOTFOUND, "no user '%s' or no item %lld", user,
                          (long long)item);
    return db_err(q, err, "recording an event");
}

static int sq_events(void *impl, const char *user, int64_t since, tb_event **out, size_t *n,
                     tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT id, item_id, kind, ts FROM events WHERE user_id = ? AND "
                            "id > ? ORDER BY id",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, since);
    size_t cap = 64, len = 0;
    tb_event *v = tb_malloc(cap * sizeof *v);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap)
            v = tb_realloc(v, (cap *= 2) * sizeof *v);
        v[len].id = sqlite3_column_int64(st, 0);
        v[len].item_id = sqlite3_column_int64(st, 1);
        v[len].kind = tb_event_kind_parse((const char *)sqlite3_column_text(st, 2));
        v[len].ts = sqlite3_column_int64(st, 3);
        len++;
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return db_err(q, err, "reading events");
    }
    *out = v;
    *n = len;
    return 0;
}

static int64_t sq_event_last_id(void *impl, const char *user, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q, "SELECT coalesce(max(id), 0) FROM events WHERE user_id = ?", err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_err(q, err, "reading events");
    return sqlite3_column_int64(st, 0);
}

/* ------------------------------------------------------------- profiles */

static int sq_profile_get(void *impl, const char *user, const char *model, tb_buf *out,
                          int64_t *last_event, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT data, last_event FROM profiles WHERE user_id = ? AND "
                            "model = ?",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    bind_text(st, 2, model);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(q, err, "reading a profile");
    tb_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    if (last_event)
        *last_event = sqlite3_column_int64(st, 1);
    return 1;
}

static int sq_profile_put(void *impl, const char *user, const char *model, const void *blob,
                          size_t n, int64_t last_event, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "INSERT OR REPLACE INTO profiles(user_id, model, data, last_event, "
                            "updated) VALUES (?, ?, ?, ?, ?)",
                            err);
    if (!st)
        return -1;
    bind_text(st, 1, user);
    bind_text(st, 2, model);
    sqlite3_bind_blob(st, 3, blob, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, last_event);
    sqlite3_bind_int64(st, 5, tb_unix_now());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tb_err_set(err, TB_ENOTFOUND, "no user '%s'", user);
    return db_err(q, err, "storing a profile");
}

static int sq_stats(void *impl, tb_store_stats *out, tb_err *err)
{
    sq *q = impl;
    sqlite3_stmt *st = stmt(q,
                            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM feeds), "
                            "(SELECT count(*) FROM feeds WHERE disabled), "
                            "(SELECT count(*) FROM subscriptions), (SELECT count(*) FROM items), "
                            "(SELECT count(*) FROM embeddings), (SELECT count(*) FROM events), "
                            "(SELECT count(*) FROM profiles)",
                            err);
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_err(q, err, "counting rows");
    out->users = sqlite3_column_int64(st, 0);
    out->feeds = sqlite3_column_int64(st, 1);
    out->feeds_disabled = sqlite3_column_int64(st, 2);
    out->subscriptions = sqlite3_column_int64(st, 3);
    out->items = sqlite3_column_int64(st, 4);
    out->embeddings = sqlite3_column_int64(st, 5);
    out->events = sqlite3_column_int64(st, 6);
    out->profiles = sqlite3_column_int64(st, 7);
    return 0;
}

static const struct tb_store_ops SQLITE_OPS = {
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .user_create = sq_user_create,
    .user_exists = sq_user_exists,
    .user_list = sq_user_list,
    .feed_add = sq_feed_add,
    .feed_get = sq_feed_get,
    .feed_update = sq_feed_update,
    .feed_list = sq_feed_list,
    .feed_delete = sq_feed_delete,
    .subscribe = sq_subscribe,
    .unsubscribe = sq_unsubscribe,
    .is_subscribed = sq_is_subscribed,
    .subscriptions = sq_subscriptions,
    .item_upsert = sq_item_upsert,
    .item_get = sq_item_get,
    .items_list = sq_items_list,
    .item_count = sq_item_count,
    .collections = sq_collections,
    .embedding_put = sq_embedding_put,
    .embedding_get = sq_embedding_get,
    .embedding_missing = sq_embedding_missing,
    .embeddings_load = sq_embeddings_load,
    .event_add = sq_event_add,
    .events = sq_events,
    .event_last_id = sq_event_last_id,
    .profile_get = sq_profile_get,
    .profile_put = sq_profile_put,
    .stats = sq_stats,
};

void *tb_sqlite_open(const char *path, const struct tb_store_ops **ops, tb_err *err)
{
    if (check_header(path, err))
        return NULL;
    sq *q = tb_calloc(1, sizeof *q);
    q->path = tb_strdup(path);
    int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        tb_err_set(err, TB_EDB, "cannot open %s: %s", path,
                   q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sq_close(q);
        return NULL;
    }
    sqlite3_busy_timeout(q->db, 5000);
    sqlite3_extended_result_codes(q->db, 1);
    if (exec(q, "PRAGMA foreign_keys = ON", err) ||
        exec(q, "PRAGMA journal_mode = WAL", err) ||
        exec(q, "PRAGMA synchronous = NORMAL", err) || migrate(q, err)) {
        if (err && strstr(err->msg, "file is not a database"))
            tb_err_set(err, TB_EFORMAT, "%s is corrupt or not a SQLite database", path);
        sq_close(q);
        return NULL;
    }
    *ops = &SQLITE_OPS;
    return q;
}

/*
 * ingest.c -- fetch, parse and store feeds, with polite scheduling.
 *
 * One refresh touches the store twice: one transaction for all the items
 * (so a feed is never half-stored, and SQLite does one fsync, not one per
 * item), then the fetch state. The fetch itself runs outside any
 * transaction, so slow servers never hold the store's lock.
 *
 * tb_feed_refresh_due runs feeds on a few threads. The per-host limit is a
 * small table of in-flight counts under one mutex: a worker takes the first
 * not-yet-started feed whose host is below the limit, or waits on a
 * condition variable when every remaining feed's host is busy. Feeds are few
 * (hundreds), so the linear scans cost nothing next to the network.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "feed/ingest.h"

#define DAY 86400

int64_t tb_feed_backoff(int64_t interval, int failures)
{
    if (interval <= 0)
        interval = 1800;
    int64_t b = interval;
    for (int i = 0; i < failures && b < DAY; i++)
        b *= 2;
    return TB_MIN(b, DAY);
}

int tb_feed_ingest(tb_store *s, int64_t feed_id, tb_parsed_feed *pf, size_t *n_new, tb_err *err)
{
    char coll[32];
    tb_feed_collection(feed_id, coll, sizeof coll);
    size_t fresh = 0;
    if (tb_store_begin(s, err) != 0)
        return -1;
    for (size_t i = 0; i < pf->n_items; i++) {
        tb_item *it = &pf->items[i];
        it->feed_id = feed_id;
        char *saved = it->collection;
        it->collection = coll; /* borrowed for the call */
        bool is_new = false;
        int rc = tb_store_item_upsert(s, it, &is_new, err);
        it->collection = saved;
        if (rc != 0) {
            tb_store_rollback(s);
            return tb_err_prefix(err, "storing item %zu of feed %lld", i, (long long)feed_id);
        }
        fresh += is_new;
    }
    if (tb_store_commit(s, err) != 0)
        return -1;
    if (n_new)
        *n_new = fresh;
    return 0;
}

/* Copy src into *dst when it differs (the feed renamed itself). */
static void update_str(char **dst, const char *src)
{
    if (!src || (*dst && strcmp(*dst, src) == 0))
        return;
    free(*dst);
    *dst = tb_strdup(src);
}

int tb_feed_refresh(tb_store *s, int64_t feed_id, const struct tb_fetch_opts *o,
                    struct tb_refresh_result *r, tb_err *err)
{
    memset(r, 0, sizeof *r);
    struct tb_fetch_opts def;
    if (!o) {
        tb_fetch_opts_default(&def);
        o = &def;
    }
    tb_feed f;
    if (tb_store_feed_get(s, feed_id, &f, err) != 0)
        return -1;
    int64_t now = tb_unix_now();
    struct tb_fetch_result fr;
    tb_err ferr = {0};
    int rc = tb_fetch(f.url, f.etag, f.last_modified, o, &fr, &ferr);
    r->status = fr.status;
    f.last_fetch = now;
    tb_parsed_feed pf = {0};
    if (rc == 0 && fr.status == 304) {
        r->not_modified = true;
    } else if (rc == 0) {
        rc = tb_feed_parse(fr.body.data, fr.body.len, fr.final_url, fr.charset, &pf, &ferr);
        if (rc == 0) {
            r->n_items = pf.n_items;
            rc = tb_feed_ingest(s, feed_id, &pf, &r->n_new, &ferr);
        }
        if (rc == 0) {
            update_str(&f.title, pf.title);
            update_str(&f.site_url, pf.site_url);
            update_str(&f.description, pf.description);
            f.ttl = pf.ttl;
        }
    }
    if (rc == 0) {
        /* a 304 carries the validators too; keep what we had when it does not */
        if (fr.etag || !r->not_modified) {
            free(f.etag);
            f.etag = fr.etag ? tb_strdup(fr.etag) : NULL;
        }
        if (fr.last_modified || !r->not_modified) {
            free(f.last_modified);
            f.last_modified = fr.last_modified ? tb_strdup(fr.last_modified) : NULL;
        }
        f.last_ok = now;
        f.failures = 0;
        free(f.last_error);
        f.last_error = NULL;
        f.next_fetch = now + TB_MAX(o->interval > 0 ? o->interval : 1800, (int64_t)f.ttl);
    } else {
        f.failures++;
        free(f.last_error);
        f.last_error = tb_strdup(ferr.msg);
        int64_t wait = tb_feed_backoff(o->interval, f.failures);
        if (fr.retry_after > wait)
            wait = TB_MIN(fr.retry_after, 7 * DAY);
        f.next_fetch = now + wait;
        if (o->max_failures > 0 && f.failures >= o->max_failures && !f.disabled) {
            f.disabled = true;
            r->disabled = true;
        }
    }
    r->next_fetch = f.next_fetch;
    tb_err uerr = {0};
    int urc = tb_store_feed_update(s, &f, &uerr);
    tb_parsed_feed_free(&pf);
    tb_fetch_result_free(&fr);
    tb_feed_clear(&f);
    if (rc != 0) {
        if (err)
            *err = ferr;
        return -1;
    }
    if (urc != 0) {
        if (err)
            *err = uerr;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- many at once */

typedef struct due_run {
    tb_store *s;
    const struct tb_fetch_opts *o;
    tb_feed *feeds;
    size_t n;
    char **host;      /* host of feeds[i] */
    bool *started;
    size_t next_hint; /* every feed before this has started */
    int *inflight;    /* per feed index of the first feed with the same host */
    size_t *host_slot;
    size_t ok, failed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} due_run;

static char *host_of(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = NULL;
    size_t n = strcspn(p, "/?#");
    for (size_t i = 0; i < n; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t h = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
    char *r = tb_strndup(p, TB_MIN(h, n));
    for (char *c = r; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return r;
}

static void *due_worker(void *arg)
{
    due_run *d = arg;
    int per_host = d->o->per_host > 0 ? d->o->per_host : 2;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        size_t pick = d->n;
        bool remaining = false;
        for (size_t i = d->next_hint; i < d->n; i++) {
            if (d->started[i])
                continue;
            remaining = true;
            if (d->inflight[d->host_slot[i]] < per_host) {
                pick = i;
                break;
            }
        }
        if (!remaining)
            break;
        if (pick == d->n) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        d->started[pick] = true;
        while (d->next_hint < d->n && d->started[d->next_hint])
            d->next_hint++;
        d->inflight[d->host_slot[pick]]++;
        pthread_mutex_unlock(&d->mu);
        struct tb_refresh_result r;
        tb_err err = {0};
        int rc = tb_feed_refresh(d->s, d->feeds[pick].id, d->o, &r, &err);
        if (rc != 0)
            tb_warn("feed %lld (%s): %s%s", (long long)d->feeds[pick].id, d->feeds[pick].url,
                    err.msg, r.disabled ? " -- disabled after too many failures" : "");
        pthread_mutex_lock(&d->mu);
        d->inflight[d->host_slot[pick]]--;
        if (rc == 0)
            d->ok++;
        else
            d->failed++;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int tb_feed_refresh_due(tb_store *s, const struct tb_fetch_opts *o, int64_t now, int threads,
                        size_t *n_ok, size_t *n_failed, tb_err *err)
{
    struct tb_fetch_opts def;
    if (!o) {
        tb_fetch_opts_default(&def);
        o = &def;
    }
    due_run d = {.s = s, .o = o};
    if (tb_store_feed_due(s, now, &d.feeds, &d.n, err) != 0)
        return -1;
    if (d.n) {
        d.host = tb_calloc(d.n, sizeof *d.host);
        d.started = tb_calloc(d.n, sizeof *d.started);
        d.inflight = tb_calloc(d.n, sizeof *d.inflight);
        d.host_slot = tb_calloc(d.n, sizeof *d.host_slot);
        for (size_t i = 0; i < d.n; i++) {
            d.host[i] = host_of(d.feeds[i].url);
            d.host_slot[i] = i;
            for (size_t j = 0; j < i; j++)
                if (strcmp(d.host[j], d.host[i]) == 0) {
                    d.host_slot[i] = d.host_slot[j];
                    break;
                }
        }
        pthread_mutex_init(&d.mu, NULL);
        pthread_cond_init(&d.cv, NULL);
        int nt = threads > 0 ? threads : 8;
        if ((size_t)nt > d.n)
            nt = (int)d.n;
        pthread_t *tid = tb_calloc((size_t)nt, sizeof *tid);
        int started = 0;
        for (int i = 0; i < nt; i++)
            if (pthread_create(&tid[i], NULL, due_worker, &d) == 0)
                started++;
            else
                break;
        if (started == 0)
            due_worker(&d); /* no threads to be had: do it here */
        for (int i = 0; i < started; i++)
            pthread_join(tid[i], NULL);
        free(tid);
        pthread_mutex_destroy(&d.mu);
        pthread_cond_destroy(&d.cv);
        for (size_t i = 0; i < d.n; i++)
            free(d.host[i]);
        free(d.host);
        free(d.started);
        free(d.inflight);
        free(d.host_slot);
    }
    tb_feed_list_free(d.feeds, d.n);
    if (n_ok)
        *n_ok = d.ok;
    if (n_failed)
        *n_failed = d.failed;
    return 0;
}

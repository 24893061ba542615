/*
 * jobs.c -- the server's background work, on two threads.
 *
 *   fetch thread   feeds asked for "now" (a first request, a new
 *                  subscription) before anything else; every scan_interval_s
 *                  the feeds that are due (tb_store_feed_due: enabled,
 *                  subscribed, next_fetch <= now -- the refresh hook sets
 *                  next_fetch from the interval, the feed's TTL and the
 *                  failure backoff) are refreshed one by one.
 *   worker thread  the embedding queue (items with no embedding for the
 *                  model, oldest first, embed_batch at a time, each batch
 *                  stored in one transaction), then profile updates for
 *                  users with new events.
 *
 * Two threads so that a slow feed server never delays embeddings and a
 * long embedding batch never delays a first fetch a reader is waiting on.
 * Each thread checks the stop flag between steps: stopping waits for the
 * step in progress (one fetch, one batch) and nothing more.
 *
 * Waiting for a fetch: a request that wants feed F fetched registers a
 * waiter {F, done}; when the fetch thread finishes F it marks every waiter
 * of F done and broadcasts. The waiter gives up after its timeout and
 * unregisters itself (the fetch still happens).
 */
#include <string.h>
#include <time.h>

#include <stdlib.h>

#include "server/internal.h"

struct waiter {
    struct waiter *next;
    int64_t feed_id;
    bool done;
};

struct dirty {
    struct dirty *next;
    char *user;
};

struct tb_jobs {
    tb_server *srv;
    pthread_mutex_t mu;
    pthread_cond_t fetch_cv;  /* fetch thread: new work or stop */
    pthread_cond_t work_cv;   /* worker thread: new work or stop */
    pthread_cond_t done_cv;   /* waiters: a fetch finished */
    int64_t *now_q;           /* feeds to fetch now (FIFO) */
    size_t now_n, now_cap;
    struct waiter *waiters;
    struct dirty *dirty;
    bool stop;
    pthread_t fetch_thr, work_thr;
};

static void abs_deadline(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double ns = ts->tv_nsec + seconds * 1e9;
    ts->tv_sec += (time_t)(ns / 1e9);
    ts->tv_nsec = (long)(ns - (double)(time_t)(ns / 1e9) * 1e9);
}

static void fetch_one(tb_server *s, int64_t feed_id)
{
    tb_err err = {0};
    if (s->o.hooks.feed_refresh(s->o.hooks.ctx, s->o.store, feed_id, &err) == 0) {
        atomic_fetch_add(&s->metrics.feeds_fetched, 1);
    } else {
        atomic_fetch_add(&s->metrics.feeds_failed, 1);
        tb_warn("feed %lld: %s", (long long)feed_id, err.msg);
    }
    atomic_fetch_add(&s->gen, 1);
}

static void mark_done(tb_jobs *j, int64_t feed_id)
{
    pthread_mutex_lock(&j->mu);
    for (struct waiter *w = j->waiters; w; w = w->next)
        if (w->feed_id == feed_id)
            w->done = true;
    pthread_cond_broadcast(&j->done_cv);
    pthread_mutex_unlock(&j->mu);
    pthread_cond_signal(&j->work_cv); /* new items to embed */
}

static void *fetch_main(void *arg)
{
    tb_jobs *j = arg;
    tb_server *s = j->srv;
    double next_scan = tb_mono() + 1.0; /* let the server settle first */
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        if (j->now_n > 0) {
            int64_t id = j->now_q[0];
            memmove(j->now_q, j->now_q + 1, --j->now_n * sizeof *j->now_q);
            atomic_store(&s->metrics.fetch_queue, (long long)j->now_n);
            pthread_mutex_unlock(&j->mu);
            fetch_one(s, id);
            mark_done(j, id);
            pthread_mutex_lock(&j->mu);
            continue;
        }
        if (tb_mono() >= next_scan) {
            pthread_mutex_unlock(&j->mu);
            tb_feed *due = NULL;
            size_t n = 0;
            tb_err err = {0};
            if (tb_store_feed_due(s->o.store, tb_unix_now(), &due, &n, &err) != 0)
                tb_warn("looking for due feeds: %s", err.msg);
            for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&j->mu);
                bool stop = j->stop, urgent = j->now_n > 0;
                pthread_mutex_unlock(&j->mu);
                if (stop)
                    break;
                if (urgent) /* serve waiting readers first; the rest next scan */
                    break;
                fetch_one(s, due[i].id);
                mark_done(j, due[i].id);
            }
            tb_feed_list_free(due, n);
            next_scan = tb_mono() + s->o.scan_interval_s;
            pthread_mutex_lock(&j->mu);
            continue;
        }
        struct timespec ts;
        abs_deadline(&ts, TB_MIN(next_scan - tb_mono(), 1.0) + 0.001);
        pthread_cond_timedwait(&j->fetch_cv, &j->mu, &ts);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* One embedding batch; returns the number of items embedded (0: queue
 * empty or failed). */
static size_t embed_batch(tb_server *s)
{
    const tb_server_hooks *h = &s->o.hooks;
    tb_err err = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    if (tb_store_embedding_missing(s->o.store, h->model_id, s->o.embed_batch, &ids, &n, &err) !=
        0) {
        tb_warn("embedding queue: %s", err.msg);
        return 0;
    }
    atomic_store(&s->metrics.embed_backlog, (long long)n);
    if (n == 0) {
        free(ids);
        return 0;
    }
    tb_item *items = tb_calloc(n, sizeof *items);
    char **texts = tb_calloc(n, sizeof *texts);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (tb_store_item_get(s->o.store, ids[i], &items[m], &err) != 0)
            continue;
        const tb_item *it = &items[m];
        /* Title and the start of the text: what a reader decides on. */
        texts[m] = tb_asprintf("%s. %.2000s", it->title ? it->title : "",
                               it->text ? it->text : "");
        m++;
    }
    float *vecs = tb_malloc((m ? m : 1) * h->dim * sizeof *vecs);
    size_t done = 0;
    if (m > 0 && h->embed(h->ctx, (const char *const *)texts, m, vecs, &err) == 0) {
        if (tb_store_begin(s->o.store, &err) == 0) {
            for (size_t i = 0; i < m; i++)
                if (tb_store_embedding_put(s->o.store, items[i].id, h->model_id,
                                           vecs + i * h->dim, h->dim, &err) == 0)
                    done++;
            if (tb_store_commit(s->o.store, &err) != 0) {
                tb_warn("storing embeddings: %s", err.msg);
                done = 0;
            }
        }
    } else if (m > 0) {
        atomic_fetch_add(&s->metrics.embed_failed, 1);
        tb_warn("embedding %zu items: %s", m, err.msg);
    }
    for (size_t i = 0; i < m; i++) {
        free(texts[i]);
        tb_item_clear(&items[i]);
    }
    free(texts);
    free(items);
    free(vecs);
    free(ids);
    if (done) {
        atomic_fetch_add(&s->metrics.items_embedded, done);
        atomic_fetch_add(&s->gen, 1);
    }
    return done;
}

static void *work_main(void *arg)
{
    tb_jobs *j = arg;
    tb_server *s = j->srv;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        pthread_mutex_unlock(&j->mu);
        size_t did = 0;
        if (s->o.hooks.embed && s->o.hooks.model_id && s->o.hooks.dim)
            did = embed_batch(s);
        pthread_mutex_lock(&j->mu);
        if (did)
            continue; /* more may be waiting; check stop and go again */
        if (j->dirty) {
            struct dirty *d = j->dirty;
            j->dirty = d->next;
            long long q = 0;
            for (struct dirty *x = j->dirty; x; x = x->next)
                q++;
            atomic_store(&s->metrics.profile_queue, q);
            pthread_mutex_unlock(&j->mu);
            if (s->o.hooks.profile_load) {
                tb_err err = {0};
                tb_profile *p = s->o.hooks.profile_load(s->o.hooks.ctx, s->o.store, d->user, &err);
                if (p) {
                    atomic_fetch_add(&s->metrics.profiles_rebuilt, 1);
                    tb_profile_free(p);
                } else {
                    tb_warn("profile update: %s", err.msg);
                }
            }
            free(d->user);
            free(d);
            pthread_mutex_lock(&j->mu);
            continue;
        }
        struct timespec ts;
        abs_deadline(&ts, 2.0);
        pthread_cond_timedwait(&j->work_cv, &j->mu, &ts);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

tb_jobs *tb_jobs_start(tb_server *srv)
{
    tb_jobs *j = tb_calloc(1, sizeof *j);
    j->srv = srv;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->fetch_cv, NULL);
    pthread_cond_init(&j->work_cv, NULL);
    pthread_cond_init(&j->done_cv, NULL);
    srv->jobs = j;
    if (srv->o.hooks.feed_refresh)
        pthread_create(&j->fetch_thr, NULL, fetch_main, j);
    pthread_create(&j->work_thr, NULL, work_main, j);
    return j;
}

void tb_jobs_stop(tb_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_broadcast(&j->fetch_cv);
    pthread_cond_broadcast(&j->work_cv);
    pthread_cond_broadcast(&j->done_cv);
    pthread_mutex_unlock(&j->mu);
    if (j->srv->o.hooks.feed_refresh)
        pthread_join(j->fetch_thr, NULL);
    pthread_join(j->work_thr, NULL);
    while (j->dirty) {
        struct dirty *d = j->dirty;
        j->dirty = d->next;
        free(d->user);
        free(d);
    }
    free(j->now_q);
    pthread_cond_destroy(&j->fetch_cv);
    pthread_cond_destroy(&j->work_cv);
    pthread_cond_destroy(&j->done_cv);
    pthread_mutex_destroy(&j->mu);
    j->srv->jobs = NULL;
    free(j);
}

bool tb_jobs_fetch_now(tb_server *s, int64_t feed_id, int wait_ms)
{
    if (!s->o.hooks.feed_refresh)
        return false;
    tb_jobs *j = s->jobs;
    if (!j) {
        fetch_one(s, feed_id);
        return true;
    }
    struct waiter w = {.feed_id = feed_id};
    pthread_mutex_lock(&j->mu);
    if (j->stop) {
        pthread_mutex_unlock(&j->mu);
        return false;
    }
    bool queued = false;
    for (size_t i = 0; i < j->now_n; i++)
        if (j->now_q[i] == feed_id)
            queued = true;
    if (!queued) {
        if (j->now_n == j->now_cap) {
            j->now_cap = j->now_cap ? j->now_cap * 2 : 16;
            j->now_q = tb_realloc(j->now_q, j->now_cap * sizeof *j->now_q);
        }
        j->now_q[j->now_n++] = feed_id;
        atomic_store(&s->metrics.fetch_queue, (long long)j->now_n);
        pthread_cond_signal(&j->fetch_cv);
    }
    if (wait_ms <= 0) {
        pthread_mutex_unlock(&j->mu);
        return false;
    }
    w.next = j->waiters;
    j->waiters = &w;
    struct timespec ts;
    abs_deadline(&ts, wait_ms / 1000.0);
    while (!w.done && !j->stop)
        if (pthread_cond_timedwait(&j->done_cv, &j->mu, &ts) != 0)
            break;
    for (struct waiter **p = &j->waiters; *p; p = &(*p)->next)
        if (*p == &w) {
            *p = w.next;
            break;
        }
    pthread_mutex_unlock(&j->mu);
    return w.done;
}

void tb_jobs_user_dirty(tb_server *s, const char *user)
{
    tb_jobs *j = s->jobs;
    if (!j || !s->o.hooks.profile_load)
        return;
    pthread_mutex_lock(&j->mu);
    bool have = false;
    long long q = 0;
    for (struct dirty *d = j->dirty; d; d = d->next, q++)
        if (strcmp(d->user, user) == 0)
            have = true;
    if (!have) {
        struct dirty *d = tb_calloc(1, sizeof *d);
        d->user = tb_strdup(user);
        d->next = j->dirty;
        j->dirty = d;
        q++;
        pthread_cond_signal(&j->work_cv);
    }
    atomic_store(&s->metrics.profile_queue, q);
    pthread_mutex_unlock(&j->mu);
}

void tb_jobs_kick(tb_server *s)
{
    tb_jobs *j = s->jobs;
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    pthread_cond_signal(&j->work_cv);
    pthread_mutex_unlock(&j->mu);
}

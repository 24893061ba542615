/*
 * shown.c -- which items to record as "shown" when a filtered feed is
 * rendered, without flooding the events table.
 *
 * An RSS reader polls every few minutes, and each poll that renders a feed
 * would otherwise add one "shown" event per item. The recommender
 * (src/rec/profile.c) counts how often an item was shown and never opened
 * (weak_shown times makes it a weak negative), so what it needs is "shown
 * once per shown_interval", not "once per poll". This table remembers, per
 * user, when each item was last recorded as shown; tb_shown_due hands back
 * only the items whose last record is at least interval seconds old.
 *
 * A user's table is seeded from the store the first time the user is seen
 * (their shown events newer than the interval), so a restart does not
 * record everything again. Each user has an open-addressing table of
 * (item id, time); item id 0 marks an empty slot (store ids start at 1).
 * When a table fills up, it is rebuilt without the entries older than the
 * interval, so memory stays bounded by what was shown in one interval.
 * One mutex guards everything: it is taken once per rendered feed (cache
 * misses only), never on the cached path.
 */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

struct slot {
    int64_t id;
    int64_t ts;
};

struct user_shown {
    struct user_shown *next;
    char *user;
    struct slot *t; /* cap slots, cap a power of two */
    size_t cap, n;
};

struct tb_shown {
    pthread_mutex_t mu;
    int64_t interval;
    struct user_shown **b;
    size_t nb, nusers;
};

tb_shown *tb_shown_new(int64_t interval_s)
{
    tb_shown *sh = tb_calloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    sh->interval = interval_s;
    sh->nb = 256;
    sh->b = tb_calloc(sh->nb, sizeof *sh->b);
    return sh;
}

void tb_shown_free(tb_shown *sh)
{
    if (!sh)
        return;
    for (size_t i = 0; i < sh->nb; i++) {
        struct user_shown *u = sh->b[i];
        while (u) {
            struct user_shown *nx = u->next;
            free(u->t);
            free(u->user);
            free(u);
            u = nx;
        }
    }
    free(sh->b);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static size_t slot_of(const struct user_shown *u, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (u->cap - 1);
    while (u->t[i].id != 0 && u->t[i].id != id)
        i = (i + 1) & (u->cap - 1);
    return i;
}

/* Rebuild u's table with room for at least need live entries, dropping
 * entries older than the interval (they are due again anyway). */
static void rebuild(struct user_shown *u, size_t need, int64_t now, int64_t interval)
{
    struct slot *old = u->t;
    size_t oldcap = u->cap;
    size_t live = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id != 0 && now - old[i].ts < interval)
            live++;
    size_t cap = 64;
    while (cap < 2 * (live + need))
        cap <<= 1;
    u->t = tb_calloc(cap, sizeof *u->t);
    u->cap = cap;
    u->n = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id != 0 && now - old[i].ts < interval) {
            u->t[slot_of(u, old[i].id)] = old[i];
            u->n++;
        }
    free(old);
}

/* Set id's time to ts (keeping the newer one if present). */
static void put(struct user_shown *u, int64_t id, int64_t ts, int64_t now, int64_t interval)
{
    if (2 * (u->n + 1) > u->cap)
        rebuild(u, 1, now, interval);
    size_t i = slot_of(u, id);
    if (u->t[i].id == 0) {
        u->t[i].id = id;
        u->t[i].ts = ts;
        u->n++;
    } else if (ts > u->t[i].ts) {
        u->t[i].ts = ts;
    }
}

/* The user's table, created (and seeded from the store) on first use. */
static struct user_shown *user_get(tb_shown *sh, tb_store *st, const char *user, int64_t now)
{
    size_t b = tb_hash64(user, strlen(user), 0x5805) & (sh->nb - 1);
    for (struct user_shown *u = sh->b[b]; u; u = u->next)
        if (strcmp(u->user, user) == 0)
            return u;
    struct user_shown *u = tb_calloc(1, sizeof *u);
    u->user = tb_strdup(user);
    rebuild(u, 0, now, sh->interval);
    u->next = sh->b[b];
    sh->b[b] = u;
    sh->nusers++;
    tb_event *ev = NULL;
    size_t n = 0;
    tb_err err = {0};
    if (tb_store_events(st, user, 0, &ev, &n, &err) != 0) {
        tb_warn("loading shown events of a user: %s", err.msg);
        return u;
    }
    for (size_t i = 0; i < n; i++)
        if (ev[i].kind == TB_EV_SHOWN && ev[i].item_id > 0 && now - ev[i].ts < sh->interval)
            put(u, ev[i].item_id, ev[i].ts, now, sh->interval);
    free(ev);
    return u;
}

size_t tb_shown_due(tb_shown *sh, tb_store *st, const char *user, const int64_t *ids, size_t n,
                    int64_t now, int64_t *due)
{
    if (!sh || sh->interval <= 0 || n == 0)
        return 0;
    size_t m = 0;
    pthread_mutex_lock(&sh->mu);
    struct user_shown *u = user_get(sh, st, user, now);
    for (size_t k = 0; k < n; k++) {
        if (ids[k] <= 0)
            continue;
        size_t i = slot_of(u, ids[k]);
        if (u->t[i].id == ids[k] && now - u->t[i].ts < sh->interval)
            continue;
        put(u, ids[k], now, now, sh->interval);
        due[m++] = ids[k];
    }
    pthread_mutex_unlock(&sh->mu);
    return m;
}

/*
 * pool.c -- a fixed pool of worker threads with one operation: parallel-for.
 *
 * tb_pool_for hands out indices from a shared atomic counter; workers and the
 * calling thread all pull from it, so uneven tasks balance themselves. The
 * pool is created once (per model, per server) and reused: starting threads
 * for every batch would cost more than small batches take.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

struct tb_pool {
    int n;                       /* worker threads (the caller also works) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start;        /* signalled when a new job is posted */
    pthread_cond_t done;         /* signalled when the last worker finishes */
    uint64_t generation;         /* bumped per job so workers see new work */
    int active;                  /* workers still inside the current job */
    bool quit;
    /* the current job */
    void (*fn)(void *, size_t);
    void *ctx;
    size_t count;
    atomic_size_t next;
};

static void run_items(tb_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->count)
            break;
        p->fn(p->ctx, i);
    }
}

static void *worker(void *arg)
{
    tb_pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_items(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int tb_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

tb_pool *tb_pool_new(int n)
{
    if (n <= 0)
        n = tb_ncpu();
    tb_pool *p = tb_calloc(1, sizeof *p);
    p->n = n - 1; /* the calling thread is one of the n */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = tb_calloc((size_t)(p->n > 0 ? p->n : 1), sizeof(pthread_t));
    for (int i = 0; i < p->n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->n = i; /* run with what we got */
            break;
        }
    }
    return p;
}

int tb_pool_size(const tb_pool *p)
{
    return p ? p->n + 1 : 1;
}

void tb_pool_for(tb_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    if (!p || p->n == 0 || n <= 1) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->count = n;
    atomic_store(&p->next, 0);
    p->active = p->n;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_items(p);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void tb_pool_free(tb_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

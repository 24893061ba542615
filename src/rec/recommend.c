/*
 * recommend.c -- the store-level recommender: profile upkeep, candidates,
 * embeddings on demand, ranking.
 *
 * tb_profile_load keeps the stored profile in step with the events table:
 * it reads the blob for (user, model), folds in only the events newer than
 * the blob's last event id, refits and writes it back. A missing, corrupt
 * or foreign-dimension blob is rebuilt from all the user's events (logged,
 * never fatal). Items whose embedding is missing are embedded with the
 * model and stored, so a profile never waits for the background worker.
 *
 * A big collection (>= index_min items) with a limit is ranked two-stage
 * from an index cached between calls (recommend_indexed, catcache.c);
 * everything else is loaded per call and scored exactly.
 *
 * The model is reached through its ops table (model/model.h) rather than
 * the tb_model_* wrappers: that is the library-internal contract, and it
 * lets tests drive the recommender with a tiny fake model.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "catalogue.h"
#include "catcache.h"
#include "profile.h"

#define EMBED_BATCH 64

/* The text an item is embedded from: title, then body, then tags. */
static void item_text(const tb_item *it, tb_buf *b)
{
    tb_buf_clear(b);
    if (it->title && *it->title)
        tb_buf_puts(b, it->title);
    if (it->text && *it->text) {
        if (b->len)
            tb_buf_puts(b, "\n");
        tb_buf_puts(b, it->text);
    }
    if (it->tags && *it->tags) {
        if (b->len)
            tb_buf_puts(b, "\n");
        tb_buf_puts(b, it->tags);
    }
    if (b->len == 0 && it->key)
        tb_buf_puts(b, it->key);
}

/* Embeddings of ids[0..n) into vecs (n x dim); missing ones are embedded
 * in batches and stored. have[i] is set to whether row i is valid (an item
 * that vanished or cannot be embedded is skipped). *embedded counts new
 * embeddings. Returns 0 or -1 (store errors). */
int tb_rec_ensure_embeddings(tb_store *s, tb_model *m, const int64_t *ids, size_t n,
                             float *vecs, bool *have, size_t *embedded, tb_err *err)
{
    size_t dim = m->dim;
    size_t *todo = tb_malloc((n ? n : 1) * sizeof(size_t));
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        int r = tb_store_embedding_get(s, ids[i], m->id, vecs + i * dim, dim, err);
        if (r < 0) {
            free(todo);
            return -1;
        }
        have[i] = r == 1;
        if (r == 0)
            todo[nt++] = i;
    }
    tb_buf texts[EMBED_BATCH];
    memset(texts, 0, sizeof texts);
    for (size_t b0 = 0; b0 < nt; b0 += EMBED_BATCH) {
        size_t bn = nt - b0 < EMBED_BATCH ? nt - b0 : EMBED_BATCH;
        const char *tp[EMBED_BATCH];
        size_t rows[EMBED_BATCH], nb = 0;
        for (size_t j = 0; j < bn; j++) {
            size_t i = todo[b0 + j];
            tb_item it = {0};
            tb_err e2;
            if (tb_store_item_get(s, ids[i], &it, &e2) < 0) {
                tb_warn("recommend: item %lld: %s", (long long)ids[i], e2.msg);
                continue;
            }
            item_text(&it, &texts[nb]);
            tb_item_clear(&it);
            tp[nb] = tb_buf_cstr(&texts[nb]);
            rows[nb++] = i;
        }
        if (nb == 0)
            continue;
        float *out = tb_malloc(nb * dim * sizeof(float));
        tb_err e2;
        if (m->ops->embed(m, tp, nb, TB_EMBED_DOCUMENT, out, &e2) < 0) {
            tb_warn("recommend: embedding %zu items failed: %s", nb, e2.msg);
        } else {
            for (size_t j = 0; j < nb; j++) {
                memcpy(vecs + rows[j] * dim, out + j * dim, dim * sizeof(float));
                if (tb_store_embedding_put(s, ids[rows[j]], m->id, out + j * dim, dim, err) < 0) {
                    free(out);
                    for (size_t q = 0; q < EMBED_BATCH; q++)
                        tb_buf_free(&texts[q]);
                    free(todo);
                    return -1;
                }
                have[rows[j]] = true;
                tb_catset_touch(); /* cached catalogues may hold an old vector */
                if (embedded)
                    (*embedded)++;
            }
        }
        free(out);
    }
    for (size_t q = 0; q < EMBED_BATCH; q++)
        tb_buf_free(&texts[q]);
    free(todo);
    return 0;
}

tb_profile *tb_profile_load(tb_store *s, tb_model *m, const char *user,
                            const struct tb_profile_opts *o, tb_err *err)
{
    struct tb_rank_opts def;
    tb_rank_opts_default(&def);
    if (!o)
        o = &def.profile;
    if (!s || !m || !user)
        return tb_err_set(err, TB_EINVAL, "profile: NULL store, model or user"), NULL;
    size_t dim = m->dim;
    tb_buf blob = {0};
    int64_t last = 0;
    tb_profile *p = NULL;
    int r = tb_store_profile_get(s, user, m->id, &blob, &last, err);
    if (r < 0) {
        tb_buf_free(&blob);
        return NULL;
    }
    if (r == 1) {
        tb_err e2;
        p = tb_profile_deserialize(blob.data, blob.len, &e2);
        if (!p)
            tb_warn("profile of %s: %s; rebuilding from events", user, e2.msg);
        else if (p->dim != dim) {
            tb_warn("profile of %s: dimension %zu, model has %zu; rebuilding", user, p->dim,
                    dim);
            tb_profile_free(p);
            p = NULL;
        }
    }
    tb_buf_free(&blob);
    bool fresh = p == NULL;
    if (!p)
        p = tb_profile_new(dim);
    tb_event *ev = NULL;
    size_t nev = 0;
    if (tb_store_events(s, user, p->last_event, &ev, &nev, err) < 0) {
        tb_profile_free(p);
        return NULL;
    }
    if (nev == 0 && !fresh) {
        free(ev);
        return p;
    }
    int64_t *ids = tb_malloc((nev ? nev : 1) * sizeof(int64_t));
    for (size_t i = 0; i < nev; i++)
        ids[i] = ev[i].item_id;
    float *vecs = tb_malloc((nev ? nev : 1) * dim * sizeof(float));
    bool *have = tb_malloc((nev ? nev : 1) * sizeof(bool));
    struct tb_profile_event *pe = tb_malloc((nev ? nev : 1) * sizeof *pe);
    size_t np = 0;
    int rc = tb_rec_ensure_embeddings(s, m, ids, nev, vecs, have, NULL, err);
    if (rc == 0) {
        for (size_t i = 0; i < nev; i++) {
            if (!have[i] && ev[i].kind != TB_EV_SHOWN)
                continue; /* an item that cannot be embedded teaches nothing */
            pe[np++] = (struct tb_profile_event){ev[i].id, ev[i].item_id, ev[i].kind, ev[i].ts,
                                                 have[i] ? vecs + i * dim : NULL};
        }
        rc = tb_profile_add_events(p, pe, np, o, err);
        /* Skipped events still count as seen. */
        if (rc == 0 && nev && ev[nev - 1].id > p->last_event)
            p->last_event = ev[nev - 1].id;
    }
    if (rc == 0)
        rc = tb_profile_fit(p, o, err);
    if (rc == 0) {
        tb_buf out = {0};
        tb_profile_serialize(p, &out);
        rc = tb_store_profile_put(s, user, m->id, out.data, out.len, p->last_event, err);
        tb_buf_free(&out);
    }
    free(ids);
    free(vecs);
    free(have);
    free(pe);
    free(ev);
    if (rc < 0) {
        tb_profile_free(p);
        return NULL;
    }
    return p;
}

void tb_rec_result_free(struct tb_rec_result *r)
{
    if (!r)
        return;
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* Candidate ids of a collection (all catalogue collections when NULL). */
int tb_rec_collection_ids(tb_store *s, const char *collection, int64_t **ids, size_t *n,
                          tb_err *err)
{
    char **names = NULL;
    size_t nn = 0;
    if (collection) {
        names = tb_malloc(sizeof(char *));
        names[0] = tb_strdup(collection);
        nn = 1;
    } else if (tb_store_collections(s, &names, &nn, err) < 0) {
        return -1;
    }
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = 0;
    for (size_t c = 0; c < nn; c++) {
        tb_item *items = NULL;
        size_t ni = 0;
        if (rc == 0 && tb_store_items_by_collection(s, names[c], 0, &items, &ni, err) < 0)
            rc = -1;
        for (size_t i = 0; i < ni; i++) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                *ids = tb_realloc(*ids, cap * sizeof(int64_t));
            }
            (*ids)[(*n)++] = items[i].id;
        }
        tb_item_list_free(items, ni);
        free(names[c]);
    }
    free(names);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The user's judged items (positives and negatives), sorted, for bsearch:
 * a catalogue never recommends them. Caller frees. */
static int64_t *judged_ids(const tb_profile *p, size_t *n)
{
    *n = p->pos.n + p->neg.n;
    int64_t *ex = tb_malloc((*n ? *n : 1) * sizeof(int64_t));
    /* (memcpy from an empty list's NULL array is undefined: skip those) */
    if (p->pos.n)
        memcpy(ex, p->pos.id, p->pos.n * sizeof(int64_t));
    if (p->neg.n)
        memcpy(ex + p->pos.n, p->neg.id, p->neg.n * sizeof(int64_t));
    qsort(ex, *n, sizeof(int64_t), cmp_i64);
    return ex;
}

static bool judged(const int64_t *ex, size_t nex, int64_t id)
{
    return nex && bsearch(&id, ex, nex, sizeof id, cmp_i64) != NULL;
}

/* tb_recommend on a big collection: two-stage ranking from the cached
 * catalogue (catcache.c). The cached rows are the whole collection; the
 * user's judged items are flagged (tb_rank_opts.exclude) so selection
 * skips them - they would otherwise fill the top, each being its own
 * nearest read item. Cold start takes the first
 * `limit` unjudged items in collection order, as the exact path does, with
 * one limited query instead of loading the catalogue. */
static int recommend_indexed(tb_store *s, tb_model *m, const tb_profile *p,
                             const char *collection, int64_t nitems, struct tb_rank_opts *opts,
                             struct tb_rec_result *out, tb_err *err)
{
    size_t nex, lim = opts->limit;
    int64_t *ex = judged_ids(p, &nex);
    if (p->pos.n < opts->min_reads || p->k == 0) {
        tb_item *items = NULL;
        size_t ni = 0;
        if (tb_store_items_by_collection(s, collection, lim + nex, &items, &ni, err) < 0) {
            free(ex);
            return -1;
        }
        out->cold_start = true;
        out->items = tb_calloc(lim ? lim : 1, sizeof *out->items);
        for (size_t i = 0; i < ni && out->n < lim; i++)
            if (!judged(ex, nex, items[i].id))
                out->items[out->n++] = (struct tb_rec_item){
                    .item_id = items[i].id, .why = TB_WHY_COLD, .cluster = -1};
        tb_item_list_free(items, ni);
        free(ex);
        return 0;
    }
    struct tb_catset *cs = tb_catset_get(s, m, collection, nitems, err);
    if (!cs) {
        free(ex);
        return -1;
    }
    /* Flag the judged rows (cs->ids ascending: one bsearch each). */
    bool *skip = tb_calloc(cs->n ? cs->n : 1, sizeof(bool));
    for (size_t j = 0; j < nex; j++) {
        const int64_t *hit = cs->n ? bsearch(&ex[j], cs->ids, cs->n, sizeof(int64_t), cmp_i64)
                                   : NULL;
        if (hit)
            skip[hit - cs->ids] = true;
    }
    struct tb_rank_opts o = *opts;
    o.index = cs->ix;
    o.exclude = skip;
    struct tb_ranked *rk = tb_malloc((cs->n ? cs->n : 1) * sizeof *rk);
    long got = cs->n ? tb_rank(p, cs->vecs, cs->n, cs->dim, &o, rk, err) : 0;
    int rc = 0;
    if (got < 0) {
        rc = -1;
    } else {
        out->n = (size_t)got;
        out->items = tb_calloc(out->n ? out->n : 1, sizeof *out->items);
        for (size_t i = 0; i < out->n; i++)
            out->items[i] = (struct tb_rec_item){
                .item_id = cs->ids[rk[i].index], .score = rk[i].score, .sim = rk[i].sim,
                .why = rk[i].why, .cluster = rk[i].cluster, .near_item = rk[i].near_item};
    }
    free(skip);
    free(rk);
    free(ex);
    tb_catset_release(cs);
    return rc;
}

int tb_recommend(tb_store *s, tb_model *m, const char *user, const char *collection_or_NULL,
                 const int64_t *candidate_ids_or_NULL, size_t n, const struct tb_rank_opts *o,
                 struct tb_rec_result *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    struct tb_rank_opts opts;
    if (o)
        opts = *o;
    else
        tb_rank_opts_default(&opts);
    if (!s || !m || !user)
        return tb_err_set(err, TB_EINVAL, "recommend: NULL store, model or user");
    if (opts.seed == 0) {
        /* Seed 0: a fresh choice of exploration picks each day, stable
         * within the day so a feed does not reshuffle on every poll. */
        int64_t day = tb_unix_now() / 86400;
        opts.seed = tb_hash64(user, strlen(user), (uint64_t)day);
    }
    tb_profile *p = tb_profile_load(s, m, user, &opts.profile, err);
    if (!p)
        return -1;
    out->n_reads = p->pos.n;
    out->k = p->k;

    /* A big catalogue with a limit: two-stage from the cached index. */
    if (!candidate_ids_or_NULL && collection_or_NULL && opts.limit > 0 && !opts.index) {
        int64_t cnt = tb_store_item_count(s, collection_or_NULL, err);
        if (cnt < 0) {
            tb_profile_free(p);
            return -1;
        }
        if ((size_t)cnt >= (opts.index_min ? opts.index_min : TB_REC_INDEX_MIN)) {
            int rc = recommend_indexed(s, m, p, collection_or_NULL, cnt, &opts, out, err);
            tb_profile_free(p);
            if (rc < 0)
                tb_rec_result_free(out);
            return rc;
        }
    }

    int64_t *ids = NULL;
    size_t nc = 0;
    if (candidate_ids_or_NULL) {
        ids = tb_malloc((n ? n : 1) * sizeof(int64_t));
        memcpy(ids, candidate_ids_or_NULL, n * sizeof(int64_t));
        nc = n;
    } else {
        if (tb_rec_collection_ids(s, collection_or_NULL, &ids, &nc, err) < 0) {
            tb_profile_free(p);
            free(ids);
            return -1;
        }
        /* A catalogue never recommends what the user already judged. */
        size_t nex, w = 0;
        int64_t *ex = judged_ids(p, &nex);
        for (size_t i = 0; i < nc; i++)
            if (!judged(ex, nex, ids[i]))
                ids[w++] = ids[i];
        nc = w;
        free(ex);
    }
    size_t lim = opts.limit ? opts.limit : nc;
    if (p->pos.n < opts.min_reads || p->k == 0) {
        out->cold_start = true;
        out->n = nc < lim ? nc : lim;
        out->items = tb_calloc(out->n ? out->n : 1, sizeof *out->items);
        for (size_t i = 0; i < out->n; i++)
            out->items[i] = (struct tb_rec_item){.item_id = ids[i], .why = TB_WHY_COLD,
                                                 .cluster = -1};
        free(ids);
        tb_profile_free(p);
        return 0;
    }
    size_t dim = m->dim;
    float *vecs = tb_malloc((nc ? nc : 1) * dim * sizeof(float));
    bool *have = tb_malloc((nc ? nc : 1) * sizeof(bool));
    int rc = tb_rec_ensure_embeddings(s, m, ids, nc, vecs, have, &out->n_embedded, err);
    if (rc == 0) {
        /* Compact to the candidates that have a vector. */
        size_t w = 0;
        for (size_t i = 0; i < nc; i++)
            if (have[i]) {
                if (w != i) {
                    ids[w] = ids[i];
                    memcpy(vecs + w * dim, vecs + i * dim, dim * sizeof(float));
                }
                w++;
            }
        nc = w;
        struct tb_ranked *rk = tb_malloc((nc ? nc : 1) * sizeof *rk);
        long m2 = tb_rank(p, vecs, nc, dim, &opts, rk, err);
        if (m2 < 0) {
            rc = -1;
        } else {
            out->n = (size_t)m2;
            out->items = tb_calloc(out->n ? out->n : 1, sizeof *out->items);
            for (size_t i = 0; i < out->n; i++)
                out->items[i] = (struct tb_rec_item){
                    .item_id = ids[rk[i].index], .score = rk[i].score, .sim = rk[i].sim,
                    .why = rk[i].why, .cluster = rk[i].cluster, .near_item = rk[i].near_item};
        }
        free(rk);
    }
    free(vecs);
    free(have);
    free(ids);
    tb_profile_free(p);
    return rc;
}

int tb_rec_embed_items(tb_store *s, tb_model *m, const int64_t *ids, size_t n,
                       void (*progress)(size_t done, size_t total, void *ctx), void *ctx,
                       tb_err *err)
{
    /* Chunks of a few batches, so progress moves and memory stays flat. */
    size_t chunk = EMBED_BATCH * 4;
    float *vecs = tb_malloc(chunk * m->dim * sizeof(float));
    bool *have = tb_malloc(chunk * sizeof(bool));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk) {
        size_t c = n - i < chunk ? n - i : chunk;
        rc = tb_rec_ensure_embeddings(s, m, ids + i, c, vecs, have, NULL, err);
        if (progress)
            progress(i + c, n, ctx);
    }
    free(vecs);
    free(have);
    return rc;
}

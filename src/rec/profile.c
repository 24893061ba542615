/*
 * profile.c -- a user's interest profile: what they read, liked, disliked
 * and ignored, and the interest clusters fitted to it.
 *
 * A profile keeps the items themselves (id, time, vector), not only the
 * clusters, for three reasons: explanations name the read item closest to a
 * recommendation; the k-nearest-neighbour score needs them; and new events
 * can be folded in without touching the store's event history again
 * (incremental update: the profile remembers the newest event id it used).
 * The lists are bounded (max_items positives, TB_SHOWN_MAX shown items), so
 * a blob stays a few hundred kilobytes at most.
 *
 * Event rules (tb_profile_add_events):
 *   read, like   -> positive (a like weighs twice a read); the item leaves
 *                   the shown list; a like also cancels an earlier dislike
 *   dislike      -> negative; the item leaves the positives (an explicit
 *                   verdict beats a click)
 *   shown        -> counted, unless the item is a positive; an item shown
 *                   weak_shown times and never opened is a weak negative
 *
 * Blob format, version 1 (all integers and floats little-endian):
 *   "TBPF" u32 version u32 dim u32 npos u32 nneg u32 nshown u32 k
 *   u32 weak_shown i64 last_event i64 ref_ts
 *   npos   x { i64 id, i64 ts, i32 kind, f32 weight, i32 cluster, f32 vec[dim] }
 *   nneg   x { i64 id, i64 ts, f32 vec[dim] }
 *   nshown x { i64 id, i64 ts, i32 count, u8 hasvec, f32 vec[dim] if hasvec }
 *   k      x { f32 weight, u32 size, f32 centroid[dim] }
 *   u64 tb_hash64(all bytes before it, seed 0)
 * tb_profile_deserialize checks every count against the remaining length,
 * the checksum, that floats are finite and that indices are in range, so a
 * truncated or corrupted blob is an error (the caller rebuilds), never a
 * crash. A newer version is refused the same way.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "profile.h"

#define TB_PROFILE_MAGIC "TBPF"
#define TB_PROFILE_VERSION 1u
#define TB_SHOWN_MAX 4096
#define TB_NEG_MAX 2000
#define TB_DIM_MAX 65536

/* ------------------------------------------------------------- lists */

static void plist_free(struct tb_plist *l)
{
    free(l->id);
    free(l->ts);
    free(l->aux);
    free(l->hasvec);
    free(l->vec);
    memset(l, 0, sizeof *l);
}

static void plist_reserve(struct tb_plist *l, size_t dim, size_t want)
{
    if (want <= l->cap)
        return;
    size_t cap = l->cap ? l->cap * 2 : 16;
    while (cap < want)
        cap *= 2;
    l->id = tb_realloc(l->id, cap * sizeof *l->id);
    l->ts = tb_realloc(l->ts, cap * sizeof *l->ts);
    l->aux = tb_realloc(l->aux, cap * sizeof *l->aux);
    l->hasvec = tb_realloc(l->hasvec, cap * sizeof *l->hasvec);
    l->vec = tb_realloc(l->vec, cap * dim * sizeof(float));
    l->cap = cap;
}

static long plist_find(const struct tb_plist *l, int64_t id)
{
    for (size_t i = l->n; i-- > 0;)
        if (l->id[i] == id)
            return (long)i;
    return -1;
}

static void plist_remove(struct tb_plist *l, size_t dim, size_t i)
{
    size_t tail = l->n - i - 1;
    memmove(l->id + i, l->id + i + 1, tail * sizeof *l->id);
    memmove(l->ts + i, l->ts + i + 1, tail * sizeof *l->ts);
    memmove(l->aux + i, l->aux + i + 1, tail * sizeof *l->aux);
    memmove(l->hasvec + i, l->hasvec + i + 1, tail * sizeof *l->hasvec);
    memmove(l->vec + i * dim, l->vec + (i + 1) * dim, tail * dim * sizeof(float));
    l->n--;
}

static size_t plist_push(struct tb_plist *l, size_t dim, int64_t id, int64_t ts, int32_t aux,
                         const float *v)
{
    plist_reserve(l, dim, l->n + 1);
    size_t i = l->n++;
    l->id[i] = id;
    l->ts[i] = ts;
    l->aux[i] = aux;
    l->hasvec[i] = v != NULL;
    if (v)
        memcpy(l->vec + i * dim, v, dim * sizeof(float));
    else
        memset(l->vec + i * dim, 0, dim * sizeof(float));
    return i;
}

/* Drop the oldest entries until at most max remain (lists are append-only
 * in event order, so the oldest are at the front). */
static void plist_trim(struct tb_plist *l, size_t dim, size_t max)
{
    while (l->n > max)
        plist_remove(l, dim, 0);
}

/* ------------------------------------------------------------- lifecycle */

tb_profile *tb_profile_new(size_t dim)
{
    if (dim == 0 || dim > TB_DIM_MAX)
        return NULL;
    tb_profile *p = tb_calloc(1, sizeof *p);
    p->dim = dim;
    p->weak_shown = 3;
    return p;
}

static void clear_fit(tb_profile *p)
{
    free(p->pos_w);
    free(p->pos_cl);
    free(p->cent);
    free(p->cent_w);
    free(p->cent_n);
    free(p->weak);
    p->pos_w = NULL;
    p->pos_cl = NULL;
    p->cent = NULL;
    p->cent_w = NULL;
    p->cent_n = NULL;
    p->weak = NULL;
    p->k = 0;
    p->nweak = 0;
}

void tb_profile_free(tb_profile *p)
{
    if (!p)
        return;
    clear_fit(p);
    plist_free(&p->pos);
    plist_free(&p->neg);
    plist_free(&p->shown);
    free(p);
}

size_t tb_profile_dim(const tb_profile *p) { return p->dim; }
size_t tb_profile_npos(const tb_profile *p) { return p ? p->pos.n : 0; }
size_t tb_profile_nneg(const tb_profile *p) { return p ? p->neg.n : 0; }
size_t tb_profile_nweak(const tb_profile *p) { return p ? p->nweak : 0; }
size_t tb_profile_k(const tb_profile *p) { return p ? p->k : 0; }
int64_t tb_profile_last_event(const tb_profile *p) { return p ? p->last_event : 0; }

const float *tb_profile_centroid(const tb_profile *p, size_t c, float *weight, size_t *size)
{
    if (c >= p->k)
        return NULL;
    if (weight)
        *weight = p->cent_w[c];
    if (size)
        *size = p->cent_n[c];
    return p->cent + c * p->dim;
}

int tb_profile_pos_cluster(const tb_profile *p, size_t i, int64_t *item_id)
{
    if (i >= p->pos.n)
        return -1;
    if (item_id)
        *item_id = p->pos.id[i];
    return p->pos_cl ? p->pos_cl[i] : -1;
}

/* ------------------------------------------------------------- events */

int tb_profile_add_events(tb_profile *p, const struct tb_profile_event *ev, size_t n,
                          const struct tb_profile_opts *o, tb_err *err)
{
    size_t dim = p->dim;
    size_t max_items = o && o->max_items ? o->max_items : 2000;
    for (size_t e = 0; e < n; e++) {
        const struct tb_profile_event *x = &ev[e];
        if (x->kind < 0 || x->kind >= TB_EV__COUNT)
            return tb_err_set(err, TB_EINVAL, "event %lld: unknown kind %d", (long long)x->id,
                              x->kind);
        if (!x->vec && x->kind != TB_EV_SHOWN)
            return tb_err_set(err, TB_EINVAL, "event %lld (%s of item %lld) has no vector",
                              (long long)x->id, tb_event_kind_name(x->kind),
                              (long long)x->item_id);
        if (x->vec) {
            for (size_t j = 0; j < dim; j++)
                if (!isfinite(x->vec[j]))
                    return tb_err_set(err, TB_EINVAL,
                                      "event %lld: vector of item %lld is not finite",
                                      (long long)x->id, (long long)x->item_id);
        }
        long i;
        switch (x->kind) {
        case TB_EV_READ:
        case TB_EV_LIKE:
            if ((i = plist_find(&p->shown, x->item_id)) >= 0)
                plist_remove(&p->shown, dim, (size_t)i);
            if (x->kind == TB_EV_LIKE && (i = plist_find(&p->neg, x->item_id)) >= 0)
                plist_remove(&p->neg, dim, (size_t)i);
            if (x->kind == TB_EV_READ && plist_find(&p->neg, x->item_id) >= 0)
                break; /* reading a disliked item does not make it liked */
            if ((i = plist_find(&p->pos, x->item_id)) >= 0) {
                /* Move to the end (newest) so trimming drops stale ones. */
                int32_t kind = p->pos.aux[i];
                plist_remove(&p->pos, dim, (size_t)i);
                plist_push(&p->pos, dim, x->item_id, x->ts,
                           kind == TB_EV_LIKE ? TB_EV_LIKE : x->kind, x->vec);
            } else {
                plist_push(&p->pos, dim, x->item_id, x->ts, x->kind, x->vec);
            }
            plist_trim(&p->pos, dim, max_items);
            break;
        case TB_EV_DISLIKE:
            if ((i = plist_find(&p->pos, x->item_id)) >= 0)
                plist_remove(&p->pos, dim, (size_t)i);
            if ((i = plist_find(&p->shown, x->item_id)) >= 0)
                plist_remove(&p->shown, dim, (size_t)i);
            if ((i = plist_find(&p->neg, x->item_id)) >= 0)
                plist_remove(&p->neg, dim, (size_t)i);
            plist_push(&p->neg, dim, x->item_id, x->ts, TB_EV_DISLIKE, x->vec);
            plist_trim(&p->neg, dim, TB_NEG_MAX);
            break;
        case TB_EV_SHOWN:
            if (plist_find(&p->pos, x->item_id) >= 0 || plist_find(&p->neg, x->item_id) >= 0)
                break;
            if ((i = plist_find(&p->shown, x->item_id)) >= 0) {
                p->shown.aux[i]++;
                p->shown.ts[i] = x->ts;
                if (!p->shown.hasvec[i] && x->vec) {
                    memcpy(p->shown.vec + (size_t)i * dim, x->vec, dim * sizeof(float));
                    p->shown.hasvec[i] = 1;
                }
            } else {
                plist_push(&p->shown, dim, x->item_id, x->ts, 1, x->vec);
                plist_trim(&p->shown, dim, TB_SHOWN_MAX);
            }
            break;
        }
        if (x->id > p->last_event)
            p->last_event = x->id;
    }
    return 0;
}

void tb_profile_derive_weak(tb_profile *p, unsigned threshold)
{
    free(p->weak);
    p->weak = NULL;
    p->nweak = 0;
    p->weak_shown = threshold;
    if (threshold == 0)
        return;
    size_t m = 0;
    for (size_t i = 0; i < p->shown.n; i++)
        if (p->shown.hasvec[i] && (uint32_t)p->shown.aux[i] >= threshold)
            m++;
    if (m == 0)
        return;
    p->weak = tb_malloc(m * p->dim * sizeof(float));
    for (size_t i = 0; i < p->shown.n; i++)
        if (p->shown.hasvec[i] && (uint32_t)p->shown.aux[i] >= threshold)
            memcpy(p->weak + p->nweak++ * p->dim, p->shown.vec + i * p->dim,
                   p->dim * sizeof(float));
}

/* ------------------------------------------------------------- fitting */

int tb_profile_fit(tb_profile *p, const struct tb_profile_opts *o, tb_err *err)
{
    struct tb_profile_opts def = {.half_life_days = 30, .weak_shown = 3, .max_items = 2000};
    if (!o)
        o = &def;
    size_t n = p->pos.n, dim = p->dim;
    clear_fit(p);
    tb_profile_derive_weak(p, o->weak_shown);
    if (n == 0)
        return 0;
    int64_t now = o->now;
    if (now == 0)
        for (size_t i = 0; i < n; i++)
            if (p->pos.ts[i] > now)
                now = p->pos.ts[i];
    p->ref_ts = now;
    p->pos_w = tb_malloc(n * sizeof(float));
    p->pos_cl = tb_malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        double w = p->pos.aux[i] == TB_EV_LIKE ? 2.0 : 1.0;
        if (o->half_life_days > 0) {
            double age = (double)(now - p->pos.ts[i]) / 86400.0;
            if (age < 0)
                age = 0;
            w *= exp2(-age / o->half_life_days);
        }
        /* A floor so a long-gone interest still anchors its cluster. */
        p->pos_w[i] = (float)(w < 1e-3 ? 1e-3 : w);
    }
    /* Clusters are fitted unweighted: recency decides how much an interest
     * counts (its weight), not whether it exists. Weighted k-means would
     * spend every centroid on the recent reads and fold an old interest
     * into whichever recent cluster is nearest. */
    struct tb_kmeans km;
    if (o->k > 0)
        tb_kmeans_run(p->pos.vec, NULL, n, dim, o->k, NULL, o->seed, 25, &km);
    else
        tb_kmeans_auto(p->pos.vec, NULL, n, dim, o->kmax, o->seed, &km);
    if (km.k == 0)
        return tb_err_set(err, TB_EINVAL, "profile: clustering failed");
    p->k = km.k;
    p->cent = km.cent;
    km.cent = NULL;
    p->cent_w = tb_calloc(p->k, sizeof(float));
    p->cent_n = tb_calloc(p->k, sizeof(uint32_t));
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        p->pos_cl[i] = km.assign[i];
        p->cent_w[km.assign[i]] += p->pos_w[i];
        p->cent_n[km.assign[i]]++;
        tot += p->pos_w[i];
    }
    for (size_t c = 0; c < p->k; c++)
        p->cent_w[c] = tot > 0 ? (float)(p->cent_w[c] / tot) : 1.0f / (float)p->k;
    tb_kmeans_clear(&km);
    return 0;
}

tb_profile *tb_profile_build(size_t dim, const struct tb_profile_event *ev, size_t n,
                             const struct tb_profile_opts *o, tb_err *err)
{
    tb_profile *p = tb_profile_new(dim);
    if (!p) {
        tb_err_set(err, TB_EINVAL, "profile: bad dimension %zu", dim);
        return NULL;
    }
    if (tb_profile_add_events(p, ev, n, o, err) < 0 || tb_profile_fit(p, o, err) < 0) {
        tb_profile_free(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------- blob */

static void put_u32(tb_buf *b, uint32_t v)
{
    unsigned char c[4] = {v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24};
    tb_buf_append(b, c, 4);
}

static void put_u64(tb_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(tb_buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}

static void put_vec(tb_buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f32(b, v[i]);
}

void tb_profile_serialize(const tb_profile *p, tb_buf *out)
{
    size_t start = out->len, dim = p->dim;
    tb_buf_append(out, TB_PROFILE_MAGIC, 4);
    put_u32(out, TB_PROFILE_VERSION);
    put_u32(out, (uint32_t)dim);
    put_u32(out, (uint32_t)p->pos.n);
    put_u32(out, (uint32_t)p->neg.n);
    put_u32(out, (uint32_t)p->shown.n);
    put_u32(out, (uint32_t)p->k);
    put_u32(out, p->weak_shown);
    put_u64(out, (uint64_t)p->last_event);
    put_u64(out, (uint64_t)p->ref_ts);
    for (size_t i = 0; i < p->pos.n; i++) {
        put_u64(out, (uint64_t)p->pos.id[i]);
        put_u64(out, (uint64_t)p->pos.ts[i]);
        put_u32(out, (uint32_t)p->pos.aux[i]);
        put_f32(out, p->pos_w ? p->pos_w[i] : 1.0f);
        put_u32(out, (uint32_t)(p->pos_cl ? p->pos_cl[i] : -1));
        put_vec(out, p->pos.vec + i * dim, dim);
    }
    for (size_t i = 0; i < p->neg.n; i++) {
        put_u64(out, (uint64_t)p->neg.id[i]);
        put_u64(out, (uint64_t)p->neg.ts[i]);
        put_vec(out, p->neg.vec + i * dim, dim);
    }
    for (size_t i = 0; i < p->shown.n; i++) {
        put_u64(out, (uint64_t)p->shown.id[i]);
        put_u64(out, (uint64_t)p->shown.ts[i]);
        put_u32(out, (uint32_t)p->shown.aux[i]);
        tb_buf_putc(out, p->shown.hasvec[i] ? 1 : 0);
        if (p->shown.hasvec[i])
            put_vec(out, p->shown.vec + i * dim, dim);
    }
    for (size_t c = 0; c < p->k; c++) {
        put_f32(out, p->cent_w[c]);
        put_u32(out, p->cent_n[c]);
        put_vec(out, p->cent + c * dim, dim);
    }
    put_u64(out, tb_hash64(out->data + start, out->len - start, 0));
}

struct reader {
    const unsigned char *p;
    size_t n, off;
    bool bad;
};

static uint32_t get_u32(struct reader *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = true;
        return 0;
    }
    const unsigned char *c = r->p + r->off;
    r->off += 4;
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static uint64_t get_u64(struct reader *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static float get_f32(struct reader *r)
{
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    if (!isfinite(f))
        r->bad = true;
    return f;
}

static void get_vec(struct reader *r, float *v, size_t n)
{
    for (size_t i = 0; i < n && !r->bad; i++)
        v[i] = get_f32(r);
}

tb_profile *tb_profile_deserialize(const void *blob, size_t n, tb_err *err)
{
    struct reader r = {blob, n, 0, false};
    /* magic, 7 u32 counts, 2 i64 times, the checksum: an empty profile. */
    if (!blob || n < 4 + 7 * 4 + 16 + 8 || memcmp(blob, TB_PROFILE_MAGIC, 4) != 0) {
        tb_err_set(err, TB_EFORMAT, "profile blob: not a tastebud profile (%zu bytes)", n);
        return NULL;
    }
    r.off = n - 8;
    uint64_t sum = get_u64(&r);
    if (tb_hash64(blob, n - 8, 0) != sum) {
        tb_err_set(err, TB_EFORMAT, "profile blob: checksum mismatch (corrupt)");
        return NULL;
    }
    r.n = n - 8; /* the checksum is not payload */
    r.off = 4;
    uint32_t version = get_u32(&r);
    if (version != TB_PROFILE_VERSION) {
        tb_err_set(err, TB_EFORMAT, "profile blob: version %u, this build reads %u", version,
                   TB_PROFILE_VERSION);
        return NULL;
    }
    uint32_t dim = get_u32(&r), npos = get_u32(&r), nneg = get_u32(&r), nshown = get_u32(&r),
             k = get_u32(&r), weak = get_u32(&r);
    int64_t last = (int64_t)get_u64(&r), ref = (int64_t)get_u64(&r);
    /* Each record holds at least dim floats (shown: at least 21 bytes), so
     * counts larger than the payload allows are rejected before any
     * allocation sized by them. */
    size_t rest = r.n - r.off;
    if (dim == 0 || dim > TB_DIM_MAX || npos > rest / (28 + 4 * (size_t)dim) ||
        nneg > rest / (16 + 4 * (size_t)dim) || nshown > rest / 21 ||
        k > rest / (8 + 4 * (size_t)dim) || k > npos) {
        tb_err_set(err, TB_EFORMAT, "profile blob: impossible sizes (dim %u, %u items, k %u)",
                   dim, npos, k);
        return NULL;
    }
    tb_profile *p = tb_profile_new(dim);
    p->last_event = last;
    p->ref_ts = ref;
    if (npos) {
        p->pos_w = tb_malloc(npos * sizeof(float));
        p->pos_cl = tb_malloc(npos * sizeof(int32_t));
    }
    for (uint32_t i = 0; i < npos && !r.bad; i++) {
        int64_t id = (int64_t)get_u64(&r), ts = (int64_t)get_u64(&r);
        int32_t kind = (int32_t)get_u32(&r);
        float w = get_f32(&r);
        int32_t cl = (int32_t)get_u32(&r);
        if ((kind != TB_EV_READ && kind != TB_EV_LIKE) || cl < (k ? 0 : -1) || cl >= (int32_t)k || w < 0)
            r.bad = true;
        size_t j = plist_push(&p->pos, dim, id, ts, kind, NULL);
        get_vec(&r, p->pos.vec + j * dim, dim);
        p->pos_w[j] = w;
        p->pos_cl[j] = cl;
    }
    for (uint32_t i = 0; i < nneg && !r.bad; i++) {
        int64_t id = (int64_t)get_u64(&r), ts = (int64_t)get_u64(&r);
        size_t j = plist_push(&p->neg, dim, id, ts, TB_EV_DISLIKE, NULL);
        get_vec(&r, p->neg.vec + j * dim, dim);
    }
    for (uint32_t i = 0; i < nshown && !r.bad; i++) {
        int64_t id = (int64_t)get_u64(&r), ts = (int64_t)get_u64(&r);
        int32_t cnt = (int32_t)get_u32(&r);
        if (r.off >= r.n) {
            r.bad = true;
            break;
        }
        unsigned char hv = r.p[r.off++];
        if (hv > 1 || cnt < 0)
            r.bad = true;
        size_t j = plist_push(&p->shown, dim, id, ts, cnt, NULL);
        if (hv && !r.bad) {
            if ((r.n - r.off) / 4 < dim)
                r.bad = true;
            get_vec(&r, p->shown.vec + j * dim, dim);
            p->shown.hasvec[j] = 1;
        }
    }
    if (k && !r.bad) {
        p->k = k;
        p->cent = tb_malloc((size_t)k * dim * sizeof(float));
        p->cent_w = tb_malloc(k * sizeof(float));
        p->cent_n = tb_malloc(k * sizeof(uint32_t));
        for (uint32_t c = 0; c < k && !r.bad; c++) {
            p->cent_w[c] = get_f32(&r);
            p->cent_n[c] = get_u32(&r);
            get_vec(&r, p->cent + (size_t)c * dim, dim);
        }
    }
    if (r.bad || r.off != r.n) {
        tb_profile_free(p);
        tb_err_set(err, TB_EFORMAT, "profile blob: malformed or truncated record data");
        return NULL;
    }
    tb_profile_derive_weak(p, weak);
    return p;
}

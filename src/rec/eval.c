/*
 * eval.c -- offline evaluation protocols and baselines.
 *
 * All three protocols reduce to: build a profile from some items (the
 * user's past), score some other items, compare with what the user really
 * did. Scores come from the same tb_rank_scores the server uses (no
 * selection, no cold start), so the numbers measure the ranker itself.
 *
 * Metrics, per reader/user, then averaged:
 *   P@10      fraction of the 10 best-scored items that are relevant
 *   nDCG@10   DCG of the top 10 (gain 1 for relevant, 1/log2(rank+1))
 *             over the best possible DCG
 *   AUC       probability a random relevant item outscores a random
 *             irrelevant one (Mann-Whitney, ties half)
 *   HitRate@10 1 if any held-out item is in the top 10
 * Every random choice uses tb_rng with the given seed: reruns are exact.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "profile.h"

#define TB_EVAL_NMETHODS 10

static const struct tb_eval_method *build_methods(size_t *n)
{
    static struct tb_eval_method m[TB_EVAL_NMETHODS];
    static bool done;
    if (!done) {
        struct tb_rank_opts d;
        tb_rank_opts_default(&d);
        size_t i = 0;
        m[i++] = (struct tb_eval_method){"tastebud (kde)", TB_EVAL_OURS, d};
        m[i] = m[0];
        m[i].name = "kde, not centred";
        m[i++].rank.center = false;
        m[i] = m[0];
        m[i].name = "knn 3";
        m[i++].rank.method = TB_RANK_KNN;
        m[i] = m[0];
        m[i].name = "knn 3, not centred";
        m[i].rank.method = TB_RANK_KNN;
        m[i++].rank.center = false;
        m[i] = m[0];
        m[i].name = "centroid, auto k";
        m[i++].rank.method = TB_RANK_CENTROID;
        m[i] = m[0];
        m[i].name = "weighted, auto k";
        m[i++].rank.method = TB_RANK_WEIGHTED;
        m[i] = m[0];
        m[i].name = "hybrid";
        m[i++].rank.method = TB_RANK_HYBRID;
        d.center = false;
        m[i++] = (struct tb_eval_method){"baseline: k-means-10", TB_EVAL_KMEANS10, d};
        m[i++] = (struct tb_eval_method){"baseline: popularity", TB_EVAL_POPULARITY, d};
        m[i++] = (struct tb_eval_method){"baseline: random", TB_EVAL_RANDOM, d};
        done = true;
    }
    *n = TB_EVAL_NMETHODS;
    return m;
}

const struct tb_eval_method *tb_eval_methods(size_t *n) { return build_methods(n); }

void tb_eval_metrics_free(struct tb_eval_metrics *m)
{
    free(m->unit);
    free(m->jscore);
    free(m->jlabel);
    m->unit = NULL;
    m->jscore = NULL;
    m->jlabel = NULL;
}

/* AUC of (score, label) rows picked by idx[0..n) (a bootstrap sample), by
 * sorting: O(n log n), ties count half. */
struct sl {
    float s;
    int l;
};
static int cmp_sl(const void *pa, const void *pb)
{
    const struct sl *a = pa, *b = pb;
    return a->s < b->s ? -1 : a->s > b->s;
}
static double auc_sorted(struct sl *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_sl);
    double rank_sum = 0;
    size_t np = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double r = (double)(i + j + 1) / 2.0; /* mean 1-based rank of the tie group */
        for (size_t q = i; q < j; q++)
            if (v[q].l) {
                rank_sum += r;
                np++;
            }
        i = j;
    }
    size_t nn = n - np;
    if (np == 0 || nn == 0)
        return 0.5;
    return (rank_sum - (double)np * (double)(np + 1) / 2.0) / ((double)np * (double)nn);
}

int tb_eval_paired(const struct tb_eval_metrics *a, const struct tb_eval_metrics *b, int metric,
                   double *diff, double *se, size_t *wins, size_t *losses)
{
    *diff = *se = 0;
    *wins = *losses = 0;
    if (a->n != b->n || a->n == 0 || metric < 0 || metric > TB_EVAL_HIT10)
        return -1;
    size_t n = a->n;
    if (a->unit && b->unit) {
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++) {
            double d = a->unit[i * 4 + metric] - b->unit[i * 4 + metric];
            s += d;
            ss += d * d;
            *wins += d > 0;
            *losses += d < 0;
        }
        double mean = s / (double)n;
        double var = n > 1 ? (ss - (double)n * mean * mean) / (double)(n - 1) : 0;
        *diff = mean;
        *se = sqrt(var > 0 ? var : 0) / sqrt((double)n);
        return 0;
    }
    if (!a->jscore || !b->jscore || metric != TB_EVAL_AUC)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (a->jlabel[i] != b->jlabel[i])
            return -1;
    struct sl *va = tb_malloc(n * sizeof *va), *vb = tb_malloc(n * sizeof *vb);
    for (size_t i = 0; i < n; i++) {
        va[i] = (struct sl){a->jscore[i], a->jlabel[i]};
        vb[i] = (struct sl){b->jscore[i], b->jlabel[i]};
    }
    *diff = auc_sorted(va, n) - auc_sorted(vb, n);
    tb_rng rng;
    tb_rng_seed(&rng, 12345);
    double s = 0, ss = 0;
    const int R = 400;
    for (int r = 0; r < R; r++) {
        for (size_t i = 0; i < n; i++) {
            size_t q = (size_t)tb_rng_below(&rng, n);
            va[i] = (struct sl){a->jscore[q], a->jlabel[q]};
            vb[i] = (struct sl){b->jscore[q], b->jlabel[q]};
        }
        double d = auc_sorted(va, n) - auc_sorted(vb, n);
        s += d;
        ss += d * d;
        *wins += d > 0;
        *losses += d < 0;
    }
    double mean = s / R, var = (ss - R * mean * mean) / (R - 1);
    *se = sqrt(var > 0 ? var : 0);
    free(va);
    free(vb);
    return 0;
}

double tb_eval_auc(const float *score, const int *rel, size_t n)
{
    /* O(P*N) is fine at pool sizes of hundreds to a few thousand. */
    double wins = 0;
    size_t np = 0, nn = 0;
    for (size_t i = 0; i < n; i++)
        rel[i] ? np++ : nn++;
    if (np == 0 || nn == 0)
        return 0.5;
    for (size_t i = 0; i < n; i++) {
        if (!rel[i])
            continue;
        for (size_t j = 0; j < n; j++)
            if (!rel[j])
                wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
    }
    return wins / ((double)np * (double)nn);
}

/* Top-10 metrics: P@10, nDCG@10, hit@10 for scores vs rel. */
static void top10(const float *s, const int *rel, size_t n, double *p10, double *ndcg,
                  double *hit)
{
    size_t top[10], nt = 0;
    for (size_t i = 0; i < n; i++) {
        /* insertion into a 10-slot list, ties by index */
        size_t q = nt < 10 ? nt++ : 10;
        if (q == 10 && !(s[i] > s[top[9]]))
            continue;
        if (q == 10)
            q = 9;
        while (q > 0 && s[i] > s[top[q - 1]]) {
            top[q] = top[q - 1];
            q--;
        }
        top[q] = i;
    }
    double dcg = 0, idcg = 0;
    size_t nrel = 0, hits = 0;
    for (size_t i = 0; i < n; i++)
        nrel += rel[i] != 0;
    for (size_t r = 0; r < nt; r++) {
        if (rel[top[r]]) {
            hits++;
            dcg += 1.0 / log2((double)r + 2);
        }
    }
    for (size_t r = 0; r < 10 && r < nrel; r++)
        idcg += 1.0 / log2((double)r + 2);
    *p10 = (double)hits / 10.0;
    *ndcg = idcg > 0 ? dcg / idcg : 0;
    *hit = hits > 0;
}

/* Record one reader's (user's) ranking in out: P@10, nDCG@10, AUC and
 * HitRate@10 into its per-unit row (room must exist) and the running sums. */
static void add_unit(struct tb_eval_metrics *out, const float *sc, const int *rel, size_t n)
{
    double p10, nd, hit;
    top10(sc, rel, n, &p10, &nd, &hit);
    double *u = out->unit + out->n * 4;
    u[0] = p10;
    u[1] = nd;
    u[2] = tb_eval_auc(sc, rel, n);
    u[3] = hit;
    out->p10 += p10;
    out->ndcg10 += nd;
    out->hit10 += hit;
    out->auc += u[2];
    out->n++;
}

/* Turn the running sums into means and record the elapsed time. */
static void finish_means(struct tb_eval_metrics *out, double t0)
{
    if (out->n) {
        out->p10 /= (double)out->n;
        out->ndcg10 /= (double)out->n;
        out->hit10 /= (double)out->n;
        out->auc /= (double)out->n;
    }
    out->ms = (tb_mono() - t0) * 1000;
}

/* Score candidates cand (nc x dim) for a history; pos/neg are row lists. */
struct history {
    const float *x;       /* item matrix */
    size_t dim;
    const size_t *pos;    /* rows of positives, oldest first */
    size_t npos;
    const size_t *neg;
    size_t nneg;
    const double *pop;    /* popularity per item row (protocol 2) */
    const float *mean;    /* the collection's mean vector (the ranker's centre) */
};

/* The mean of n rows: the collection's centre, as a catalogue index keeps
 * it. Owned by the caller. */
static float *collection_mean(const float *x, size_t n, size_t dim)
{
    double *acc = tb_calloc(dim, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++)
            acc[j] += x[i * dim + j];
    float *mu = tb_malloc(dim * sizeof(float));
    for (size_t j = 0; j < dim; j++)
        mu[j] = n ? (float)(acc[j] / (double)n) : 0.0f;
    free(acc);
    return mu;
}

static int score_history(const struct history *h, const struct tb_eval_method *m,
                         const size_t *cand, size_t nc, float *cbuf, float *scores, tb_rng *rng,
                         tb_err *err)
{
    size_t dim = h->dim;
    if (m->kind == TB_EVAL_RANDOM) {
        for (size_t i = 0; i < nc; i++)
            scores[i] = (float)tb_rng_uniform(rng);
        return 0;
    }
    if (m->kind == TB_EVAL_POPULARITY) {
        if (!h->pop)
            return tb_err_set(err, TB_EUNSUPPORTED, "popularity needs rating data");
        for (size_t i = 0; i < nc; i++)
            scores[i] = (float)h->pop[cand[i]] + (float)(1e-6 * tb_rng_uniform(rng));
        return 0;
    }
    struct tb_rank_opts o = m->rank;
    o.center_vec = h->mean;
    size_t nev = h->npos + (m->kind == TB_EVAL_KMEANS10 ? 0 : h->nneg);
    struct tb_profile_event *ev = tb_malloc((nev ? nev : 1) * sizeof *ev);
    size_t e = 0;
    /* One event a day, in history order; dislikes interleaved after. */
    for (size_t i = 0; i < h->npos; i++, e++)
        ev[e] = (struct tb_profile_event){(int64_t)e + 1, (int64_t)h->pos[i] + 1, TB_EV_READ,
                                          1600000000 + (int64_t)e * 86400, h->x + h->pos[i] * dim};
    if (m->kind != TB_EVAL_KMEANS10)
        for (size_t i = 0; i < h->nneg; i++, e++)
            ev[e] = (struct tb_profile_event){(int64_t)e + 1, (int64_t)h->neg[i] + 1,
                                              TB_EV_DISLIKE, 1600000000 + (int64_t)e * 86400,
                                              h->x + h->neg[i] * dim};
    if (m->kind == TB_EVAL_KMEANS10) {
        o.method = TB_RANK_CENTROID;
        o.profile.k = 10;
        o.profile.half_life_days = 0;
        o.neg_weight = 0;
        o.weak_weight = 0;
        o.center = false; /* the rule as the reference service applies it */
    }
    o.profile.seed = tb_rng_next(rng);
    tb_profile *p = tb_profile_build(dim, ev, nev, &o.profile, err);
    free(ev);
    if (!p)
        return -1;
    for (size_t i = 0; i < nc; i++)
        memcpy(cbuf + i * dim, h->x + cand[i] * dim, dim * sizeof(float));
    int rc = 0;
    if (p->k == 0) {
        for (size_t i = 0; i < nc; i++)
            scores[i] = (float)tb_rng_uniform(rng);
    } else {
        rc = tb_rank_scores(p, cbuf, nc, dim, &o, scores, err);
    }
    tb_profile_free(p);
    return rc;
}

int tb_eval_readers(const float *x, const int *label, size_t n, size_t dim,
                    const struct tb_eval_readers_opts *o, const struct tb_eval_method *m,
                    struct tb_eval_metrics *out, tb_err *err)
{
    struct tb_eval_readers_opts d = {300, 30, 300, 3, 1};
    if (!o)
        o = &d;
    size_t R = o->readers ? o->readers : 300, reads = o->reads ? o->reads : 30,
           pool = o->pool ? o->pool : 300, maxt = o->max_topics ? o->max_topics : 3;
    memset(out, 0, sizeof *out);
    double t0 = tb_mono();
    int nl = 0;
    for (size_t i = 0; i < n; i++)
        if (label[i] + 1 > nl)
            nl = label[i] + 1;
    if (nl < 2 || n < reads + pool)
        return tb_err_set(err, TB_EINVAL,
                          "readers: need at least 2 labels and %zu items (have %d, %zu)",
                          reads + pool, nl, n);
    if (maxt >= (size_t)nl)
        maxt = (size_t)nl - 1;
    size_t *perm = tb_malloc(n * sizeof(size_t));
    size_t *hist = tb_malloc(reads * sizeof(size_t));
    size_t *cand = tb_malloc(pool * sizeof(size_t));
    int *rel = tb_malloc(pool * sizeof(int));
    float *sc = tb_malloc(pool * sizeof(float));
    float *cbuf = tb_malloc(pool * dim * sizeof(float));
    bool *liked = tb_malloc((size_t)nl * sizeof(bool));
    float *mean = collection_mean(x, n, dim);
    out->unit = tb_malloc(R * 4 * sizeof(double));
    tb_rng rng, mrng;
    tb_rng_seed(&rng, o->seed);          /* the readers: same for every method */
    tb_rng_seed(&mrng, o->seed ^ 0x55);  /* the method's own randomness */
    int rc = 0;
    for (size_t r = 0; r < R && rc == 0; r++) {
        size_t nt = 1 + (size_t)tb_rng_below(&rng, maxt);
        memset(liked, 0, (size_t)nl * sizeof(bool));
        for (size_t t = 0; t < nt;) {
            int l = (int)tb_rng_below(&rng, (uint64_t)nl);
            if (!liked[l]) {
                liked[l] = true;
                t++;
            }
        }
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        tb_rng_shuffle(&rng, perm, n);
        /* History: the first `reads` items of liked topics in a random
         * order; pool: the next `pool` items of any topic. */
        size_t nh = 0, np = 0;
        for (size_t i = 0; i < n && (nh < reads || np < pool); i++) {
            size_t it = perm[i];
            if (nh < reads && liked[label[it]])
                hist[nh++] = it;
            else if (np < pool) {
                cand[np] = it;
                rel[np] = liked[label[it]];
                np++;
            }
        }
        struct history h = {x, dim, hist, nh, NULL, 0, NULL, mean};
        rc = score_history(&h, m, cand, np, cbuf, sc, &mrng, err);
        if (rc == 0)
            add_unit(out, sc, rel, np);
    }
    finish_means(out, t0);
    free(perm);
    free(hist);
    free(cand);
    free(rel);
    free(sc);
    free(cbuf);
    free(liked);
    free(mean);
    return rc;
}

static int cmp_rating(const void *a, const void *b)
{
    const struct tb_rating *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

int tb_eval_ratings(const float *x, size_t nitems, size_t dim, const struct tb_rating *r0,
                    size_t nr, const struct tb_eval_ratings_opts *o,
                    const struct tb_eval_method *m, struct tb_eval_metrics *out, tb_err *err)
{
    struct tb_eval_ratings_opts d = {4, 2, 5, 10, 0, 1};
    if (!o)
        o = &d;
    memset(out, 0, sizeof *out);
    double t0 = tb_mono();
    size_t hide = o->hide ? o->hide : 5;
    for (size_t i = 0; i < nr; i++)
        if (r0[i].item < 0 || (size_t)r0[i].item >= nitems)
            return tb_err_set(err, TB_EINVAL, "ratings: item index %d out of range",
                              r0[i].item);
    struct tb_rating *r = tb_malloc((nr ? nr : 1) * sizeof *r);
    memcpy(r, r0, nr * sizeof *r);
    qsort(r, nr, sizeof *r, cmp_rating);
    /* Popularity = likes in everybody's training part. First mark the
     * hidden ratings (each user's last `hide` likes). */
    bool *hidden = tb_calloc(nr ? nr : 1, sizeof(bool));
    double *pop = tb_calloc(nitems, sizeof(double));
    for (size_t a = 0; a < nr;) {
        size_t b = a;
        while (b < nr && r[b].user == r[a].user)
            b++;
        size_t h = 0;
        for (size_t i = b; i-- > a && h < hide;)
            if (r[i].rating >= o->like_threshold) {
                hidden[i] = true;
                h++;
            }
        a = b;
    }
    for (size_t i = 0; i < nr; i++)
        if (!hidden[i] && r[i].rating >= o->like_threshold)
            pop[r[i].item] += 1;
    size_t *pos = tb_malloc((nr ? nr : 1) * sizeof(size_t));
    size_t *neg = tb_malloc((nr ? nr : 1) * sizeof(size_t));
    size_t *cand = tb_malloc(nitems * sizeof(size_t));
    int *rel = tb_malloc(nitems * sizeof(int));
    float *sc = tb_malloc(nitems * sizeof(float));
    float *cbuf = tb_malloc(nitems * dim * sizeof(float));
    uint8_t *state = tb_malloc(nitems); /* 0 unseen, 1 train, 2 hidden */
    float *mean = collection_mean(x, nitems, dim);
    size_t cap = 64;
    out->unit = tb_malloc(cap * 4 * sizeof(double));
    tb_rng mrng;
    tb_rng_seed(&mrng, o->seed ^ 0x55);
    int rc = 0;
    size_t users = 0;
    for (size_t a = 0; a < nr && rc == 0;) {
        size_t b = a;
        while (b < nr && r[b].user == r[a].user)
            b++;
        size_t np = 0, nn = 0, nh = 0;
        memset(state, 0, nitems);
        for (size_t i = a; i < b; i++) {
            if (hidden[i]) {
                state[r[i].item] = 2;
                nh++;
            } else {
                state[r[i].item] = 1;
                if (r[i].rating >= o->like_threshold)
                    pos[np++] = (size_t)r[i].item;
                else if (r[i].rating <= o->dislike_below)
                    neg[nn++] = (size_t)r[i].item;
            }
        }
        a = b;
        if (nh == 0 || np < (o->min_likes ? o->min_likes : 10))
            continue;
        if (o->max_users && users >= o->max_users)
            break;
        users++;
        size_t nc = 0;
        for (size_t i = 0; i < nitems; i++)
            if (state[i] != 1) {
                cand[nc] = i;
                rel[nc++] = state[i] == 2;
            }
        struct history h = {x, dim, pos, np, neg, nn, pop, mean};
        rc = score_history(&h, m, cand, nc, cbuf, sc, &mrng, err);
        if (rc == 0) {
            if (out->n == cap) {
                cap *= 2;
                out->unit = tb_realloc(out->unit, cap * 4 * sizeof(double));
            }
            add_unit(out, sc, rel, nc);
        }
    }
    finish_means(out, t0);
    free(r);
    free(hidden);
    free(pop);
    free(pos);
    free(neg);
    free(cand);
    free(rel);
    free(sc);
    free(cbuf);
    free(state);
    free(mean);
    return rc;
}

int tb_eval_judgements(const float *vecs, size_t dim, const struct tb_judgements *j,
                       uint64_t seed, const struct tb_eval_method *m,
                       struct tb_eval_metrics *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < j->n; i++) {
        bool ok = j->target[i] < j->nvecs && j->like_off[i] <= j->like_off[i + 1] &&
                  j->dis_off[i] <= j->dis_off[i + 1];
        for (size_t q = j->like_off[i]; ok && q < j->like_off[i + 1]; q++)
            ok = j->like[q] < j->nvecs;
        for (size_t q = j->dis_off[i]; ok && q < j->dis_off[i + 1]; q++)
            ok = j->dis[q] < j->nvecs;
        if (!ok)
            return tb_err_set(err, TB_EINVAL, "judgements: row %zu refers to a missing vector", i);
    }
    double t0 = tb_mono();
    float *sc = tb_malloc((j->n ? j->n : 1) * sizeof(float));
    int *lab = tb_malloc((j->n ? j->n : 1) * sizeof(int));
    float *cbuf = tb_malloc(dim * sizeof(float));
    float *mean = collection_mean(vecs, j->nvecs, dim);
    tb_rng mrng;
    tb_rng_seed(&mrng, seed ^ 0x55);
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        size_t np = j->like_off[i + 1] - j->like_off[i];
        if (np == 0)
            continue;
        struct history h = {vecs, dim, j->like + j->like_off[i], np, j->dis + j->dis_off[i],
                            j->dis_off[i + 1] - j->dis_off[i], NULL, mean};
        if (m->kind == TB_EVAL_POPULARITY)
            continue;
        rc = score_history(&h, m, &j->target[i], 1, cbuf, &sc[k], &mrng, err);
        lab[k++] = j->label[i] != 0;
    }
    if (rc == 0 && k) {
        out->auc = tb_eval_auc(sc, lab, k);
        out->n = k;
        out->jscore = sc;
        out->jlabel = lab;
        sc = NULL;
        lab = NULL;
    }
    out->ms = (tb_mono() - t0) * 1000;
    free(sc);
    free(lab);
    free(cbuf);
    free(mean);
    return rc;
}

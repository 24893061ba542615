/*
 * select.c -- from scores to the list a user sees: filter, explore,
 * diversify, explain.
 *
 *   1. filter   keep the best round(filter_ratio * n) candidates by score
 *               (partial selection: quickselect, no full sort of n)
 *   2. explore  add round(explore_ratio * n) random others, drawn from the
 *               rest with a seeded generator, so a user still meets topics
 *               the profile does not know (serendipity) and the profile can
 *               learn them
 *   3. limit    with a limit L, the explore share of L is kept in the same
 *               proportion, the rest are the top-scored
 *   4. MMR      with diversity = lambda > 0, the top items are picked
 *               greedily by (1 - lambda) * score - lambda * max cos to the
 *               items already picked (Maximal Marginal Relevance), from a
 *               pool of the best max(4 x wanted, 256)
 *   5. order    by score, exploration picks spread evenly through the list;
 *               or, with keep_order (feeds), in input order
 *   6. explain  each item gets its closest cluster and read item
 *
 * Large catalogues (retrieve, then re-rank). The KDE, KNN and HYBRID
 * scores compare every candidate with every read item, n x reads dot
 * products; for 100,000 items and 1,000 reads that is about 0.4 s. Two
 * ways around it, both scoring all candidates cheaply, then only the best
 * R exactly with the chosen method (they rank above the rest, which keep
 * their coarse order):
 *   - with an index (o->index, index.c) and a limit: the coarse score comes
 *     from the int8 rows, R = max(TB_TWO_STAGE_MIN, 5 x limit), or
 *     o->rescore (at least 4 x limit) when set;
 *   - without one, when n x reads exceeds TB_RERANK_BUDGET: the coarse
 *     score is the float nearest-centroid score, R = budget/reads (at
 *     least 4 x limit).
 * Feeds (hundreds of items) never take either path.
 *
 * Ties in score are broken by input position, so the output depends only
 * on the inputs and the seed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

#define TB_RERANK_BUDGET 5e6
/* With an index and a limit, at least this many rows are re-scored exactly. */
#define TB_TWO_STAGE_MIN 500

/* Is a before b in rank order? Higher score first, then lower index. */
static inline bool before(const float *s, size_t a, size_t b)
{
    return s[a] > s[b] || (s[a] == s[b] && a < b);
}

/* Rearrange idx[0..n) so that its first m entries are the m best (in any
 * order): Hoare-style quickselect with median-of-three pivots. */
static void select_top(size_t *idx, size_t n, size_t m, const float *s)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1 && m > lo && m < hi) {
        size_t mid = lo + (hi - lo) / 2, a = idx[lo], b = idx[mid], c = idx[hi - 1];
        size_t piv = before(s, a, b) ? (before(s, b, c) ? b : (before(s, a, c) ? c : a))
                                     : (before(s, a, c) ? a : (before(s, b, c) ? c : b));
        /* Three-way partition: [lo, lt) before pivot, [lt, gt) == pivot, rest after. */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (idx[i] == piv) {
                i++;
            } else if (before(s, idx[i], piv)) {
                size_t t = idx[lt];
                idx[lt++] = idx[i];
                idx[i++] = t;
            } else {
                size_t t = idx[--gt];
                idx[gt] = idx[i];
                idx[i] = t;
            }
        }
        if (m <= lt)
            hi = lt;
        else if (m >= gt)
            lo = gt;
        else
            return;
    }
}

/* Sort idx[0..n) by rank order; tmp has room for n. */
static void sort_by_rank(size_t *idx, size_t n, const float *s, size_t *tmp)
{
    /* Bottom-up merge sort: O(n log n), no global state (qsort has no
     * context argument in C11), so tb_rank is safe from many threads. */
    size_t *a = idx, *b = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = before(s, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        size_t *t = a;
        a = b;
        b = t;
    }
    if (a != idx)
        memcpy(idx, a, n * sizeof *idx);
}

static int cmp_index(const void *pa, const void *pb)
{
    const struct tb_ranked *a = pa, *b = pb;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* MMR: choose want items from pool (sorted by score) into out. */
static void mmr(const float *cand, size_t dim, const float *s, const size_t *pool, size_t np,
                size_t want, double lambda, size_t *out)
{
    float *maxsim = tb_malloc(np * sizeof(float));
    bool *used = tb_calloc(np, sizeof(bool));
    for (size_t i = 0; i < np; i++)
        maxsim[i] = -1.0f;
    for (size_t t = 0; t < want; t++) {
        size_t best = np;
        double bv = -INFINITY;
        for (size_t i = 0; i < np; i++) {
            if (used[i])
                continue;
            double v = (1.0 - lambda) * s[pool[i]] - lambda * (t ? maxsim[i] : 0.0f);
            if (v > bv) {
                bv = v;
                best = i;
            }
        }
        used[best] = true;
        out[t] = pool[best];
        const float *xb = cand + pool[best] * dim;
        for (size_t i = 0; i < np; i++)
            if (!used[i]) {
                float c = tb_dot(cand + pool[i] * dim, xb, dim);
                if (c > maxsim[i])
                    maxsim[i] = c;
            }
    }
    free(maxsim);
    free(used);
}

static size_t ratio_count(double r, size_t n)
{
    if (!(r > 0))
        return 0;
    double c = floor(r * (double)n + 0.5);
    return c >= (double)n ? n : (size_t)c;
}

long tb_rank(const tb_profile *p, const float *cand, size_t n, size_t dim,
             const struct tb_rank_opts *o, struct tb_ranked *out, tb_err *err)
{
    struct tb_rank_opts def;
    if (!o) {
        tb_rank_opts_default(&def);
        o = &def;
    }
    if (n > 0 && (!cand || !out))
        return tb_err_set(err, TB_EINVAL, "rank: NULL candidates or output");
    if (!(o->filter_ratio >= 0 && o->filter_ratio <= 1) ||
        !(o->explore_ratio >= 0 && o->explore_ratio <= 1) ||
        !(o->diversity >= 0 && o->diversity <= 1))
        return tb_err_set(err, TB_EINVAL,
                          "rank: filter_ratio, explore_ratio and diversity must be in [0, 1]");
    size_t lim = o->limit ? o->limit : n;

    /* Cold start: the input, unchanged. */
    if (!p || p->pos.n < o->min_reads || p->k == 0 || n == 0) {
        size_t m = 0;
        for (size_t i = 0; i < n && m < lim; i++)
            if (!o->exclude || !o->exclude[i])
                out[m++] = (struct tb_ranked){.index = i, .why = TB_WHY_COLD, .cluster = -1};
        return (long)m;
    }
    if (dim != p->dim)
        return tb_err_set(err, TB_EINVAL, "rank: candidates have dimension %zu, profile %zu",
                          dim, p->dim);

    if (o->index && (tb_rank_index_n(o->index) != n || tb_rank_index_dim(o->index) != dim))
        return tb_err_set(err, TB_EINVAL,
                          "rank: the index has %zu x %zu rows, the candidates %zu x %zu",
                          tb_rank_index_n(o->index), tb_rank_index_dim(o->index), n, dim);

    float *s = tb_malloc(n * sizeof(float));
    size_t *idx = tb_malloc(n * sizeof(size_t));
    /* The eligible rows (all but o->exclude'd ones), ne of them: scoring
     * covers every row, selection only these. */
    size_t ne = 0;
    for (size_t i = 0; i < n; i++)
        if (!o->exclude || !o->exclude[i])
            idx[ne++] = i;
    int method = o->method == TB_RANK_DEFAULT ? TB_RANK_BEST : o->method;
    bool *shifted = NULL;
    float shift = 0;
    /* One centre for every stage (the re-scored subset alone would give
     * another): the index's catalogue mean, else the candidates'. */
    struct tb_rank_opts oo = *o;
    float *mu = NULL;
    if (o->center && !o->center_vec) {
        mu = tb_malloc(dim * sizeof(float));
        if (o->index)
            memcpy(mu, tb_rank_index_mean(o->index), dim * sizeof(float));
        else
            tb_rank_center(p, cand, n, dim, o, mu);
        oo.center_vec = mu;
    }
    o = &oo;
    bool per_item = method == TB_RANK_KNN || method == TB_RANK_HYBRID || method == TB_RANK_KDE;
    size_t R = 0;
    if (o->index && o->limit) {
        /* Two-stage from the index: coarse over all, exact over the best R. */
        R = TB_TWO_STAGE_MIN > 5 * o->limit ? TB_TWO_STAGE_MIN : 5 * o->limit;
        if (o->rescore)
            R = o->rescore > 4 * o->limit ? o->rescore : 4 * o->limit;
    } else if (per_item && (double)n * (double)p->pos.n > TB_RERANK_BUDGET) {
        R = (size_t)(TB_RERANK_BUDGET / (double)p->pos.n);
        if (o->limit && R < 4 * o->limit)
            R = 4 * o->limit;
    }
    if (R > 0 && R < ne) {
        struct tb_scorer sc;
        if (tb_scorer_init(&sc, p, o, -1, o->center ? o->center_vec : NULL, err) < 0) {
            free(s);
            free(idx);
            free(mu);
            return -1;
        }
        if (o->index) {
            tb_rank_index_coarse(o->index, &sc, s);
        } else {
            struct tb_rank_opts oc = *o;
            oc.method = TB_RANK_CENTROID;
            tb_rank_scores(p, cand, n, dim, &oc, s, NULL); /* cannot fail: sc was built */
        }
        select_top(idx, ne, R, s);
        /* Exact scores of the best R, gathered block by block. */
        enum { GB = 256 };
        float *sub = tb_malloc(GB * dim * sizeof(float)), *s2 = tb_malloc(R * sizeof(float));
        float *scratch = tb_malloc(tb_scorer_scratch(&sc, GB) * sizeof(float));
        for (size_t b0 = 0; b0 < R; b0 += GB) {
            size_t rows = R - b0 < GB ? R - b0 : GB;
            for (size_t i = 0; i < rows; i++)
                memcpy(sub + i * dim, cand + idx[b0 + i] * dim, dim * sizeof(float));
            tb_scorer_block(&sc, sub, rows, s2 + b0, scratch);
        }
        free(scratch);
        free(sub);
        tb_scorer_free(&sc);
        /* Lift the re-scored set above everything else; remember the lift
         * so reported scores stay the method's own. */
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < R; i++)
            lo = s2[i] < lo ? s2[i] : lo;
        for (size_t i = R; i < ne; i++)
            hi = s[idx[i]] > hi ? s[idx[i]] : hi;
        shift = hi >= lo ? hi - lo + 1.0f : 0.0f;
        shifted = tb_calloc(n, sizeof(bool));
        for (size_t i = 0; i < R; i++) {
            s[idx[i]] = s2[i] + shift;
            shifted[idx[i]] = true;
        }
        free(s2);
    } else if (tb_rank_scores(p, cand, n, dim, o, s, err) < 0) {
        free(s);
        free(idx);
        free(mu);
        return -1;
    }
    size_t nkeep = ratio_count(o->filter_ratio, ne);
    size_t nexp = ratio_count(o->explore_ratio, ne);
    if (nexp > ne - nkeep)
        nexp = ne - nkeep;
    select_top(idx, ne, nkeep, s);

    /* Exploration picks: a seeded partial Fisher-Yates over the rest. */
    tb_rng rng;
    tb_rng_seed(&rng, o->seed ^ 0x6578706c6f7265ull);
    size_t *rest = idx + nkeep, nrest = ne - nkeep;
    for (size_t j = 0; j < nexp; j++) {
        size_t r = j + (size_t)tb_rng_below(&rng, nrest - j);
        size_t t = rest[j];
        rest[j] = rest[r];
        rest[r] = t;
    }

    /* With a limit, keep the explore share in proportion. */
    size_t okeep = nkeep, oexp = nexp;
    if (nkeep + nexp > lim) {
        oexp = (size_t)floor((double)lim * (double)nexp / (double)(nkeep + nexp) + 0.5);
        if (oexp > nexp)
            oexp = nexp;
        okeep = lim - oexp;
        if (okeep > nkeep) {
            okeep = nkeep;
            oexp = lim - okeep;
        }
    }

    size_t *tmp = tb_malloc((nkeep > 1 ? nkeep : 1) * sizeof(size_t));
    size_t *kept = tb_malloc((okeep > 1 ? okeep : 1) * sizeof(size_t));
    if (o->diversity > 0 && okeep > 0) {
        size_t np = okeep * 4 > 256 ? okeep * 4 : 256;
        if (np > nkeep)
            np = nkeep;
        select_top(idx, nkeep, np, s);
        sort_by_rank(idx, np, s, tmp);
        mmr(cand, dim, s, idx, np, okeep, o->diversity, kept);
    } else {
        select_top(idx, nkeep, okeep, s);
        sort_by_rank(idx, okeep, s, tmp);
        memcpy(kept, idx, okeep * sizeof(size_t));
    }

    /* Merge: exploration pick j goes after position (j+1)*total/(oexp+1). */
    size_t total = okeep + oexp, ki = 0, ei = 0;
    for (size_t pos = 0; pos < total; pos++) {
        bool take_exp = ei < oexp && (ki >= okeep || pos + 1 >= (ei + 1) * total / (oexp + 1));
        struct tb_ranked *r = &out[pos];
        size_t i = take_exp ? rest[ei++] : kept[ki++];
        r->index = i;
        r->score = shifted && shifted[i] ? s[i] - shift : s[i];
        r->why = take_exp ? TB_WHY_EXPLORE : TB_WHY_SIMILAR;
        tb_rank_explain_one(p, cand + i * dim, r);
    }
    if (o->keep_order)
        qsort(out, total, sizeof *out, cmp_index);
    free(tmp);
    free(kept);
    free(idx);
    free(s);
    free(shifted);
    free(mu);
    return (long)total;
}

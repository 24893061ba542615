/*
 * rank.c -- how close is a candidate to a user's interests?
 *
 * Every method starts from cosines. The candidate matrix is processed in
 * blocks of TB_RANK_BLOCK rows and each block is multiplied with the
 * profile's matrices by cblas_sgemm: candidates x read items, candidates x
 * centroids, candidates x negatives. That turns ranking a million items
 * into a few large matrix products; the scratch for one block is allocated
 * once per call, never in the loop.
 *
 * Centring. Averaged word vectors (and, less so, transformer embeddings)
 * share a large common component: every text is close to the mean text, all
 * cosines are high, and the little that distinguishes topics drowns in it
 * (the "hubness" of the space). Subtracting the collection's mean mu from
 * both sides before the cosine removes that component; on the evaluation
 * corpora it is the biggest single gain (docs/EVALUATION.md). It costs
 * almost nothing: the profile's vectors r are centred and renormalised once
 * (r' = (r - mu)/|r - mu|), and for a unit candidate x
 *     cos(x - mu, r') = (x.r' - mu.r') / sqrt(1 - 2 x.mu + |mu|^2)
 * so the candidates are never copied: one extra dot product per candidate
 * (x.mu) and one multiply-add per product. The centre is the collection's
 * mean when the caller knows it (o->center_vec: the catalogue index keeps
 * one), else the candidates' own mean (a feed of a few dozen items is a fair
 * sample of what the user is offered), with the profile's items added when
 * there are very few candidates.
 *
 * Methods (docs/RECOMMENDER.md, compared in docs/EVALUATION.md):
 *   KDE       tau * ln sum_i w_i exp(cos(x, r_i)/tau)  over the read items r_i
 *             with normalised recency weights w_i -- the default. A kernel
 *             density estimate of the user's reading: tau -> 0 gives the
 *             nearest read item, large tau the mean cosine; in between it
 *             rewards items near many reads without needing clusters.
 *   CENTROID  max_c cos(x, c)                     -- the reference rule
 *   WEIGHTED  tau * ln sum_c w_c exp(cos(x,c)/tau)   (tau = 0.05)
 *             the same soft maximum over the clusters instead of the items
 *   KNN       mean of the knn (3) largest cos(x, read item)
 *   HYBRID    (CENTROID + KNN) / 2
 * Penalty: for the disliked items N and weak negatives W,
 *   score -= neg_weight  * max(0, max_n cos(x,n) - interest)
 *          + weak_weight * max(0, max_w cos(x,w) - interest)
 * i.e. an item is demoted only when it is closer to something the user
 * rejected than to their interests.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"

#define TB_RANK_BLOCK 1024
#define TB_WEIGHTED_TAU 0.05f

static const char *const method_names[TB_RANK__COUNT] = {"default", "centroid", "weighted",
                                                         "knn",     "hybrid",   "kde"};

int tb_rank_method_parse(const char *s)
{
    for (int i = 0; s && i < TB_RANK__COUNT; i++)
        if (strcmp(s, method_names[i]) == 0)
            return i;
    return -1;
}

const char *tb_rank_method_name(int method)
{
    if (method == TB_RANK_DEFAULT)
        method = TB_RANK_BEST;
    return method > 0 && method < TB_RANK__COUNT ? method_names[method] : "?";
}

void tb_rank_opts_default(struct tb_rank_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = TB_RANK_DEFAULT;
    o->filter_ratio = 0.5;
    o->explore_ratio = 0.1;
    o->diversity = 0;
    o->neg_weight = 0.5;
    o->weak_weight = 0.15;
    o->knn = 3;
    o->kde_tau = TB_KDE_TAU;
    o->center = true;
    o->min_reads = 10;
    o->profile.half_life_days = 30;
    o->profile.max_items = 2000;
    o->profile.weak_shown = 3;
}

void tb_rank_opts_from_config(struct tb_rank_opts *o, const tb_config *c)
{
    tb_rank_opts_default(o);
    if (!c)
        return;
    o->profile.half_life_days = tb_config_double(c, "half_life_days", 30);
    o->filter_ratio = tb_config_double(c, "filter_ratio", 0.5);
    o->explore_ratio = tb_config_double(c, "explore_ratio", 0.1);
    o->diversity = tb_config_double(c, "diversity", 0);
    int64_t mr = tb_config_int(c, "min_reads", 10);
    o->min_reads = mr < 0 ? 0 : (size_t)mr;
    o->seed = (uint64_t)tb_config_int(c, "seed", 0);
    const char *m = tb_config_get(c, "rank_method");
    if (m && tb_rank_method_parse(m) >= 0)
        o->method = tb_rank_method_parse(m);
}

/* e^x for x <= 0 (larger x is clamped to 0), relative error < 2e-7:
 * 2^(x log2 e) split into a rounded integer part (the exponent bits) and a
 * fraction in [-0.5, 0.5] (a degree-6 Taylor polynomial). Branch-free and
 * libm-free so the KDE loop vectorises; expf would cost more than the
 * dot products it follows. */
static inline float exp_neg(float x)
{
    x = x < -87.0f ? -87.0f : x > 0.0f ? 0.0f : x;
    float t = x * 1.44269504f;
    float r = (t + 12582912.0f) - 12582912.0f; /* round to nearest */
    float f = (t - r) * 0.693147181f;
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (0.166666667f +
              f * (0.0416666667f + f * (0.00833333333f + f * 0.00138888889f)))));
    union {
        int32_t i;
        float f;
    } u = {((int32_t)r + 127) * (1 << 23)};
    return p * u.f;
}

/* Largest value of each row of a (rows x cols). */
static void row_max(const float *a, size_t rows, size_t cols, float *out)
{
    for (size_t i = 0; i < rows; i++) {
        const float *r = a + i * cols;
        float m = -2.0f;
        for (size_t j = 0; j < cols; j++)
            m = r[j] > m ? r[j] : m;
        out[i] = m;
    }
}

/* tau * ln sum_j exp(r[j]/tau + lw[j]) for each row: a soft maximum,
 * shifted by the row's maximum for stability. */
static void row_softmax(const float *a, size_t rows, size_t cols, const float *lw, float tau,
                        float *out)
{
    float it = 1.0f / tau;
    for (size_t i = 0; i < rows; i++) {
        const float *r = a + i * cols;
        float m = -1e30f;
        for (size_t j = 0; j < cols; j++) {
            float v = r[j] * it + lw[j];
            m = v > m ? v : m;
        }
        float s = 0;
        for (size_t j = 0; j < cols; j++)
            s += exp_neg(r[j] * it + lw[j] - m);
        out[i] = tau * (m + logf(s));
    }
}

/* Mean of the m largest entries of r (len n), by partial insertion into a
 * small sorted buffer (m is small, typically 3). */
static float top_mean(const float *r, size_t n, size_t m, float *buf)
{
    if (m > n)
        m = n;
    size_t have = 0;
    for (size_t j = 0; j < n; j++) {
        float v = r[j];
        if (have < m) {
            size_t q = have++;
            while (q > 0 && buf[q - 1] < v) {
                buf[q] = buf[q - 1];
                q--;
            }
            buf[q] = v;
        } else if (v > buf[m - 1]) {
            size_t q = m - 1;
            while (q > 0 && buf[q - 1] < v) {
                buf[q] = buf[q - 1];
                q--;
            }
            buf[q] = v;
        }
    }
    float s = 0;
    for (size_t q = 0; q < have; q++)
        s += buf[q];
    return have ? s / (float)have : 0;
}

static void gemm(const float *x, size_t rows, const float *m, size_t cols, size_t dim, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)dim, 1.0f, x,
                (int)dim, m, (int)dim, 0.0f, out, (int)cols);
}

void tb_rank_center(const tb_profile *p, const float *cand, size_t n, size_t dim,
                    const struct tb_rank_opts *o, float *mu)
{
    if (o && o->center_vec) {
        memcpy(mu, o->center_vec, dim * sizeof(float));
        return;
    }
    memset(mu, 0, dim * sizeof(float));
    double cnt = 0;
    for (size_t i = 0; i < n; i++, cnt++)
        for (size_t j = 0; j < dim; j++)
            mu[j] += cand[i * dim + j];
    if (n < TB_CENTER_MIN && p) {
        for (size_t i = 0; i < p->pos.n; i++, cnt++)
            for (size_t j = 0; j < dim; j++)
                mu[j] += p->pos.vec[i * dim + j];
        for (size_t i = 0; i < p->neg.n; i++, cnt++)
            for (size_t j = 0; j < dim; j++)
                mu[j] += p->neg.vec[i * dim + j];
    }
    if (cnt > 0)
        for (size_t j = 0; j < dim; j++)
            mu[j] = (float)(mu[j] / cnt);
}

/* Copy n unit rows into a new matrix, centred on mu and renormalised when
 * mu is given; *dots gets mu . row. */
static float *prep(const float *src, size_t n, size_t dim, const float *mu, float **dots)
{
    float *m = tb_malloc((n ? n : 1) * dim * sizeof(float));
    *dots = tb_calloc(n ? n : 1, sizeof(float));
    if (n)
        memcpy(m, src, n * dim * sizeof(float));
    if (!mu)
        return m;
    for (size_t i = 0; i < n; i++) {
        float *r = m + i * dim;
        for (size_t j = 0; j < dim; j++)
            r[j] -= mu[j];
        tb_l2_normalize(r, dim);
        (*dots)[i] = tb_dot(r, mu, dim);
    }
    return m;
}

int tb_scorer_init(struct tb_scorer *s, const tb_profile *p, const struct tb_rank_opts *o,
                   int method, const float *mu, tb_err *err)
{
    memset(s, 0, sizeof *s);
    if (method < 0)
        method = o->method;
    if (method == TB_RANK_DEFAULT)
        method = TB_RANK_BEST;
    if (method <= 0 || method >= TB_RANK__COUNT)
        return tb_err_set(err, TB_EINVAL, "rank: unknown method %d", method);
    if (!p || p->k == 0)
        return tb_err_set(err, TB_EINVAL, "rank: profile has no interest clusters");
    size_t dim = p->dim;
    s->dim = dim;
    s->method = method;
    s->knn = o->knn ? o->knn : 3;
    if (s->knn > 64)
        s->knn = 64;
    s->tau = o->kde_tau > 0 ? (float)o->kde_tau : (float)TB_KDE_TAU;
    s->negw = (float)o->neg_weight;
    s->weakw = (float)o->weak_weight;
    if (mu) {
        s->center = true;
        s->mu = tb_malloc(dim * sizeof(float));
        memcpy(s->mu, mu, dim * sizeof(float));
        s->mu2 = tb_dot(mu, mu, dim);
    }
    s->np = p->pos.n;
    s->P = prep(p->pos.vec, s->np, dim, s->mu, &s->Pmu);
    s->Plw = tb_malloc((s->np ? s->np : 1) * sizeof(float));
    double tot = 0;
    for (size_t i = 0; i < s->np; i++)
        tot += p->pos_w ? p->pos_w[i] : 1.0;
    for (size_t i = 0; i < s->np; i++) {
        double w = (p->pos_w ? p->pos_w[i] : 1.0) / (tot > 0 ? tot : 1.0);
        s->Plw[i] = (float)log(w > 1e-12 ? w : 1e-12);
    }
    s->k = p->k;
    s->C = tb_malloc(s->k * dim * sizeof(float));
    s->Cmu = tb_calloc(s->k, sizeof(float));
    s->Clw = tb_malloc(s->k * sizeof(float));
    s->Q = tb_calloc(s->k * dim, sizeof(float));
    s->Qmu = tb_calloc(s->k, sizeof(float));
    s->Qlw = tb_malloc(s->k * sizeof(float));
    for (size_t c = 0; c < s->k; c++) {
        float *cc = s->C + c * dim;
        s->Clw[c] = logf(p->cent_w[c] > 1e-6f ? p->cent_w[c] : 1e-6f);
        memset(cc, 0, dim * sizeof(float));
        size_t members = 0;
        /* When centring, the centroid is the direction of the members'
         * sum (centring moves each member differently, so the old centroid
         * minus mu is not their centre); not centring, the fitted centroid
         * is kept as it is. The probe Q is the members' weighted mean: the
         * kernel score is nearly linear in the cosines at the usual width,
         * and then sum_i w_i cos(x, r_i) = x . Q (the coarse stage). */
        float *qc = s->Q + c * dim;
        double wsum = 0;
        if (p->pos_cl)
            for (size_t i = 0; i < s->np; i++)
                if (p->pos_cl[i] == (int32_t)c) {
                    members++;
                    float w = p->pos_w ? p->pos_w[i] : 1.0f;
                    wsum += w;
                    for (size_t j = 0; j < dim; j++) {
                        cc[j] += s->P[i * dim + j];
                        qc[j] += w * s->P[i * dim + j];
                    }
                }
        for (size_t j = 0; j < dim && wsum > 0; j++)
            qc[j] = (float)(qc[j] / wsum);
        s->Qlw[c] = (float)log(wsum / (tot > 0 ? tot : 1.0) > 1e-12 ? wsum / (tot > 0 ? tot : 1.0)
                                                                   : 1e-12);
        if (s->mu)
            s->Qmu[c] = tb_dot(qc, s->mu, dim);
        if (!members || !s->mu) {
            memcpy(cc, p->cent + c * dim, dim * sizeof(float));
            if (s->mu)
                for (size_t j = 0; j < dim; j++)
                    cc[j] -= s->mu[j];
        }
        tb_l2_normalize(cc, dim);
        if (s->mu)
            s->Cmu[c] = tb_dot(cc, s->mu, dim);
    }
    s->nn = s->negw > 0 ? p->neg.n : 0;
    s->N = prep(p->neg.vec, s->nn, dim, s->mu, &s->Nmu);
    s->nw = s->weakw > 0 ? p->nweak : 0;
    s->W = prep(p->weak, s->nw, dim, s->mu, &s->Wmu);
    bool use_knn = method == TB_RANK_KNN || method == TB_RANK_HYBRID || method == TB_RANK_KDE;
    s->cols = s->k;
    if (use_knn && s->np > s->cols)
        s->cols = s->np;
    if (s->nn > s->cols)
        s->cols = s->nn;
    if (s->nw > s->cols)
        s->cols = s->nw;
    return 0;
}

void tb_scorer_free(struct tb_scorer *s)
{
    free(s->mu);
    free(s->P);
    free(s->Pmu);
    free(s->Plw);
    free(s->C);
    free(s->Cmu);
    free(s->Clw);
    free(s->Q);
    free(s->Qmu);
    free(s->Qlw);
    free(s->N);
    free(s->Nmu);
    free(s->W);
    free(s->Wmu);
    memset(s, 0, sizeof *s);
}

size_t tb_scorer_scratch(const struct tb_scorer *s, size_t rows)
{
    return rows * s->cols + 3 * rows + 64;
}

/* sim = cosines of the rows of x with the cols rows of m (centred when the
 * scorer centres: the identity in the header comment). */
static void sims(const struct tb_scorer *s, const float *x, size_t rows, const float *m,
                 const float *mdots, size_t cols, const float *inv, float *sim)
{
    gemm(x, rows, m, cols, s->dim, sim);
    if (!s->center)
        return;
    for (size_t i = 0; i < rows; i++) {
        float *r = sim + i * cols, f = inv[i];
        for (size_t j = 0; j < cols; j++)
            r[j] = (r[j] - mdots[j]) * f;
    }
}

void tb_scorer_block(const struct tb_scorer *s, const float *x, size_t rows, float *out,
                     float *scratch)
{
    size_t dim = s->dim;
    float *sim = scratch, *inv = sim + rows * s->cols, *interest = inv + rows,
          *tmp = interest + rows, *topbuf = tmp + rows;
    if (s->center) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)dim, 1.0f, x, (int)dim, s->mu,
                    1, 0.0f, inv, 1);
        for (size_t i = 0; i < rows; i++) {
            float q = 1.0f - 2.0f * inv[i] + s->mu2;
            inv[i] = 1.0f / sqrtf(q > 1e-12f ? q : 1e-12f);
        }
    }
    int method = s->method;
    if (method == TB_RANK_CENTROID || method == TB_RANK_HYBRID || method == TB_RANK_WEIGHTED) {
        sims(s, x, rows, s->C, s->Cmu, s->k, inv, sim);
        if (method == TB_RANK_WEIGHTED)
            row_softmax(sim, rows, s->k, s->Clw, TB_WEIGHTED_TAU, interest);
        else
            row_max(sim, rows, s->k, interest);
    }
    if (method == TB_RANK_KNN || method == TB_RANK_HYBRID) {
        sims(s, x, rows, s->P, s->Pmu, s->np, inv, sim);
        for (size_t i = 0; i < rows; i++) {
            float t = top_mean(sim + i * s->np, s->np, s->knn, topbuf);
            interest[i] = method == TB_RANK_HYBRID ? 0.5f * (interest[i] + t) : t;
        }
    }
    if (method == TB_RANK_KDE) {
        sims(s, x, rows, s->P, s->Pmu, s->np, inv, sim);
        row_softmax(sim, rows, s->np, s->Plw, s->tau, interest);
    }
    for (size_t i = 0; i < rows; i++)
        out[i] = interest[i];
    if (s->nn) {
        sims(s, x, rows, s->N, s->Nmu, s->nn, inv, sim);
        row_max(sim, rows, s->nn, tmp);
        for (size_t i = 0; i < rows; i++)
            if (tmp[i] > interest[i])
                out[i] -= s->negw * (tmp[i] - interest[i]);
    }
    if (s->nw) {
        sims(s, x, rows, s->W, s->Wmu, s->nw, inv, sim);
        row_max(sim, rows, s->nw, tmp);
        for (size_t i = 0; i < rows; i++)
            if (tmp[i] > interest[i])
                out[i] -= s->weakw * (tmp[i] - interest[i]);
    }
}

int tb_rank_scores(const tb_profile *p, const float *cand, size_t n, size_t dim,
                   const struct tb_rank_opts *o, float *scores, tb_err *err)
{
    struct tb_rank_opts def;
    if (!o) {
        tb_rank_opts_default(&def);
        o = &def;
    }
    if (!p || !cand || !scores)
        return tb_err_set(err, TB_EINVAL, "rank: NULL profile, candidates or output");
    if (dim != p->dim)
        return tb_err_set(err, TB_EINVAL, "rank: candidates have dimension %zu, profile %zu",
                          dim, p->dim);
    float *mu = NULL;
    if (o->center) {
        mu = tb_malloc(dim * sizeof(float));
        tb_rank_center(p, cand, n, dim, o, mu);
    }
    struct tb_scorer sc;
    int rc = tb_scorer_init(&sc, p, o, -1, mu, err);
    free(mu);
    if (rc < 0)
        return -1;
    size_t B = TB_RANK_BLOCK;
    float *scratch = tb_malloc(tb_scorer_scratch(&sc, B) * sizeof(float));
    for (size_t b0 = 0; b0 < n; b0 += B) {
        size_t rows = n - b0 < B ? n - b0 : B;
        tb_scorer_block(&sc, cand + b0 * dim, rows, scores + b0, scratch);
    }
    free(scratch);
    tb_scorer_free(&sc);
    return 0;
}

void tb_rank_explain_one(const tb_profile *p, const float *x, struct tb_ranked *r)
{
    r->cluster = -1;
    r->near_item = 0;
    r->sim = 0;
    if (!p || p->k == 0)
        return;
    size_t best = 0;
    float bs = -2;
    for (size_t c = 0; c < p->k; c++) {
        float s = tb_dot(x, p->cent + c * p->dim, p->dim);
        if (s > bs) {
            bs = s;
            best = c;
        }
    }
    r->cluster = (int)best;
    /* The closest read item, looked for in the closest cluster first (the
     * explanation then names an item of the interest it cites); any read
     * item when that cluster is empty. */
    float ns = -2;
    for (int pass = 0; pass < 2 && r->near_item == 0; pass++)
        for (size_t i = 0; i < p->pos.n; i++) {
            if (pass == 0 && p->pos_cl && p->pos_cl[i] != (int32_t)best)
                continue;
            float s = tb_dot(x, p->pos.vec + i * p->dim, p->dim);
            if (s > ns) {
                ns = s;
                r->near_item = p->pos.id[i];
            }
        }
    r->sim = ns > -2 ? ns : 0;
}

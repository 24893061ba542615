/*
 * rank.c -- how close is a candidate to a user's interests?
 *
 * Every method starts from cosines (candidates and profile vectors are unit
 * length). The candidate matrix is processed in blocks of TB_RANK_BLOCK rows
 * and each block is multiplied with the profile's matrices by cblas_sgemm:
 * candidates x centroids (k columns), candidates x read items (KNN), and
 * candidates x negatives. That turns ranking a million items into a few
 * large matrix products; the scratch for one block is allocated once per
 * call, never in the loop.
 *
 * Methods (docs/RECOMMENDER.md, compared in docs/EVALUATION.md):
 *   CENTROID  max_c cos(x, c)                     -- the reference rule
 *   WEIGHTED  tau * ln sum_c w_c exp(cos(x,c)/tau)   (tau = 0.05)
 *             a soft maximum that prefers the user's bigger, fresher
 *             interests: a cluster of weight w costs tau*ln(1/w)
 *   KNN       mean of the knn (3) largest cos(x, read item)   -- the default
 *   HYBRID    (CENTROID + KNN) / 2
 * Penalty: for the disliked items N and weak negatives W,
 *   score -= neg_weight  * max(0, max_n cos(x,n) - interest)
 *          + weak_weight * max(0, max_w cos(x,w) - interest)
 * i.e. an item is demoted only when it is closer to something the user
 * rejected than to their interests. An absolute penalty would also punish
 * every item a little (text embeddings share a common direction, so all
 * cosines are positive), which adds noise without information.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"

#define TB_RANK_BLOCK 1024
#define TB_WEIGHTED_TAU 0.05f

static const char *const method_names[TB_RANK__COUNT] = {"default", "centroid", "weighted",
                                                         "knn", "hybrid"};

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

/* Largest value of each row of a (rows x cols). */
static void row_max(const float *a, size_t rows, size_t cols, float *out)
{
    for (size_t i = 0; i < rows; i++) {
        const float *r = a + i * cols;
        float m = -2.0f;
        for (size_t j = 0; j < cols; j++)
            if (r[j] > m)
                m = r[j];
        out[i] = m;
    }
}

/* Mean of the m largest entries of r (len n), by partial insertion into a
 * small sorted buffer (m is small, typically 5). */
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
    if (p->k == 0)
        return tb_err_set(err, TB_EINVAL, "rank: profile has no interest clusters");
    int method = o->method == TB_RANK_DEFAULT ? TB_RANK_BEST : o->method;
    if (method <= 0 || method >= TB_RANK__COUNT)
        return tb_err_set(err, TB_EINVAL, "rank: unknown method %d", o->method);
    bool use_knn = method == TB_RANK_KNN || method == TB_RANK_HYBRID;
    bool use_cent = method != TB_RANK_KNN;
    size_t knn = o->knn ? o->knn : 3;
    size_t k = p->k, npos = p->pos.n;
    size_t nneg = o->neg_weight > 0 ? p->neg.n : 0;
    size_t nweak = o->weak_weight > 0 ? p->nweak : 0;
    size_t cols = k;
    if (use_knn && npos > cols)
        cols = npos;
    if (nneg > cols)
        cols = nneg;
    if (nweak > cols)
        cols = nweak;
    size_t B = TB_RANK_BLOCK;
    float *sim = tb_malloc(B * cols * sizeof(float));
    float *interest = tb_malloc(B * sizeof(float));
    float *tmp = tb_malloc(B * sizeof(float));
    float topbuf[64];
    if (knn > 64)
        knn = 64;
    float logw[256];
    float *logwp = k <= 256 ? logw : tb_malloc(k * sizeof(float));
    for (size_t c = 0; c < k; c++)
        logwp[c] = logf(p->cent_w[c] > 1e-6f ? p->cent_w[c] : 1e-6f);

    for (size_t b0 = 0; b0 < n; b0 += B) {
        size_t rows = n - b0 < B ? n - b0 : B;
        const float *x = cand + b0 * dim;
        if (use_cent) {
            gemm(x, rows, p->cent, k, dim, sim);
            if (method == TB_RANK_CENTROID || method == TB_RANK_HYBRID) {
                row_max(sim, rows, k, interest);
            } else {
                /* Soft maximum, shifted by the row max for stability. */
                for (size_t i = 0; i < rows; i++) {
                    const float *r = sim + i * k;
                    float m = -1e30f;
                    for (size_t c = 0; c < k; c++)
                        if (r[c] / TB_WEIGHTED_TAU + logwp[c] > m)
                            m = r[c] / TB_WEIGHTED_TAU + logwp[c];
                    float s = 0;
                    for (size_t c = 0; c < k; c++)
                        s += expf(r[c] / TB_WEIGHTED_TAU + logwp[c] - m);
                    interest[i] = TB_WEIGHTED_TAU * (m + logf(s));
                }
            }
        }
        if (use_knn) {
            gemm(x, rows, p->pos.vec, npos, dim, sim);
            for (size_t i = 0; i < rows; i++) {
                float t = top_mean(sim + i * npos, npos, knn, topbuf);
                interest[i] = method == TB_RANK_HYBRID ? 0.5f * (interest[i] + t) : t;
            }
        }
        for (size_t i = 0; i < rows; i++)
            scores[b0 + i] = interest[i];
        if (nneg) {
            gemm(x, rows, p->neg.vec, nneg, dim, sim);
            row_max(sim, rows, nneg, tmp);
            for (size_t i = 0; i < rows; i++)
                if (tmp[i] > interest[i])
                    scores[b0 + i] -= (float)o->neg_weight * (tmp[i] - interest[i]);
        }
        if (nweak) {
            gemm(x, rows, p->weak, nweak, dim, sim);
            row_max(sim, rows, nweak, tmp);
            for (size_t i = 0; i < rows; i++)
                if (tmp[i] > interest[i])
                    scores[b0 + i] -= (float)o->weak_weight * (tmp[i] - interest[i]);
        }
    }
    if (logwp != logw)
        free(logwp);
    free(sim);
    free(interest);
    free(tmp);
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

/*
 * test_eval.c -- the evaluation protocols on synthetic data: the ranker
 * must beat random clearly, metrics must stay in range, runs must repeat.
 */
#include <criterion/criterion.h>

#include "rec/eval.h"
#include "rec_synth.h"

#define EDIM 24

Test(eval, auc_basics)
{
    float s[4] = {0.9f, 0.8f, 0.2f, 0.1f};
    int rel[4] = {1, 1, 0, 0};
    cr_assert_float_eq(tb_eval_auc(s, rel, 4), 1.0, 1e-9);
    int rel2[4] = {0, 0, 1, 1};
    cr_assert_float_eq(tb_eval_auc(s, rel2, 4), 0.0, 1e-9);
    float t[4] = {1, 1, 1, 1};
    cr_assert_float_eq(tb_eval_auc(t, rel, 4), 0.5, 1e-9);
}

Test(eval, readers_beat_random)
{
    size_t n = 800;
    float cen[6 * EDIM], *x = malloc(n * EDIM * sizeof(float));
    int *lab = malloc(n * sizeof(int));
    synth_clusters(11, 6, n, EDIM, 4.0, cen, x, lab); /* noisy: overlapping topics */
    struct tb_eval_readers_opts o = {.readers = 40, .reads = 20, .pool = 200, .max_topics = 3,
                                     .seed = 3};
    size_t nm;
    const struct tb_eval_method *ms = tb_eval_methods(&nm);
    struct tb_eval_metrics ours, rnd, km, again;
    tb_err e;
    cr_assert_eq(tb_eval_readers(x, lab, n, EDIM, &o, &ms[0], &ours, &e), 0, "%s", e.msg);
    cr_assert_eq(tb_eval_readers(x, lab, n, EDIM, &o, &ms[nm - 1], &rnd, &e), 0);
    cr_assert_eq(tb_eval_readers(x, lab, n, EDIM, &o, &ms[nm - 3], &km, &e), 0);
    cr_assert_eq(ours.n, 40);
    cr_assert_gt(ours.auc, rnd.auc + 0.2, "ours %f random %f", ours.auc, rnd.auc);
    cr_assert_gt(ours.p10, rnd.p10 + 0.2);
    cr_assert(ours.p10 <= 1.0 && ours.ndcg10 <= 1.0 && ours.auc <= 1.0);
    cr_assert(rnd.auc > 0.35 && rnd.auc < 0.65, "random AUC %f", rnd.auc);
    cr_assert(km.auc > rnd.auc);
    cr_assert_eq(tb_eval_readers(x, lab, n, EDIM, &o, &ms[0], &again, &e), 0);
    cr_assert_eq(again.auc, ours.auc, "not deterministic");
    /* Paired comparison over the same readers. */
    double d, se;
    size_t w, l;
    cr_assert_eq(tb_eval_paired(&ours, &rnd, TB_EVAL_AUC, &d, &se, &w, &l), 0);
    cr_assert_float_eq(d, ours.auc - rnd.auc, 1e-9);
    cr_assert(se > 0 && se < d, "diff %f se %f", d, se);
    cr_assert_gt(w, l);
    cr_assert_eq(w + l <= ours.n, true);
    cr_assert_eq(tb_eval_paired(&ours, &ours, TB_EVAL_P10, &d, &se, &w, &l), 0);
    cr_assert(d == 0 && se == 0 && w == 0 && l == 0);
    tb_eval_metrics_free(&ours);
    tb_eval_metrics_free(&rnd);
    tb_eval_metrics_free(&km);
    tb_eval_metrics_free(&again);
    free(x);
    free(lab);
}

Test(eval, ratings_and_judgements)
{
    /* 300 items in 5 topics; 60 users each liking one topic (rating 5)
     * and rating a few others 1. */
    size_t n = 300;
    float cen[5 * EDIM], *x = malloc(n * EDIM * sizeof(float));
    int *lab = malloc(n * sizeof(int));
    synth_clusters(12, 5, n, EDIM, 2.0, cen, x, lab);
    struct tb_rating *r = malloc(60 * 40 * sizeof *r);
    size_t nr = 0;
    tb_rng g;
    tb_rng_seed(&g, 4);
    for (int u = 0; u < 60; u++)
        for (int t = 0; t < 40; t++) {
            int it = (int)tb_rng_below(&g, n);
            bool liked = lab[it] == u % 5;
            if (!liked && t % 4)
                continue;
            r[nr++] = (struct tb_rating){u, it, liked ? 5.0f : 1.0f, t};
        }
    struct tb_eval_ratings_opts o = {.like_threshold = 4, .dislike_below = 2, .hide = 3,
                                     .min_likes = 4, .seed = 1};
    size_t nm;
    const struct tb_eval_method *ms = tb_eval_methods(&nm);
    struct tb_eval_metrics ours, rnd, pop;
    tb_err e;
    cr_assert_eq(tb_eval_ratings(x, n, EDIM, r, nr, &o, &ms[0], &ours, &e), 0, "%s", e.msg);
    cr_assert_eq(tb_eval_ratings(x, n, EDIM, r, nr, &o, &ms[nm - 1], &rnd, &e), 0);
    cr_assert_eq(tb_eval_ratings(x, n, EDIM, r, nr, &o, &ms[nm - 2], &pop, &e), 0);
    cr_assert_gt(ours.n, 30);
    cr_assert_gt(ours.hit10, rnd.hit10 + 0.2, "ours %f random %f", ours.hit10, rnd.hit10);
    cr_assert_gt(ours.ndcg10, rnd.ndcg10);
    double d, se;
    size_t w, l;
    cr_assert_eq(tb_eval_paired(&ours, &rnd, TB_EVAL_HIT10, &d, &se, &w, &l), 0);
    cr_assert_float_eq(d, ours.hit10 - rnd.hit10, 1e-9);
    tb_eval_metrics_free(&ours);
    tb_eval_metrics_free(&rnd);
    tb_eval_metrics_free(&pop);
    /* Judgements: liked = 5 items of topic A, target of A (1) or B (0). */
    size_t J = 40, like_off[41], dis_off[41], like[200], dis[1], target[40];
    int jl[40];
    for (size_t i = 0; i < J; i++) {
        like_off[i] = i * 5;
        dis_off[i] = 0;
        int topic = (int)(i % 5);
        for (size_t q = 0; q < 5; q++)
            like[i * 5 + q] = (size_t)topic + 5 * (q + 1); /* label of row k is k % 5 */
        jl[i] = i % 2 == 0;
        target[i] = (size_t)(jl[i] ? topic : (topic + 1) % 5) + 5 * (6 + i);
    }
    like_off[J] = J * 5;
    dis_off[J] = 0;
    struct tb_judgements j = {J, n, like_off, like, dis_off, dis, target, jl};
    cr_assert_eq(tb_eval_judgements(x, EDIM, &j, 1, &ms[0], &ours, &e), 0, "%s", e.msg);
    cr_assert_eq(ours.n, J);
    cr_assert_gt(ours.auc, 0.8, "judgement AUC %f", ours.auc);
    /* Paired bootstrap over the rows against random. */
    cr_assert_eq(tb_eval_judgements(x, EDIM, &j, 1, &ms[nm - 1], &rnd, &e), 0);
    cr_assert_eq(tb_eval_paired(&ours, &rnd, TB_EVAL_AUC, &d, &se, &w, &l), 0);
    cr_assert_float_eq(d, ours.auc - rnd.auc, 1e-9);
    cr_assert(se > 0 && w > l, "se %f wins %zu losses %zu", se, w, l);
    cr_assert_eq(tb_eval_paired(&ours, &rnd, TB_EVAL_P10, &d, &se, &w, &l), -1);
    tb_eval_metrics_free(&ours);
    tb_eval_metrics_free(&rnd);
    target[3] = n; /* out of range: refused */
    cr_assert_eq(tb_eval_judgements(x, EDIM, &j, 1, &ms[0], &ours, &e), -1);
    tb_eval_metrics_free(&ours);
    free(x);
    free(lab);
    free(r);
}

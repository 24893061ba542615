/*
 * bench/recommend.c -- tb_recommend (what `tastebud recommend USER
 * --collection C -n 20` and the server call) on a big catalogue in a real
 * SQLite store.
 *
 *   build/bench/recommend [ITEMS [DIM]]      (default 100000 x 384)
 *
 * Builds a temporary store with ITEMS items of 50 synthetic topics and
 * their embeddings (unit vectors, stored directly: no model runs), and a
 * user who read 1,000 of them in 6 topics, then times, one thread:
 *   exact    the exact path (index_min = max): every item loaded and scored
 *   first    the indexed path's first call: catalogue loaded in one query,
 *            index built, cached (tb_rec_cache_clear before it)
 *   cached   later calls from the cache: best and median of 9
 * and the overlap of the indexed top 20 with the exact path's top 20, also
 * for re-score pools of 2,000 and 5,000 rows (tb_rank_opts.rescore). The
 * "exact" path itself ranks two-stage (float centroid first stage) once
 * items x reads exceeds 5M, as here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "rec/rec.h"

void openblas_set_num_threads(int);

static int no_embed(tb_model *m, const char *const *texts, size_t n, int kind, float *out,
                    tb_err *err)
{
    (void)m, (void)texts, (void)n, (void)kind, (void)out;
    return tb_err_set(err, TB_EINVAL, "bench model embeds nothing (all items are embedded)");
}
static void no_close(tb_model *m) { (void)m; }
static const struct tb_model_ops ops = {.embed = no_embed, .close = no_close};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const tb_err *e)
{
    fprintf(stderr, "bench/recommend: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t dim = argc > 2 ? strtoul(argv[2], NULL, 10) : 384;
    if (n < 2000 || dim < 8) {
        fprintf(stderr, "usage: recommend [ITEMS >= 2000 [DIM >= 8]]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    tb_log_set_level(TB_LOG_WARN);
    char dir[] = "/tmp/tb-bench-rec-XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/b.db", dir);
    tb_err e;
    tb_store *s = tb_store_open(path, &e);
    if (!s)
        die("open", &e);
    tb_model model = {.ops = &ops, .dim = dim};
    snprintf(model.id, sizeof model.id, "bench:synthetic:%zu", dim);

    /* The catalogue: 50 topic centres, items = centre + noise. */
    double t = tb_mono();
    tb_rng r;
    tb_rng_seed(&r, 11);
    size_t topics = 50;
    float *cen = malloc(topics * dim * sizeof(float)), *v = malloc(dim * sizeof(float));
    int64_t *ids = malloc(n * sizeof(int64_t));
    for (size_t j = 0; j < topics * dim; j++)
        cen[j] = (float)tb_rng_normal(&r);
    if (tb_store_user_create(s, "ann", "Ann", &e) < 0 || tb_store_begin(s, &e) < 0)
        die("setup", &e);
    for (size_t i = 0; i < n; i++) {
        char key[24], title[48];
        snprintf(key, sizeof key, "i%zu", i);
        snprintf(title, sizeof title, "item %zu of topic %zu", i, i % topics);
        tb_item it = {.collection = "big", .key = key, .title = title, .text = "text"};
        if (tb_store_item_upsert(s, &it, NULL, &e) < 0)
            die("item", &e);
        ids[i] = it.id;
        for (size_t j = 0; j < dim; j++)
            v[j] = cen[(i % topics) * dim + j] + (float)(1.5 * tb_rng_normal(&r));
        tb_l2_normalize(v, dim);
        if (tb_store_embedding_put(s, it.id, model.id, v, dim, &e) < 0)
            die("embedding", &e);
    }
    /* Ann read 1,000 items of topics 0-5 over six weeks. */
    for (size_t i = 0; i < 1000; i++) {
        size_t row = (i % 6) + topics * (i / 6);
        if (tb_store_event_add(s, "ann", ids[row % n], i % 7 ? TB_EV_READ : TB_EV_LIKE,
                               1700000000 + (int64_t)i * 3600, &e) < 0)
            die("event", &e);
    }
    if (tb_store_commit(s, &e) < 0)
        die("commit", &e);
    printf("store: %zu items x %zu-d, 1000 reads; built in %.1f s\n", n, dim, tb_mono() - t);

    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    o.limit = 20;
    o.seed = 1;
    o.explore_ratio = 0; /* compare the ranked top 20 */
    struct tb_rec_result ex, ix;

    /* The first call also builds Ann's profile: do it once, untimed. */
    o.index_min = (size_t)-1;
    if (tb_recommend(s, &model, "ann", "big", NULL, 0, &o, &ex, &e) < 0)
        die("recommend", &e);
    tb_rec_result_free(&ex);
    double best_exact = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        t = tb_mono();
        if (tb_recommend(s, &model, "ann", "big", NULL, 0, &o, &ex, &e) < 0)
            die("recommend exact", &e);
        t = tb_mono() - t;
        best_exact = t < best_exact ? t : best_exact;
        if (rep < 2)
            tb_rec_result_free(&ex);
    }
    o.index_min = 0; /* the default threshold, TB_REC_INDEX_MIN */
    tb_rec_cache_clear();
    t = tb_mono();
    if (tb_recommend(s, &model, "ann", "big", NULL, 0, &o, &ix, &e) < 0)
        die("recommend indexed", &e);
    double first = tb_mono() - t;
    tb_rec_result_free(&ix);
    enum { REPS = 9 };
    double ts[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        t = tb_mono();
        if (tb_recommend(s, &model, "ann", "big", NULL, 0, &o, &ix, &e) < 0)
            die("recommend cached", &e);
        ts[rep] = tb_mono() - t;
        if (rep < REPS - 1)
            tb_rec_result_free(&ix);
    }
    qsort(ts, REPS, sizeof ts[0], cmp_double);
    size_t ov = 0;
    for (size_t i = 0; i < ix.n; i++)
        for (size_t j = 0; j < ex.n; j++)
            ov += ix.items[i].item_id == ex.items[j].item_id;
    printf("recommend -n 20, %zu items x %zu-d (index threshold %d):\n", n, dim,
           TB_REC_INDEX_MIN);
    printf("  exact path                 %8.1f ms per call (best of 3)\n", best_exact * 1000);
    printf("  indexed, first call        %8.1f ms (load + index build + rank)\n", first * 1000);
    printf("  indexed, cached            %8.1f ms per call (best), %.1f ms (median of %d)\n",
           ts[0] * 1000, ts[REPS / 2] * 1000, REPS);
    printf("  overlap of the top 20 with the exact path: %zu/20\n", ov);
    tb_rec_result_free(&ix);
    /* Bigger re-score pools (tb_rank_opts.rescore; default max(500, 5 x 20)). */
    size_t pools[] = {2000, 5000};
    for (size_t q = 0; q < 2; q++) {
        o.rescore = pools[q];
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            if (rep)
                tb_rec_result_free(&ix);
            t = tb_mono();
            if (tb_recommend(s, &model, "ann", "big", NULL, 0, &o, &ix, &e) < 0)
                die("recommend cached", &e);
            t = tb_mono() - t;
            best = t < best ? t : best;
        }
        ov = 0;
        for (size_t i = 0; i < ix.n; i++)
            for (size_t j = 0; j < ex.n; j++)
                ov += ix.items[i].item_id == ex.items[j].item_id;
        printf("  indexed, cached, pool %4zu %8.1f ms per call (best of 3), overlap %zu/20\n",
               pools[q], best * 1000, ov);
        tb_rec_result_free(&ix);
    }
    tb_rec_result_free(&ex);
    tb_rec_cache_clear();
    tb_store_close(s);
    free(cen);
    free(v);
    free(ids);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

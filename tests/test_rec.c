/*
 * test_rec.c -- k-means, k selection, profiles (events, blob round trip,
 * corrupt blobs), ranking (cold start, proportions, determinism, dislike
 * penalty, explanations, MMR) on synthetic clustered vectors.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "rec/kmeans.h"
#include "rec/profile.h"
#include "rec/rec.h"
#include "rec_synth.h"

#define DIM 32

/* Events "read" for the points x[0..n), item ids 1000+i, one a day. */
static struct tb_profile_event *reads(const float *x, size_t n, size_t dim)
{
    struct tb_profile_event *ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++)
        ev[i] = (struct tb_profile_event){.id = (int64_t)i + 1, .item_id = 1000 + (int64_t)i,
                                          .kind = TB_EV_READ, .ts = 1700000000 + (int64_t)i * 86400,
                                          .vec = x + i * dim};
    return ev;
}

Test(kmeans, recovers_clusters)
{
    size_t c = 4, n = 200;
    float cen[4 * DIM], *x = malloc(n * DIM * sizeof(float));
    int lab[200];
    synth_clusters(7, c, n, DIM, 1.0, cen, x, lab);
    struct tb_kmeans km;
    tb_kmeans_run(x, NULL, n, DIM, c, NULL, 1, 50, &km);
    cr_assert_eq(km.k, c);
    /* Same partition: every true cluster maps to exactly one found one. */
    int map[4] = {-1, -1, -1, -1};
    for (size_t i = 0; i < n; i++) {
        if (map[lab[i]] < 0)
            map[lab[i]] = km.assign[i];
        cr_assert_eq(map[lab[i]], km.assign[i], "point %zu split from its cluster", i);
    }
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            cr_assert_neq(map[a], map[b], "clusters %d and %d merged", a, b);
    for (size_t j = 0; j < c; j++)
        cr_assert_float_eq(tb_dot(km.cent + j * DIM, km.cent + j * DIM, DIM), 1.0f, 1e-4);
    tb_kmeans_clear(&km);
    free(x);
}

Test(kmeans, auto_picks_true_k)
{
    for (size_t c = 1; c <= 6; c++) {
        size_t n = 300;
        float cen[6 * DIM], *x = malloc(n * DIM * sizeof(float));
        synth_clusters(100 + c, c, n, DIM, 1.0, cen, x, NULL);
        struct tb_kmeans km;
        tb_kmeans_auto(x, NULL, n, DIM, 0, 3, &km);
        cr_assert_eq(km.k, c, "true k %zu, chose %zu", c, km.k);
        tb_kmeans_clear(&km);
        free(x);
    }
}

/* n x dim above TB_KMEANS_SMALL: the scan warm-starts k from k - 1 (one
 * fresh seeding per k); it must still find the true k and a partition no
 * worse than the three-restart scan, and its centroids must be the
 * normalised means of their members (the sums are kept incrementally). */
Test(kmeans, auto_big_warm_start)
{
    enum { BD = 100 };
    for (size_t c = 1; c <= 6; c += 1) {
        size_t n = 800;
        float cen[6 * BD], *x = malloc(n * BD * sizeof(float));
        synth_clusters(200 + c, c, n, BD, 1.0, cen, x, NULL);
        struct tb_kmeans km;
        tb_kmeans_auto(x, NULL, n, BD, 0, 3, &km);
        cr_assert_eq(km.k, c, "true k %zu, chose %zu", c, km.k);
        for (size_t j = 0; j < km.k; j++) {
            double m[BD] = {0}, nn = 0;
            for (size_t i = 0; i < n; i++)
                if (km.assign[i] == (int)j)
                    for (size_t d = 0; d < BD; d++)
                        m[d] += x[i * BD + d];
            for (size_t d = 0; d < BD; d++)
                nn += m[d] * m[d];
            cr_assert_gt(nn, 0, "cluster %zu empty", j);
            for (size_t d = 0; d < BD; d++)
                cr_assert_float_eq(km.cent[j * BD + d], m[d] / sqrt(nn), 1e-5,
                                   "centroid %zu is not its members' mean", j);
        }
        tb_kmeans_clear(&km);
        free(x);
    }
}

Test(kmeans, degenerate_inputs)
{
    float x[3 * DIM] = {0};
    x[0] = x[DIM] = x[2 * DIM] = 1; /* three identical points */
    struct tb_kmeans km;
    tb_kmeans_auto(x, NULL, 3, DIM, 5, 1, &km);
    cr_assert_eq(km.k, 1);
    tb_kmeans_clear(&km);
    tb_kmeans_run(x, NULL, 0, DIM, 3, NULL, 1, 10, &km);
    cr_assert_eq(km.k, 0);
    tb_kmeans_run(x, NULL, 3, DIM, 10, NULL, 1, 10, &km); /* k > n clamps */
    cr_assert_eq(km.k, 3);
    tb_kmeans_clear(&km);
}

/* A profile of 60 reads in 3 interests. */
static tb_profile *three_interests(float *cen, float **xs)
{
    size_t n = 60;
    float *x = malloc(n * DIM * sizeof(float));
    synth_clusters(42, 3, n, DIM, 1.0, cen, x, NULL);
    struct tb_profile_event *ev = reads(x, n, DIM);
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    tb_err err;
    tb_profile *p = tb_profile_build(DIM, ev, n, &o.profile, &err);
    cr_assert_not_null(p, "%s", err.msg);
    free(ev);
    *xs = x;
    return p;
}

Test(profile, build_and_accessors)
{
    float cen[3 * DIM], *x;
    tb_profile *p = three_interests(cen, &x);
    cr_assert_eq(tb_profile_npos(p), 60);
    cr_assert_eq(tb_profile_k(p), 3);
    cr_assert_eq(tb_profile_last_event(p), 60);
    float wsum = 0;
    for (size_t c = 0; c < 3; c++) {
        float w;
        size_t sz;
        cr_assert_not_null(tb_profile_centroid(p, c, &w, &sz));
        cr_assert_eq(sz, 20);
        wsum += w;
    }
    cr_assert_float_eq(wsum, 1.0f, 1e-4);
    tb_profile_free(p);
    free(x);
}

Test(profile, recency_decay_weights_clusters)
{
    /* Interest A read long ago, interest B recently: B's weight dominates. */
    size_t n = 40;
    float cen[2 * DIM], *x = malloc(n * DIM * sizeof(float));
    synth_clusters(5, 2, n, DIM, 1.0, cen, x, NULL);
    struct tb_profile_event ev[40];
    for (size_t i = 0; i < n; i++)
        ev[i] = (struct tb_profile_event){.id = (int64_t)i + 1, .item_id = (int64_t)i + 1,
                                          .kind = TB_EV_READ,
                                          .ts = (i % 2 ? 1800000000 : 1800000000 - 365 * 86400),
                                          .vec = x + i * DIM};
    struct tb_profile_opts o = {.half_life_days = 30, .k = 2};
    tb_profile *p = tb_profile_build(DIM, ev, n, &o, NULL);
    cr_assert_not_null(p);
    float w0, w1;
    const float *c0 = tb_profile_centroid(p, 0, &w0, NULL);
    tb_profile_centroid(p, 1, &w1, NULL);
    bool c0_is_old = tb_dot(c0, cen, DIM) > tb_dot(c0, cen + DIM, DIM);
    float wold = c0_is_old ? w0 : w1, wnew = c0_is_old ? w1 : w0;
    cr_assert_gt(wnew, 0.9f, "recent interest weight %f", wnew);
    cr_assert_lt(wold, 0.1f);
    tb_profile_free(p);
    free(x);
}

Test(profile, events_rules)
{
    float v[3][DIM] = {{0}};
    v[0][0] = v[1][1] = v[2][2] = 1;
    struct tb_profile_event ev[] = {
        {1, 10, TB_EV_READ, 100, v[0]},  {2, 11, TB_EV_SHOWN, 100, v[1]},
        {3, 11, TB_EV_SHOWN, 101, v[1]}, {4, 11, TB_EV_SHOWN, 102, NULL},
        {5, 12, TB_EV_SHOWN, 102, v[2]}, {6, 12, TB_EV_READ, 103, v[2]},
        {7, 10, TB_EV_DISLIKE, 104, v[0]},
    };
    tb_err err;
    tb_profile *p = tb_profile_build(DIM, ev, 7, NULL, &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_eq(tb_profile_npos(p), 1);  /* 12 only; 10 was disliked */
    cr_assert_eq(tb_profile_nneg(p), 1);
    cr_assert_eq(tb_profile_nweak(p), 1); /* 11 shown 3 times */
    cr_assert_eq(tb_profile_last_event(p), 7);
    tb_profile_free(p);
    /* A read without a vector is refused with a message. */
    struct tb_profile_event bad = {1, 5, TB_EV_READ, 1, NULL};
    cr_assert_null(tb_profile_build(DIM, &bad, 1, NULL, &err));
    cr_assert_eq(err.code, TB_EINVAL);
    cr_assert(strstr(err.msg, "no vector"));
}

Test(profile, blob_round_trip)
{
    float cen[3 * DIM], *x;
    tb_profile *p = three_interests(cen, &x);
    float neg[DIM] = {0};
    neg[3] = 1;
    struct tb_profile_event more[] = {{61, 5, TB_EV_DISLIKE, 1700000000, neg},
                                      {62, 6, TB_EV_SHOWN, 1700000000, neg},
                                      {63, 7, TB_EV_SHOWN, 1700000000, NULL}};
    cr_assert_eq(tb_profile_add_events(p, more, 3, NULL, NULL), 0);
    cr_assert_eq(tb_profile_fit(p, NULL, NULL), 0);
    tb_buf b = {0};
    tb_profile_serialize(p, &b);
    tb_err err;
    tb_profile *q = tb_profile_deserialize(b.data, b.len, &err);
    cr_assert_not_null(q, "%s", err.msg);
    cr_assert_eq(tb_profile_npos(q), tb_profile_npos(p));
    cr_assert_eq(tb_profile_nneg(q), 1);
    cr_assert_eq(tb_profile_k(q), tb_profile_k(p));
    cr_assert_eq(tb_profile_last_event(q), 63);
    /* Identical scores from the copy. */
    float sp[60], sq[60];
    cr_assert_eq(tb_rank_scores(p, x, 60, DIM, NULL, sp, NULL), 0);
    cr_assert_eq(tb_rank_scores(q, x, 60, DIM, NULL, sq, NULL), 0);
    for (int i = 0; i < 60; i++)
        cr_assert_eq(sp[i], sq[i]);
    tb_buf b2 = {0};
    tb_profile_serialize(q, &b2);
    cr_assert_eq(b2.len, b.len);
    cr_assert(memcmp(b.data, b2.data, b.len) == 0);
    tb_buf_free(&b2);
    tb_profile_free(q);
    tb_profile_free(p);
    tb_buf_free(&b);
    free(x);
}

Test(profile, corrupt_blob_rejected)
{
    float cen[3 * DIM], *x;
    tb_profile *p = three_interests(cen, &x);
    tb_buf b = {0};
    tb_profile_serialize(p, &b);
    tb_err err;
    /* Every truncation. */
    for (size_t n = 0; n < b.len; n += (n < 200 ? 1 : 97)) {
        err.code = 0;
        cr_assert_null(tb_profile_deserialize(b.data, n, &err), "truncated at %zu accepted", n);
        cr_assert_eq(err.code, TB_EFORMAT);
    }
    /* Flipped bytes (the checksum catches them). */
    for (size_t i = 0; i < b.len; i += 37) {
        b.data[i] ^= 0x41;
        cr_assert_null(tb_profile_deserialize(b.data, b.len, &err), "flip at %zu accepted", i);
        b.data[i] ^= 0x41;
    }
    /* A wrong version with a valid checksum is refused by version. */
    b.data[4] = 9;
    uint64_t h = tb_hash64(b.data, b.len - 8, 0);
    for (int i = 0; i < 8; i++)
        b.data[b.len - 8 + i] = (char)(h >> (8 * i));
    cr_assert_null(tb_profile_deserialize(b.data, b.len, &err));
    cr_assert(strstr(err.msg, "version"), "%s", err.msg);
    /* Huge counts with a valid checksum: refused before allocating. */
    b.data[4] = 1;
    b.data[12] = (char)0xff;
    b.data[13] = (char)0xff;
    b.data[14] = (char)0xff;
    h = tb_hash64(b.data, b.len - 8, 0);
    for (int i = 0; i < 8; i++)
        b.data[b.len - 8 + i] = (char)(h >> (8 * i));
    cr_assert_null(tb_profile_deserialize(b.data, b.len, &err));
    cr_assert_null(tb_profile_deserialize(NULL, 0, &err));
    cr_assert_null(tb_profile_deserialize("garbage", 7, &err));
    tb_buf_free(&b);
    tb_profile_free(p);
    free(x);
}

/* Candidates: 100 points, 50 from the profile's interests, 50 from others. */
static float *candidates(const float *cen, size_t dim, float **other_c)
{
    float *c = malloc(100 * dim * sizeof(float));
    float *oc = malloc(3 * dim * sizeof(float));
    tb_rng r;
    tb_rng_seed(&r, 9);
    synth_clusters(77, 3, 50, dim, 1.0, oc, c + 50 * dim, NULL); /* unrelated */
    for (size_t i = 0; i < 50; i++) {
        for (size_t j = 0; j < dim; j++)
            c[i * dim + j] = cen[(i % 3) * dim + j] + (float)(tb_rng_normal(&r) / 10.0);
        tb_l2_normalize(c + i * dim, dim);
    }
    *other_c = oc;
    return c;
}

Test(rank, cold_start_passes_through)
{
    float v[5 * DIM] = {0};
    for (int i = 0; i < 5; i++)
        v[i * DIM + i] = 1;
    struct tb_profile_event *ev = reads(v, 5, DIM);
    tb_profile *p = tb_profile_build(DIM, ev, 5, NULL, NULL);
    struct tb_ranked out[5];
    struct tb_rank_opts o;
    tb_rank_opts_default(&o); /* min_reads 10 > 5 */
    long m = tb_rank(p, v, 5, DIM, &o, out, NULL);
    cr_assert_eq(m, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(out[i].index, (size_t)i);
        cr_assert_eq(out[i].why, TB_WHY_COLD);
    }
    cr_assert_eq(tb_rank(NULL, v, 5, DIM, &o, out, NULL), 5);
    o.min_reads = 3; /* now warm: filtering happens */
    m = tb_rank(p, v, 5, DIM, &o, out, NULL);
    cr_assert_eq(m, 4); /* round(2.5) kept + round(0.5) explored = 3 + 1 */
    tb_profile_free(p);
    free(ev);
}

Test(rank, proportions_exact_and_relevant_first)
{
    float cen[3 * DIM], *x, *oc;
    tb_profile *p = three_interests(cen, &x);
    float *c = candidates(cen, DIM, &oc);
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    o.seed = 1;
    struct tb_ranked out[100];
    for (int t = 0; t < 4; t++) {
        double fr[] = {0.5, 0.3, 0.2, 0.05}, er[] = {0.1, 0.2, 0.0, 0.3};
        o.filter_ratio = fr[t];
        o.explore_ratio = er[t];
        long m = tb_rank(p, c, 100, DIM, &o, out, NULL);
        size_t nk = 0, ne = 0;
        for (long i = 0; i < m; i++)
            out[i].why == TB_WHY_EXPLORE ? ne++ : nk++;
        cr_assert_eq(nk, (size_t)llround(fr[t] * 100));
        cr_assert_eq(ne, (size_t)llround(er[t] * 100));
        /* No duplicates. */
        bool seen[100] = {0};
        for (long i = 0; i < m; i++) {
            cr_assert(!seen[out[i].index]);
            seen[out[i].index] = true;
        }
    }
    /* With 50% kept and 50 relevant candidates, the kept ones are the
     * relevant ones, in descending score order. */
    o.filter_ratio = 0.5;
    o.explore_ratio = 0.1;
    long m = tb_rank(p, c, 100, DIM, &o, out, NULL);
    float prev = INFINITY;
    for (long i = 0; i < m; i++) {
        if (out[i].why != TB_WHY_SIMILAR)
            continue;
        cr_assert_lt(out[i].index, 50, "irrelevant %zu kept", out[i].index);
        cr_assert_leq(out[i].score, prev);
        prev = out[i].score;
        cr_assert_geq(out[i].cluster, 0);
        cr_assert_geq(out[i].near_item, 1000);
    }
    /* Exploration picks come from outside the kept set. */
    for (long i = 0; i < m; i++)
        if (out[i].why == TB_WHY_EXPLORE)
            cr_assert_geq(out[i].index, 50);
    /* A limit keeps the proportion: 20 -> 17 similar + 3 explore. */
    o.limit = 20;
    o.method = TB_RANK_KNN; /* a per-item method: the path under test (a wide kernel, the
                              default kde, also ranks items between two tight 8-d clusters
                              high) */
    m = tb_rank(p, c, 100, DIM, &o, out, NULL);
    cr_assert_eq(m, 20);
    size_t ne = 0;
    for (long i = 0; i < m; i++)
        ne += out[i].why == TB_WHY_EXPLORE;
    cr_assert_eq(ne, 3);
    /* keep_order: increasing input positions. */
    o.limit = 0;
    o.keep_order = true;
    m = tb_rank(p, c, 100, DIM, &o, out, NULL);
    for (long i = 1; i < m; i++)
        cr_assert_lt(out[i - 1].index, out[i].index);
    tb_profile_free(p);
    free(x);
    free(c);
    free(oc);
}

Test(rank, deterministic_under_seed)
{
    float cen[3 * DIM], *x, *oc;
    tb_profile *p = three_interests(cen, &x);
    float *c = candidates(cen, DIM, &oc);
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    o.explore_ratio = 0.3;
    struct tb_ranked a[100], b[100], d[100];
    o.seed = 123;
    long ma = tb_rank(p, c, 100, DIM, &o, a, NULL);
    long mb = tb_rank(p, c, 100, DIM, &o, b, NULL);
    cr_assert_eq(ma, mb);
    cr_assert(memcmp(a, b, (size_t)ma * sizeof *a) == 0);
    o.seed = 124;
    long md = tb_rank(p, c, 100, DIM, &o, d, NULL);
    bool differs = false;
    for (long i = 0; i < md; i++)
        differs |= a[i].index != d[i].index;
    cr_assert(differs, "another seed should pick other exploration items");
    tb_profile_free(p);
    free(x);
    free(c);
    free(oc);
}

Test(rank, dislike_penalty_demotes)
{
    float cen[3 * DIM], *x, *oc;
    tb_profile *p = three_interests(cen, &x);
    float *c = candidates(cen, DIM, &oc);
    float before[100], after[100];
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    cr_assert_eq(tb_rank_scores(p, c, 100, DIM, &o, before, NULL), 0);
    /* Dislike candidate 4 itself (of interest 1): it and its close
     * neighbours must drop, the other interests must not. */
    struct tb_profile_event ev = {100, 77, TB_EV_DISLIKE, 1700000000 + 100 * 86400, c + 4 * DIM};
    cr_assert_eq(tb_profile_add_events(p, &ev, 1, &o.profile, NULL), 0);
    cr_assert_eq(tb_profile_fit(p, &o.profile, NULL), 0);
    cr_assert_eq(tb_rank_scores(p, c, 100, DIM, &o, after, NULL), 0);
    cr_assert_lt(after[4], before[4] - 0.05f, "%f -> %f", before[4], after[4]);
    cr_assert_float_eq(after[0], before[0], 1e-5); /* interest 0 untouched */
    /* Rank of item 4 among the relevant 50 falls. */
    int rb = 0, ra = 0;
    for (int i = 0; i < 50; i++) {
        rb += before[i] > before[4];
        ra += after[i] > after[4];
    }
    cr_assert_gt(ra, rb);
    tb_profile_free(p);
    free(x);
    free(c);
    free(oc);
}

Test(rank, methods_and_mmr)
{
    float cen[3 * DIM], *x, *oc;
    tb_profile *p = three_interests(cen, &x);
    float *c = candidates(cen, DIM, &oc);
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    float s[100];
    for (int m = TB_RANK_CENTROID; m < TB_RANK__COUNT; m++) {
        o.method = m;
        cr_assert_eq(tb_rank_scores(p, c, 100, DIM, &o, s, NULL), 0);
        /* Every method separates relevant from unrelated candidates. */
        float minrel = INFINITY, maxirr = -INFINITY;
        for (int i = 0; i < 100; i++) {
            if (i < 50 && s[i] < minrel)
                minrel = s[i];
            if (i >= 50 && s[i] > maxirr)
                maxirr = s[i];
        }
        cr_assert_gt(minrel, maxirr, "method %s", tb_rank_method_name(m));
    }
    cr_assert_eq(tb_rank_method_parse("knn"), TB_RANK_KNN);
    cr_assert_eq(tb_rank_method_parse("nope"), -1);
    o.method = 99;
    tb_err err;
    cr_assert_eq(tb_rank_scores(p, c, 100, DIM, &o, s, &err), -1);
    /* MMR with a strong lambda spreads the first 3 over the 3 interests. */
    o.method = TB_RANK_DEFAULT;
    o.diversity = 0.7;
    o.explore_ratio = 0;
    o.limit = 3;
    struct tb_ranked out[100];
    long m = tb_rank(p, c, 100, DIM, &o, out, NULL);
    cr_assert_eq(m, 3);
    cr_assert_neq(out[0].index % 3, out[1].index % 3);
    cr_assert_neq(out[0].index % 3, out[2].index % 3);
    cr_assert_neq(out[1].index % 3, out[2].index % 3);
    /* Bad options are refused. */
    o.filter_ratio = 1.5;
    cr_assert_eq(tb_rank(p, c, 100, DIM, &o, out, &err), -1);
    cr_assert_eq(err.code, TB_EINVAL);
    tb_profile_free(p);
    free(x);
    free(c);
    free(oc);
}

Test(rank, large_catalogue_rerank_path)
{
    /* 60 reads x 90,000 candidates exceeds the re-rank budget: candidates
     * are retrieved by centroid, then re-scored by knn. The 30 relevant
     * candidates must still fill the similar slots of a top-20. */
    enum { D = 8, N = 90000 };
    float cen[3 * D], *x = malloc(60 * D * sizeof(float));
    synth_clusters(21, 3, 60, D, 0.5, cen, x, NULL);
    struct tb_profile_event *ev = reads(x, 60, D);
    tb_profile *p = tb_profile_build(D, ev, 60, NULL, NULL);
    cr_assert_not_null(p);
    float *c = malloc((size_t)N * D * sizeof(float));
    tb_rng r;
    tb_rng_seed(&r, 5);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < D; j++)
            c[i * D + j] = i < 30 ? cen[(i % 3) * D + j] + (float)(tb_rng_normal(&r) / 20)
                                  : (float)tb_rng_normal(&r);
        tb_l2_normalize(c + i * D, D);
    }
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    o.limit = 20;
    o.method = TB_RANK_KNN; /* a per-item method: the path under test (a wide kernel, the
                              default kde, also ranks items between two tight 8-d clusters
                              high) */
    struct tb_ranked *out = malloc(N * sizeof *out);
    long m = tb_rank(p, c, N, D, &o, out, NULL);
    cr_assert_eq(m, 20);
    size_t ne = 0;
    for (long i = 0; i < m; i++) {
        if (out[i].why == TB_WHY_EXPLORE) {
            ne++;
            continue;
        }
        cr_assert_lt(out[i].index, 30, "rank %ld is unrelated item %zu", i, out[i].index);
        cr_assert_leq(out[i].score, 1.0f); /* the method's own score, not lifted */
    }
    cr_assert_eq(ne, 3);
    free(out);
    free(c);
    free(ev);
    free(x);
    tb_profile_free(p);
}

/* Items of 4 topics riding on a large shared component of varying size (as
 * averaged word vectors do): x = g * common + topic + noise, g in [1, 4]. */
static float *common_corpus(size_t n, size_t dim, int *label)
{
    float *cen = malloc(4 * dim * sizeof(float)), *x = malloc(n * dim * sizeof(float));
    float *common = malloc(dim * sizeof(float));
    tb_rng r;
    tb_rng_seed(&r, 77);
    for (size_t j = 0; j < dim; j++)
        common[j] = (float)tb_rng_normal(&r);
    tb_l2_normalize(common, dim);
    for (size_t j = 0; j < 4 * dim; j++)
        cen[j] = (float)(0.5 * tb_rng_normal(&r) / sqrt((double)dim));
    for (size_t i = 0; i < n; i++) {
        double g = 1.0 + 3.0 * tb_rng_uniform(&r);
        label[i] = (int)(i % 4);
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = (float)(g * common[j] + cen[(i % 4) * dim + j] +
                                     0.6 * tb_rng_normal(&r) / sqrt((double)dim));
        tb_l2_normalize(x + i * dim, dim);
    }
    free(cen);
    free(common);
    return x;
}

Test(rank, centring_improves_separation)
{
    /* Reads: 40 items of topic 0; candidates: 400 others of all topics.
     * The shared component dominates raw cosines; centring on the
     * collection's mean must separate topic 0 from the rest better. */
    enum { D = 48, N = 440 };
    int lab[N];
    float *x = common_corpus(N, D, lab);
    struct tb_profile_event ev[40];
    size_t ne = 0;
    for (size_t i = 0; i < N && ne < 40; i++)
        if (lab[i] == 0) {
            ev[ne] = (struct tb_profile_event){(int64_t)ne + 1, (int64_t)i + 1, TB_EV_READ,
                                               1700000000 + (int64_t)ne * 60, x + i * D};
            ne++;
        }
    tb_profile *p = tb_profile_build(D, ev, ne, NULL, NULL);
    cr_assert_not_null(p);
    const float *cand = x + 160 * D; /* rows 160.. are not among the reads */
    size_t nc = N - 160;
    int rel[N];
    for (size_t i = 0; i < nc; i++)
        rel[i] = lab[160 + i] == 0;
    float s[N];
    double auc[2][TB_RANK__COUNT];
    for (int c = 0; c < 2; c++)
        for (int m = TB_RANK_CENTROID; m < TB_RANK__COUNT; m++) {
            struct tb_rank_opts o;
            tb_rank_opts_default(&o);
            o.method = m;
            o.center = c;
            cr_assert_eq(tb_rank_scores(p, cand, nc, D, &o, s, NULL), 0);
            auc[c][m] = 0;
            size_t pairs = 0;
            for (size_t i = 0; i < nc; i++)
                for (size_t j = 0; j < nc; j++)
                    if (rel[i] && !rel[j]) {
                        auc[c][m] += s[i] > s[j];
                        pairs++;
                    }
            auc[c][m] /= (double)pairs;
        }
    for (int m = TB_RANK_CENTROID; m < TB_RANK__COUNT; m++)
        cr_assert_gt(auc[1][m], auc[0][m] + 0.05, "%s: centred AUC %.3f, raw %.3f",
                     tb_rank_method_name(m), auc[1][m], auc[0][m]);
    cr_assert_gt(auc[1][TB_RANK_KDE], 0.95, "centred kde AUC %.3f", auc[1][TB_RANK_KDE]);
    free(x);
    tb_profile_free(p);
}

Test(rank, two_stage_index_matches_exact)
{
    /* 20,000 candidates in 20 topics, a profile of 120 reads in 3 of them:
     * the two-stage ranking from the int8 index must return the same top
     * 20 as exact scoring of every candidate. */
    enum { D = 64, N = 20000, NR = 120, L = 20 };
    /* Rows N.. of the same draw supply the reads (topics 0-2), so no read
     * is also a candidate. */
    float cen[20 * D], *c = malloc(((size_t)N + 20 * NR) * D * sizeof(float));
    synth_clusters(31, 20, N + 20 * NR, D, 2.0, cen, c, NULL);
    float *x = malloc(NR * D * sizeof(float));
    for (size_t i = N, nr = 0; nr < NR; i++)
        if (i % 20 < 3)
            memcpy(x + nr++ * D, c + i * D, D * sizeof(float));
    struct tb_profile_event *ev = reads(x, NR, D);
    tb_profile *p = tb_profile_build(D, ev, NR, NULL, NULL);
    cr_assert_not_null(p);
    tb_rank_index *ix = tb_rank_index_build(c, N, D);
    cr_assert_eq(tb_rank_index_n(ix), N);
    struct tb_rank_opts o;
    tb_rank_opts_default(&o);
    o.limit = L;
    o.explore_ratio = 0;
    o.index = ix;
    struct tb_ranked *out = malloc(N * sizeof *out);
    cr_assert_eq(tb_rank(p, c, N, D, &o, out, NULL), L);
    float *s = malloc(N * sizeof(float));
    struct tb_rank_opts oe = o;
    oe.index = NULL;
    oe.center_vec = tb_rank_index_mean(ix);
    cr_assert_eq(tb_rank_scores(p, c, N, D, &oe, s, NULL), 0);
    /* The L-th best exact score: everything returned must reach it. */
    float *sorted = malloc(N * sizeof(float));
    memcpy(sorted, s, N * sizeof(float));
    for (size_t i = 0; i < L; i++) /* partial selection sort of the top L */
        for (size_t j = i + 1; j < N; j++)
            if (sorted[j] > sorted[i]) {
                float t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (size_t i = 0; i < L; i++) {
        cr_assert_geq(s[out[i].index], sorted[L - 1], "rank %zu: item %zu not in the exact top",
                      i, out[i].index);
        cr_assert_float_eq(out[i].score, s[out[i].index], 1e-4, "score is the exact one");
    }
    /* The same ranking without an index (exact path) agrees too. */
    struct tb_ranked *out2 = malloc(N * sizeof *out2);
    cr_assert_eq(tb_rank(p, c, N, D, &oe, out2, NULL), L);
    for (size_t i = 0; i < L; i++)
        cr_assert_eq(out2[i].index, out[i].index, "rank %zu", i);
    /* Every integer kernel gives the same ranking (the portable one is
     * what ARM runs). */
    const char *kernels[] = {"portable", "avx2"};
    for (size_t q = 0; q < 2; q++) {
        setenv("TB_RANK_KERNEL", kernels[q], 1);
        cr_assert_eq(tb_rank(p, c, N, D, &o, out2, NULL), L);
        for (size_t i = 0; i < L; i++)
            cr_assert_eq(out2[i].index, out[i].index, "kernel %s, rank %zu", kernels[q], i);
    }
    unsetenv("TB_RANK_KERNEL");
    /* An index of other candidates is refused. */
    tb_err err;
    cr_assert_eq(tb_rank(p, c, N - 1, D, &o, out, &err), -1);
    cr_assert_eq(err.code, TB_EINVAL);
    free(out2);
    free(sorted);
    free(s);
    free(out);
    tb_rank_index_free(ix);
    tb_profile_free(p);
    free(ev);
    free(x);
    free(c);
}

/* A profile with no events yet (a user who signed up and has not read
 * anything) must survive the store round trip, not be rebuilt each time. */
Test(profile, empty_profile_round_trip)
{
    tb_profile *p = tb_profile_new(DIM);
    tb_buf b = {0};
    tb_profile_serialize(p, &b);
    tb_err err = {0};
    tb_profile *q = tb_profile_deserialize(b.data, b.len, &err);
    cr_assert_not_null(q, "%zu bytes: %s", b.len, err.msg);
    cr_assert_eq(tb_profile_npos(q), 0);
    cr_assert_null(tb_profile_deserialize(b.data, b.len - 1, &err));
    tb_profile_free(q);
    tb_profile_free(p);
    tb_buf_free(&b);
}

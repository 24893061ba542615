/*
 * index.c -- a compact catalogue copy and the coarse stage of two-stage
 * ranking.
 *
 * Ranking a big catalogue is memory-bound: a million 384-d float rows are
 * 1.5 GB, and reading them once takes longer than the 150 ms budget. The
 * index keeps each row as 8-bit integers with one float scale per row
 * (x ~ scale * q, q in [-127, 127], a quarter of the bytes; the cosine
 * error is ~0.5 % of the row's largest coordinate), plus the catalogue's
 * mean vector (the ranker's centre, rank.c). It is built once per
 * collection and shared by every user's ranking.
 *
 * Two stages (select.c): every row is scored coarsely from the index
 * against a few probe vectors -- the profile's centred cluster centroids,
 * plus the centre itself for the centring identity of rank.c --
 *     coarse(x) = max_c ( cos(x - mu, c') + tau * ln w_c )
 * (the dominant term of the weighted kernel score over the clusters), and
 * only the best few hundred rows are re-scored exactly, in float, by the
 * full method over all read items. The kernel score of an item is never
 * far from that of its nearest interest cluster, so the exact top of the
 * list is found; bench/rank reports the overlap with the exact ranking of
 * the whole catalogue and tests/test_rec.c checks it on synthetic data.
 *
 * Layout: rows are stored biased, u = q + 128 (0..255), and padded to a
 * multiple of 64 bytes (padding u = 128, i.e. q = 0), because the fastest
 * x86 instruction for 8-bit products (AVX512-VNNI vpdpbusd) multiplies
 * unsigned by signed bytes; sum_d u_d p_d - 128 sum_d p_d is the signed
 * product. Kernels: AVX512-VNNI, AVX2 (bytes widened to 16 bits, vpmaddwd),
 * and a portable loop for everything else (ARM, old x86), chosen at run
 * time; all three give the same integers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TB_X86 1
#endif

#include "index.h"

#define TB_PROBES_MAX 64

struct tb_rank_index {
    size_t n, dim, dpad;
    uint8_t *q;      /* n x dpad biased bytes */
    float *scale;    /* n */
    float *mean;     /* dim */
};

tb_rank_index *tb_rank_index_build(const float *cand, size_t n, size_t dim)
{
    tb_rank_index *ix = tb_calloc(1, sizeof *ix);
    ix->n = n;
    ix->dim = dim;
    ix->dpad = (dim + 63) / 64 * 64;
    ix->q = tb_malloc((n ? n : 1) * ix->dpad);
    ix->scale = tb_malloc((n ? n : 1) * sizeof(float));
    ix->mean = tb_calloc(dim ? dim : 1, sizeof(float));
    double *acc = tb_calloc(dim ? dim : 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const float *x = cand + i * dim;
        uint8_t *u = ix->q + i * ix->dpad;
        float m = 0;
        for (size_t d = 0; d < dim; d++) {
            float a = fabsf(x[d]);
            m = a > m ? a : m;
            acc[d] += x[d];
        }
        float sc = m > 0 ? m / 127.0f : 1.0f, inv = 1.0f / sc;
        ix->scale[i] = sc;
        for (size_t d = 0; d < dim; d++)
            u[d] = (uint8_t)(128 + (int)lrintf(x[d] * inv));
        memset(u + dim, 128, ix->dpad - dim);
    }
    for (size_t d = 0; d < dim; d++)
        ix->mean[d] = n ? (float)(acc[d] / (double)n) : 0.0f;
    free(acc);
    return ix;
}

void tb_rank_index_free(tb_rank_index *ix)
{
    if (!ix)
        return;
    free(ix->q);
    free(ix->scale);
    free(ix->mean);
    free(ix);
}

size_t tb_rank_index_n(const tb_rank_index *ix) { return ix ? ix->n : 0; }
size_t tb_rank_index_dim(const tb_rank_index *ix) { return ix ? ix->dim : 0; }
const float *tb_rank_index_mean(const tb_rank_index *ix) { return ix ? ix->mean : NULL; }

/* ------------------------------------------------------------- kernels
 * out[i * np + j] = sum_d u[i][d] * p[j][d] for rows [0, n) (biased: the
 * caller subtracts 128 * sum p[j]). */

static void dots_portable(const uint8_t *u, size_t n, size_t dpad, const int8_t *p,
                          const int16_t *p16, size_t np, int32_t *out)
{
    (void)p16;
    for (size_t i = 0; i < n; i++, u += dpad)
        for (size_t j = 0; j < np; j++) {
            /* 16 lanes of partial sums over a multiple of 64 bytes: the
             * fixed inner trip count lets gcc -O2 (very cheap cost model)
             * and clang vectorise it, e.g. on ARM NEON. */
            const int8_t *pj = p + j * dpad;
            int32_t lane[16] = {0};
            for (size_t d = 0; d < dpad; d += 16)
                for (size_t e = 0; e < 16; e++)
                    lane[e] += (int32_t)u[d + e] * pj[d + e];
            int32_t acc = 0;
            for (size_t e = 0; e < 16; e++)
                acc += lane[e];
            out[i * np + j] = acc;
        }
}

#ifdef TB_X86
__attribute__((target("avx2"))) static void dots_avx2(const uint8_t *u, size_t n, size_t dpad,
                                                      const int8_t *p, const int16_t *p16,
                                                      size_t np, int32_t *out)
{
    (void)p;
    /* u is unsigned here and p16 signed 16-bit: vpmaddwd on the widened
     * bytes cannot overflow (255 * 127 * 2 fits 32 bits easily). */
    for (size_t i = 0; i < n; i++, u += dpad) {
        for (size_t j = 0; j < np; j++) {
            const int16_t *pj = p16 + j * dpad;
            __m256i acc = _mm256_setzero_si256();
            for (size_t d = 0; d < dpad; d += 16) {
                __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(u + d)));
                __m256i y = _mm256_loadu_si256((const __m256i *)(pj + d));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
            }
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc),
                                      _mm256_extracti128_si256(acc, 1));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
            s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
            out[i * np + j] = _mm_cvtsi128_si32(s);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
dots_vnni(const uint8_t *u, size_t n, size_t dpad, const int8_t *p, const int16_t *p16, size_t np,
          int32_t *out)
{
    (void)p16;
    for (size_t i = 0; i < n; i++, u += dpad) {
        for (size_t j = 0; j < np; j++) {
            const int8_t *pj = p + j * dpad;
            __m512i acc = _mm512_setzero_si512();
            for (size_t d = 0; d < dpad; d += 64)
                acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512((const void *)(u + d)),
                                          _mm512_loadu_si512((const void *)(pj + d)));
            out[i * np + j] = _mm512_reduce_add_epi32(acc);
        }
    }
}
#endif

typedef void (*dots_fn)(const uint8_t *, size_t, size_t, const int8_t *, const int16_t *, size_t,
                        int32_t *);

/* The fastest kernel this CPU runs; the environment variable
 * TB_RANK_KERNEL=portable|avx2 forces a slower one (tests compare them). */
static dots_fn pick_kernel(const char **name)
{
    const char *force = getenv("TB_RANK_KERNEL");
    if (force && strcmp(force, "portable") == 0) {
        *name = "portable";
        return dots_portable;
    }
#ifdef TB_X86
    __builtin_cpu_init();
    bool avx2_only = force && strcmp(force, "avx2") == 0;
    if (!avx2_only && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        *name = "avx512-vnni";
        return dots_vnni;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name = "avx2";
        return dots_avx2;
    }
#endif
    *name = "portable";
    return dots_portable;
}

const char *tb_rank_index_kernel(void)
{
    const char *name;
    pick_kernel(&name);
    return name;
}

/* Probe j as int8 (scale *t: p ~ t * q), its 16-bit copy, and 128 * sum q. */
static void quantize_probe(const float *v, size_t dim, size_t dpad, int8_t *q, int16_t *q16,
                           float *t, int32_t *corr)
{
    float m = 0;
    for (size_t d = 0; d < dim; d++)
        m = fabsf(v[d]) > m ? fabsf(v[d]) : m;
    float sc = m > 0 ? m / 127.0f : 1.0f;
    int32_t s = 0;
    memset(q, 0, dpad);
    memset(q16, 0, dpad * sizeof(int16_t));
    for (size_t d = 0; d < dim; d++) {
        q[d] = (int8_t)lrintf(v[d] / sc);
        q16[d] = q[d];
        s += q[d];
    }
    *t = sc;
    *corr = 128 * s;
}

void tb_rank_index_coarse(const tb_rank_index *ix, const struct tb_scorer *s, float *out)
{
    size_t k = s->k < TB_PROBES_MAX - 1 ? s->k : TB_PROBES_MAX - 1;
    size_t np = k + (s->center ? 1 : 0), dpad = ix->dpad;
    int8_t *pq = tb_malloc(np * dpad);
    int16_t *pq16 = tb_malloc(np * dpad * sizeof(int16_t));
    float t[TB_PROBES_MAX], bias[TB_PROBES_MAX];
    int32_t corr[TB_PROBES_MAX];
    for (size_t j = 0; j < k; j++) {
        quantize_probe(s->Q + j * s->dim, s->dim, dpad, pq + j * dpad, pq16 + j * dpad, &t[j],
                       &corr[j]);
        bias[j] = s->tau * s->Qlw[j];
    }
    if (s->center)
        quantize_probe(s->mu, s->dim, dpad, pq + k * dpad, pq16 + k * dpad, &t[k], &corr[k]);
    const char *name;
    dots_fn dots = pick_kernel(&name);
    enum { B = 256 };
    int32_t *acc = tb_malloc(B * np * sizeof(int32_t));
    for (size_t b0 = 0; b0 < ix->n; b0 += B) {
        size_t rows = ix->n - b0 < B ? ix->n - b0 : B;
        dots(ix->q + b0 * dpad, rows, dpad, pq, pq16, np, acc);
        for (size_t i = 0; i < rows; i++) {
            const int32_t *a = acc + i * np;
            float sc = ix->scale[b0 + i], inv = 1.0f;
            if (s->center) {
                float xmu = sc * t[k] * (float)(a[k] - corr[k]);
                float q = 1.0f - 2.0f * xmu + s->mu2;
                inv = 1.0f / sqrtf(q > 1e-12f ? q : 1e-12f);
            }
            float best = -1e30f;
            for (size_t j = 0; j < k; j++) {
                float c = (sc * t[j] * (float)(a[j] - corr[j]) - s->Qmu[j]) * inv + bias[j];
                best = c > best ? c : best;
            }
            out[b0 + i] = best;
        }
    }
    free(acc);
    free(pq);
    free(pq16);
}

/*
 * vecmath512.c -- AVX-512 GELU, softmax and row quantisation (see
 * vecmath512.h).
 *
 * The same algorithms as vecmath.h, 16 lanes wide, tails by masked loads
 * and stores. One change in GELU: erf's 1 - 1/p takes the reciprocal with
 * vrcp14ps plus one Newton step (relative error ~1e-8) instead of a
 * division, whose throughput on 512-bit vectors was the bottleneck; z is
 * clamped at 6 (erf(6) = 1 in float) so p stays finite for the Newton step.
 * Compiled with per-function target attributes, so this file builds for
 * any x86-64 and the functions are only called after the run-time check.
 */
#include "model/vecmath512.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TB512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

bool tb_vm512_available(void)
{
    static atomic_int has = -1;
    int h = atomic_load(&has);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
        atomic_store(&has, h);
    }
    return h;
}

static inline TB512 __mmask16 tail_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

static inline TB512 __m512 gelu16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678f)));
    z = _mm512_min_ps(z, _mm512_set1_ps(6.0f));
    __m512 p = _mm512_fmadd_ps(z, _mm512_set1_ps(0.0000430638f), _mm512_set1_ps(0.0002765672f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0001520143f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0092705272f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0422820123f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0705230784f));
    p = _mm512_fmadd_ps(p, z, one);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    __m512 r = _mm512_rcp14_ps(p);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(p, r, _mm512_set1_ps(2.0f)));
    /* erf(|x|/sqrt2) = 1 - r; with x's sign: 0.5 x (1 + sign * (1 - r)) */
    __m512 e = _mm512_sub_ps(one, r);
    e = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(e),
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, e));
}

TB512 void tb_vm512_gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* exp as tb_v8_exp: clamp, n = round(x / ln2) half away from zero,
 * r = x - n ln2 in two parts, degree-6 polynomial, times 2^n */
static inline TB512 __m512 exp16(__m512 x)
{
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f));
    __m512 half = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(_mm512_castps_si512(t), _mm512_set1_epi32((int)0x80000000u)),
        _mm512_castps_si512(_mm512_set1_ps(0.5f))));
    __m512i ni = _mm512_cvttps_epi32(_mm512_add_ps(t, half));
    __m512 n = _mm512_cvtepi32_ps(ni);
    __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693145752f))),
                             _mm512_mul_ps(n, _mm512_set1_ps(1.42860677e-06f)));
    __m512 p = _mm512_fmadd_ps(r, _mm512_set1_ps(0.00138888888f), _mm512_set1_ps(0.00833345205f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.0416666567f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.166666672f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

TB512 void tb_vm512_softmax(float *x, size_t n, float scale)
{
    if (n == 0)
        return;
    __m512 m = _mm512_set1_ps(-3.0e38f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (i < n)
        m = _mm512_mask_max_ps(m, tail_mask(n - i), m, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    __m512 sc = _mm512_set1_ps(scale), acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx), sc));
        acc = _mm512_add_ps(acc, v);
        _mm512_storeu_ps(x + i, v);
    }
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mx), sc));
        acc = _mm512_mask_add_ps(acc, k, acc, v);
        _mm512_mask_storeu_ps(x + i, k, v);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
    }
}

TB512 void tb_vm512_quantize_rows(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                                  float *sx, int8_t flip)
{
    const __m512 half = _mm512_set1_ps(0.5f), lim = _mm512_set1_ps(127.0f);
    const __m512 nlim = _mm512_set1_ps(-127.0f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m128i fl = _mm_set1_epi8(flip);
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * (size_t)ldx;
        int8_t *out = xq + (size_t)i * (size_t)k_pad;
        __m512 mx = _mm512_setzero_ps();
        int c = 0;
        for (; c + 16 <= k; c += 16)
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(row + c)));
        if (c < k)
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask((size_t)(k - c)), row + c)));
        float s = _mm512_reduce_max_ps(mx) / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
        sx[i] = s;
        __m512 vinv = _mm512_set1_ps(inv);
        for (c = 0; c < k; c += 16) {
            __mmask16 km = tail_mask((size_t)(k - c));
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(km, row + c), vinv);
            v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_or_si512(
                                     _mm512_and_si512(_mm512_castps_si512(v), sign),
                                     _mm512_castps_si512(half))));
            v = _mm512_min_ps(_mm512_max_ps(v, nlim), lim);
            __m128i b = _mm_xor_si128(_mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(v)), fl);
            _mm_mask_storeu_epi8(out + c, km, b);
        }
        for (c = k; c < k_pad; c++)
            out[c] = flip;
    }
}

#else /* not x86-64 */

bool tb_vm512_available(void)
{
    return false;
}
void tb_vm512_gelu(float *x, size_t n)
{
    (void)x;
    (void)n;
}
void tb_vm512_softmax(float *x, size_t n, float scale)
{
    (void)x;
    (void)n;
    (void)scale;
}
void tb_vm512_quantize_rows(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                            float *sx, int8_t flip)
{
    (void)x, (void)ldx, (void)m, (void)k, (void)xq, (void)k_pad, (void)sx, (void)flip;
}
#endif

/*
 * vecmath.h -- exp, erf and GELU on 8 floats at a time, for the encoder.
 *
 * Written with GCC/Clang vector extensions rather than left to the
 * auto-vectoriser: at -O2 (and with the default -ftrapping-math) GCC does
 * not vectorise a loop with clamps and sign tests, and libm's expf/erff are
 * a call per element -- in a MiniLM forward pass GELU alone took a third of
 * the time. The same source compiles to SSE2 on baseline x86-64, to AVX2
 * inside a target("avx2,fma") function (see bert.c), and to NEON on ARM.
 *
 * Accuracy: exp relative error ~2e-7 on [-87, 88] (degree-6 polynomial
 * after range reduction by ln 2); erf absolute error <= 3e-7 (Abramowitz &
 * Stegun 7.1.28). Both are far inside the 1e-4 the reference tests allow.
 */
#ifndef TB_VECMATH_H
#define TB_VECMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The helpers are always inlined, so passing 32-byte vectors by value never
 * crosses an ABI boundary; GCC and Clang warn about it anyway on baseline
 * x86-64. Silenced for this header only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
/* (GCC reports it at the end of the translation unit, after the pop below
 * would have taken effect, so for GCC the pop is left out.) */

typedef float tb_v8f __attribute__((vector_size(32)));
typedef int32_t tb_v8i __attribute__((vector_size(32)));

#define TB_VM_INLINE static inline __attribute__((always_inline))

/* m ? a : b per lane, m from a vector comparison (all ones or all zeros) */
TB_VM_INLINE tb_v8f tb_v8_sel(tb_v8i m, tb_v8f a, tb_v8f b)
{
    return (tb_v8f)((m & (tb_v8i)a) | (~m & (tb_v8i)b));
}

TB_VM_INLINE tb_v8f tb_v8_splat(float v)
{
    return (tb_v8f){v, v, v, v, v, v, v, v};
}

TB_VM_INLINE tb_v8f tb_v8_abs(tb_v8f x)
{
    return (tb_v8f)((tb_v8i)x & 0x7fffffff);
}

TB_VM_INLINE tb_v8f tb_v8_exp(tb_v8f x)
{
    x = tb_v8_sel(x < -87.0f, tb_v8_splat(-87.0f), x);
    x = tb_v8_sel(x > 88.0f, tb_v8_splat(88.0f), x);
    tb_v8f t = x * 1.44269504f;
    /* round to nearest: add +-0.5 (sign of t), truncate */
    tb_v8f half = (tb_v8f)(((tb_v8i)t & (int32_t)0x80000000) | (tb_v8i)tb_v8_splat(0.5f));
    tb_v8i ni = __builtin_convertvector(t + half, tb_v8i);
    tb_v8f n = __builtin_convertvector(ni, tb_v8f);
    tb_v8f r = x - n * 0.693145752f - n * 1.42860677e-06f;
    tb_v8f p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666567f +
               r * (0.00833345205f + r * 0.00138888888f)))));
    return p * (tb_v8f)((ni + 127) << 23);
}

/* erf by Abramowitz & Stegun 7.1.28: erf(z) = 1 - (1 + a1 z + ... + a6 z^6)^-16
 * for z >= 0, absolute error <= 3e-7. One division and no exp: about half
 * the work of the exp-based forms, and GELU is the largest cost outside the
 * matrix products. For large z the power overflows to inf and erf -> 1. */
TB_VM_INLINE tb_v8f tb_v8_erf(tb_v8f x)
{
    tb_v8f z = tb_v8_abs(x);
    tb_v8f p = 1.0f + z * (0.0705230784f + z * (0.0422820123f + z * (0.0092705272f +
               z * (0.0001520143f + z * (0.0002765672f + z * 0.0000430638f)))));
    p = p * p; /* ^2 */
    p = p * p; /* ^4 */
    p = p * p; /* ^8 */
    p = p * p; /* ^16 */
    tb_v8f r = 1.0f - 1.0f / p;
    /* copy x's sign onto r (r >= 0) */
    return (tb_v8f)((tb_v8i)r | ((tb_v8i)x & (int32_t)0x80000000));
}

TB_VM_INLINE float tb_v8_hsum(tb_v8f v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* GELU (erf form) of 8 floats */
TB_VM_INLINE tb_v8f tb_v8_gelu(tb_v8f x)
{
    return 0.5f * x * (1.0f + tb_v8_erf(x * 0.70710678f));
}

/* x[i] = gelu(x[i]) for n floats */
TB_VM_INLINE void tb_vm_gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v = tb_v8_gelu(v);
        memcpy(x + i, &v, sizeof v);
    }
    if (i < n) {
        tb_v8f v = tb_v8_splat(0.0f);
        memcpy(&v, x + i, (n - i) * sizeof(float));
        v = tb_v8_gelu(v);
        memcpy(x + i, &v, (n - i) * sizeof(float));
    }
}

/* x = softmax(x * scale) over n floats, in place */
TB_VM_INLINE void tb_vm_softmax(float *x, size_t n, float scale)
{
    tb_v8f m = tb_v8_splat(-3.0e38f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        m = tb_v8_sel(v > m, v, m);
    }
    float mx = -3.0e38f;
    for (int k = 0; k < 8; k++)
        mx = m[k] > mx ? m[k] : mx;
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    tb_v8f acc = tb_v8_splat(0.0f);
    for (i = 0; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v = tb_v8_exp((v - mx) * scale);
        acc += v;
        memcpy(x + i, &v, sizeof v);
    }
    float sum = tb_v8_hsum(acc);
    if (i < n) {
        tb_v8f v = tb_v8_splat(mx);
        memcpy(&v, x + i, (n - i) * sizeof(float));
        v = tb_v8_exp((v - mx) * scale);
        for (size_t k = 0; k < n - i; k++)
            sum += v[k];
        memcpy(x + i, &v, (n - i) * sizeof(float));
    }
    float inv = 1.0f / sum;
    for (i = 0; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v *= inv;
        memcpy(x + i, &v, sizeof v);
    }
    for (; i < n; i++)
        x[i] *= inv;
}

/* max |x[i]| */
TB_VM_INLINE float tb_vm_absmax(const float *x, size_t n)
{
    tb_v8f m = tb_v8_splat(0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v = tb_v8_abs(v);
        m = tb_v8_sel(v > m, v, m);
    }
    float r = 0;
    for (int k = 0; k < 8; k++)
        r = m[k] > r ? m[k] : r;
    for (; i < n; i++) {
        float a = x[i] < 0 ? -x[i] : x[i];
        r = a > r ? a : r;
    }
    return r;
}


/* x = LayerNorm(x + a) * g + b over n floats (a may be NULL) */
TB_VM_INLINE void tb_vm_add_layernorm(float *x, const float *a, size_t n, const float *g,
                                      const float *b, float eps)
{
    tb_v8f acc = tb_v8_splat(0.0f);
    size_t i = 0, n8 = n / 8 * 8;
    for (; i < n8; i += 8) {
        tb_v8f v, w;
        memcpy(&v, x + i, sizeof v);
        if (a) {
            memcpy(&w, a + i, sizeof w);
            v += w;
            memcpy(x + i, &v, sizeof v);
        }
        acc += v;
    }
    float sum = tb_v8_hsum(acc);
    for (; i < n; i++) {
        if (a)
            x[i] += a[i];
        sum += x[i];
    }
    float mean = sum / (float)n;
    acc = tb_v8_splat(0.0f);
    for (i = 0; i < n8; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v -= mean;
        acc += v * v;
    }
    float var = tb_v8_hsum(acc);
    for (; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (float)n;
    float inv = 1.0f / __builtin_sqrtf(var + eps);
    for (i = 0; i < n8; i += 8) {
        tb_v8f v, gg, bb;
        memcpy(&v, x + i, sizeof v);
        memcpy(&gg, g + i, sizeof gg);
        memcpy(&bb, b + i, sizeof bb);
        v = (v - mean) * inv * gg + bb;
        memcpy(x + i, &v, sizeof v);
    }
    for (; i < n; i++)
        x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

/* out[i] = round(x[i] * inv) clamped to [-127, 127] (half away from zero),
 * then xor flip (0x80 stores x + 128 as an unsigned byte) */
typedef int8_t tb_v8q __attribute__((vector_size(8)));
TB_VM_INLINE void tb_vm_quantize(const float *x, size_t n, float inv, int8_t *out, int8_t flip)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tb_v8f v;
        memcpy(&v, x + i, sizeof v);
        v *= inv;
        v += (tb_v8f)(((tb_v8i)v & (int32_t)0x80000000) | (tb_v8i)tb_v8_splat(0.5f));
        v = tb_v8_sel(v > 127.0f, tb_v8_splat(127.0f), v);
        v = tb_v8_sel(v < -127.0f, tb_v8_splat(-127.0f), v);
        tb_v8q q = __builtin_convertvector(__builtin_convertvector(v, tb_v8i), tb_v8q) ^ flip;
        memcpy(out + i, &q, sizeof q);
    }
    for (; i < n; i++) {
        float r = x[i] * inv;
        r += r >= 0 ? 0.5f : -0.5f;
        r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
        out[i] = (int8_t)((int)r ^ flip);
    }
}

#ifdef __clang__
#pragma GCC diagnostic pop
#endif

#endif

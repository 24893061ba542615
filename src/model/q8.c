/*
 * q8.c -- int8 GEMM kernels for quantised linear layers (see q8.h).
 *
 * Design. Every kernel computes a tile of outputs with int32 accumulators
 * over the packed weight layout [n_pad/16][k_pad/4][16][4], then applies the
 * float epilogue y = sx * sw * acc + b. The packing is shared, so the kernel
 * can be switched at any time (tests compare all of them on one matrix).
 *
 * amx: see the comment above gemm_amx (AMX tiles, the same unsigned-x form
 * and epilogue as avx512vnni, so the two give identical results).
 *
 * avx512vnni: vpdpbusd multiplies unsigned bytes by signed bytes. The
 * activations are signed, so the quantiser stores them with the sign bit
 * flipped (x ^ 0x80 = x + 128 as an unsigned byte) when this kernel is in
 * use, and the kernel subtracts 128 * sum_k w[j][k] afterwards; the result
 * is exact. A tile is 8 rows x 32 outputs (16 zmm accumulators),
 * so each 64-byte weight load feeds 8 instructions.
 *
 * avx2: pmaddubsw (u8 x s8 -> pairs summed to s16) saturates for u8 > 127,
 * so the kernel feeds it |x| and w with x's sign moved onto it (psignb).
 * With |x|, |w| <= 127 a pair sums to at most 32258 < 32767: exact. pmaddwd
 * by ones widens to int32. Tile: 4 rows x 16 outputs.
 *
 * generic: plain loops over the same layout, int32 accumulators; GCC and
 * Clang vectorise the 16-wide inner loop (NEON on ARM, SSE2 on x86-64).
 *
 * The x86 kernels are compiled with per-function target attributes, so the
 * library still runs on any x86-64; __builtin_cpu_supports picks at run time.
 */
#include "model/q8.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/vecmath.h"
#include "model/vecmath512.h"
#include "util/util.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TB_Q8_X86 1
#include <immintrin.h>
#endif

typedef void (*q8_gemm_fn)(const int8_t *xq, const float *sx, int m0, int m1,
                           const tb_q8_matrix *q, int n0, int n1, const float *bias,
                           float *y, int ldy);

/* ---------------------------------------------------------------- packing */

static inline int8_t q8_round(float v)
{
    /* Round half away from zero, clamp to the symmetric range. Branch-free
     * so loops over rows vectorise. */
    float r = v + (v >= 0.0f ? 0.5f : -0.5f);
    r = r > 127.0f ? 127.0f : r;
    r = r < -127.0f ? -127.0f : r;
    return (int8_t)(int)r;
}

void tb_q8_pack(tb_q8_matrix *q, const float *w, int n, int k)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->n_pad = (n + 15) / 16 * 16;
    q->k_pad = (k + 3) / 4 * 4;
    size_t k4n = (size_t)q->k_pad / 4;
    q->w = tb_calloc((size_t)q->n_pad * (size_t)q->k_pad, 1);
    q->scale = tb_calloc((size_t)q->n_pad, sizeof(float));
    q->wsum = tb_calloc((size_t)q->n_pad, sizeof(int32_t));
    for (int j = 0; j < n; j++) {
        const float *row = w + (size_t)j * (size_t)k;
        float amax = 0.0f;
        for (int c = 0; c < k; c++)
            amax = fmaxf(amax, fabsf(row[c]));
        float s = amax / 127.0f;
        float inv = s > 0.0f ? 1.0f / s : 0.0f;
        q->scale[j] = s;
        int8_t *blk = q->w + (size_t)(j / 16) * k4n * 64;
        int32_t sum = 0;
        for (int c = 0; c < k; c++) {
            int8_t v = q8_round(row[c] * inv);
            blk[(size_t)(c / 4) * 64 + (size_t)(j % 16) * 4 + (size_t)(c % 4)] = v;
            sum += v;
        }
        q->wsum[j] = sum;
    }
}

void tb_q8_free(tb_q8_matrix *q)
{
    if (!q)
        return;
    free(q->w);
    free(q->scale);
    free(q->wsum);
    memset(q, 0, sizeof *q);
}

/* Row quantisation, compiled twice (baseline and AVX2) from vecmath.h. */
TB_VM_INLINE void quantize_rows_body(const float *x, int ldx, int m, int k, int8_t *xq,
                                     int k_pad, float *sx, int8_t flip)
{
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * (size_t)ldx;
        int8_t *out = xq + (size_t)i * (size_t)k_pad;
        float s = tb_vm_absmax(row, (size_t)k) / 127.0f;
        sx[i] = s;
        tb_vm_quantize(row, (size_t)k, s > 0.0f ? 1.0f / s : 0.0f, out, flip);
        for (int c = k; c < k_pad; c++)
            out[c] = flip;
    }
}

static void quantize_rows_base(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                               float *sx, int8_t flip)
{
    quantize_rows_body(x, ldx, m, k, xq, k_pad, sx, flip);
}

#ifdef TB_Q8_X86
/* The same with AVX2 intrinsics: the vector-extension version's int32 ->
 * int8 narrowing compiles to scalar extracts, which made quantisation 16%
 * of an int8 forward pass. Rounding is identical (half away from zero). */
__attribute__((target("avx2,fma"))) static void
quantize_rows_avx2(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad, float *sx,
                   int8_t flip)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 half = _mm256_set1_ps(0.5f), lim = _mm256_set1_ps(127.0f);
    const __m256 nlim = _mm256_set1_ps(-127.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i fl = _mm256_set1_epi8(flip);
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * (size_t)ldx;
        int8_t *out = xq + (size_t)i * (size_t)k_pad;
        __m256 mx = _mm256_setzero_ps();
        int c = 0;
        for (; c + 8 <= k; c += 8)
            mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(row + c), absmask));
        float t[8], amax = 0.0f;
        _mm256_storeu_ps(t, mx);
        for (int u = 0; u < 8; u++)
            amax = t[u] > amax ? t[u] : amax;
        for (; c < k; c++)
            amax = fabsf(row[c]) > amax ? fabsf(row[c]) : amax;
        float s = amax / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
        sx[i] = s;
        __m256 vinv = _mm256_set1_ps(inv);
        c = 0;
        for (; c + 32 <= k; c += 32) {
            __m256i q[4];
            for (int u = 0; u < 4; u++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + c + 8 * u), vinv);
                v = _mm256_add_ps(v, _mm256_or_ps(_mm256_and_ps(v, signmask), half));
                v = _mm256_min_ps(_mm256_max_ps(v, nlim), lim);
                q[u] = _mm256_cvttps_epi32(v);
            }
            __m256i a = _mm256_packs_epi32(q[0], q[1]); /* lanes interleaved by 128 bits */
            __m256i b = _mm256_packs_epi32(q[2], q[3]);
            __m256i p = _mm256_packs_epi16(a, b);
            p = _mm256_permutevar8x32_epi32(p, perm);
            _mm256_storeu_si256((__m256i *)(out + c), _mm256_xor_si256(p, fl));
        }
        for (; c < k; c++)
            out[c] = (int8_t)(q8_round(row[c] * inv) ^ flip);
        for (c = k; c < k_pad; c++)
            out[c] = flip;
    }
}
#endif

static int8_t kernel_flip(void);

void tb_q8_quantize_rows(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                         float *sx)
{
    int8_t flip = kernel_flip();
#ifdef TB_Q8_X86
    if (tb_vm512_available()) {
        tb_vm512_quantize_rows(x, ldx, m, k, xq, k_pad, sx, flip);
        return;
    }
    static atomic_int has_avx2 = -1;
    int h = atomic_load(&has_avx2);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        atomic_store(&has_avx2, h);
    }
    if (h) {
        quantize_rows_avx2(x, ldx, m, k, xq, k_pad, sx, flip);
        return;
    }
#endif
    quantize_rows_base(x, ldx, m, k, xq, k_pad, sx, flip);
}

/* ---------------------------------------------------------------- generic */

static void gemm_generic(const int8_t *xq, const float *sx, int m0, int m1,
                         const tb_q8_matrix *q, int n0, int n1, const float *bias, float *y,
                         int ldy)
{
    const int kp = q->k_pad, k4n = kp / 4;
    for (int j = n0; j < n1; j += 16) {
        const int8_t *wb = q->w + (size_t)(j / 16) * (size_t)k4n * 64;
        int cnt = n1 - j < 16 ? n1 - j : 16;
        for (int i = m0; i < m1; i++) {
            const int8_t *x = xq + (size_t)i * (size_t)kp;
            int32_t acc[16] = {0};
            for (int k4 = 0; k4 < k4n; k4++) {
                const int8_t *wp = wb + (size_t)k4 * 64;
                const int8_t *xp = x + 4 * k4;
                for (int c = 0; c < 16; c++)
                    acc[c] += xp[0] * wp[4 * c] + xp[1] * wp[4 * c + 1] +
                              xp[2] * wp[4 * c + 2] + xp[3] * wp[4 * c + 3];
            }
            float *yr = y + (size_t)i * (size_t)ldy;
            for (int c = 0; c < cnt; c++)
                yr[j + c] = sx[i] * q->scale[j + c] * (float)acc[c] + (bias ? bias[j + c] : 0.0f);
        }
    }
}

#ifdef TB_Q8_X86
/* ---------------------------------------------------------------- avx2 */

#define TB_AVX2 __attribute__((target("avx2,fma")))

static inline TB_AVX2 __m256i avx2_bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static TB_AVX2 void avx2_store(float *yr, const float *sxp, const tb_q8_matrix *q, int j,
                               int cnt, const float *bias, __m256i lo, __m256i hi)
{
    float tmp[16];
    __m256 s = _mm256_set1_ps(*sxp);
    __m256 a = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), s), _mm256_loadu_ps(q->scale + j));
    __m256 b = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), s),
                             _mm256_loadu_ps(q->scale + j + 8));
    if (cnt == 16) {
        if (bias) {
            a = _mm256_add_ps(a, _mm256_loadu_ps(bias + j));
            b = _mm256_add_ps(b, _mm256_loadu_ps(bias + j + 8));
        }
        _mm256_storeu_ps(yr + j, a);
        _mm256_storeu_ps(yr + j + 8, b);
        return;
    }
    _mm256_storeu_ps(tmp, a);
    _mm256_storeu_ps(tmp + 8, b);
    for (int c = 0; c < cnt; c++)
        yr[j + c] = tmp[c] + (bias ? bias[j + c] : 0.0f);
}

static TB_AVX2 void gemm_avx2(const int8_t *xq, const float *sx, int m0, int m1,
                              const tb_q8_matrix *q, int n0, int n1, const float *bias, float *y,
                              int ldy)
{
    const int kp = q->k_pad, k4n = kp / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int j = n0; j < n1; j += 16) {
        const int8_t *wb = q->w + (size_t)(j / 16) * (size_t)k4n * 64;
        int cnt = n1 - j < 16 ? n1 - j : 16;
        int i = m0;
        for (; i + 4 <= m1; i += 4) {
            const int8_t *x = xq + (size_t)i * (size_t)kp;
            __m256i a0l = _mm256_setzero_si256(), a0h = a0l, a1l = a0l, a1h = a0l;
            __m256i a2l = a0l, a2h = a0l, a3l = a0l, a3h = a0l;
            const int8_t *wp = wb;
            for (int k4 = 0; k4 < k4n; k4++, wp += 64) {
                __m256i wl = _mm256_loadu_si256((const __m256i *)wp);
                __m256i wh = _mm256_loadu_si256((const __m256i *)(wp + 32));
#define TB_AVX2_ROW(r, al, ah)                                                                \
    do {                                                                                      \
        __m256i xb = avx2_bcast4(x + (size_t)(r) * (size_t)kp + 4 * k4);                      \
        __m256i ax = _mm256_abs_epi8(xb);                                                     \
        al = _mm256_add_epi32(al, _mm256_madd_epi16(                                          \
                                      _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wl, xb)), ones)); \
        ah = _mm256_add_epi32(ah, _mm256_madd_epi16(                                          \
                                      _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wh, xb)), ones)); \
    } while (0)
                TB_AVX2_ROW(0, a0l, a0h);
                TB_AVX2_ROW(1, a1l, a1h);
                TB_AVX2_ROW(2, a2l, a2h);
                TB_AVX2_ROW(3, a3l, a3h);
            }
            avx2_store(y + (size_t)i * (size_t)ldy, sx + i, q, j, cnt, bias, a0l, a0h);
            avx2_store(y + (size_t)(i + 1) * (size_t)ldy, sx + i + 1, q, j, cnt, bias, a1l, a1h);
            avx2_store(y + (size_t)(i + 2) * (size_t)ldy, sx + i + 2, q, j, cnt, bias, a2l, a2h);
            avx2_store(y + (size_t)(i + 3) * (size_t)ldy, sx + i + 3, q, j, cnt, bias, a3l, a3h);
        }
        for (; i < m1; i++) {
            const int8_t *x = xq + (size_t)i * (size_t)kp;
            __m256i a0l = _mm256_setzero_si256(), a0h = a0l;
            const int8_t *wp = wb;
            for (int k4 = 0; k4 < k4n; k4++, wp += 64) {
                __m256i wl = _mm256_loadu_si256((const __m256i *)wp);
                __m256i wh = _mm256_loadu_si256((const __m256i *)(wp + 32));
                TB_AVX2_ROW(0, a0l, a0h);
            }
            avx2_store(y + (size_t)i * (size_t)ldy, sx + i, q, j, cnt, bias, a0l, a0h);
        }
#undef TB_AVX2_ROW
    }
}

/* ---------------------------------------------------------------- avx512 vnni */

#define TB_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

static inline TB_VNNI void vnni_store(float *yr, float s, const tb_q8_matrix *q, int j, int cnt,
                                      const float *bias, __m512i acc)
{
    __mmask16 mk = cnt >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1u);
    /* undo the +128 on x: acc - 128 * sum_k w */
    __m512i wsum = _mm512_loadu_si512((const void *)(q->wsum + j));
    acc = _mm512_sub_epi32(acc, _mm512_slli_epi32(wsum, 7));
    __m512 sc = _mm512_mul_ps(_mm512_loadu_ps(q->scale + j), _mm512_set1_ps(s));
    __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + j) : _mm512_setzero_ps();
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, b);
    _mm512_mask_storeu_ps(yr + j, mk, v);
}

static TB_VNNI void gemm_vnni(const int8_t *xq, const float *sx, int m0, int m1,
                              const tb_q8_matrix *q, int n0, int n1, const float *bias, float *y,
                              int ldy)
{
    const int kp = q->k_pad, k4n = kp / 4;
    for (int j = n0; j < n1; j += 32) {
        /* two 16-output blocks per pass when there are two left */
        const int8_t *w0 = q->w + (size_t)(j / 16) * (size_t)k4n * 64;
        int two = j + 16 < n1;
        const int8_t *w1 = two ? w0 + (size_t)k4n * 64 : w0;
        int c0 = n1 - j < 16 ? n1 - j : 16;
        int c1 = two ? (n1 - j - 16 < 16 ? n1 - j - 16 : 16) : 0;
        int i = m0;
        for (; i + 8 <= m1; i += 8) {
            const int8_t *x = xq + (size_t)i * (size_t)kp;
            /* 16 accumulators in named variables: an array indexed in a
             * loop stays in memory at -O2 (the loop is not unrolled). */
            __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00;
            __m512i c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
            __m512i c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
            const size_t ld = (size_t)kp;
            for (int k4 = 0; k4 < k4n; k4++) {
                __m512i wa = _mm512_loadu_si512((const void *)(w0 + (size_t)k4 * 64));
                __m512i wb = _mm512_loadu_si512((const void *)(w1 + (size_t)k4 * 64));
                const int8_t *xp = x + 4 * k4;
#define TB_VNNI_ROW(r, ca, cb)                                                          \
    do {                                                                                \
        int32_t v;                                                                      \
        memcpy(&v, xp + (r) * ld, 4);                                                   \
        __m512i xb = _mm512_set1_epi32(v);                                              \
        ca = _mm512_dpbusd_epi32(ca, xb, wa);                                           \
        cb = _mm512_dpbusd_epi32(cb, xb, wb);                                           \
    } while (0)
                TB_VNNI_ROW(0, c00, c01);
                TB_VNNI_ROW(1, c10, c11);
                TB_VNNI_ROW(2, c20, c21);
                TB_VNNI_ROW(3, c30, c31);
                TB_VNNI_ROW(4, c40, c41);
                TB_VNNI_ROW(5, c50, c51);
                TB_VNNI_ROW(6, c60, c61);
                TB_VNNI_ROW(7, c70, c71);
#undef TB_VNNI_ROW
            }
            __m512i acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                                 {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
            for (int r = 0; r < 8; r++) {
                float *yr = y + (size_t)(i + r) * (size_t)ldy;
                vnni_store(yr, sx[i + r], q, j, c0, bias, acc[r][0]);
                if (two)
                    vnni_store(yr, sx[i + r], q, j + 16, c1, bias, acc[r][1]);
            }
        }
        for (; i < m1; i++) {
            const int8_t *x = xq + (size_t)i * (size_t)kp;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0;
            for (int k4 = 0; k4 < k4n; k4++) {
                int32_t v;
                memcpy(&v, x + 4 * k4, 4);
                __m512i xb = _mm512_set1_epi32(v);
                a0 = _mm512_dpbusd_epi32(a0, xb,
                                         _mm512_loadu_si512((const void *)(w0 + (size_t)k4 * 64)));
                a1 = _mm512_dpbusd_epi32(a1, xb,
                                         _mm512_loadu_si512((const void *)(w1 + (size_t)k4 * 64)));
            }
            float *yr = y + (size_t)i * (size_t)ldy;
            vnni_store(yr, sx[i], q, j, c0, bias, a0);
            if (two)
                vnni_store(yr, sx[i], q, j + 16, c1, bias, a1);
        }
    }
}

/* ---------------------------------------------------------------- amx */

/* AMX-INT8 (Sapphire Rapids and later). A tile holds 16 rows of 64 bytes;
 * tdpbusd multiplies a 16 x 64 tile of unsigned activations by a 16 x 64
 * tile of weights laid out as 16 groups of 4 k for each of 16 outputs --
 * which is exactly one 1 KiB stretch of the packed layout (16 consecutive
 * k4 groups of a 16-output block) -- and adds into 16 x 16 int32. The
 * kernel uses the same unsigned-x form as avx512vnni (so the two share the
 * quantiser's output and the wsum correction) and a 32 x 32 block: tiles
 * 0-3 accumulate, 4-5 hold two row tiles of x, 6-7 two column tiles of W.
 *
 * K is done by tiles in steps of 64; the rest of k_pad (k_pad is only a
 * multiple of 4) is added with vpdpbusd in the epilogue, row by row, after
 * the accumulators are stored to a 4 KiB buffer. Rows past m1 are never
 * read: the last row block runs with a tile configuration of fewer rows.
 * Columns past n1 read the zero padding of the packed weights and are not
 * stored. The kernel loads its configuration on entry and releases the
 * tiles on return, so no tile state outlives a call.
 *
 * Linux only hands out the 8 KiB tile register state to a process that asks
 * (arch_prctl ARCH_REQ_XCOMP_PERM); cpu_has asks once, and any failure --
 * old kernel, no permission, sigaltstack too small -- leaves the VNNI
 * kernel in charge. */
#if defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define TB_Q8_AMX 1
#endif
#endif /* TB_Q8_X86 */

#ifdef TB_Q8_AMX
#define TB_AMX                                                                            \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,amx-tile,amx-int8")))

struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

static TB_AMX void amx_configure(int r0, int r1)
{
    struct amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    /* tiles 0, 1: rows of the first row tile; 2, 3: of the second */
    for (int t = 0; t < 8; t++) {
        int rows = t == 0 || t == 1 || t == 4 ? r0 : t == 2 || t == 3 || t == 5 ? r1 : 16;
        if (rows > 0) {
            cfg.rows[t] = (uint8_t)rows;
            cfg.colsb[t] = 64;
        }
    }
    _tile_loadconfig(&cfg);
}

/* The epilogue for one stored 16 x 16 accumulator tile: add the k tail,
 * scale, bias, store. */
static inline TB_AMX void amx_finish(const int32_t *acc, int rows, const int8_t *xq, int kp,
                                     int k64, const float *sx, const int8_t *wblk,
                                     const tb_q8_matrix *q, int j, int cnt, const float *bias,
                                     float *y, int ldy)
{
    const int k4n = kp / 4;
    for (int r = 0; r < rows; r++) {
        __m512i a = _mm512_loadu_si512((const void *)(acc + 16 * r));
        const int8_t *xr = xq + (size_t)r * (size_t)kp;
        for (int k4 = k64 / 4; k4 < k4n; k4++) {
            int32_t v;
            memcpy(&v, xr + 4 * k4, 4);
            a = _mm512_dpbusd_epi32(a, _mm512_set1_epi32(v),
                                    _mm512_loadu_si512((const void *)(wblk + (size_t)k4 * 64)));
        }
        vnni_store(y + (size_t)r * (size_t)ldy, sx[r], q, j, cnt, bias, a);
    }
}

static TB_AMX void gemm_amx(const int8_t *xq, const float *sx, int m0, int m1,
                            const tb_q8_matrix *q, int n0, int n1, const float *bias, float *y,
                            int ldy)
{
    const int kp = q->k_pad, k4n = kp / 4, k64 = kp / 64 * 64;
    const size_t ld = (size_t)kp;
    _Alignas(64) int32_t buf[4][256];
    int cur0 = -1, cur1 = -1;
    for (int i = m0; i < m1; i += 32) {
        int r0 = TB_MIN(16, m1 - i), r1 = TB_MAX(0, TB_MIN(16, m1 - i - 16));
        if (r0 != cur0 || r1 != cur1) {
            amx_configure(r0, r1);
            cur0 = r0;
            cur1 = r1;
        }
        const int8_t *x0 = xq + (size_t)i * ld, *x1 = x0 + 16 * ld;
        for (int j = n0; j < n1; j += 32) {
            const int8_t *w0 = q->w + (size_t)(j / 16) * (size_t)k4n * 64;
            int two = j + 16 < n1;
            const int8_t *w1 = w0 + (size_t)k4n * 64;
            _tile_zero(0);
            _tile_zero(1);
            if (r1) {
                _tile_zero(2);
                _tile_zero(3);
            }
            for (int kb = 0; kb < k64; kb += 64) {
                _tile_loadd(4, x0 + kb, (long)ld);
                _tile_loadd(6, w0 + (size_t)kb * 16, 64);
                _tile_dpbusd(0, 4, 6);
                if (two) {
                    _tile_loadd(7, w1 + (size_t)kb * 16, 64);
                    _tile_dpbusd(1, 4, 7);
                }
                if (r1) {
                    _tile_loadd(5, x1 + kb, (long)ld);
                    _tile_dpbusd(2, 5, 6);
                    if (two)
                        _tile_dpbusd(3, 5, 7);
                }
            }
            int c0 = TB_MIN(16, n1 - j), c1 = two ? TB_MIN(16, n1 - j - 16) : 0;
            _tile_stored(0, buf[0], 64);
            amx_finish(buf[0], r0, x0, kp, k64, sx + i, w0, q, j, c0, bias,
                       y + (size_t)i * (size_t)ldy, ldy);
            if (two) {
                _tile_stored(1, buf[1], 64);
                amx_finish(buf[1], r0, x0, kp, k64, sx + i, w1, q, j + 16, c1, bias,
                           y + (size_t)i * (size_t)ldy, ldy);
            }
            if (r1) {
                _tile_stored(2, buf[2], 64);
                amx_finish(buf[2], r1, x1, kp, k64, sx + i + 16, w0, q, j, c0, bias,
                           y + (size_t)(i + 16) * (size_t)ldy, ldy);
                if (two) {
                    _tile_stored(3, buf[3], 64);
                    amx_finish(buf[3], r1, x1, kp, k64, sx + i + 16, w1, q, j + 16, c1, bias,
                               y + (size_t)(i + 16) * (size_t)ldy, ldy);
                }
            }
        }
    }
    _tile_release();
}

/* CPUID says AMX-TILE and AMX-INT8, and the kernel grants the tile state. */
static int amx_usable(void)
{
    static atomic_int state = -1;
    int st = atomic_load(&state);
    if (st >= 0)
        return st;
    unsigned a, b, c, d;
    int ok = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 25));
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 */
    if (ok)
        ok = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
    atomic_store(&state, ok);
    return ok;
}
#endif /* TB_Q8_AMX */

/* ---------------------------------------------------------------- dispatch */

struct q8_kernel {
    const char *name;
    q8_gemm_fn fn;
    int8_t flip; /* 0x80: wants x + 128 as unsigned bytes */
};

static const struct q8_kernel kernels[] = {
#ifdef TB_Q8_AMX
    {"amx", gemm_amx, (int8_t)0x80},
#endif
#ifdef TB_Q8_X86
    {"avx512vnni", gemm_vnni, (int8_t)0x80},
    {"avx2", gemm_avx2, 0},
#endif
    {"generic", gemm_generic, 0},
};

static _Atomic(const struct q8_kernel *) current;

static int cpu_has(const char *name)
{
#ifdef TB_Q8_X86
    __builtin_cpu_init();
#ifdef TB_Q8_AMX
    if (strcmp(name, "amx") == 0)
        return cpu_has("avx512vnni") && amx_usable();
#endif
    if (strcmp(name, "avx512vnni") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return strcmp(name, "generic") == 0;
}

int tb_q8_select(const char *name)
{
    for (size_t i = 0; i < TB_ARRAY_LEN(kernels); i++) {
        if (strcmp(kernels[i].name, name) == 0) {
            if (!cpu_has(name))
                return -1;
            atomic_store(&current, &kernels[i]);
            return 0;
        }
    }
    return -1;
}

static const struct q8_kernel *kernel(void)
{
    const struct q8_kernel *k = atomic_load(&current);
    if (k)
        return k;
    /* TASTEBUD_Q8_KERNEL forces one (for benchmarks on one machine). */
    const char *force = getenv("TASTEBUD_Q8_KERNEL");
    if (force && tb_q8_select(force) == 0)
        return atomic_load(&current);
    for (size_t i = 0; i < TB_ARRAY_LEN(kernels); i++) {
        if (cpu_has(kernels[i].name)) {
            atomic_store(&current, &kernels[i]);
            return &kernels[i];
        }
    }
    return &kernels[TB_ARRAY_LEN(kernels) - 1];
}

static int8_t kernel_flip(void)
{
    return kernel()->flip;
}

const char *tb_q8_kernel(void)
{
    return kernel()->name;
}

void tb_q8_gemm(const int8_t *xq, const float *sx, int m0, int m1, const tb_q8_matrix *q,
                int n0, int n1, const float *bias, float *y, int ldy)
{
    if (m0 >= m1 || n0 >= n1)
        return;
    kernel()->fn(xq, sx, m0, m1, q, n0, n1, bias, y, ldy);
}

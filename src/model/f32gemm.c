/*
 * f32gemm.c -- float32 GEMM kernels over pre-packed weights (see f32gemm.h).
 *
 * Both kernels compute a register tile of outputs, reading the 16-float
 * rows of the packed W block for each k and broadcasting one x value per
 * row of the tile into a fused multiply-add. The AVX-512 kernel blocks K by
 * 256 so the 32 x 256 panel of W (32 KiB) stays in L1 while every row tile
 * of x passes over it; partial sums go through y between K blocks (y is
 * initialised with the bias by the first block).
 *
 * The kernels use per-function target attributes and are picked at run time
 * with __builtin_cpu_supports, so the library runs on any x86-64.
 */
#include "model/f32gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TB_F32_X86 1
#include <immintrin.h>
#endif

#define KC 256

/* Cache-line alignment: every 16-float row of the packed W is then one
 * 64-byte line. (With malloc's 16-byte alignment three loads in four
 * straddled two lines, which cost 10-14% of the kernel's speed.) */
float *tb_f32_alloc(size_t nfloats)
{
    void *p = NULL;
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    if (posix_memalign(&p, 64, bytes) != 0)
        p = tb_malloc(bytes); /* prints the out-of-memory message and aborts */
    memset(p, 0, bytes);
    return p;
}

void tb_f32_pack(tb_f32_matrix *p, const float *w, int n, int k)
{
    p->n = n;
    p->k = k;
    p->n_pad = (n + 15) / 16 * 16;
    p->w = tb_f32_alloc((size_t)p->n_pad * (size_t)k);
    for (int j = 0; j < n; j++)
        for (int c = 0; c < k; c++)
            p->w[((size_t)(j / 16) * (size_t)k + (size_t)c) * 16 + (size_t)(j % 16)] =
                w[(size_t)j * (size_t)k + (size_t)c];
}

void tb_f32_pack_into(tb_f32_matrix *p, float *dst, const float *w, int ldw, int n, int k,
                      bool transposed)
{
    p->n = n;
    p->k = k;
    p->n_pad = (n + 15) / 16 * 16;
    p->w = dst;
    for (int jb = 0; jb < p->n_pad; jb += 16) {
        int cnt = TB_MIN(16, n - jb);
        float *blk = dst + (size_t)jb * (size_t)k;
        if (transposed) {
            /* rows c of w hold W[jb..jb+15][c] side by side: copy 16 at a time */
            for (int c = 0; c < k; c++) {
                memcpy(blk + (size_t)c * 16, w + (size_t)c * (size_t)ldw + jb,
                       (size_t)cnt * sizeof(float));
                if (cnt < 16)
                    memset(blk + (size_t)c * 16 + cnt, 0, (size_t)(16 - cnt) * sizeof(float));
            }
        } else {
            for (int c = 0; c < k; c++) {
                float *o = blk + (size_t)c * 16;
                for (int u = 0; u < cnt; u++)
                    o[u] = w[(size_t)(jb + u) * (size_t)ldw + (size_t)c];
                for (int u = cnt; u < 16; u++)
                    o[u] = 0.0f;
            }
        }
    }
}

void tb_f32_free(tb_f32_matrix *p)
{
    if (p) {
        free(p->w);
        memset(p, 0, sizeof *p);
    }
}

typedef void (*f32_fn)(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p, int n0,
                       int n1, const float *bias, float *y, int ldy);

#ifdef TB_F32_X86
#define TB_AVX512 __attribute__((target("avx512f,fma")))

/* one row, cols [j, j+32) (cnt0/cnt1 valid in each half), k in [k0, k1) */
static inline TB_AVX512 void row1_512(const float *x, const float *w0, const float *w1, int k0,
                                      int k1, float *yr, int j, __mmask16 m0, __mmask16 m1,
                                      bool two, const float *bias, bool first)
{
    __m512 a = first ? (bias ? _mm512_maskz_loadu_ps(m0, bias + j) : _mm512_setzero_ps())
                     : _mm512_maskz_loadu_ps(m0, yr + j);
    __m512 b = _mm512_setzero_ps();
    if (two)
        b = first ? (bias ? _mm512_maskz_loadu_ps(m1, bias + j + 16) : _mm512_setzero_ps())
                  : _mm512_maskz_loadu_ps(m1, yr + j + 16);
    for (int c = k0; c < k1; c++) {
        __m512 xb = _mm512_set1_ps(x[c]);
        a = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w0 + (size_t)c * 16), a);
        b = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w1 + (size_t)c * 16), b);
    }
    _mm512_mask_storeu_ps(yr + j, m0, a);
    if (two)
        _mm512_mask_storeu_ps(yr + j + 16, m1, b);
}

static TB_AVX512 void gemm_512(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p,
                               int n0, int n1, const float *bias, float *y, int ldy)
{
    const int K = p->k;
    for (int j = n0; j < n1; j += 32) {
        const float *w0 = p->w + (size_t)(j / 16) * (size_t)K * 16;
        bool two = j + 16 < n1;
        const float *w1 = two ? w0 + (size_t)K * 16 : w0;
        int c0 = TB_MIN(16, n1 - j), c1 = two ? TB_MIN(16, n1 - j - 16) : 0;
        __mmask16 k0m = (__mmask16)(c0 >= 16 ? 0xFFFF : (1u << c0) - 1);
        __mmask16 k1m = (__mmask16)(c1 >= 16 ? 0xFFFF : (1u << c1) - 1);
        for (int kb = 0; kb < K; kb += KC) {
            int ke = TB_MIN(K, kb + KC);
            bool first = kb == 0;
            int i = m0;
            for (; i + 8 <= m1; i += 8) {
                const float *xr = x + (size_t)i * (size_t)ldx;
                float *yr = y + (size_t)i * (size_t)ldy;
                const size_t lx = (size_t)ldx, ly = (size_t)ldy;
#define LOADC(r, h, m)                                                                         \
    (first ? (bias ? _mm512_maskz_loadu_ps(m, bias + j + 16 * (h)) : _mm512_setzero_ps())     \
           : _mm512_maskz_loadu_ps(m, yr + (r) * ly + j + 16 * (h)))
                __m512 a0 = LOADC(0, 0, k0m), a1 = LOADC(1, 0, k0m), a2 = LOADC(2, 0, k0m),
                       a3 = LOADC(3, 0, k0m), a4 = LOADC(4, 0, k0m), a5 = LOADC(5, 0, k0m),
                       a6 = LOADC(6, 0, k0m), a7 = LOADC(7, 0, k0m);
                __m512 b0 = LOADC(0, 1, k1m), b1 = LOADC(1, 1, k1m), b2 = LOADC(2, 1, k1m),
                       b3 = LOADC(3, 1, k1m), b4 = LOADC(4, 1, k1m), b5 = LOADC(5, 1, k1m),
                       b6 = LOADC(6, 1, k1m), b7 = LOADC(7, 1, k1m);
#undef LOADC
                for (int c = kb; c < ke; c++) {
                    __m512 wa = _mm512_loadu_ps(w0 + (size_t)c * 16);
                    __m512 wb = _mm512_loadu_ps(w1 + (size_t)c * 16);
#define ROW(r, a, b)                                                                           \
    do {                                                                                       \
        __m512 xb = _mm512_set1_ps(xr[(r) * lx + (size_t)c]);                                  \
        a = _mm512_fmadd_ps(xb, wa, a);                                                        \
        b = _mm512_fmadd_ps(xb, wb, b);                                                        \
    } while (0)
                    ROW(0, a0, b0);
                    ROW(1, a1, b1);
                    ROW(2, a2, b2);
                    ROW(3, a3, b3);
                    ROW(4, a4, b4);
                    ROW(5, a5, b5);
                    ROW(6, a6, b6);
                    ROW(7, a7, b7);
#undef ROW
                }
#define STORE(r, a, b)                                                                         \
    do {                                                                                       \
        _mm512_mask_storeu_ps(yr + (r) * ly + j, k0m, a);                                      \
        if (two)                                                                               \
            _mm512_mask_storeu_ps(yr + (r) * ly + j + 16, k1m, b);                             \
    } while (0)
                STORE(0, a0, b0);
                STORE(1, a1, b1);
                STORE(2, a2, b2);
                STORE(3, a3, b3);
                STORE(4, a4, b4);
                STORE(5, a5, b5);
                STORE(6, a6, b6);
                STORE(7, a7, b7);
#undef STORE
            }
            for (; i < m1; i++)
                row1_512(x + (size_t)i * (size_t)ldx, w0, w1, kb, ke,
                         y + (size_t)i * (size_t)ldy, j, k0m, k1m, two, bias, first);
        }
    }
}

#define TB_AVX2 __attribute__((target("avx2,fma")))

static TB_AVX2 void gemm_avx2(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p,
                              int n0, int n1, const float *bias, float *y, int ldy)
{
    const int K = p->k;
    for (int j = n0; j < n1; j += 16) {
        const float *w = p->w + (size_t)(j / 16) * (size_t)K * 16;
        int cnt = TB_MIN(16, n1 - j);
        float bb[16] = {0};
        for (int c = 0; c < cnt; c++)
            bb[c] = bias ? bias[j + c] : 0.0f;
        int i = m0;
        for (; i < m1; i += 4) {
            int rows = TB_MIN(4, m1 - i);
            const float *x0 = x + (size_t)i * (size_t)ldx;
            /* rows past m1 read row 0 again and are not stored */
            const float *x1 = rows > 1 ? x0 + ldx : x0, *x2 = rows > 2 ? x0 + 2 * ldx : x0;
            const float *x3 = rows > 3 ? x0 + 3 * ldx : x0;
            __m256 a0l = _mm256_loadu_ps(bb), a0h = _mm256_loadu_ps(bb + 8);
            __m256 a1l = a0l, a1h = a0h, a2l = a0l, a2h = a0h, a3l = a0l, a3h = a0h;
            for (int c = 0; c < K; c++) {
                __m256 wl = _mm256_loadu_ps(w + (size_t)c * 16);
                __m256 wh = _mm256_loadu_ps(w + (size_t)c * 16 + 8);
                __m256 xb = _mm256_broadcast_ss(x0 + c);
                a0l = _mm256_fmadd_ps(xb, wl, a0l);
                a0h = _mm256_fmadd_ps(xb, wh, a0h);
                xb = _mm256_broadcast_ss(x1 + c);
                a1l = _mm256_fmadd_ps(xb, wl, a1l);
                a1h = _mm256_fmadd_ps(xb, wh, a1h);
                xb = _mm256_broadcast_ss(x2 + c);
                a2l = _mm256_fmadd_ps(xb, wl, a2l);
                a2h = _mm256_fmadd_ps(xb, wh, a2h);
                xb = _mm256_broadcast_ss(x3 + c);
                a3l = _mm256_fmadd_ps(xb, wl, a3l);
                a3h = _mm256_fmadd_ps(xb, wh, a3h);
            }
            __m256 out[4][2] = {{a0l, a0h}, {a1l, a1h}, {a2l, a2h}, {a3l, a3h}};
            for (int r = 0; r < rows; r++) {
                float *yr = y + (size_t)(i + r) * (size_t)ldy + j;
                if (cnt == 16) {
                    _mm256_storeu_ps(yr, out[r][0]);
                    _mm256_storeu_ps(yr + 8, out[r][1]);
                } else {
                    float tmp[16];
                    _mm256_storeu_ps(tmp, out[r][0]);
                    _mm256_storeu_ps(tmp + 8, out[r][1]);
                    memcpy(yr, tmp, (size_t)cnt * sizeof(float));
                }
            }
        }
    }
}
#endif

static f32_fn chosen;
static const char *chosen_name = "none";
static pthread_once_t picked = PTHREAD_ONCE_INIT;

static void pick_once(void)
{
#ifdef TB_F32_X86
    __builtin_cpu_init();
    const char *force = getenv("TASTEBUD_F32_KERNEL");
    bool any = !force || !*force;
    if ((any || !strcmp(force, "avx512")) && __builtin_cpu_supports("avx512f")) {
        chosen = gemm_512;
        chosen_name = "avx512";
    } else if ((any || !strcmp(force, "avx2")) && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma")) {
        chosen = gemm_avx2;
        chosen_name = "avx2";
    }
#endif
}

static void pick(void)
{
    pthread_once(&picked, pick_once);
}

bool tb_f32_available(void)
{
    pick();
    return chosen != NULL;
}

const char *tb_f32_kernel(void)
{
    pick();
    return chosen_name;
}

void tb_f32_gemm(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p, int n0,
                 int n1, const float *bias, float *y, int ldy)
{
    pick();
    if (chosen && m0 < m1 && n0 < n1)
        chosen(x, ldx, m0, m1, p, n0, n1, bias, y, ldy);
}

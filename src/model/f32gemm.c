/*
 * f32gemm.c -- float32 GEMM kernels over pre-packed weights (see f32gemm.h).
 *
 * Both kernels compute a register tile of outputs, reading the 16-float
 * rows of the packed W block for each k and broadcasting one x value per
 * row of the tile into a fused multiply-add. The AVX-512 kernel's tile is
 * 8 rows x 48 outputs (24 zmm accumulators, 3 weight loads per 8
 * broadcasts) and it blocks K by 128 so the 48 x 128 panel of W (24 KiB)
 * stays in L1 while every row tile of x passes over it; partial sums go
 * through y between K blocks (y is initialised with the bias by the first
 * block). The packed weights are cache-line aligned (tb_f32_alloc): with
 * malloc's 16-byte alignment most 64-byte loads straddled two lines.
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

#define KC 128

/* Cache-line alignment: every 16-float row of the packed W is then one
 * 64-byte line. (With malloc's 16-byte alignment three loads in four
 * straddled two lines, which cost 10-14% of the kernel's speed.) */
float *tb_f32_alloc(size_t nfloats)
{
    void *p = NULL;
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    if (posix_memalign(&p, 64, bytes) != 0)
        p = tb_malloc(bytes); /* prints the out-of-memory message and aborts */
    return p;
}

void tb_f32_pack(tb_f32_matrix *p, const float *w, int n, int k)
{
    p->n = n;
    p->k = k;
    p->n_pad = (n + 15) / 16 * 16;
    p->w = tb_f32_alloc((size_t)p->n_pad * (size_t)k);
    memset(p->w, 0, (size_t)p->n_pad * (size_t)k * sizeof(float)); /* the padding */
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

/* One tile: mr rows x nv column vectors of 16 outputs, k in [kb, ke).
 * Always inlined with constant mr and nv, so the accumulators (up to 8 x 3
 * = 24 zmm) live in registers and the loops unroll. Only the last column
 * vector is masked (outputs past n1); W itself is padded to 16 outputs, so
 * its loads never need a mask. The first K block starts from the bias,
 * later ones from the partial sums in y. */
static inline __attribute__((always_inline)) TB_AVX512 void
tile_512(const int mr, const int nv, const float *xr, size_t lx, const float *w, size_t ws,
         int kb, int ke, bool first, const float *bias, float *yr, size_t ly, int j,
         __mmask16 mlast)
{
    __m512 acc[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mlast : (__mmask16)0xFFFF;
            acc[r][v] = first ? (bias ? _mm512_maskz_loadu_ps(m, bias + j + 16 * v)
                                      : _mm512_setzero_ps())
                              : _mm512_maskz_loadu_ps(m, yr + (size_t)r * ly + j + 16 * v);
        }
    for (int c = kb; c < ke; c++) {
        __m512 wv[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            wv[v] = _mm512_loadu_ps(w + (size_t)v * ws + (size_t)c * 16);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512 xb = _mm512_set1_ps(xr[(size_t)r * lx + (size_t)c]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            _mm512_mask_storeu_ps(yr + (size_t)r * ly + j + 16 * v,
                                  v == nv - 1 ? mlast : (__mmask16)0xFFFF, acc[r][v]);
}

/* Rows [i, m1) of one column strip of nv vectors: tiles of 8 rows, then
 * the last rows one at a time. */
#define TB_STRIP(NV)                                                                       \
    do {                                                                                   \
        for (; i + 8 <= m1; i += 8)                                                        \
            tile_512(8, NV, x + (size_t)i * lx, lx, w, ws, kb, ke, first, bias,            \
                     y + (size_t)i * ly, ly, j, ml);                                       \
        for (; i < m1; i++)                                                                \
            tile_512(1, NV, x + (size_t)i * lx, lx, w, ws, kb, ke, first, bias,            \
                     y + (size_t)i * ly, ly, j, ml);                                       \
    } while (0)

static TB_AVX512 void gemm_512(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p,
                               int n0, int n1, const float *bias, float *y, int ldy)
{
    const int K = p->k;
    const size_t ws = (size_t)K * 16, lx = (size_t)ldx, ly = (size_t)ldy;
    for (int j = n0; j < n1; j += 48) {
        const float *w = p->w + (size_t)(j / 16) * ws;
        int cols = TB_MIN(48, n1 - j), nv = (cols + 15) / 16, lastc = cols - 16 * (nv - 1);
        __mmask16 ml = (__mmask16)(lastc >= 16 ? 0xFFFF : (1u << lastc) - 1);
        for (int kb = 0; kb < K; kb += KC) {
            int ke = TB_MIN(K, kb + KC);
            bool first = kb == 0;
            int i = m0;
            if (nv == 3)
                TB_STRIP(3);
            else if (nv == 2)
                TB_STRIP(2);
            else
                TB_STRIP(1);
        }
    }
}
#undef TB_STRIP

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

int tb_f32_select(const char *name)
{
    pick();
#ifdef TB_F32_X86
    if (!strcmp(name, "avx512") && __builtin_cpu_supports("avx512f")) {
        chosen = gemm_512;
        chosen_name = "avx512";
        return 0;
    }
    if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        chosen = gemm_avx2;
        chosen_name = "avx2";
        return 0;
    }
#endif
    (void)name;
    return -1;
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

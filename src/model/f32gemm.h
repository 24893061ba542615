/*
 * f32gemm.h -- float32 y = x W^T + b over weights packed once at load.
 *
 * A general BLAS sgemm packs both operands on every call. For an encoder
 * the weights never change, and for one short text (64 rows) packing the
 * weights cost more than the arithmetic (measured: OpenBLAS spent 55% of a
 * batch-1 forward pass in its copy routines). Here W [n][k] is packed once
 * into [n_pad/16][k][16] (16 outputs side by side for every input), and the
 * kernels broadcast x and multiply-add whole 16-float rows of W:
 *
 *   avx512  8 rows x 48 outputs per tile (24 zmm accumulators), K blocked by 128
 *   avx2    4 rows x 16 outputs per tile (8 ymm accumulators)
 *
 * On CPUs with neither (ARM, old x86) tb_f32_available() is false and the
 * caller uses cblas_sgemm instead.
 */
#ifndef TB_F32GEMM_H
#define TB_F32GEMM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tb_f32_matrix {
    int n, k;      /* logical shape of W */
    int n_pad;     /* n rounded up to 16 */
    float *w;      /* packed [n_pad/16][k][16]; owned */
} tb_f32_matrix;

/* True when a packed kernel runs on this CPU. */
bool tb_f32_available(void);
/* The kernel in use ("avx512", "avx2", or "none"). */
const char *tb_f32_kernel(void);
/* nfloats floats (not zeroed) aligned to a 64-byte cache line, so 16-float
 * rows of packed weights and of activations never straddle two lines.
 * Aborts on out-of-memory like tb_malloc; free with free(). */
float *tb_f32_alloc(size_t nfloats);
/* Force a kernel by name ("avx512", "avx2"; tests). Returns 0, or -1 when
 * the CPU lacks it. Not to be called while another thread multiplies. */
int tb_f32_select(const char *name);
void tb_f32_pack(tb_f32_matrix *p, const float *w, int n, int k);
/* Pack into caller memory (n rounded up to 16, times k floats), without
 * allocating: p->w = dst. W [n][k] has row stride ldw; with transposed set,
 * W[j][c] is read from w[c * ldw + j] instead (for V^T in attention). */
void tb_f32_pack_into(tb_f32_matrix *p, float *dst, const float *w, int ldw, int n, int k,
                      bool transposed);
void tb_f32_free(tb_f32_matrix *p);
/* y[i][j] = bias[j] + sum_k x[i][k] w[j][k] for i in [m0, m1), j in [n0, n1)
 * (n0 a multiple of 16); x rows have stride ldx, y rows ldy. Only when
 * tb_f32_available(). */
void tb_f32_gemm(const float *x, int ldx, int m0, int m1, const tb_f32_matrix *p, int n0,
                 int n1, const float *bias, float *y, int ldy);

#endif

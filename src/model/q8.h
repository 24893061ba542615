/*
 * q8.h -- int8 matrix multiply for quantised linear layers.
 *
 * A linear layer y = x W^T + b with W [n x k] is stored as int8 with one
 * float scale per output row (symmetric, scale = max|w_row| / 127). The
 * activations x are quantised the same way per row at run time, so
 *
 *     y[i][j] = sx[i] * sw[j] * sum_k xq[i][k] * wq[j][k] + b[j]
 *
 * and the inner sum is an exact int8 x int8 -> int32 dot product. The
 * weights are packed for the kernels: blocks of 16 output rows, and inside a
 * block groups of 4 consecutive k, i.e. [n_pad/16][k_pad/4][16][4] bytes, so
 * one 64-byte load gives 16 outputs x 4 inputs -- the operand shape of the
 * AVX-512 VNNI instruction vpdpbusd (and two AVX2 registers). Kernels:
 *
 *   amx         x86-64 with AMX-INT8 (tdpbusd: 16 x 16 x 64 MACs per instruction),
 *               where the OS grants the tile state; see q8.c
 *   avx512vnni  x86-64 with AVX-512 VNNI (vpdpbusd: 64 MACs per instruction)
 *   avx2        x86-64 with AVX2 (pmaddubsw + pmaddwd, sign trick, exact)
 *   generic     portable C the compiler vectorises (ARM, old x86)
 *
 * The best one the CPU supports is chosen once at first use.
 */
#ifndef TB_Q8_H
#define TB_Q8_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb_q8_matrix {
    int n, k;          /* logical shape of W: n outputs x k inputs */
    int n_pad, k_pad;  /* n rounded up to 16, k rounded up to 4 */
    int8_t *w;         /* packed [n_pad/16][k_pad/4][16][4]; owned */
    float *scale;      /* [n_pad] per output row; owned */
    int32_t *wsum;     /* [n_pad] sum_k wq[j][k] (for the unsigned-x kernel); owned */
} tb_q8_matrix;

/* Quantise and pack w (row-major [n][k] floats) into q. Free with tb_q8_free. */
void tb_q8_pack(tb_q8_matrix *q, const float *w, int n, int k);
void tb_q8_free(tb_q8_matrix *q);

/* Quantise m rows of x (row stride ldx floats, k used) into xq (row stride
 * k_pad bytes, the tail zeroed) and their scales into sx[m]. The bytes are
 * in the form the current kernel reads (for amx and avx512vnni, x + 128
 * unsigned),
 * so quantise after tb_q8_select, not before. */
void tb_q8_quantize_rows(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                         float *sx);

/* y[i][j] for rows i in [m0, m1) and outputs j in [n0, n1) (n0 a multiple of
 * 16): y = sx*sw*dot + bias[j] (bias may be NULL). xq rows have stride
 * q->k_pad; y rows have stride ldy floats. */
void tb_q8_gemm(const int8_t *xq, const float *sx, int m0, int m1, const tb_q8_matrix *q,
                int n0, int n1, const float *bias, float *y, int ldy);

/* The kernel in use ("amx", "avx512vnni", "avx2", "generic"). */
const char *tb_q8_kernel(void);
/* Force a kernel by name (tests). Returns 0, or -1 when the CPU lacks it. */
int tb_q8_select(const char *name);

#endif

/*
 * vecmath512.h -- AVX-512 versions of the encoder's element-wise kernels.
 *
 * Once the matrix products ran on AMX, GELU, softmax and the quantisation
 * of activations -- 8 floats at a time in vecmath.h -- took about 40% of an
 * int8 forward pass. These do 16 at a time with masked tails. On CPUs
 * without AVX-512 (and off x86-64) tb_vm512_available() is false and the
 * functions must not be called; callers keep the vecmath.h versions.
 *
 * Results: the quantiser gives exactly the bytes of tb_vm_quantize (same
 * rounding, half away from zero); GELU and softmax use the same polynomials
 * as vecmath.h but a refined reciprocal for erf's 1/p, so they agree with
 * them to a few 1e-7 (tests/test_bert.c compares them).
 */
#ifndef TB_VECMATH512_H
#define TB_VECMATH512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the CPU has AVX-512F/BW/DQ/VL (checked once). */
bool tb_vm512_available(void);

/* x[i] = gelu(x[i]) (erf form) for n floats. */
void tb_vm512_gelu(float *x, size_t n);

/* x = softmax(x * scale) over n floats, in place. */
void tb_vm512_softmax(float *x, size_t n, float scale);

/* For m rows of x (stride ldx, k used): sx[i] = max|row| / 127 and
 * xq row i (stride k_pad) = round(x / sx) xor flip, tail up to k_pad = flip.
 * The contract of tb_q8_quantize_rows (q8.h). */
void tb_vm512_quantize_rows(const float *x, int ldx, int m, int k, int8_t *xq, int k_pad,
                            float *sx, int8_t flip);

#endif

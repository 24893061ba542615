/*
 * vec.c -- the two vector operations everything uses. Written as plain loops
 * that compilers vectorise at -O2 (-ftree-vectorize is on by default at -O3;
 * the Makefile builds with -O2 -ftree-vectorize).
 */
#include <math.h>

#include "util.h"

float tb_dot(const float *a, const float *b, size_t n)
{
    /* Four accumulators break the dependency chain so the loop can use
     * several vector lanes at once. */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

float tb_l2_normalize(float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    float norm = (float)sqrt(s);
    if (norm > 0) {
        float inv = 1.0f / norm;
        for (size_t i = 0; i < n; i++)
            v[i] *= inv;
    }
    return norm;
}

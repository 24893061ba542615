/*
 * rng.c -- deterministic randomness (xoshiro256**), hashing, secure bytes.
 *
 * Every random choice in ranking and evaluation goes through tb_rng with an
 * explicit seed, so results can be reproduced exactly. User ids and other
 * secrets come from the OS (getrandom), never from tb_rng.
 */
#include <errno.h>
#include <math.h>
#include <sys/random.h>

#include "util.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tb_rng_seed(tb_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tb_rng_next(tb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tb_rng_uniform(tb_rng *r)
{
    return (double)(tb_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t tb_rng_below(tb_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Rejection sampling removes modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = tb_rng_next(r);
    while (x >= limit);
    return x % n;
}

double tb_rng_normal(tb_rng *r)
{
    double u1 = tb_rng_uniform(r), u2 = tb_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tb_rng_shuffle(tb_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tb_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

int tb_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int tb_random_id(char out[33])
{
    unsigned char raw[16];
    if (tb_random_bytes(raw, sizeof raw) != 0)
        return -1;
    tb_hex(raw, sizeof raw, out);
    return 0;
}

uint64_t tb_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    /* Final avalanche so nearby inputs spread over all bits. */
    return splitmix64(&h);
}

void tb_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * sha256.h -- SHA-256 (FIPS 180-4), for checking downloaded model files
 * against the sha256 the Hugging Face Hub lists for LFS files.
 */
#ifndef TB_SHA256_H
#define TB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "tastebud.h"

typedef struct tb_sha256 {
    uint32_t h[8];      /* chaining state */
    uint64_t len;       /* bytes hashed so far */
    uint8_t buf[64];    /* pending partial block */
    size_t nbuf;
} tb_sha256;

void tb_sha256_init(tb_sha256 *s);
void tb_sha256_update(tb_sha256 *s, const void *data, size_t n);
/* Finish and write the 32-byte digest. s must be re-initialised to reuse. */
void tb_sha256_final(tb_sha256 *s, uint8_t out[32]);
/* Digest of a buffer as 64 lower-case hex digits + NUL. */
void tb_sha256_hex(const void *data, size_t n, char out[65]);
/* Digest of a whole file as hex. 0, or -1 with err (TB_EIO). */
int tb_sha256_file(const char *path, char out[65], tb_err *err);

#endif

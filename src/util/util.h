/*
 * util.h -- small shared pieces every other folder builds on.
 *
 *   memory     tb_malloc & co. abort with a message on out-of-memory (the only
 *              condition that ends the process); everything else returns errors.
 *   tb_buf     a growable byte buffer that is always NUL-terminated, used for
 *              strings, file contents and HTTP bodies alike.
 *   tb_log     levelled, timestamped logging to stderr, safe from any thread.
 *   tb_pool    a fixed thread pool with a parallel-for, for batch embedding,
 *              ranking and background jobs.
 *   time, rng, hashing, files: the rest.
 *
 * Nothing here depends on any other tastebud folder.
 */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tastebud.h"

#define TB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TB_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TB_UNUSED(x) ((void)(x))

/* ------------------------------------------------------------- memory */

/* Like malloc/calloc/realloc/strdup but never return NULL: on out-of-memory
 * they print a message and abort. Free with free(). */
void *tb_malloc(size_t n);
void *tb_calloc(size_t n, size_t size);
void *tb_realloc(void *p, size_t n);
char *tb_strdup(const char *s);           /* NULL in, NULL out */
char *tb_strndup(const char *s, size_t n);
char *tb_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- buffers */

/* A growable buffer. data is NUL-terminated whenever len > 0 or after any
 * append, so it can be used as a C string. Zero-initialise ({0}) to start;
 * free with tb_buf_free. */
typedef struct tb_buf {
    char *data;
    size_t len;
    size_t cap;
} tb_buf;

void tb_buf_reserve(tb_buf *b, size_t extra);  /* room for extra more bytes + NUL */
void tb_buf_append(tb_buf *b, const void *p, size_t n);
void tb_buf_puts(tb_buf *b, const char *s);
void tb_buf_putc(tb_buf *b, char c);
void tb_buf_printf(tb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_buf_vprintf(tb_buf *b, const char *fmt, va_list ap);
void tb_buf_clear(tb_buf *b);                  /* len = 0, keeps memory */
const char *tb_buf_cstr(tb_buf *b);            /* "" when empty, never NULL */
char *tb_buf_steal(tb_buf *b);                 /* caller frees; b is reset */
void tb_buf_free(tb_buf *b);
/* Append s with JSON string escaping, including the surrounding quotes. */
void tb_buf_json_str(tb_buf *b, const char *s);
/* Append s escaped for XML/HTML text and attribute values (&<>"'). */
void tb_buf_xml_escape(tb_buf *b, const char *s);

/* ------------------------------------------------------------- strings */

bool tb_str_starts(const char *s, const char *prefix);
bool tb_str_ends(const char *s, const char *suffix);
char *tb_str_trim(char *s);                    /* in place; returns s advanced */
bool tb_str_eq_nocase(const char *a, const char *b);
/* Parse integers and doubles strictly (whole string, no junk). */
int tb_parse_i64(const char *s, int64_t *out);
int tb_parse_double(const char *s, double *out);
/* Bytes valid as UTF-8? */
bool tb_utf8_valid(const char *s, size_t n);

/* ------------------------------------------------------------- logging */

enum tb_log_level { TB_LOG_DEBUG = 0, TB_LOG_INFO, TB_LOG_WARN, TB_LOG_ERROR, TB_LOG_OFF };

void tb_log_set_level(int level);
int tb_log_get_level(void);
/* "debug", "info", "warn", "error", "off" -> level; -1 if unknown. */
int tb_log_parse_level(const char *s);
void tb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tb_debug(...) tb_log(TB_LOG_DEBUG, __VA_ARGS__)
#define tb_info(...) tb_log(TB_LOG_INFO, __VA_ARGS__)
#define tb_warn(...) tb_log(TB_LOG_WARN, __VA_ARGS__)
#define tb_error(...) tb_log(TB_LOG_ERROR, __VA_ARGS__)

/* ------------------------------------------------------------- time */

double tb_mono(void);        /* monotonic seconds, for measuring durations */
int64_t tb_unix_now(void);   /* wall-clock seconds since 1970 */
/* RFC 3339 UTC ("2026-12-04T15:04:05Z") into out (>= 21 bytes). */
void tb_time_rfc3339(int64_t t, char *out, size_t n);
/* RFC 822 / RFC 1123 ("Fri, 04 Dec 2026 15:04:05 GMT") into out (>= 30 bytes). */
void tb_time_rfc822(int64_t t, char *out, size_t n);

/* ------------------------------------------------------------- rng */

/* A small deterministic generator (xoshiro256**, seeded by splitmix64), so
 * every random choice tastebud makes can be reproduced from a seed. */
typedef struct tb_rng { uint64_t s[4]; } tb_rng;

void tb_rng_seed(tb_rng *r, uint64_t seed);
uint64_t tb_rng_next(tb_rng *r);
double tb_rng_uniform(tb_rng *r);              /* [0, 1) */
uint64_t tb_rng_below(tb_rng *r, uint64_t n);  /* [0, n), n > 0 */
double tb_rng_normal(tb_rng *r);               /* standard normal */
void tb_rng_shuffle(tb_rng *r, size_t *idx, size_t n);
/* Fill out with n bytes from the OS's secure generator. 0 or -1. */
int tb_random_bytes(void *out, size_t n);
/* A new unguessable id: 128 random bits as 32 hex digits (+ NUL) in out.
 * Used for user ids, which travel in feed URLs. 0 or -1. */
int tb_random_id(char out[33]);

/* ------------------------------------------------------------- hashing */

uint64_t tb_hash64(const void *p, size_t n, uint64_t seed);  /* FNV-1a 64, mixed */
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void tb_hex(const void *p, size_t n, char *out);

/* ------------------------------------------------------------- files */

/* Read a whole file into b (appends). Refuses files over max_bytes (0 = no
 * limit) with TB_ENOMEM. */
int tb_read_file(const char *path, tb_buf *b, size_t max_bytes, tb_err *err);
/* Write data atomically: to path.tmp, fsync, rename. */
int tb_write_file(const char *path, const void *data, size_t n, tb_err *err);
int tb_mkdir_p(const char *path, tb_err *err);
bool tb_path_exists(const char *path);
bool tb_is_dir(const char *path);
/* Join a and b with one '/' into a new string (caller frees). */
char *tb_path_join(const char *a, const char *b);

/* ------------------------------------------------------------- vectors */

float tb_dot(const float *a, const float *b, size_t n);
/* Scale v to unit length; leaves an all-zero vector alone. Returns the old norm. */
float tb_l2_normalize(float *v, size_t n);

/* ------------------------------------------------------------- threads */

typedef struct tb_pool tb_pool;

/* A pool of n worker threads (n <= 0: one per online CPU). */
tb_pool *tb_pool_new(int n);
int tb_pool_size(const tb_pool *p);
/* Run fn(ctx, i) for i in [0, n) across the pool and the calling thread;
 * returns when all are done. Safe to call from one thread at a time. */
void tb_pool_for(tb_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);
void tb_pool_free(tb_pool *p);
/* CPUs online (>= 1). */
int tb_ncpu(void);

#endif /* TB_UTIL_H */

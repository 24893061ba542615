/*
 * jscan.h -- a small streaming JSON reader over a byte range.
 *
 * For the two places where a DOM is too slow or too big: the 300 MB wink
 * vectors file and the vocabulary object of a large tokenizer.json (jansson
 * needs ~0.7 s for 341k keys; this reads them straight into the hash table).
 * It never allocates except for the caller's string buffer, never recurses
 * past a fixed depth, and reports the byte offset of any error.
 */
#ifndef TB_JSCAN_H
#define TB_JSCAN_H

#include <stddef.h>

#include "tastebud.h"
#include "util/util.h"

typedef struct tb_jscan {
    const char *p, *e, *s0; /* cursor, end, start (for offsets in messages) */
    tb_err *err;
} tb_jscan;

void tb_jscan_init(tb_jscan *j, const char *s, size_t n, tb_err *err);
/* Skip whitespace; the next byte, or 0 at the end. */
char tb_jscan_peek(tb_jscan *j);
/* Consume c (after whitespace) or fail. */
int tb_jscan_expect(tb_jscan *j, char c);
/* If the next byte is c, consume it and return 1, else 0. */
int tb_jscan_accept(tb_jscan *j, char c);
/* A string, unescaped to UTF-8 into b (cleared first). */
int tb_jscan_string(tb_jscan *j, tb_buf *b);
int tb_jscan_number(tb_jscan *j, double *out);
/* Skip one value of any type. */
int tb_jscan_skip(tb_jscan *j);
/* Set err to "JSON: what at byte N"; returns -1. */
int tb_jscan_fail(tb_jscan *j, const char *what);

#endif

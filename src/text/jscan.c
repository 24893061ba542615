/*
 * jscan.c -- the streaming JSON reader (see jscan.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/jscan.h"

void tb_jscan_init(tb_jscan *j, const char *s, size_t n, tb_err *err)
{
    j->p = j->s0 = s;
    j->e = s + n;
    j->err = err;
}

int tb_jscan_fail(tb_jscan *j, const char *what)
{
    return tb_err_set(j->err, TB_EFORMAT, "JSON: %s at byte %zu", what, (size_t)(j->p - j->s0));
}

char tb_jscan_peek(tb_jscan *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
    return j->p < j->e ? *j->p : 0;
}

int tb_jscan_expect(tb_jscan *j, char c)
{
    if (tb_jscan_peek(j) != c || j->p >= j->e) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        return tb_jscan_fail(j, msg);
    }
    j->p++;
    return 0;
}

int tb_jscan_accept(tb_jscan *j, char c)
{
    if (j->p < j->e && tb_jscan_peek(j) == c) {
        j->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(tb_buf *b, uint32_t u)
{
    char o[4];
    size_t n;
    if (u < 0x80) {
        o[0] = (char)u;
        n = 1;
    } else if (u < 0x800) {
        o[0] = (char)(0xc0 | (u >> 6));
        o[1] = (char)(0x80 | (u & 0x3f));
        n = 2;
    } else if (u < 0x10000) {
        o[0] = (char)(0xe0 | (u >> 12));
        o[1] = (char)(0x80 | ((u >> 6) & 0x3f));
        o[2] = (char)(0x80 | (u & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (u >> 18));
        o[1] = (char)(0x80 | ((u >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((u >> 6) & 0x3f));
        o[3] = (char)(0x80 | (u & 0x3f));
        n = 4;
    }
    tb_buf_append(b, o, n);
}

int tb_jscan_string(tb_jscan *j, tb_buf *b)
{
    tb_buf_clear(b);
    tb_buf_reserve(b, 16);
    b->data[0] = '\0';
    if (tb_jscan_expect(j, '"') < 0)
        return -1;
    for (;;) {
        /* Copy the run up to the next quote or backslash in one go. */
        const char *r = j->p;
        while (r < j->e && *r != '"' && *r != '\\')
            r++;
        if (r > j->p)
            tb_buf_append(b, j->p, (size_t)(r - j->p));
        j->p = r;
        if (j->p >= j->e)
            return tb_jscan_fail(j, "unterminated string");
        if (*j->p == '"') {
            j->p++;
            return 0;
        }
        j->p++; /* backslash */
        if (j->p >= j->e)
            return tb_jscan_fail(j, "unterminated string");
        char c = *j->p++;
        switch (c) {
        case '"': case '\\': case '/': tb_buf_putc(b, c); break;
        case 'b': tb_buf_putc(b, '\b'); break;
        case 'f': tb_buf_putc(b, '\f'); break;
        case 'n': tb_buf_putc(b, '\n'); break;
        case 'r': tb_buf_putc(b, '\r'); break;
        case 't': tb_buf_putc(b, '\t'); break;
        case 'u': {
            uint32_t u, lo;
            if (j->e - j->p < 4 || hex4(j->p, &u) < 0)
                return tb_jscan_fail(j, "bad \\u escape");
            j->p += 4;
            if (u >= 0xd800 && u < 0xdc00 && j->e - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u' && hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                j->p += 6;
            } else if (u >= 0xd800 && u < 0xe000) {
                u = 0xfffd; /* lone surrogate */
            }
            put_utf8(b, u);
            break;
        }
        default:
            return tb_jscan_fail(j, "bad escape");
        }
    }
}

int tb_jscan_number(tb_jscan *j, double *out)
{
    tb_jscan_peek(j);
    const char *b = j->p;
    while (j->p < j->e && ((*j->p >= '0' && *j->p <= '9') || *j->p == '-' || *j->p == '+' ||
                           *j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        j->p++;
    char tmp[64];
    size_t n = (size_t)(j->p - b);
    if (n == 0 || n >= sizeof tmp)
        return tb_jscan_fail(j, "expected a number");
    memcpy(tmp, b, n);
    tmp[n] = 0;
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d))
        return tb_jscan_fail(j, "bad number");
    *out = d;
    return 0;
}

static int skip(tb_jscan *j, int depth, tb_buf *tmp)
{
    char c = tb_jscan_peek(j);
    if (!c)
        return tb_jscan_fail(j, "unexpected end");
    if (depth > 64)
        return tb_jscan_fail(j, "nesting too deep");
    if (c == '"')
        return tb_jscan_string(j, tmp);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (tb_jscan_accept(j, close))
            return 0;
        for (;;) {
            if (c == '{' && (tb_jscan_string(j, tmp) < 0 || tb_jscan_expect(j, ':') < 0))
                return -1;
            if (skip(j, depth + 1, tmp) < 0)
                return -1;
            if (tb_jscan_accept(j, ','))
                continue;
            return tb_jscan_expect(j, close);
        }
    }
    if (c == 't' || c == 'f' || c == 'n') {
        static const char *words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t l = strlen(words[i]);
            if ((size_t)(j->e - j->p) >= l && !memcmp(j->p, words[i], l)) {
                j->p += l;
                return 0;
            }
        }
        return tb_jscan_fail(j, "bad literal");
    }
    double d;
    return tb_jscan_number(j, &d);
}

int tb_jscan_skip(tb_jscan *j)
{
    tb_buf tmp = {0};
    int rc = skip(j, 0, &tmp);
    tb_buf_free(&tmp);
    return rc;
}

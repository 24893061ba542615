/*
 * mem.c -- allocation that never returns NULL, and tb_buf.
 *
 * Out of memory is the one condition tastebud does not try to survive: the
 * allocators print a message and abort. Input size limits are enforced where
 * input is read, long before allocation could fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void oom(size_t n)
{
    fprintf(stderr, "tastebud: out of memory allocating %zu bytes\n", n);
    abort();
}

void *tb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *tb_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *tb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *tb_strdup(const char *s)
{
    return s ? tb_strndup(s, strlen(s)) : NULL;
}

char *tb_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = tb_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *tb_asprintf(const char *fmt, ...)
{
    tb_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    tb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return tb_buf_steal(&b);
}

void tb_buf_reserve(tb_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2;
    b->data = tb_realloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0'; /* keep the "always a C string" promise */
}

void tb_buf_append(tb_buf *b, const void *p, size_t n)
{
    tb_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tb_buf_puts(tb_buf *b, const char *s)
{
    tb_buf_append(b, s, strlen(s));
}

void tb_buf_putc(tb_buf *b, char c)
{
    tb_buf_append(b, &c, 1);
}

void tb_buf_vprintf(tb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        tb_buf_append(b, small, (size_t)n);
    } else {
        tb_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void tb_buf_printf(tb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tb_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void tb_buf_clear(tb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

const char *tb_buf_cstr(tb_buf *b)
{
    return b->data ? b->data : "";
}

char *tb_buf_steal(tb_buf *b)
{
    char *p = b->data ? b->data : tb_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void tb_buf_free(tb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tb_buf_json_str(tb_buf *b, const char *s)
{
    tb_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': tb_buf_puts(b, "\\\""); break;
        case '\\': tb_buf_puts(b, "\\\\"); break;
        case '\n': tb_buf_puts(b, "\\n"); break;
        case '\r': tb_buf_puts(b, "\\r"); break;
        case '\t': tb_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                tb_buf_printf(b, "\\u%04x", *p);
            else
                tb_buf_putc(b, (char)*p);
        }
    }
    tb_buf_putc(b, '"');
}

void tb_buf_xml_escape(tb_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '&': tb_buf_puts(b, "&amp;"); break;
        case '<': tb_buf_puts(b, "&lt;"); break;
        case '>': tb_buf_puts(b, "&gt;"); break;
        case '"': tb_buf_puts(b, "&quot;"); break;
        case '\'': tb_buf_puts(b, "&#39;"); break;
        default:
            /* XML 1.0 forbids most control characters even as references. */
            if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                break;
            tb_buf_putc(b, (char)*p);
        }
    }
}

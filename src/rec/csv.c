/*
 * csv.c -- RFC 4180 CSV, read from memory.
 *
 * A record is fields separated by ',' and ended by CRLF, LF or the end of
 * input. A field that starts with '"' is quoted: it runs to the next lone
 * '"', may contain commas, CR and LF, and writes a quote as "". A quote in
 * the middle of an unquoted field is kept literally (common in the wild,
 * harmless). Text between a closing quote and the next separator is an
 * error, as is a quote left open at the end of input: silently guessing
 * there would shift every later column.
 */
#include <stdlib.h>
#include <string.h>

#include "csv.h"

void tb_csv_init(tb_csv *c, const char *data, size_t n)
{
    memset(c, 0, sizeof *c);
    c->p = data;
    c->n = n;
    c->line = 1;
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->off = 3;
}

void tb_csv_free(tb_csv *c) { tb_buf_free(&c->field); }

void tb_csv_fields_free(char **fields, size_t nf)
{
    for (size_t i = 0; i < nf; i++)
        free(fields[i]);
    free(fields);
}

int tb_csv_next(tb_csv *c, char ***fields, size_t *nf, tb_err *err)
{
    *fields = NULL;
    *nf = 0;
    /* Skip empty lines. */
    while (c->off < c->n && (c->p[c->off] == '\n' || c->p[c->off] == '\r')) {
        if (c->p[c->off] == '\n')
            c->line++;
        c->off++;
    }
    if (c->off >= c->n)
        return 0;
    size_t start_line = c->line, cap = 0;
    char **f = NULL;
    size_t n = 0;
    for (;;) {
        tb_buf_clear(&c->field);
        tb_buf_reserve(&c->field, 0);
        if (c->off < c->n && c->p[c->off] == '"') {
            c->off++;
            for (;;) {
                if (c->off >= c->n) {
                    tb_csv_fields_free(f, n);
                    return tb_err_set(err, TB_EFORMAT,
                                      "CSV line %zu: quoted field never closed", start_line);
                }
                char ch = c->p[c->off++];
                if (ch == '"') {
                    if (c->off < c->n && c->p[c->off] == '"') {
                        tb_buf_putc(&c->field, '"');
                        c->off++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n')
                    c->line++;
                tb_buf_putc(&c->field, ch);
            }
            if (c->off < c->n && c->p[c->off] != ',' && c->p[c->off] != '\n' &&
                !(c->p[c->off] == '\r' &&
                  (c->off + 1 >= c->n || c->p[c->off + 1] == '\n'))) {
                tb_csv_fields_free(f, n);
                return tb_err_set(err, TB_EFORMAT,
                                  "CSV line %zu: unexpected '%c' after a closing quote", c->line,
                                  c->p[c->off]);
            }
        } else {
            while (c->off < c->n && c->p[c->off] != ',' && c->p[c->off] != '\n' &&
                   !(c->p[c->off] == '\r' && (c->off + 1 >= c->n || c->p[c->off + 1] == '\n')))
                tb_buf_putc(&c->field, c->p[c->off++]);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            f = tb_realloc(f, cap * sizeof *f);
        }
        f[n++] = tb_strndup(c->field.data ? c->field.data : "", c->field.len);
        if (c->off >= c->n)
            break;
        char ch = c->p[c->off++];
        if (ch == ',')
            continue;
        if (ch == '\r')
            c->off++; /* the LF of CRLF (or the end) */
        c->line++;
        break;
    }
    *fields = f;
    *nf = n;
    return 1;
}

/*
 * csv.h -- an RFC 4180 CSV reader (quotes, "" escapes, embedded newlines,
 * CRLF or LF line ends, a UTF-8 byte-order mark at the start).
 */
#ifndef TB_REC_CSV_H
#define TB_REC_CSV_H

#include <stddef.h>

#include "util/util.h"

typedef struct tb_csv {
    const char *p;    /* the whole input (not owned) */
    size_t n, off;
    size_t line;      /* 1-based line of the next record, for messages */
    tb_buf field;     /* scratch */
} tb_csv;

/* Start reading data[0..n) (must outlive the reader). Skips a BOM. */
void tb_csv_init(tb_csv *c, const char *data, size_t n);
/* Read the next record into *fields / *nf (a new array of new strings; free
 * with tb_csv_fields_free). Returns 1 for a record, 0 at the end, -1 on a
 * malformed record (unterminated quote, text after a closing quote) with
 * the line number in err. Empty lines are skipped. */
int tb_csv_next(tb_csv *c, char ***fields, size_t *nf, tb_err *err);
void tb_csv_fields_free(char **fields, size_t nf);
void tb_csv_free(tb_csv *c);

#endif

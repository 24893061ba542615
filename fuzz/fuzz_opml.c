/*
 * fuzz_opml.c -- libFuzzer target: OPML parsing and re-writing, and the
 * date parser on the first line of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed/feed.h"
#include "feed/opml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_opml_outline *o;
    size_t n;
    tb_err err;
    if (tb_opml_parse((const char *)data, size, &o, &n, &err) == 0) {
        tb_buf b = {0};
        tb_opml_write(o, n, "fuzz", &b);
        tb_buf_free(&b);
        tb_opml_free(o, n);
    }
    char line[128];
    size_t l = 0;
    while (l < size && l < sizeof line - 1 && data[l] != '\n')
        l++;
    memcpy(line, data, l);
    line[l] = '\0';
    int64_t t;
    (void)tb_date_parse(line, &t);
    return 0;
}

/*
 * fuzz_feed.c -- libFuzzer target: tb_feed_parse on arbitrary bytes, with
 * and without an HTTP charset, plus feed discovery on the same bytes.
 * Must never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>

#include "feed/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *charsets[] = {NULL, "iso-8859-1", "utf-8", "koi8-r"};
    tb_parsed_feed f;
    tb_err err;
    const char *cs = charsets[size ? data[size - 1] % 4 : 0];
    if (tb_feed_parse((const char *)data, size, "https://fuzz.example/feed", cs, &f, &err) == 0)
        tb_parsed_feed_free(&f);
    char **urls;
    size_t n = tb_feed_discover((const char *)data, size, "https://fuzz.example/", &urls);
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    return 0;
}

/*
 * fuzz_html_text.c -- libFuzzer target: tb_html_to_text on arbitrary bytes.
 *
 * Besides "never crash, leak or hang" it checks the reducer's promises on
 * every input: the text is valid UTF-8 with no NUL inside, has no leading,
 * trailing or doubled space, and the first <img> source, when found, is a
 * non-empty string. The same bytes also go through tb_text_collapse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_buf b = {0};
    char *img = NULL;
    tb_html_to_text((const char *)data, size, &b, &img);
    if (!b.data || strlen(b.data) != b.len || !tb_utf8_valid(b.data, b.len))
        abort();
    if (b.len && (b.data[0] == ' ' || b.data[b.len - 1] == ' ' || strstr(b.data, "  ")))
        abort();
    if (img && !*img)
        abort();
    free(img);
    tb_buf_clear(&b);
    tb_text_collapse((const char *)data, size, &b);
    if (!b.data || (b.len && (b.data[0] == ' ' || b.data[b.len - 1] == ' ')))
        abort();
    tb_buf_free(&b);
    return 0;
}

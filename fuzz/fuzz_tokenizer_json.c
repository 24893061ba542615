/*
 * fuzz_tokenizer_json.c -- tb_tokenizer_from_json on arbitrary bytes; when a
 * tokenizer loads, encode a few fixed texts with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    tb_err err;
    tb_tokenizer *t = tb_tokenizer_from_json(buf, size, &err);
    if (t) {
        static const char *texts[] = {"Hello, World! unaffable", "[CLS] caf\xc3\xa9 \xe4\xb8\xad",
                                      "", "\xff\xfe a-b--c"};
        tb_tokens tk = {0};
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            tb_tokenizer_encode(t, texts[i], 0, true, &tk, &err);
            tb_tokenizer_encode(t, texts[i], 3, true, &tk, &err);
        }
        tb_tokens_free(&tk);
        (void)tb_tokenizer_id_to_token(t, 0);
        tb_tokenizer_free(t);
    }
    free(buf);
    return 0;
}

/*
 * fuzz_safetensors.c -- tb_st_open_mem on arbitrary bytes: must never crash,
 * and every accepted tensor must lie inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy so ASan catches any read past the end of the input. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    tb_err err;
    tb_safetensors *st = tb_st_open_mem(buf, size, &err);
    for (size_t i = 0; i < tb_st_count(st); i++) {
        const tb_tensor *t = tb_st_at(st, i);
        const uint8_t *p = t->data;
        if (p < buf || p + t->nbytes > buf + size)
            abort();
        if (t->numel && t->numel < 4096) {
            float *out = malloc(t->numel * sizeof *out);
            tb_st_to_f32(t, out);
            free(out);
        }
        (void)tb_st_find(st, t->name);
    }
    tb_st_close(st);
    free(buf);
    return 0;
}

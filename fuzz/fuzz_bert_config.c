/*
 * fuzz_bert_config.c -- libFuzzer target for the BERT config loader.
 *
 * Feeds the input to the config.json parser and the 1_Pooling/config.json
 * parser (the text a downloaded model controls). Either must accept or
 * refuse with a message; never crash, leak or read out of bounds. When a
 * config is accepted, its invariants are checked (heads divide hidden, sizes
 * positive), since the forward pass relies on them.
 */
#include <stdint.h>
#include <stdlib.h>

#include "model/bert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_bert_config cfg;
    tb_err err;
    if (tb_bert_config_parse((const char *)data, size, &cfg, &err) == 0) {
        if (cfg.hidden <= 0 || cfg.heads <= 0 || cfg.hidden % cfg.heads != 0 || cfg.layers <= 0 ||
            cfg.ffn <= 0 || cfg.vocab_size <= 0 || cfg.max_pos <= 0 || cfg.type_vocab <= 0 ||
            !(cfg.eps > 0))
            abort();
    }
    tb_bert_pooling_parse((const char *)data, size, &cfg, &err);
    return 0;
}

/*
 * fuzz_tokenize.c -- encode arbitrary bytes with two fixed small tokenizers
 * (a BERT WordPiece pipeline, and a WordLevel one with Unicode normalizers
 * and punctuation splitting), with and without truncation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

static const char *BERT =
    "{\"added_tokens\":[{\"id\":4,\"content\":\"[MASK]\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"max_input_chars_per_word\":20,"
    "\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"a\":5,\"##a\":6,"
    "\"b\":7,\"##b\":8,\"ab\":9,\"##ab\":10,\"\xe4\xb8\xad\":11,\"cafe\":12,\"!\":13}}}";

static const char *WL =
    "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":"
    "\"Lowercase\"},{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Strip\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},"
    "{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"}]},"
    "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,"
    "\"ab\":2,\"cafe\":3,\"!!\":4}}}";

static tb_tokenizer *bert, *wl;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bert) {
        bert = tb_tokenizer_from_json(BERT, strlen(BERT), NULL);
        wl = tb_tokenizer_from_json(WL, strlen(WL), NULL);
        if (!bert || !wl)
            abort();
    }
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    tb_tok_scratch ws = {0};
    tb_tokens tk = {0};
    tb_tokenizer *ts[2] = {bert, wl};
    for (int k = 0; k < 2; k++) {
        if (tb_tokenizer_encode_ws(ts[k], buf, size, 0, true, &tk, &ws, NULL) == 0)
            for (size_t i = 0; i < tk.n; i++)
                if (tk.ids[i] < 0 || (size_t)tk.ids[i] >= tb_tokenizer_vocab_size(ts[k]))
                    abort();
        if (tb_tokenizer_encode_ws(ts[k], buf, size, 7, true, &tk, &ws, NULL) == 0 && tk.n > 7)
            abort();
    }
    tb_tokens_free(&tk);
    tb_tok_scratch_free(&ws);
    free(buf);
    return 0;
}

/*
 * tokenizer.h -- Hugging Face tokenizers in C: tokenizer.json or vocab.txt.
 *
 * A tokenizer is the pipeline normalizer -> pre-tokenizer -> model ->
 * post-processor, read from tokenizer.json. Supported: normalizers
 * BertNormalizer (clean text, CJK spacing, lowercase, strip accents via
 * utf8proc NFD), Lowercase, NFD/NFC/NFKC/NFKD, StripAccents, Sequence;
 * pre-tokenizers BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation,
 * Sequence; models WordLevel and WordPiece; post-processors BertProcessing
 * and TemplateProcessing. Anything else is refused with "unsupported: ...".
 * A plain vocab.txt gives the standard BERT uncased pipeline.
 *
 * Invalid UTF-8 in input text is replaced (U+FFFD), never a crash.
 */
#ifndef TB_TOKENIZER_H
#define TB_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tastebud.h"

typedef struct tb_tokenizer tb_tokenizer;

/* Output of one encode: token ids and, for each, its token type id (segment).
 * Zero-initialise; reuse across calls; free with tb_tokens_free. */
typedef struct tb_tokens {
    int32_t *ids;
    int32_t *type_ids;
    size_t n;
    size_t cap;
} tb_tokens;

/* Load from a path: a tokenizer.json file, a vocab.txt file, or a model
 * directory holding one of them (tokenizer.json preferred). */
tb_tokenizer *tb_tokenizer_load(const char *path, tb_err *err);
/* Parse tokenizer.json text (len bytes). */
tb_tokenizer *tb_tokenizer_from_json(const char *json, size_t len, tb_err *err);
/* Build the BERT pipeline over a vocab.txt's text. lowercase as for uncased. */
tb_tokenizer *tb_tokenizer_from_vocab(const char *vocab_txt, size_t len, bool lowercase,
                                      tb_err *err);
void tb_tokenizer_free(tb_tokenizer *t);

/* Encode text into out (replacing its contents). add_special applies the
 * post-processor ([CLS] ... [SEP]). max_len > 0 truncates so that the result,
 * special tokens included, has at most max_len tokens. Thread-safe. */
int tb_tokenizer_encode(const tb_tokenizer *t, const char *text, size_t max_len,
                        bool add_special, tb_tokens *out, tb_err *err);
void tb_tokens_free(tb_tokens *tk);

/* Reusable working memory for tb_tokenizer_encode_ws, so a caller encoding
 * many texts in a loop allocates nothing per text. Zero-initialise; one per
 * thread; free with tb_tok_scratch_free. */
typedef struct tb_tok_scratch {
    uint32_t *cp, *cp2;       /* code point buffers (normalisation ping-pong) */
    size_t cp_cap, cp2_cap;
    uint32_t *spans, *spans2; /* pre-token [begin, end) pairs */
    size_t sp_cap, sp2_cap;
    char *bytes;              /* UTF-8 of the word being looked up */
    uint32_t *offs;           /* byte offset of each char of that word */
    size_t bytes_cap, offs_cap;
} tb_tok_scratch;

/* Like tb_tokenizer_encode for the first len bytes of text, using ws for all
 * working memory (grown as needed, never shrunk). */
int tb_tokenizer_encode_ws(const tb_tokenizer *t, const char *text, size_t len,
                           size_t max_len, bool add_special, tb_tokens *out,
                           tb_tok_scratch *ws, tb_err *err);
void tb_tok_scratch_free(tb_tok_scratch *ws);

/* The id of the unknown token, -1 if the tokenizer has none. */
int32_t tb_tokenizer_unk_id(const tb_tokenizer *t);
/* A one-line summary of the pipeline ("BertNormalizer > BertPreTokenizer >
 * WordPiece(30522) > TemplateProcessing"), owned by t. */
const char *tb_tokenizer_describe(const tb_tokenizer *t);

size_t tb_tokenizer_vocab_size(const tb_tokenizer *t);
/* -1 when the token is not in the vocabulary. */
int32_t tb_tokenizer_token_to_id(const tb_tokenizer *t, const char *token);
/* NULL when out of range. */
const char *tb_tokenizer_id_to_token(const tb_tokenizer *t, int32_t id);
/* The padding id ([PAD] or the configured pad token; 0 if none). */
int32_t tb_tokenizer_pad_id(const tb_tokenizer *t);

#endif

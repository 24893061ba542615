/*
 * tokenizer.c -- Hugging Face tokenizer pipelines (tokenizer.json, vocab.txt).
 *
 * The pipeline is the one of the `tokenizers` library, reduced to what an
 * encoder needs (ids and type ids, no offsets):
 *
 *   raw UTF-8 --split on added tokens--> segments
 *   segment --decode (invalid bytes -> U+FFFD)--> code points
 *           --normalizers (in order)--> code points
 *           --pre-tokenizers (in order)--> spans [begin, end)
 *           --model (WordLevel / WordPiece)--> ids
 *   ids --truncate--> --post-processor ([CLS] A [SEP])--> result
 *
 * Everything works on arrays of code points held in a tb_tok_scratch, so a
 * caller encoding many texts allocates nothing per text (the only exception:
 * the NFC/NFKC/NFD/NFKD normalizers on non-ASCII text go through utf8proc_map,
 * which allocates). ASCII takes table-driven fast paths; utf8proc answers for
 * everything else (categories, lowercase, decomposition).
 *
 * What is deliberately different from the Rust library (documented in
 * docs/MODELS.md): lowercasing is the simple per-code-point mapping of
 * utf8proc (Rust's to_lowercase can expand a few characters, e.g. U+0130);
 * added tokens are matched in the raw text whether or not they are marked
 * "normalized", and their single_word/lstrip/rstrip flags are ignored. Every
 * component type not listed in tokenizer.h is refused at load time with an
 * "unsupported: ..." message rather than silently approximated.
 *
 * A loaded tokenizer is immutable, so encoding is thread-safe.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/jscan.h"
#include "text/tokenizer.h"
#include "text/vocab.h"
#include "util/util.h"

/* ------------------------------------------------------------ structure */

enum { NM_BERT, NM_LOWER, NM_NFD, NM_NFC, NM_NFKD, NM_NFKC, NM_STRIP_ACCENTS, NM_STRIP };
enum { PT_BERT, PT_WS, PT_WSSPLIT, PT_PUNCT };
enum { BH_ISOLATED, BH_REMOVED, BH_CONTIGUOUS, BH_MERGED_PREV, BH_MERGED_NEXT };
enum { MD_WORDLEVEL, MD_WORDPIECE };

#define MAX_STEPS 16   /* normalizers or pre-tokenizers after flattening */
#define MAX_SPECIAL 8  /* special ids before or after the sequence */
#define MAX_DEPTH 4    /* Sequence nesting */
#define MAX_ID (1 << 24)

typedef struct norm {
    int kind;
    bool clean, chinese, strip_accents, lower; /* BertNormalizer */
    bool left, right;                          /* Strip */
} norm;

typedef struct pretok {
    int kind;
    int behavior; /* Punctuation */
} pretok;

typedef struct added_tok {
    char *content;
    size_t len;
    int32_t id;
} added_tok;

struct tb_tokenizer {
    norm norms[MAX_STEPS];
    size_t n_norms;
    pretok pres[MAX_STEPS];
    size_t n_pres;

    int model;               /* MD_* */
    tb_vocab vocab;
    int32_t unk;             /* -1: none */
    char prefix[64];         /* WordPiece continuing_subword_prefix */
    size_t prefix_len;
    size_t max_chars;        /* WordPiece max_input_chars_per_word */

    added_tok *added;        /* matched in raw text, longest first */
    size_t n_added;
    uint8_t added_first[256];/* 1 if some added token starts with this byte */

    bool has_post;
    int32_t pre_ids[MAX_SPECIAL], pre_types[MAX_SPECIAL];
    size_t n_pre;
    int32_t post_ids[MAX_SPECIAL], post_types[MAX_SPECIAL];
    size_t n_post;
    int32_t seq_type;

    int32_t pad_id;
    char desc[256];
};

/* ------------------------------------------------------------ characters */

static inline bool is_ws(uint32_t c)
{
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0d);
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* BERT's is_control: "other" categories, except the whitespace controls. */
static inline bool is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return false;
    if (c < 0x80)
        return c < 0x20 || c == 0x7f;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

/* ASCII punctuation (which includes symbols like $+<=>^`|~) or Unicode P*. */
static inline bool is_punct(uint32_t c)
{
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

/* The regex class \w: letters, marks, decimal and letter numbers, connectors. */
static inline bool is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

static inline bool is_chinese(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
           (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

static inline uint32_t lower(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
}

/* ------------------------------------------------------------ buffers */

static void grow_u32(uint32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    *p = tb_realloc(*p, c * sizeof **p);
    *cap = c;
}

static void grow_bytes(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    *p = tb_realloc(*p, c);
    *cap = c;
}

static void tokens_push(tb_tokens *o, int32_t id, int32_t type)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->ids = tb_realloc(o->ids, o->cap * sizeof *o->ids);
        o->type_ids = tb_realloc(o->type_ids, o->cap * sizeof *o->type_ids);
    }
    o->ids[o->n] = id;
    o->type_ids[o->n] = type;
    o->n++;
}

void tb_tokens_free(tb_tokens *tk)
{
    if (!tk)
        return;
    free(tk->ids);
    free(tk->type_ids);
    memset(tk, 0, sizeof *tk);
}

void tb_tok_scratch_free(tb_tok_scratch *ws)
{
    if (!ws)
        return;
    free(ws->cp);
    free(ws->cp2);
    free(ws->spans);
    free(ws->spans2);
    free(ws->bytes);
    free(ws->offs);
    memset(ws, 0, sizeof *ws);
}

/* ------------------------------------------------------------ UTF-8 */

/* Decode n bytes into ws->cp; invalid sequences become U+FFFD (one per bad
 * byte). Returns the number of code points. */
static size_t decode(const unsigned char *s, size_t n, tb_tok_scratch *ws)
{
    grow_u32(&ws->cp, &ws->cp_cap, n + 1);
    uint32_t *o = ws->cp;
    size_t k = 0, i = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            o[k++] = b;
            i++;
            continue;
        }
        uint32_t c = 0xfffd;
        size_t need = 0;
        unsigned lo = 0x80, hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
            c = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            c = b & 0x0f;
            if (b == 0xe0) lo = 0xa0;
            if (b == 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            c = b & 0x07;
            if (b == 0xf0) lo = 0x90;
            if (b == 0xf4) hi = 0x8f;
        }
        if (need == 0 || i + need >= n) {
            o[k++] = 0xfffd;
            i++;
            continue;
        }
        bool ok = true;
        for (size_t j = 1; j <= need; j++) {
            unsigned char cb = s[i + j];
            unsigned l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xbf;
            if (cb < l || cb > h) {
                ok = false;
                break;
            }
            c = (c << 6) | (cb & 0x3f);
        }
        if (!ok) {
            o[k++] = 0xfffd;
            i++;
            continue;
        }
        o[k++] = c;
        i += need + 1;
    }
    return k;
}

static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* Encode cp[b..e) into ws->bytes, recording each char's byte offset in
 * ws->offs (e-b+1 entries). Returns the byte length. */
static size_t encode_span(const uint32_t *cp, size_t b, size_t e, tb_tok_scratch *ws,
                          bool want_offs)
{
    grow_bytes(&ws->bytes, &ws->bytes_cap, 4 * (e - b) + 1);
    if (want_offs)
        grow_u32(&ws->offs, &ws->offs_cap, e - b + 1);
    size_t n = 0;
    for (size_t i = b; i < e; i++) {
        if (want_offs)
            ws->offs[i - b] = (uint32_t)n;
        n += utf8_put(ws->bytes + n, cp[i]);
    }
    if (want_offs)
        ws->offs[e - b] = (uint32_t)n;
    return n;
}

/* ------------------------------------------------------------ normalizers */

static void swap_cp(tb_tok_scratch *ws)
{
    uint32_t *p = ws->cp;
    ws->cp = ws->cp2;
    ws->cp2 = p;
    size_t c = ws->cp_cap;
    ws->cp_cap = ws->cp2_cap;
    ws->cp2_cap = c;
}

#define PUSH(c)                                                   \
    do {                                                          \
        if (k == ws->cp2_cap)                                     \
            grow_u32(&ws->cp2, &ws->cp2_cap, k + 1);              \
        ws->cp2[k++] = (c);                                       \
    } while (0)

/* Append the canonical decomposition of c minus non-spacing marks. */
static size_t strip_accents_into(uint32_t c, tb_tok_scratch *ws, size_t k)
{
    if (c < 0x80) {
        PUSH(c);
        return k;
    }
    utf8proc_int32_t d[32];
    int bound = 0;
    utf8proc_ssize_t m = utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE,
                                                 &bound);
    if (m <= 0 || m > 32) {
        PUSH(c);
        return k;
    }
    for (utf8proc_ssize_t j = 0; j < m; j++)
        if (utf8proc_category(d[j]) != UTF8PROC_CATEGORY_MN)
            PUSH((uint32_t)d[j]);
    return k;
}

static size_t norm_bert(const norm *nm, size_t n, tb_tok_scratch *ws)
{
    size_t k = 0;
    const uint32_t *in = ws->cp;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (nm->clean) {
            if (c == 0 || c == 0xfffd || is_control(c))
                continue;
            if (is_ws(c))
                c = ' ';
        }
        if (nm->chinese && c >= 0x3400 && is_chinese(c)) {
            PUSH(' ');
            PUSH(c);
            PUSH(' ');
            continue;
        }
        if (nm->strip_accents) {
            size_t k0 = k;
            k = strip_accents_into(c, ws, k);
            if (nm->lower)
                for (size_t j = k0; j < k; j++)
                    ws->cp2[j] = lower(ws->cp2[j]);
            continue;
        }
        PUSH(nm->lower ? lower(c) : c);
    }
    return k;
}

/* NFC/NFD/NFKC/NFKD through utf8proc_map (only when non-ASCII is present:
 * ASCII is invariant under all four). */
static size_t norm_unicode(int kind, size_t n, tb_tok_scratch *ws, bool *same)
{
    size_t i;
    for (i = 0; i < n && ws->cp[i] < 0x80; i++)
        ;
    if (i == n) {
        *same = true;
        return n;
    }
    *same = false;
    size_t blen = encode_span(ws->cp, 0, n, ws, false);
    ws->bytes[blen] = '\0';
    int opts = UTF8PROC_STABLE;
    switch (kind) {
    case NM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case NM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case NM_NFKD: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    default: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)ws->bytes, (utf8proc_ssize_t)blen,
                                      &dst, (utf8proc_option_t)opts);
    if (m < 0) {
        /* Cannot happen for the valid UTF-8 made above; keep the text. */
        free(dst);
        *same = true;
        return n;
    }
    /* Decode into cp2 by decoding into cp and swapping roles. */
    size_t k = 0;
    const unsigned char *s = dst;
    grow_u32(&ws->cp2, &ws->cp2_cap, (size_t)m + 1);
    for (utf8proc_ssize_t j = 0; j < m;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate(s + j, m - j, &c);
        if (l <= 0) {
            c = 0xfffd;
            l = 1;
        }
        ws->cp2[k++] = (uint32_t)c;
        j += l;
    }
    free(dst);
    return k;
}

/* Apply the normalizers to ws->cp[0..n); returns the new length (in ws->cp). */
static size_t normalize(const tb_tokenizer *t, size_t n, tb_tok_scratch *ws)
{
    for (size_t s = 0; s < t->n_norms; s++) {
        const norm *nm = &t->norms[s];
        size_t k = 0;
        switch (nm->kind) {
        case NM_BERT:
            k = norm_bert(nm, n, ws);
            break;
        case NM_LOWER:
            for (size_t i = 0; i < n; i++)
                ws->cp[i] = lower(ws->cp[i]);
            continue; /* in place */
        case NM_STRIP_ACCENTS:
            /* After NFD, as in HF: drop non-spacing marks. */
            for (size_t i = 0; i < n; i++) {
                uint32_t c = ws->cp[i];
                if (c >= 0x80 && utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_MN)
                    continue;
                ws->cp[k++] = c;
            }
            n = k;
            continue;
        case NM_STRIP: {
            size_t b = 0, e = n;
            if (nm->left)
                while (b < e && is_ws(ws->cp[b]))
                    b++;
            if (nm->right)
                while (e > b && is_ws(ws->cp[e - 1]))
                    e--;
            memmove(ws->cp, ws->cp + b, (e - b) * sizeof *ws->cp);
            n = e - b;
            continue;
        }
        default: {
            bool same;
            k = norm_unicode(nm->kind, n, ws, &same);
            if (same)
                continue;
            break;
        }
        }
        swap_cp(ws);
        n = k;
    }
    return n;
}

/* ------------------------------------------------------------ pre-tokenizers */

/* Split every span of ws->spans (ns pairs) with pt into ws->spans2; swaps
 * so the result is in ws->spans; returns the new count. */
static size_t pre_split(const pretok *pt, const uint32_t *cp, size_t ns, tb_tok_scratch *ws)
{
    size_t k = 0;
#define EMIT(b, e)                                                 \
    do {                                                           \
        if ((e) > (b)) {                                           \
            grow_u32(&ws->spans2, &ws->sp2_cap, 2 * k + 2);        \
            ws->spans2[2 * k] = (uint32_t)(b);                     \
            ws->spans2[2 * k + 1] = (uint32_t)(e);                 \
            k++;                                                   \
        }                                                          \
    } while (0)
    for (size_t s = 0; s < ns; s++) {
        size_t b = ws->spans[2 * s], e = ws->spans[2 * s + 1];
        size_t st = b;
        switch (pt->kind) {
        case PT_BERT:
            for (size_t i = b; i < e; i++) {
                uint32_t c = cp[i];
                if (is_ws(c)) {
                    EMIT(st, i);
                    st = i + 1;
                } else if (is_punct(c)) {
                    EMIT(st, i);
                    EMIT(i, i + 1);
                    st = i + 1;
                }
            }
            EMIT(st, e);
            break;
        case PT_WSSPLIT:
            for (size_t i = b; i < e; i++)
                if (is_ws(cp[i])) {
                    EMIT(st, i);
                    st = i + 1;
                }
            EMIT(st, e);
            break;
        case PT_WS: {
            /* \w+|[^\w\s]+ */
            int cls = 0; /* 0: space, 1: word, 2: other */
            for (size_t i = b; i < e; i++) {
                uint32_t c = cp[i];
                int nc = is_word(c) ? 1 : is_ws(c) ? 0 : 2;
                if (nc != cls) {
                    if (cls)
                        EMIT(st, i);
                    st = i;
                    cls = nc;
                }
            }
            if (cls)
                EMIT(st, e);
            break;
        }
        case PT_PUNCT:
            for (size_t i = b; i < e; i++) {
                if (!is_punct(cp[i]))
                    continue;
                switch (pt->behavior) {
                case BH_ISOLATED:
                    EMIT(st, i);
                    EMIT(i, i + 1);
                    st = i + 1;
                    break;
                case BH_REMOVED:
                    EMIT(st, i);
                    st = i + 1;
                    break;
                case BH_MERGED_PREV:
                    EMIT(st, i + 1);
                    st = i + 1;
                    break;
                case BH_MERGED_NEXT:
                    EMIT(st, i);
                    st = i;
                    break;
                case BH_CONTIGUOUS: {
                    size_t j = i;
                    while (j < e && is_punct(cp[j]))
                        j++;
                    EMIT(st, i);
                    EMIT(i, j);
                    st = j;
                    i = j - 1;
                    break;
                }
                }
            }
            EMIT(st, e);
            break;
        }
    }
#undef EMIT
    uint32_t *p = ws->spans;
    ws->spans = ws->spans2;
    ws->spans2 = p;
    size_t c = ws->sp_cap;
    ws->sp_cap = ws->sp2_cap;
    ws->sp2_cap = c;
    return k;
}

/* ------------------------------------------------------------ models */

/* WordPiece on cp[b..e): greedy longest match from the left, continuation
 * pieces looked up with the prefix; a word with any unmatched position (or
 * too long) becomes the single unk id. */
static void wordpiece(const tb_tokenizer *t, const uint32_t *cp, size_t b, size_t e,
                      tb_tokens *out, tb_tok_scratch *ws)
{
    size_t nch = e - b;
    if (nch > t->max_chars) {
        tokens_push(out, t->unk, 0);
        return;
    }
    size_t blen = encode_span(cp, b, e, ws, true);
    /* Room for prefix + the word: lookups assemble the key in place after
     * the word's own bytes. */
    grow_bytes(&ws->bytes, &ws->bytes_cap, 2 * blen + t->prefix_len + 1);
    char *key = ws->bytes + blen;
    memcpy(key, t->prefix, t->prefix_len);
    size_t mark = out->n;
    size_t start = 0;
    while (start < nch) {
        size_t end = nch;
        int32_t found = -1;
        while (end > start) {
            size_t piece = ws->offs[end] - ws->offs[start];
            const char *src = ws->bytes + ws->offs[start];
            if (start == 0) {
                found = tb_vocab_find(&t->vocab, src, piece);
            } else if (piece + t->prefix_len <= t->vocab.max_len) {
                memcpy(key + t->prefix_len, src, piece);
                found = tb_vocab_find(&t->vocab, key, t->prefix_len + piece);
            }
            if (found >= 0)
                break;
            end--;
        }
        if (found < 0) {
            out->n = mark;
            tokens_push(out, t->unk, 0);
            return;
        }
        tokens_push(out, found, 0);
        start = end;
    }
}

/* Run the model over the spans of one segment. */
static int run_model(const tb_tokenizer *t, const uint32_t *cp, size_t ns, size_t limit,
                     tb_tokens *out, tb_tok_scratch *ws, tb_err *err)
{
    for (size_t s = 0; s < ns && out->n < limit; s++) {
        size_t b = ws->spans[2 * s], e = ws->spans[2 * s + 1];
        if (t->model == MD_WORDPIECE) {
            wordpiece(t, cp, b, e, out, ws);
            continue;
        }
        int32_t id = -1;
        if (e - b <= t->vocab.max_len) {
            size_t blen = encode_span(cp, b, e, ws, false);
            id = tb_vocab_find(&t->vocab, ws->bytes, blen);
        }
        if (id < 0) {
            if (t->unk < 0)
                return tb_err_set(err, TB_EINVAL,
                                  "a word is not in the vocabulary and the tokenizer has no "
                                  "unk_token");
            id = t->unk;
        }
        tokens_push(out, id, 0);
    }
    return 0;
}

static int encode_segment(const tb_tokenizer *t, const char *s, size_t len, size_t limit,
                          tb_tokens *out, tb_tok_scratch *ws, tb_err *err)
{
    if (len == 0)
        return 0;
    size_t n = decode((const unsigned char *)s, len, ws);
    n = normalize(t, n, ws);
    if (n == 0)
        return 0;
    grow_u32(&ws->spans, &ws->sp_cap, 2);
    ws->spans[0] = 0;
    ws->spans[1] = (uint32_t)n;
    size_t ns = 1;
    for (size_t p = 0; p < t->n_pres; p++)
        ns = pre_split(&t->pres[p], ws->cp, ns, ws);
    return run_model(t, ws->cp, ns, limit, out, ws, err);
}

int tb_tokenizer_encode_ws(const tb_tokenizer *t, const char *text, size_t len,
                           size_t max_len, bool add_special, tb_tokens *out,
                           tb_tok_scratch *ws, tb_err *err)
{
    out->n = 0;
    if (!text) {
        text = "";
        len = 0;
    }
    if (len > UINT32_MAX / 4)
        return tb_err_set(err, TB_ENOMEM, "text of %zu bytes is too long to tokenize", len);
    size_t nspecial = add_special && t->has_post ? t->n_pre + t->n_post : 0;
    size_t limit = SIZE_MAX;
    if (max_len > 0)
        limit = max_len > nspecial ? max_len - nspecial : 0;
    size_t seg = 0, i = 0;
    while (i < len && out->n < limit) {
        if (t->n_added && t->added_first[(unsigned char)text[i]]) {
            const added_tok *hit = NULL;
            for (size_t a = 0; a < t->n_added; a++) {
                const added_tok *at = &t->added[a];
                if (at->len <= len - i && memcmp(text + i, at->content, at->len) == 0) {
                    hit = at;
                    break; /* sorted longest first */
                }
            }
            if (hit) {
                if (encode_segment(t, text + seg, i - seg, limit, out, ws, err) < 0)
                    return -1;
                if (out->n < limit)
                    tokens_push(out, hit->id, 0);
                i += hit->len;
                seg = i;
                continue;
            }
        }
        i++;
    }
    if (out->n < limit && encode_segment(t, text + seg, len - seg, limit, out, ws, err) < 0)
        return -1;
    if (out->n > limit)
        out->n = limit;
    for (size_t j = 0; j < out->n; j++)
        out->type_ids[j] = t->seq_type;
    if (nspecial) {
        size_t body = out->n;
        for (size_t j = 0; j < nspecial; j++)
            tokens_push(out, 0, 0); /* make room */
        memmove(out->ids + t->n_pre, out->ids, body * sizeof *out->ids);
        memmove(out->type_ids + t->n_pre, out->type_ids, body * sizeof *out->type_ids);
        for (size_t j = 0; j < t->n_pre; j++) {
            out->ids[j] = t->pre_ids[j];
            out->type_ids[j] = t->pre_types[j];
        }
        for (size_t j = 0; j < t->n_post; j++) {
            out->ids[t->n_pre + body + j] = t->post_ids[j];
            out->type_ids[t->n_pre + body + j] = t->post_types[j];
        }
        if (max_len > 0 && out->n > max_len)
            out->n = max_len;
    }
    return 0;
}

int tb_tokenizer_encode(const tb_tokenizer *t, const char *text, size_t max_len,
                        bool add_special, tb_tokens *out, tb_err *err)
{
    tb_tok_scratch ws = {0};
    int rc = tb_tokenizer_encode_ws(t, text, text ? strlen(text) : 0, max_len, add_special,
                                    out, &ws, err);
    tb_tok_scratch_free(&ws);
    return rc;
}

/* ------------------------------------------------------------ queries */

size_t tb_tokenizer_vocab_size(const tb_tokenizer *t)
{
    return t->vocab.n_ids;
}

int32_t tb_tokenizer_token_to_id(const tb_tokenizer *t, const char *token)
{
    return token ? tb_vocab_find(&t->vocab, token, strlen(token)) : -1;
}

const char *tb_tokenizer_id_to_token(const tb_tokenizer *t, int32_t id)
{
    return tb_vocab_token(&t->vocab, id);
}

int32_t tb_tokenizer_pad_id(const tb_tokenizer *t)
{
    return t->pad_id;
}

int32_t tb_tokenizer_unk_id(const tb_tokenizer *t)
{
    return t->unk;
}

const char *tb_tokenizer_describe(const tb_tokenizer *t)
{
    return t->desc;
}

void tb_tokenizer_free(tb_tokenizer *t)
{
    if (!t)
        return;
    tb_vocab_free(&t->vocab);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    free(t);
}

/* ------------------------------------------------------------ loading */

static const char *norm_name(int k)
{
    static const char *names[] = {"BertNormalizer", "Lowercase", "NFD", "NFC",
                                  "NFKD", "NFKC", "StripAccents", "Strip"};
    return names[k];
}

static const char *pre_name(int k)
{
    static const char *names[] = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit",
                                  "Punctuation"};
    return names[k];
}

static void finish_desc(tb_tokenizer *t, const char *post)
{
    tb_buf b = {0};
    for (size_t i = 0; i < t->n_norms; i++)
        tb_buf_printf(&b, "%s > ", norm_name(t->norms[i].kind));
    for (size_t i = 0; i < t->n_pres; i++)
        tb_buf_printf(&b, "%s > ", pre_name(t->pres[i].kind));
    tb_buf_printf(&b, "%s(%zu tokens)", t->model == MD_WORDPIECE ? "WordPiece" : "WordLevel",
                  t->vocab.n_tokens);
    if (post)
        tb_buf_printf(&b, " > %s", post);
    snprintf(t->desc, sizeof t->desc, "%s", tb_buf_cstr(&b));
    tb_buf_free(&b);
}

static bool jbool(json_t *o, const char *k, bool def)
{
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static const char *jtype(json_t *o)
{
    json_t *v = json_object_get(o, "type");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_norm(tb_tokenizer *t, json_t *j, int depth, tb_err *err)
{
    if (json_is_null(j))
        return 0;
    const char *ty = json_is_object(j) ? jtype(j) : NULL;
    if (!ty)
        return tb_err_set(err, TB_EFORMAT, "normalizer without a \"type\"");
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr) || depth >= MAX_DEPTH)
            return tb_err_set(err, TB_EFORMAT, "normalizer Sequence needs a \"normalizers\" array");
        for (size_t i = 0; i < json_array_size(arr); i++)
            if (parse_norm(t, json_array_get(arr, i), depth + 1, err) < 0)
                return -1;
        return 0;
    }
    if (t->n_norms == MAX_STEPS)
        return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: more than %d normalizers",
                          MAX_STEPS);
    norm nm = {0};
    if (!strcmp(ty, "BertNormalizer")) {
        nm.kind = NM_BERT;
        nm.clean = jbool(j, "clean_text", true);
        nm.chinese = jbool(j, "handle_chinese_chars", true);
        nm.lower = jbool(j, "lowercase", true);
        nm.strip_accents = jbool(j, "strip_accents", nm.lower); /* null: follow lowercase */
    } else if (!strcmp(ty, "Lowercase")) {
        nm.kind = NM_LOWER;
    } else if (!strcmp(ty, "NFD")) {
        nm.kind = NM_NFD;
    } else if (!strcmp(ty, "NFC")) {
        nm.kind = NM_NFC;
    } else if (!strcmp(ty, "NFKD")) {
        nm.kind = NM_NFKD;
    } else if (!strcmp(ty, "NFKC")) {
        nm.kind = NM_NFKC;
    } else if (!strcmp(ty, "StripAccents")) {
        nm.kind = NM_STRIP_ACCENTS;
    } else if (!strcmp(ty, "Strip")) {
        nm.kind = NM_STRIP;
        nm.left = jbool(j, "strip_left", true);
        nm.right = jbool(j, "strip_right", true);
    } else {
        return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: normalizer type \"%.64s\"", ty);
    }
    t->norms[t->n_norms++] = nm;
    return 0;
}

static int parse_pre(tb_tokenizer *t, json_t *j, int depth, tb_err *err)
{
    if (json_is_null(j))
        return 0;
    const char *ty = json_is_object(j) ? jtype(j) : NULL;
    if (!ty)
        return tb_err_set(err, TB_EFORMAT, "pre_tokenizer without a \"type\"");
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr) || depth >= MAX_DEPTH)
            return tb_err_set(err, TB_EFORMAT,
                              "pre_tokenizer Sequence needs a \"pretokenizers\" array");
        for (size_t i = 0; i < json_array_size(arr); i++)
            if (parse_pre(t, json_array_get(arr, i), depth + 1, err) < 0)
                return -1;
        return 0;
    }
    if (t->n_pres == MAX_STEPS)
        return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: more than %d pre-tokenizers",
                          MAX_STEPS);
    pretok p = {0};
    if (!strcmp(ty, "BertPreTokenizer")) {
        p.kind = PT_BERT;
    } else if (!strcmp(ty, "Whitespace")) {
        p.kind = PT_WS;
    } else if (!strcmp(ty, "WhitespaceSplit")) {
        p.kind = PT_WSSPLIT;
    } else if (!strcmp(ty, "Punctuation")) {
        p.kind = PT_PUNCT;
        json_t *b = json_object_get(j, "behavior");
        const char *bs = json_is_string(b) ? json_string_value(b) : "Isolated";
        if (!strcmp(bs, "Isolated"))
            p.behavior = BH_ISOLATED;
        else if (!strcmp(bs, "Removed"))
            p.behavior = BH_REMOVED;
        else if (!strcmp(bs, "Contiguous"))
            p.behavior = BH_CONTIGUOUS;
        else if (!strcmp(bs, "MergedWithPrevious"))
            p.behavior = BH_MERGED_PREV;
        else if (!strcmp(bs, "MergedWithNext"))
            p.behavior = BH_MERGED_NEXT;
        else
            return tb_err_set(err, TB_EUNSUPPORTED,
                              "unsupported: Punctuation behavior \"%.64s\"", bs);
    } else {
        return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: pre_tokenizer type \"%.64s\"", ty);
    }
    t->pres[t->n_pres++] = p;
    return 0;
}

static int parse_model(tb_tokenizer *t, json_t *m, bool prebuilt, tb_err *err)
{
    if (!json_is_object(m))
        return tb_err_set(err, TB_EFORMAT, "tokenizer.json has no \"model\" object");
    const char *ty = jtype(m);
    if (!ty) {
        /* Older files omit the type; infer it from the fields. */
        if (json_object_get(m, "merges"))
            ty = "BPE";
        else if (json_object_get(m, "continuing_subword_prefix"))
            ty = "WordPiece";
        else if (json_is_object(json_object_get(m, "vocab")))
            ty = "WordLevel";
        else
            ty = "?";
    }
    if (!strcmp(ty, "WordPiece")) {
        t->model = MD_WORDPIECE;
    } else if (!strcmp(ty, "WordLevel")) {
        t->model = MD_WORDLEVEL;
    } else {
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "unsupported: model type \"%.64s\" (WordPiece and WordLevel only)", ty);
    }
    json_t *vocab = json_object_get(m, "vocab");
    if (!json_is_object(vocab))
        return tb_err_set(err, TB_EFORMAT, "model has no \"vocab\" object");
    if (!prebuilt)
        tb_vocab_init(&t->vocab, json_object_size(vocab));
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= MAX_ID)
            return tb_err_set(err, TB_EFORMAT, "vocab entry \"%.64s\": id must be an integer "
                              "in [0, %d)", k, MAX_ID);
        if (tb_vocab_add(&t->vocab, k, strlen(k), (uint32_t)json_integer_value(v)) < 0)
            return tb_err_set(err, TB_EFORMAT, "vocab entry \"%.64s\": id %lld used twice", k,
                              (long long)json_integer_value(v));
    }
    t->unk = -1;
    json_t *unk = json_object_get(m, "unk_token");
    if (json_is_string(unk)) {
        t->unk = tb_vocab_find(&t->vocab, json_string_value(unk), strlen(json_string_value(unk)));
        if (t->unk < 0)
            return tb_err_set(err, TB_EFORMAT, "unk_token \"%.64s\" is not in the vocabulary",
                              json_string_value(unk));
    } else if (t->model == MD_WORDPIECE) {
        return tb_err_set(err, TB_EFORMAT, "WordPiece model without an unk_token");
    }
    if (t->model == MD_WORDPIECE) {
        json_t *pre = json_object_get(m, "continuing_subword_prefix");
        const char *ps = json_is_string(pre) ? json_string_value(pre) : "##";
        if (strlen(ps) >= sizeof t->prefix)
            return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: continuing_subword_prefix "
                              "longer than %zu bytes", sizeof t->prefix - 1);
        strcpy(t->prefix, ps);
        t->prefix_len = strlen(ps);
        json_t *mc = json_object_get(m, "max_input_chars_per_word");
        t->max_chars = 100;
        if (json_is_integer(mc) && json_integer_value(mc) > 0)
            t->max_chars = (size_t)TB_MIN(json_integer_value(mc), 1 << 20);
    }
    return 0;
}

static int cmp_added(const void *a, const void *b)
{
    const added_tok *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

static void add_added(tb_tokenizer *t, const char *s, int32_t id)
{
    size_t n = strlen(s);
    if (n == 0)
        return;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, s, n))
            return;
    t->added = tb_realloc(t->added, (t->n_added + 1) * sizeof *t->added);
    t->added[t->n_added].content = tb_strdup(s);
    t->added[t->n_added].len = n;
    t->added[t->n_added].id = id;
    t->n_added++;
    t->added_first[(unsigned char)s[0]] = 1;
}

static int parse_added(tb_tokenizer *t, json_t *arr, tb_err *err)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return tb_err_set(err, TB_EFORMAT, "\"added_tokens\" is not an array");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *a = json_array_get(arr, i);
        json_t *id = json_object_get(a, "id"), *c = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(c) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= MAX_ID)
            return tb_err_set(err, TB_EFORMAT, "added_tokens[%zu]: needs an id and a content",
                              i);
        const char *s = json_string_value(c);
        int32_t vid = (int32_t)json_integer_value(id);
        int32_t have = tb_vocab_find(&t->vocab, s, strlen(s));
        if (have < 0 && tb_vocab_add(&t->vocab, s, strlen(s), (uint32_t)vid) < 0)
            return tb_err_set(err, TB_EFORMAT,
                              "added_tokens[%zu] \"%.64s\": id %d already used by \"%.64s\"", i,
                              s, vid, tb_vocab_token(&t->vocab, vid));
        add_added(t, s, vid);
    }
    qsort(t->added, t->n_added, sizeof *t->added, cmp_added);
    return 0;
}

static int special_pair(tb_tokenizer *t, json_t *pair, const char *what, int32_t *id,
                        tb_err *err)
{
    if (!json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_integer(json_array_get(pair, 1)))
        return tb_err_set(err, TB_EFORMAT, "post_processor: \"%s\" must be [token, id]", what);
    json_int_t v = json_integer_value(json_array_get(pair, 1));
    if (v < 0 || v >= MAX_ID)
        return tb_err_set(err, TB_EFORMAT, "post_processor: \"%s\" id out of range", what);
    *id = (int32_t)v;
    return 0;
}

static int parse_template(tb_tokenizer *t, json_t *pp, tb_err *err)
{
    json_t *single = json_object_get(pp, "single");
    json_t *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return tb_err_set(err, TB_EFORMAT, "TemplateProcessing without a \"single\" array");
    bool seen_seq = false;
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *piece = json_array_get(single, i);
        json_t *sp = json_object_get(piece, "SpecialToken");
        json_t *sq = json_object_get(piece, "Sequence");
        if (sq) {
            json_t *sid = json_object_get(sq, "id");
            if (seen_seq || !json_is_string(sid) || strcmp(json_string_value(sid), "A"))
                return tb_err_set(err, TB_EUNSUPPORTED,
                                  "unsupported: TemplateProcessing single template must hold "
                                  "sequence A exactly once");
            seen_seq = true;
            json_t *ty = json_object_get(sq, "type_id");
            t->seq_type = json_is_integer(ty) ? (int32_t)(json_integer_value(ty) & 0xff) : 0;
            continue;
        }
        json_t *sid = sp ? json_object_get(sp, "id") : NULL;
        if (!json_is_string(sid))
            return tb_err_set(err, TB_EFORMAT, "TemplateProcessing: piece %zu is neither "
                              "SpecialToken nor Sequence", i);
        json_t *ty = json_object_get(sp, "type_id");
        int32_t type = json_is_integer(ty) ? (int32_t)(json_integer_value(ty) & 0xff) : 0;
        json_t *def = json_object_get(specials, json_string_value(sid));
        json_t *ids = json_object_get(def, "ids");
        if (!json_is_array(ids))
            return tb_err_set(err, TB_EFORMAT,
                              "TemplateProcessing: special token \"%.64s\" is not defined in "
                              "special_tokens",
                              json_string_value(sid));
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_t *iv = json_array_get(ids, k);
            if (!json_is_integer(iv) || json_integer_value(iv) < 0 ||
                json_integer_value(iv) >= MAX_ID)
                return tb_err_set(err, TB_EFORMAT, "TemplateProcessing: bad id for \"%.64s\"",
                                  json_string_value(sid));
            int32_t *dst_ids = seen_seq ? t->post_ids : t->pre_ids;
            int32_t *dst_types = seen_seq ? t->post_types : t->pre_types;
            size_t *n = seen_seq ? &t->n_post : &t->n_pre;
            if (*n == MAX_SPECIAL)
                return tb_err_set(err, TB_EUNSUPPORTED,
                                  "unsupported: more than %d special tokens on one side",
                                  MAX_SPECIAL);
            dst_ids[*n] = (int32_t)json_integer_value(iv);
            dst_types[*n] = type;
            (*n)++;
        }
    }
    if (!seen_seq)
        return tb_err_set(err, TB_EFORMAT, "TemplateProcessing single template lacks $A");
    return 0;
}

static int parse_post(tb_tokenizer *t, json_t *pp, const char **name, tb_err *err)
{
    *name = NULL;
    if (!pp || json_is_null(pp))
        return 0;
    const char *ty = json_is_object(pp) ? jtype(pp) : NULL;
    if (!ty)
        return tb_err_set(err, TB_EFORMAT, "post_processor without a \"type\"");
    t->has_post = true;
    if (!strcmp(ty, "BertProcessing") || !strcmp(ty, "RobertaProcessing")) {
        *name = !strcmp(ty, "BertProcessing") ? "BertProcessing" : "RobertaProcessing";
        if (special_pair(t, json_object_get(pp, "cls"), "cls", &t->pre_ids[0], err) < 0 ||
            special_pair(t, json_object_get(pp, "sep"), "sep", &t->post_ids[0], err) < 0)
            return -1;
        t->n_pre = t->n_post = 1;
        return 0;
    }
    if (!strcmp(ty, "TemplateProcessing")) {
        *name = "TemplateProcessing";
        return parse_template(t, pp, err);
    }
    return tb_err_set(err, TB_EUNSUPPORTED, "unsupported: post_processor type \"%.64s\"", ty);
}

static void default_pad(tb_tokenizer *t)
{
    static const char *cands[] = {"[PAD]", "<pad>"};
    t->pad_id = 0;
    for (size_t i = 0; i < TB_ARRAY_LEN(cands); i++) {
        int32_t id = tb_vocab_find(&t->vocab, cands[i], strlen(cands[i]));
        if (id >= 0) {
            t->pad_id = id;
            return;
        }
    }
}

/* Read "model": {"vocab": {...}} straight into v with the streaming reader,
 * and report where the vocab object lies so the DOM parse can skip it
 * (jansson takes ~0.7 s for a 341k-entry object; this takes ~30 ms).
 * Returns 1 when found and read, 0 when absent or not plainly readable (the
 * caller then lets jansson parse everything and report any error). */
static int scan_vocab(const char *json, size_t len, tb_vocab *v, size_t *vb, size_t *ve)
{
    tb_jscan j;
    tb_jscan_init(&j, json, len, NULL);
    tb_buf key = {0};
    int found = 0;
    if (tb_jscan_expect(&j, '{') < 0 || tb_jscan_accept(&j, '}'))
        goto out;
    for (;;) {
        if (tb_jscan_string(&j, &key) < 0 || tb_jscan_expect(&j, ':') < 0)
            goto out;
        if (!strcmp(key.data, "model") && tb_jscan_peek(&j) == '{') {
            j.p++;
            if (tb_jscan_accept(&j, '}'))
                goto out;
            for (;;) {
                if (tb_jscan_string(&j, &key) < 0 || tb_jscan_expect(&j, ':') < 0)
                    goto out;
                if (!strcmp(key.data, "vocab") && tb_jscan_peek(&j) == '{') {
                    *vb = (size_t)(j.p - json);
                    j.p++;
                    tb_vocab_init(v, len / 16);
                    if (!tb_jscan_accept(&j, '}')) {
                        for (;;) {
                            double id;
                            if (tb_jscan_string(&j, &key) < 0 || tb_jscan_expect(&j, ':') < 0 ||
                                tb_jscan_number(&j, &id) < 0 || id < 0 || id >= MAX_ID ||
                                id != floor(id) ||
                                tb_vocab_add(v, key.data, key.len, (uint32_t)id) < 0) {
                                tb_vocab_free(v);
                                goto out;
                            }
                            if (tb_jscan_accept(&j, ','))
                                continue;
                            if (tb_jscan_expect(&j, '}') < 0) {
                                tb_vocab_free(v);
                                goto out;
                            }
                            break;
                        }
                    }
                    *ve = (size_t)(j.p - json);
                    found = 1;
                    goto out;
                }
                if (tb_jscan_skip(&j) < 0)
                    goto out;
                if (!tb_jscan_accept(&j, ','))
                    goto out;
            }
        }
        if (tb_jscan_skip(&j) < 0 || !tb_jscan_accept(&j, ','))
            goto out;
    }
out:
    tb_buf_free(&key);
    return found;
}

tb_tokenizer *tb_tokenizer_from_json(const char *json, size_t len, tb_err *err)
{
    json_error_t je;
    tb_tokenizer *t = tb_calloc(1, sizeof *t);
    size_t vb = 0, ve = 0;
    bool prebuilt = scan_vocab(json, len, &t->vocab, &vb, &ve);
    json_t *root;
    if (prebuilt) {
        /* The document without the vocab's contents: {...,"vocab":{},...}. */
        char *rest = tb_malloc(len - (ve - vb) + 3);
        memcpy(rest, json, vb);
        memcpy(rest + vb, "{}", 2);
        memcpy(rest + vb + 2, json + ve, len - ve);
        root = json_loadb(rest, len - (ve - vb) + 2, JSON_REJECT_DUPLICATES, &je);
        free(rest);
    } else {
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    }
    if (!root) {
        tb_err_set(err, TB_EFORMAT, "tokenizer.json: invalid JSON: %s (line %d)", je.text,
                   je.line);
        tb_tokenizer_free(t);
        return NULL;
    }
    const char *post = NULL;
    if (!json_is_object(root)) {
        tb_err_set(err, TB_EFORMAT, "not a JSON object");
        goto fail;
    }
    if (parse_norm(t, json_object_get(root, "normalizer") ? json_object_get(root, "normalizer")
                                                           : json_null(), 0, err) < 0 ||
        parse_pre(t, json_object_get(root, "pre_tokenizer") ? json_object_get(root, "pre_tokenizer")
                                                             : json_null(), 0, err) < 0 ||
        parse_model(t, json_object_get(root, "model"), prebuilt, err) < 0 ||
        parse_added(t, json_object_get(root, "added_tokens"), err) < 0 ||
        parse_post(t, json_object_get(root, "post_processor"), &post, err) < 0)
        goto fail;
    default_pad(t);
    json_t *pad = json_object_get(root, "padding");
    if (json_is_object(pad) && json_is_integer(json_object_get(pad, "pad_id")))
        t->pad_id = (int32_t)json_integer_value(json_object_get(pad, "pad_id"));
    finish_desc(t, post);
    json_decref(root);
    return t;
fail:
    tb_err_prefix(err, "tokenizer.json");
    json_decref(root);
    tb_tokenizer_free(t);
    return NULL;
}

tb_tokenizer *tb_tokenizer_from_vocab(const char *txt, size_t len, bool lowercase, tb_err *err)
{
    tb_tokenizer *t = tb_calloc(1, sizeof *t);
    tb_vocab_init(&t->vocab, len / 8 + 16);
    size_t id = 0, i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && txt[e] != '\n')
            e++;
        size_t te = e;
        while (te > i && (txt[te - 1] == '\r' || txt[te - 1] == ' ' || txt[te - 1] == '\t'))
            te--;
        if (id >= MAX_ID) {
            tb_err_set(err, TB_EFORMAT, "vocab.txt: more than %d lines", MAX_ID);
            tb_tokenizer_free(t);
            return NULL;
        }
        /* A duplicate line keeps its first id; the id is still consumed. */
        (void)tb_vocab_add(&t->vocab, txt + i, te - i, (uint32_t)id);
        id++;
        i = e + 1;
    }
    if (t->vocab.n_tokens == 0) {
        tb_err_set(err, TB_EFORMAT, "vocab.txt is empty");
        tb_tokenizer_free(t);
        return NULL;
    }
    t->model = MD_WORDPIECE;
    t->unk = tb_vocab_find(&t->vocab, "[UNK]", 5);
    if (t->unk < 0) {
        tb_err_set(err, TB_EFORMAT, "vocab.txt has no [UNK] token");
        tb_tokenizer_free(t);
        return NULL;
    }
    strcpy(t->prefix, "##");
    t->prefix_len = 2;
    t->max_chars = 100;
    t->norms[0] = (norm){.kind = NM_BERT, .clean = true, .chinese = true,
                         .strip_accents = lowercase, .lower = lowercase};
    t->n_norms = 1;
    t->pres[0] = (pretok){.kind = PT_BERT};
    t->n_pres = 1;
    static const char *specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t k = 0; k < TB_ARRAY_LEN(specials); k++) {
        int32_t sid = tb_vocab_find(&t->vocab, specials[k], strlen(specials[k]));
        if (sid >= 0)
            add_added(t, specials[k], sid);
    }
    qsort(t->added, t->n_added, sizeof *t->added, cmp_added);
    int32_t cls = tb_vocab_find(&t->vocab, "[CLS]", 5), sep = tb_vocab_find(&t->vocab, "[SEP]", 5);
    const char *post = NULL;
    if (cls >= 0 && sep >= 0) {
        t->has_post = true;
        t->pre_ids[0] = cls;
        t->post_ids[0] = sep;
        t->n_pre = t->n_post = 1;
        post = "BertProcessing";
    }
    default_pad(t);
    finish_desc(t, post);
    return t;
}

/* do_lower_case from a tokenizer_config.json next to a vocab.txt (default true). */
static bool vocab_lowercase(const char *dir)
{
    char *p = tb_path_join(dir, "tokenizer_config.json");
    tb_buf b = {0};
    bool lc = true;
    if (tb_read_file(p, &b, 1 << 20, NULL) == 0) {
        json_t *r = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        json_t *v = json_object_get(r, "do_lower_case");
        if (json_is_boolean(v))
            lc = json_is_true(v);
        json_decref(r);
    }
    tb_buf_free(&b);
    free(p);
    return lc;
}

tb_tokenizer *tb_tokenizer_load(const char *path, tb_err *err)
{
    char *file = NULL, *dir = NULL;
    if (tb_is_dir(path)) {
        file = tb_path_join(path, "tokenizer.json");
        if (!tb_path_exists(file)) {
            free(file);
            file = tb_path_join(path, "vocab.txt");
        }
        if (!tb_path_exists(file)) {
            tb_err_set(err, TB_ENOTFOUND, "%s: no tokenizer.json or vocab.txt", path);
            free(file);
            return NULL;
        }
        dir = tb_strdup(path);
    } else {
        file = tb_strdup(path);
        const char *slash = strrchr(path, '/');
        dir = slash ? tb_strndup(path, (size_t)(slash - path)) : tb_strdup(".");
    }
    tb_buf b = {0};
    tb_tokenizer *t = NULL;
    if (tb_read_file(file, &b, 512u << 20, err) == 0) {
        const char *data = b.data ? b.data : "";
        if (tb_str_ends(file, ".json"))
            t = tb_tokenizer_from_json(data, b.len, err);
        else
            t = tb_tokenizer_from_vocab(data, b.len, vocab_lowercase(dir), err);
        if (!t)
            tb_err_prefix(err, "%s", file);
    }
    tb_buf_free(&b);
    free(file);
    free(dir);
    return t;
}

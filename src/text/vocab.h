/*
 * vocab.h -- token string <-> id, an open-addressing hash table.
 *
 * Token strings live back to back in one arena. Each 32-byte slot of the
 * table holds the id + 1 (0 = empty), the key's 32-bit hash and length, and
 * the first 16 bytes of the key: a lookup of a word up to 16 bytes (nearly
 * every English word) costs one cache line and never touches the arena,
 * which matters for 300k+ word vocabularies whose arena does not stay in
 * cache. Linear probing, load <= 0.7.
 * Ids may be sparse (tokenizer.json allows any); id_to_token of a hole is
 * NULL. Built once, then read-only: lookups are thread-safe.
 */
#ifndef TB_VOCAB_H
#define TB_VOCAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb_vocab_slot {
    char head[16];        /* first 16 bytes of the key, zero padded */
    uint32_t hash;
    uint32_t id1;         /* id + 1; 0 = empty slot */
    uint32_t len;         /* key length in bytes */
    uint32_t off;         /* key offset in the arena */
} tb_vocab_slot;

typedef struct tb_vocab {
    char *arena;          /* NUL-terminated strings */
    size_t arena_len, arena_cap;
    uint32_t *tok_off;    /* [n_ids] offset in arena, UINT32_MAX = no token */
    uint32_t *tok_len;    /* [n_ids] */
    size_t n_ids;         /* max id + 1 */
    size_t ids_cap;       /* allocated entries of tok_off / tok_len */
    size_t n_tokens;      /* distinct tokens */
    size_t max_len;       /* longest token in bytes */
    struct tb_vocab_slot *slots;
    size_t mask;          /* slots - 1 */
} tb_vocab;

/* Sizes the table for about n tokens (grows anyway). */
void tb_vocab_init(tb_vocab *v, size_t n);
/* Add token s (n bytes) with id. Returns 0, or -1 when the token or the id is
 * already present (the caller reports it). */
int tb_vocab_add(tb_vocab *v, const char *s, size_t n, uint32_t id);
/* Id of s (n bytes), -1 when absent. */
int32_t tb_vocab_find(const tb_vocab *v, const char *s, size_t n);
/* NULL when id has no token. */
const char *tb_vocab_token(const tb_vocab *v, int32_t id);
void tb_vocab_free(tb_vocab *v);

/* The hash used by the table (exposed so callers can hash once). */
static inline uint32_t tb_vocab_hash(const char *s, size_t n)
{
    /* FNV-1a over bytes, then a murmur-style finaliser: cheap for short
     * words and well mixed in the low bits that pick the slot. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#endif

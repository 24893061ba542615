/*
 * vocab.c -- the open-addressing token table (see vocab.h).
 */
#include <stdlib.h>
#include <string.h>

#include "text/vocab.h"
#include "util/util.h"

static void rehash(tb_vocab *v, size_t nslots)
{
    tb_vocab_slot *old = v->slots;
    size_t oldn = old ? v->mask + 1 : 0;
    v->slots = tb_calloc(nslots, sizeof *v->slots);
    v->mask = nslots - 1;
    for (size_t i = 0; i < oldn; i++) {
        if (!old[i].id1)
            continue;
        size_t j = old[i].hash & v->mask;
        while (v->slots[j].id1)
            j = (j + 1) & v->mask;
        v->slots[j] = old[i];
    }
    free(old);
}

void tb_vocab_init(tb_vocab *v, size_t n)
{
    memset(v, 0, sizeof *v);
    size_t ns = 16;
    while (7 * ns < 10 * n + 10)
        ns <<= 1;
    rehash(v, ns);
}

int tb_vocab_add(tb_vocab *v, const char *s, size_t n, uint32_t id)
{
    if (id >= UINT32_MAX - 1 || n >= UINT32_MAX / 2)
        return -1;
    if (tb_vocab_find(v, s, n) >= 0)
        return -1;
    if (id < v->n_ids && v->tok_off[id] != UINT32_MAX)
        return -1;
    if (v->arena_len + n + 1 >= UINT32_MAX)
        return -1;
    if (id >= v->n_ids) {
        size_t nn = (size_t)id + 1;
        if (nn > v->ids_cap) {
            size_t cap = v->ids_cap ? v->ids_cap : 16;
            while (cap < nn)
                cap *= 2;
            v->tok_off = tb_realloc(v->tok_off, cap * sizeof *v->tok_off);
            v->tok_len = tb_realloc(v->tok_len, cap * sizeof *v->tok_len);
            v->ids_cap = cap;
        }
        for (size_t i = v->n_ids; i < nn; i++) {
            v->tok_off[i] = UINT32_MAX;
            v->tok_len[i] = 0;
        }
        v->n_ids = nn;
    }
    if (v->arena_len + n + 1 > v->arena_cap) {
        size_t cap = v->arena_cap ? v->arena_cap : 4096;
        while (cap < v->arena_len + n + 1)
            cap *= 2;
        v->arena = tb_realloc(v->arena, cap);
        v->arena_cap = cap;
    }
    memcpy(v->arena + v->arena_len, s, n);
    v->arena[v->arena_len + n] = '\0';
    v->tok_off[id] = (uint32_t)v->arena_len;
    v->tok_len[id] = (uint32_t)n;
    v->arena_len += n + 1;
    if (n > v->max_len)
        v->max_len = n;
    v->n_tokens++;
    if (10 * v->n_tokens + 10 > 7 * (v->mask + 1))
        rehash(v, 2 * (v->mask + 1));
    uint32_t h = tb_vocab_hash(s, n);
    size_t j = h & v->mask;
    while (v->slots[j].id1)
        j = (j + 1) & v->mask;
    tb_vocab_slot *sl = &v->slots[j];
    memcpy(sl->head, s, n < 16 ? n : 16);
    sl->hash = h;
    sl->id1 = id + 1;
    sl->len = (uint32_t)n;
    sl->off = v->tok_off[id];
    return 0;
}

int32_t tb_vocab_find(const tb_vocab *v, const char *s, size_t n)
{
    if (!v->slots || n > v->max_len)
        return -1;
    uint32_t h = tb_vocab_hash(s, n);
    char head[16] = {0};
    memcpy(head, s, n < 16 ? n : 16);
    size_t j = h & v->mask;
    for (;;) {
        const tb_vocab_slot *sl = &v->slots[j];
        if (!sl->id1)
            return -1;
        if (sl->hash == h && sl->len == n && !memcmp(sl->head, head, 16) &&
            (n <= 16 || !memcmp(v->arena + sl->off + 16, s + 16, n - 16)))
            return (int32_t)(sl->id1 - 1);
        j = (j + 1) & v->mask;
    }
}

const char *tb_vocab_token(const tb_vocab *v, int32_t id)
{
    if (id < 0 || (size_t)id >= v->n_ids || v->tok_off[id] == UINT32_MAX)
        return NULL;
    return v->arena + v->tok_off[id];
}

void tb_vocab_free(tb_vocab *v)
{
    free(v->arena);
    free(v->tok_off);
    free(v->tok_len);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

/*
 * explain.c -- why was this item recommended, in one line a person reads.
 *
 * The ranker records, for every item it returns, its score, the interest
 * cluster it is closest to and the read item closest to it within that
 * cluster. Naming that read item ("because you read X") is the most
 * useful explanation for similarity-based recommendations: it is concrete
 * and checkable. Exploration picks say so plainly.
 */
#include "rec.h"

void tb_rec_explain(tb_store *s, const struct tb_rec_item *it, size_t k, tb_buf *out)
{
    switch (it->why) {
    case TB_WHY_COLD:
        tb_buf_puts(out, "not ranked yet (too few reads: cold start)");
        return;
    case TB_WHY_EXPLORE:
        tb_buf_printf(out, "exploration pick (random, score %.3f)", it->score);
        return;
    default:
        break;
    }
    tb_buf_printf(out, "score %.3f", it->score);
    if (it->near_item <= 0)
        return;
    tb_item ni = {0};
    tb_err err;
    if (s && tb_store_item_get(s, it->near_item, &ni, &err) == 0 && ni.title && *ni.title)
        tb_buf_printf(out, "; close to \"%s\" you read (cosine %.2f", ni.title, it->sim);
    else
        tb_buf_printf(out, "; close to item %lld you read (cosine %.2f",
                      (long long)it->near_item, it->sim);
    tb_item_clear(&ni);
    if (it->cluster >= 0 && k > 0)
        tb_buf_printf(out, ", interest %d of %zu)", it->cluster + 1, k);
    else
        tb_buf_puts(out, ")");
}

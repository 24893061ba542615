/*
 * ingest.h -- feeds into the store: refresh one feed, or every due feed.
 *
 * A refresh is fetch (conditional GET) -> parse -> upsert every item in one
 * transaction -> write the feed's fetch state. New items have no embedding
 * row, which is what puts them on the embedding queue
 * (tb_store_embedding_missing); nothing else needs to be queued.
 *
 * Scheduling: after success, next_fetch = now + max(interval, feed TTL);
 * after a failure, now + min(interval * 2^failures, 1 day), and never
 * sooner than the server's Retry-After. After max_failures consecutive
 * failures the feed is disabled until `tastebud feed enable ID`.
 */
#ifndef TB_FEED_INGEST_H
#define TB_FEED_INGEST_H

#include "feed/feed.h"
#include "feed/fetch.h"
#include "store/store.h"

struct tb_refresh_result {
    long status;          /* HTTP status of the last response, 0 none */
    bool not_modified;    /* 304: nothing was parsed or written */
    size_t n_items;       /* items in the feed */
    size_t n_new;         /* of which new to the store */
    bool disabled;        /* this failure disabled the feed */
    int64_t next_fetch;   /* when it is due again */
};

/* Store a parsed feed's items under feed_id in one transaction (upsert by
 * (collection "feed:<id>", key): a re-fetched item updates, never
 * duplicates), and fill the feed's empty title/site_url/description from
 * pf. *n_new (may be NULL) gets the number of items new to the store. */
int tb_feed_ingest(tb_store *s, int64_t feed_id, tb_parsed_feed *pf, size_t *n_new,
                   tb_err *err);

/* Refresh one feed now (even if disabled or not yet due). On failure the
 * feed's fetch state records it (failures, last_error, backoff, maybe
 * disabled) and -1 is returned with err set; r is filled either way. */
int tb_feed_refresh(tb_store *s, int64_t feed_id, const struct tb_fetch_opts *o,
                    struct tb_refresh_result *r, tb_err *err);

/* Refresh every enabled, subscribed feed with next_fetch <= now, in
 * parallel: up to `threads` at once (0: 8) and at most o->per_host per host
 * name. Counts go to *n_ok / *n_failed (either may be NULL). Returns -1 only
 * when the list of due feeds cannot be read; single feeds failing is
 * normal and recorded per feed. */
int tb_feed_refresh_due(tb_store *s, const struct tb_fetch_opts *o, int64_t now, int threads,
                        size_t *n_ok, size_t *n_failed, tb_err *err);

/* Backoff after `failures` consecutive failures (>= 1), in seconds. */
int64_t tb_feed_backoff(int64_t interval, int failures);

#endif

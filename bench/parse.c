/*
 * parse.c -- feed parsing speed, and items stored per second.
 *
 *   build/bench/parse [DIR] [SECONDS]     (defaults: ../shared/data/feeds/real, 3)
 *
 * 1. MB/s: every file in DIR is read into memory once, then parsed over and
 *    over on one thread (tb_feed_parse: XML/JSON parse, HTML-to-text of every
 *    item, dates, link resolution) for SECONDS; bytes parsed / time.
 * 2. items/s from parse to database: each file becomes a feed of a fresh
 *    temporary SQLite store and its items are parsed and upserted (one
 *    transaction per feed, as tb_feed_refresh does), repeated under new feed
 *    ids so every item is new.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed/feed.h"
#include "feed/ingest.h"

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data/feeds/real";
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    DIR *d = opendir(dir);
    if (!d) {
        printf("feed parse bench: %s is absent, skipped\n", dir);
        return 0;
    }
    tb_buf *files = NULL;
    size_t nf = 0, total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = tb_path_join(dir, e->d_name);
        files = tb_realloc(files, (nf + 1) * sizeof *files);
        memset(&files[nf], 0, sizeof files[nf]);
        tb_err err;
        if (tb_read_file(p, &files[nf], 0, &err) == 0) {
            total += files[nf].len;
            nf++;
        }
        free(p);
    }
    closedir(d);
    /* 1. parse throughput */
    size_t bytes = 0, items = 0, rounds = 0;
    double t0 = tb_mono(), el;
    do {
        for (size_t i = 0; i < nf; i++) {
            tb_parsed_feed f;
            tb_err err;
            if (tb_feed_parse(files[i].data, files[i].len, "https://bench.example/", NULL, &f,
                              &err) == 0) {
                items += f.n_items;
                tb_parsed_feed_free(&f);
            }
            bytes += files[i].len;
        }
        rounds++;
        el = tb_mono() - t0;
    } while (el < secs);
    printf("feed parse: %zu files, %.2f MB, %zu rounds in %.2f s: %.1f MB/s, %.0f items/s "
           "(single thread)\n",
           nf, total / 1e6, rounds, el, bytes / 1e6 / el, items / el);
    /* 2. parse + store */
    char tmpl[] = "/tmp/tb-bench-feeds-XXXXXX";
    if (!mkdtemp(tmpl))
        return 1;
    char *db = tb_path_join(tmpl, "bench.db");
    tb_err err;
    tb_store *s = tb_store_open(db, &err);
    if (!s) {
        fprintf(stderr, "store: %s\n", err.msg);
        return 1;
    }
    size_t stored = 0;
    t0 = tb_mono();
    int round = 0;
    do {
        for (size_t i = 0; i < nf; i++) {
            char url[64];
            snprintf(url, sizeof url, "https://bench.example/%d/%zu", round, i);
            int64_t id;
            tb_parsed_feed f;
            if (tb_store_feed_add(s, url, &id, &err) != 0 ||
                tb_feed_parse(files[i].data, files[i].len, url, NULL, &f, &err) != 0)
                continue;
            size_t fresh = 0;
            if (tb_feed_ingest(s, id, &f, &fresh, &err) != 0)
                fprintf(stderr, "ingest: %s\n", err.msg);
            stored += fresh;
            tb_parsed_feed_free(&f);
        }
        round++;
        el = tb_mono() - t0;
    } while (el < secs);
    printf("feed parse+store: %zu items into SQLite in %.2f s: %.0f items/s\n", stored, el,
           stored / el);
    tb_store_close(s);
    char *cmd = tb_asprintf("rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpl);
    free(cmd);
    free(db);
    for (size_t i = 0; i < nf; i++)
        tb_buf_free(&files[i]);
    free(files);
    return 0;
}

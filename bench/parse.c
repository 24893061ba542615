/*
 * parse.c -- feed parsing speed, and items stored per second.
 *
 *   build/bench/parse [DIR] [SECONDS]     (defaults: ../shared/data/feeds/real, 3)
 *
 * 1. MB/s: every file in DIR is read into memory once, then parsed over and
 *    over on one thread (tb_feed_parse: XML/JSON parse, HTML-to-text of every
 *    item, dates, link resolution) for SECONDS; bytes parsed / time.
 *    For scale, the same files also go through libxml2's DOM parser alone
 *    (xmlReadMemory with the options tb_feed_parse uses, then xmlFreeDoc):
 *    no field extraction, no HTML-to-text, CDATA read by libxml2 itself.
 * 2. items/s from parse to database: each file becomes a feed of a fresh
 *    temporary SQLite store and its items are parsed and upserted (one
 *    transaction per feed, as tb_feed_refresh does), repeated under new feed
 *    ids so every item is new.
 *
 * Both figures are given per second of wall-clock time and per second of
 * CPU time of this (single-threaded) process: on a machine shared with other
 * work the wall-clock rate drops while the CPU-time rate stays put.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "feed/feed.h"
#include "feed/ingest.h"

/* CPU seconds used by this process. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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
    double t0 = tb_mono(), c0 = cpu_now(), el;
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
    double cpu = cpu_now() - c0;
    printf("feed parse: %zu files, %.2f MB, %zu rounds in %.2f s: %.1f MB/s, %.0f items/s "
           "(single thread; per CPU second: %.1f MB/s, %.0f items/s)\n",
           nf, total / 1e6, rounds, el, bytes / 1e6 / el, items / el, bytes / 1e6 / cpu,
           items / cpu);
    /* reference: libxml2's DOM parse alone */
    bytes = 0;
    t0 = tb_mono();
    c0 = cpu_now();
    double el_ref;
    do {
        for (size_t i = 0; i < nf; i++) {
            xmlDoc *doc = xmlReadMemory(files[i].data, (int)files[i].len, NULL, NULL,
                                        XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
                                            XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
                                            XML_PARSE_COMPACT);
            xmlFreeDoc(doc);
            bytes += files[i].len;
        }
        el_ref = tb_mono() - t0;
    } while (el_ref < secs);
    double cpu_ref = cpu_now() - c0;
    printf("for scale, libxml2 DOM parse alone: %.1f MB/s (per CPU second: %.1f MB/s); "
           "tb_feed_parse runs at %.2fx its speed (CPU time)\n",
           bytes / 1e6 / el_ref, bytes / 1e6 / cpu_ref,
           (rounds * total / cpu) / (bytes / cpu_ref));
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
    c0 = cpu_now();
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
    cpu = cpu_now() - c0;
    printf("feed parse+store: %zu items into SQLite in %.2f s: %.0f items/s (per CPU second: "
           "%.0f items/s)\n",
           stored, el, stored / el, stored / cpu);
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

/* Unit tests for src/util: buffers, escaping, numbers, UTF-8, rng, pool, files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/config.h"
#include "util/util.h"

Test(buf, grows_and_stays_terminated)
{
    tb_buf b = {0};
    cr_assert_str_eq(tb_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        tb_buf_printf(&b, "%d,", i);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert(tb_str_starts(b.data, "0,1,2,3,"));
    cr_assert(tb_str_ends(b.data, "998,999,"));
    char *s = tb_buf_steal(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    free(s);
}

Test(buf, long_printf)
{
    tb_buf b = {0};
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tb_buf_printf(&b, "<%s>", big);
    cr_assert_eq(b.len, 1001);
    cr_assert_eq(b.data[0], '<');
    cr_assert_eq(b.data[1000], '>');
    tb_buf_free(&b);
}

Test(buf, json_escaping)
{
    tb_buf b = {0};
    tb_buf_json_str(&b, "a\"b\\c\n\x01");
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    tb_buf_free(&b);
}

Test(buf, xml_escaping_removes_control_chars)
{
    tb_buf b = {0};
    tb_buf_xml_escape(&b, "<a href=\"x\">&'\x02</a>");
    cr_assert_str_eq(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    tb_buf_free(&b);
}

Test(str, strict_number_parsing)
{
    int64_t i;
    double d;
    cr_assert_eq(tb_parse_i64("42", &i), 0);
    cr_assert_eq(i, 42);
    cr_assert_eq(tb_parse_i64("-7", &i), 0);
    cr_assert_eq(i, -7);
    cr_assert_eq(tb_parse_i64("42x", &i), -1);
    cr_assert_eq(tb_parse_i64("", &i), -1);
    cr_assert_eq(tb_parse_i64("99999999999999999999", &i), -1);
    cr_assert_eq(tb_parse_double("0.5", &d), 0);
    cr_assert_float_eq(d, 0.5, 1e-12);
    cr_assert_eq(tb_parse_double("nan", &d), -1);
    cr_assert_eq(tb_parse_double("1e999", &d), -1);
}

Test(str, trim)
{
    char s[] = "  \t hello world \n";
    cr_assert_str_eq(tb_str_trim(s), "hello world");
}

Test(str, utf8_validation)
{
    cr_assert(tb_utf8_valid("caf\xc3\xa9", 5));
    cr_assert(tb_utf8_valid("\xe6\x97\xa5\xf0\x9f\x98\x80", 7));
    cr_assert_not(tb_utf8_valid("\xc3", 1));             /* truncated */
    cr_assert_not(tb_utf8_valid("\xc0\xaf", 2));         /* overlong */
    cr_assert_not(tb_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_assert_not(tb_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    cr_assert_not(tb_utf8_valid("\xff", 1));
}

Test(err, set_and_prefix)
{
    tb_err e = {0};
    cr_assert_eq(tb_err_set(&e, TB_EFORMAT, "line %d: bad", 3), -1);
    cr_assert_eq(e.code, TB_EFORMAT);
    tb_err_prefix(&e, "reading %s", "x.xml");
    cr_assert_str_eq(e.msg, "reading x.xml: line 3: bad");
    cr_assert_eq(tb_err_set(NULL, TB_EIO, "ignored"), -1);
    /* a message that would grow past the buffer is cut, never overflows */
    char long_msg[600];
    memset(long_msg, 'm', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    tb_err_set(&e, TB_EIO, "%s", long_msg);
    tb_err_prefix(&e, "context");
    cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
    cr_assert(tb_str_starts(e.msg, "context: mmm"));
}

Test(rng, deterministic_and_in_range)
{
    tb_rng a, b;
    tb_rng_seed(&a, 123);
    tb_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tb_rng_next(&a), tb_rng_next(&b));
    tb_rng_seed(&b, 124);
    cr_assert_neq(tb_rng_next(&a), tb_rng_next(&b));
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = tb_rng_below(&a, 10);
        cr_assert_lt(v, 10);
        counts[v]++;
    }
    for (int i = 0; i < 10; i++)
        cr_assert(counts[i] > 9000 && counts[i] < 11000, "bucket %d has %d", i, counts[i]);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double x = tb_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    cr_assert_float_eq(sum / 100000, 0.0, 0.02);
    cr_assert_float_eq(sq / 100000, 1.0, 0.03);
}

Test(rng, shuffle_is_permutation)
{
    tb_rng r;
    tb_rng_seed(&r, 9);
    size_t idx[50];
    for (size_t i = 0; i < 50; i++)
        idx[i] = i;
    tb_rng_shuffle(&r, idx, 50);
    int seen[50] = {0}, moved = 0;
    for (size_t i = 0; i < 50; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (size_t i = 0; i < 50; i++)
        cr_assert_eq(seen[i], 1);
    cr_assert_gt(moved, 25);
}

Test(rng, secure_bytes_differ)
{
    unsigned char a[16], b[16];
    cr_assert_eq(tb_random_bytes(a, 16), 0);
    cr_assert_eq(tb_random_bytes(b, 16), 0);
    cr_assert_neq(memcmp(a, b, 16), 0);
    char hex[33];
    tb_hex("\x01\xab", 2, hex);
    cr_assert_str_eq(hex, "01ab");
    char id1[33], id2[33];
    cr_assert_eq(tb_random_id(id1), 0);
    cr_assert_eq(tb_random_id(id2), 0);
    cr_assert_eq(strlen(id1), 32);
    cr_assert_eq(strspn(id1, "0123456789abcdef"), 32);
    cr_assert_str_neq(id1, id2);
}

Test(hash, spreads)
{
    cr_assert_neq(tb_hash64("a", 1, 0), tb_hash64("b", 1, 0));
    cr_assert_eq(tb_hash64("abc", 3, 7), tb_hash64("abc", 3, 7));
    cr_assert_neq(tb_hash64("abc", 3, 7), tb_hash64("abc", 3, 8));
}

Test(vec, dot_and_normalize)
{
    float a[7] = {1, 2, 3, 4, 5, 6, 7}, b[7] = {7, 6, 5, 4, 3, 2, 1};
    cr_assert_float_eq(tb_dot(a, b, 7), 84.0f, 1e-4);
    float n = tb_l2_normalize(a, 7);
    cr_assert_float_eq(n, sqrtf(140.0f), 1e-4);
    cr_assert_float_eq(tb_dot(a, a, 7), 1.0f, 1e-5);
    float z[3] = {0, 0, 0};
    cr_assert_float_eq(tb_l2_normalize(z, 3), 0.0f, 0);
    cr_assert_float_eq(z[0], 0.0f, 0);
}

static void add_square(void *ctx, size_t i)
{
    atomic_long *sum = ctx;
    atomic_fetch_add(sum, (long)(i * i));
}

Test(pool, parallel_for_covers_every_index)
{
    tb_pool *p = tb_pool_new(4);
    cr_assert_eq(tb_pool_size(p), 4);
    for (int round = 0; round < 20; round++) {
        atomic_long sum = 0;
        tb_pool_for(p, 1000, add_square, &sum);
        cr_assert_eq(atomic_load(&sum), 332833500L);
    }
    atomic_long one = 0;
    tb_pool_for(p, 0, add_square, &one);
    cr_assert_eq(atomic_load(&one), 0);
    tb_pool_free(p);
}

Test(file, read_write_limits)
{
    char dir[] = "/tmp/tb-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *sub = tb_path_join(dir, "a/b/c");
    tb_err e = {0};
    cr_assert_eq(tb_mkdir_p(sub, &e), 0, "%s", e.msg);
    cr_assert(tb_is_dir(sub));
    char *f = tb_path_join(sub, "x.txt");
    cr_assert_eq(tb_write_file(f, "hello", 5, &e), 0);
    tb_buf b = {0};
    cr_assert_eq(tb_read_file(f, &b, 0, &e), 0);
    cr_assert_str_eq(b.data, "hello");
    tb_buf_clear(&b);
    cr_assert_eq(tb_read_file(f, &b, 3, &e), -1);
    cr_assert_eq(e.code, TB_ENOMEM);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(tb_read_file("/nonexistent/file", &b, 0, &e), -1);
    cr_assert_eq(e.code, TB_ENOTFOUND);
    cr_assert_eq(tb_read_file(dir, &b, 0, &e), -1);
    tb_buf_free(&b);
    free(f);
    free(sub);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(time, formats)
{
    char s[40];
    tb_time_rfc3339(0, s, sizeof s);
    cr_assert_str_eq(s, "1970-01-01T00:00:00Z");
    tb_time_rfc822(1733324645, s, sizeof s);
    cr_assert_str_eq(s, "Wed, 04 Dec 2024 15:04:05 GMT");
    double t0 = tb_mono();
    usleep(2000);
    cr_assert_gt(tb_mono() - t0, 0.001);
}

Test(config, defaults_types_and_sources)
{
    tb_config *c = tb_config_new();
    cr_assert_str_eq(tb_config_get(c, "min_reads"), "10");
    cr_assert_eq(tb_config_int(c, "min_reads", 0), 10);
    cr_assert_float_eq(tb_config_double(c, "filter_ratio", 0), 0.5, 1e-12);
    cr_assert_str_eq(tb_config_source(c, "min_reads"), "default");
    tb_err e = {0};
    cr_assert_eq(tb_config_set(c, "min_reads", "3", &e), 0);
    cr_assert_eq(tb_config_int(c, "min_reads", 0), 3);
    cr_assert_str_eq(tb_config_source(c, "min_reads"), "flag");
    cr_assert_eq(tb_config_set(c, "nope", "1", &e), -1);
    cr_assert_eq(tb_config_set(c, "min_reads", "many", &e), 0);
    cr_assert_eq(tb_config_int(c, "min_reads", 0), 10, "falls back to the default");
    cr_assert_eq(tb_config_set(c, "access_log", "off", &e), 0);
    cr_assert_not(tb_config_bool(c, "access_log", true));
    cr_assert_null(tb_config_get(c, "no_such_key"));
    for (const tb_config_key *k = tb_config_keys(); k->key; k++)
        cr_assert(k->doc && *k->doc, "setting %s has no doc", k->key);
    tb_config_free(c);
}

Test(config, file_precedence)
{
    char path[] = "/tmp/tb-conf-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "\n# comment\nmin_reads = 4   # trailing\n\nlisten = \"0.0.0.0:9\"\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    tb_config *c = tb_config_new();
    tb_err e = {0};
    cr_assert_eq(tb_config_set(c, "listen", "1.2.3.4:5", &e), 0);
    cr_assert_eq(tb_config_load_file(c, path, true, &e), 0, "%s", e.msg);
    cr_assert_eq(tb_config_int(c, "min_reads", 0), 4);
    cr_assert_str_eq(tb_config_get(c, "listen"), "1.2.3.4:5", "a flag beats the file");
    cr_assert_eq(tb_config_load_file(c, "/nonexistent.conf", false, &e), 0);
    cr_assert_eq(tb_config_load_file(c, "/nonexistent.conf", true, &e), -1);
    tb_config_free(c);
    unlink(path);
}

Test(file, empty_file_reads_as_empty_string)
{
    tb_buf b = {0};
    tb_err e = {0};
    cr_assert_eq(tb_read_file("/dev/null", &b, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(tb_buf_cstr(&b), "");
    tb_buf_free(&b);
    tb_buf_reserve(&b, 100);
    cr_assert_str_eq(tb_buf_cstr(&b), "", "a reserved buffer is an empty string");
    tb_buf_free(&b);
}

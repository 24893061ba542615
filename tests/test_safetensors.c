/*
 * test_safetensors.c -- the safetensors reader on good and broken images.
 *
 * Images are built in memory: 8-byte length + header JSON + data bytes, so
 * each test states exactly which property is broken.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "util/util.h"

/* Build an image: header json, then dlen data bytes (pattern). Caller frees. */
static unsigned char *image(const char *hdr, size_t dlen, size_t *size)
{
    size_t n = strlen(hdr);
    *size = 8 + n + dlen;
    unsigned char *b = tb_calloc(1, *size ? *size : 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, hdr, n);
    for (size_t i = 0; i < dlen; i++)
        b[8 + n + i] = (unsigned char)i;
    return b;
}

static void expect_fail(const char *hdr, size_t dlen, const char *needle)
{
    size_t size;
    unsigned char *b = image(hdr, dlen, &size);
    tb_err err = {0};
    tb_safetensors *st = tb_st_open_mem(b, size, &err);
    cr_expect_null(st, "expected failure for %s", hdr);
    cr_expect(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    tb_st_close(st);
    free(b);
}

Test(safetensors, good_file_f32_f16_bf16)
{
    /* header padded so data starts 4-aligned: 8 + len(hdr) */
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
             "\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[22,24]}}");
    size_t n = strlen(hdr);
    while ((8 + n) % 8) hdr[n++] = ' ';
    hdr[n] = 0;
    size_t size;
    unsigned char *b = image(hdr, 24, &size);
    unsigned char *d = b + 8 + n;
    float fa[4] = {1.5f, -2.0f, 0.25f, 1e-3f};
    memcpy(d, fa, 16);
    uint16_t hb[3] = {tb_f32_to_f16(1.0f), tb_f32_to_f16(-0.5f), tb_f32_to_f16(65504.0f)};
    memcpy(d + 16, hb, 6);
    uint16_t bf = 0x4040; /* 3.0 */
    memcpy(d + 22, &bf, 2);
    tb_err err = {0};
    tb_safetensors *st = tb_st_open_mem(b, size, &err);
    cr_assert_not_null(st, "%s", err.msg);
    cr_expect_eq(tb_st_count(st), 3);
    const tb_tensor *a = tb_st_find(st, "a");
    cr_assert_not_null(a);
    cr_expect_eq(a->ndim, 2);
    cr_expect_eq(a->shape[0], 2);
    cr_expect_eq(a->numel, 4);
    const float *v = tb_st_f32_view(a);
    cr_assert_not_null(v);
    cr_expect_eq(v, (const float *)d, "F32 view must be zero-copy");
    cr_expect_float_eq(v[3], 1e-3f, 1e-9);
    float out[3];
    tb_st_to_f32(tb_st_find(st, "b"), out);
    cr_expect_float_eq(out[0], 1.0f, 1e-6);
    cr_expect_float_eq(out[1], -0.5f, 1e-6);
    cr_expect_float_eq(out[2], 65504.0f, 1e-3);
    cr_expect_null(tb_st_f32_view(tb_st_find(st, "b")));
    tb_st_to_f32(tb_st_find(st, "c"), out);
    cr_expect_float_eq(out[0], 3.0f, 1e-6);
    cr_expect_null(tb_st_find(st, "zz"));
    cr_expect_null(tb_st_find(st, "__metadata__"));
    tb_st_close(st);
    free(b);
}

Test(safetensors, f16_roundtrip_all_values)
{
    /* Every finite half converts to float and back to itself. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 0x1f)
            continue;
        float f = tb_f16_to_f32((uint16_t)h);
        if (tb_f32_to_f16(f) != h)
            bad++;
    }
    cr_expect_eq(bad, 0, "%d halves did not round-trip", bad);
    cr_expect(isinf(tb_f16_to_f32(0x7c00)));
    cr_expect(isnan(tb_f16_to_f32(0x7e00)));
    cr_expect_eq(tb_f32_to_f16(1e6f), 0x7c00);
    cr_expect_float_eq(tb_f16_to_f32(0x0001), 5.9604645e-8f, 1e-12); /* smallest subnormal */
    cr_expect_eq(tb_f32_to_f16(1.0f + 1.0f / 4096), 0x3c00); /* ties to even */
}

Test(safetensors, truncated_and_zero_length)
{
    tb_err err = {0};
    cr_expect_null(tb_st_open_mem("", 0, &err));
    cr_expect(strstr(err.msg, "too short") != NULL, "%s", err.msg);
    cr_expect_null(tb_st_open_mem("\x10\0\0", 3, &err));
    cr_expect(strstr(err.msg, "too short") != NULL, "%s", err.msg);
    /* Data cut short: the tensor needs 16 bytes, file has 8. */
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                "outside the data area");
}

Test(safetensors, header_length_past_eof)
{
    size_t size;
    unsigned char *b = image("{}", 0, &size);
    b[0] = 200;
    tb_err err = {0};
    cr_expect_null(tb_st_open_mem(b, size, &err));
    cr_expect(strstr(err.msg, "past the end") != NULL, "%s", err.msg);
    b[0] = 0;
    b[7] = 0xff; /* huge */
    cr_expect_null(tb_st_open_mem(b, size, &err));
    cr_expect(strstr(err.msg, "past the end") != NULL, "%s", err.msg);
    free(b);
}

Test(safetensors, bad_json)
{
    expect_fail("{\"a\":", 0, "not valid JSON");
    expect_fail("[1,2]", 0, "not a JSON object");
    expect_fail("{\"a\":1}", 0, "not an object");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, "JSON");
    expect_fail("{\"__metadata__\":3}", 0, "__metadata__");
}

Test(safetensors, unknown_dtype)
{
    expect_fail("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                "unsupported dtype 'I64'");
    expect_fail("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "dtype");
}

Test(safetensors, offsets_outside)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 8,
                "outside the data area");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 8,
                "bad data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8,
                "bad data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8,
                "data_offsets");
}

Test(safetensors, overlapping)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, "overlap");
}

Test(safetensors, shape_size_mismatch)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                "shape needs 12 bytes");
    expect_fail("{\"a\":{\"dtype\":\"F16\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8,
                "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F16\",\"shape\":[1,2,3,4,5,6,7,8,9],\"data_offsets\":[0,8]}}",
                8, "dimensions");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                "\"data_offsets\":[0,8]}}",
                8, "overflow");
}

Test(safetensors, empty_tensor_and_file_open)
{
    size_t size;
    unsigned char *b = image("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
                             "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                             4, &size);
    char path[] = "/tmp/tb_st_testXXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, b, size), (ssize_t)size);
    close(fd);
    tb_err err = {0};
    tb_safetensors *st = tb_st_open(path, &err);
    cr_assert_not_null(st, "%s", err.msg);
    cr_expect_eq(tb_st_find(st, "e")->numel, 0);
    cr_expect_eq(tb_st_count(st), 2);
    tb_st_close(st);
    /* Truncate the file on disk: error names the file. */
    cr_assert_eq(truncate(path, 10), 0);
    cr_expect_null(tb_st_open(path, &err));
    cr_expect(strstr(err.msg, path) != NULL, "%s", err.msg);
    unlink(path);
    cr_expect_null(tb_st_open(path, &err));
    cr_expect_eq(err.code, TB_ENOTFOUND);
    free(b);
}

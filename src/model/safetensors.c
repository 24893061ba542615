/*
 * safetensors.c -- validate and map .safetensors files.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data
 * area. The JSON maps tensor names to {"dtype","shape","data_offsets"}, with
 * offsets relative to the start of the data area; "__metadata__" (a string
 * map) is skipped.
 *
 * Design: the file is mmap'ed read-only and never copied; tb_tensor.data
 * points into the mapping. Everything a hostile file could get wrong is
 * checked once at open time, so later users (the static model, the BERT
 * encoder) may trust numel/nbytes/data without re-checking:
 *   - header length fits in the file and under a sanity limit (100 MiB),
 *   - the header is a JSON object, names are unique (jansson rejects dups),
 *   - dtype is one of F32/F16/BF16 (others: "unsupported dtype"),
 *   - shape is an array of <= TB_ST_MAX_DIMS non-negative integers whose
 *     product does not overflow,
 *   - data_offsets is [begin, end] with begin <= end <= data size and
 *     end - begin == numel * element size,
 *   - no two tensors share a byte (sorted by begin, each ends before the next).
 * Holes in the data area are tolerated (the reference implementation refuses
 * them, but they are harmless for a reader).
 *
 * Ownership: tb_safetensors owns the mapping (or borrows the caller's buffer
 * for tb_st_open_mem), the tensor array and the names.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "util/util.h"

#define TB_ST_MAX_HEADER (100u << 20)

struct tb_safetensors {
    const unsigned char *base;  /* start of the file image */
    size_t size;                /* bytes in the image */
    int mapped;                 /* 1: munmap base on close */
    tb_tensor *tensors;         /* count entries, sorted by data offset */
    size_t count;
};

const char *tb_dtype_name(tb_dtype d)
{
    switch (d) {
    case TB_DT_F32: return "F32";
    case TB_DT_F16: return "F16";
    case TB_DT_BF16: return "BF16";
    }
    return "?";
}

static size_t dtype_size(tb_dtype d)
{
    return d == TB_DT_F32 ? 4 : 2;
}

/* IEEE half -> single, exact for every input including subnormals, inf, NaN. */
float tb_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* Subnormal: normalise the mantissa. */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float tb_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Single -> half with round-to-nearest-even; overflow gives inf, NaN stays NaN. */
uint16_t tb_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent, which is correct rounding */
    return (uint16_t)(sign | half);
}

static int cmp_offset(const void *a, const void *b)
{
    const tb_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py ? 1 : 0;
}

static void free_tensors(tb_tensor *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)t[i].name);
    free(t);
}

/* Parse one tensor entry into out. */
static int parse_entry(const char *name, json_t *v, const unsigned char *data, size_t dsize,
                       tb_tensor *out, tb_err *err)
{
    if (!json_is_object(v))
        return tb_err_set(err, TB_EFORMAT, "tensor '%s': entry is not an object", name);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return tb_err_set(err, TB_EFORMAT, "tensor '%s': missing or non-string dtype", name);
    const char *ds = json_string_value(jd);
    if (!strcmp(ds, "F32"))
        out->dtype = TB_DT_F32;
    else if (!strcmp(ds, "F16"))
        out->dtype = TB_DT_F16;
    else if (!strcmp(ds, "BF16"))
        out->dtype = TB_DT_BF16;
    else
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "tensor '%s': unsupported dtype '%.32s' (F32, F16, BF16 only)", name,
                          ds);
    if (!json_is_array(js))
        return tb_err_set(err, TB_EFORMAT, "tensor '%s': missing or non-array shape", name);
    size_t nd = json_array_size(js);
    if (nd > TB_ST_MAX_DIMS)
        return tb_err_set(err, TB_EUNSUPPORTED, "tensor '%s': %zu dimensions (max %d)", name,
                          nd, TB_ST_MAX_DIMS);
    out->ndim = (int)nd;
    size_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return tb_err_set(err, TB_EFORMAT,
                              "tensor '%s': shape[%zu] is not a non-negative integer", name, i);
        json_int_t dv = json_integer_value(d);
        out->shape[i] = (int64_t)dv;
        if (dv != 0 && numel > SIZE_MAX / 4 / (size_t)dv)
            return tb_err_set(err, TB_EFORMAT, "tensor '%s': shape overflows", name);
        numel *= (size_t)dv;
    }
    out->numel = numel;
    out->nbytes = numel * dtype_size(out->dtype);
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_is_integer(json_array_get(jo, 0)) || !json_is_integer(json_array_get(jo, 1)))
        return tb_err_set(err, TB_EFORMAT,
                          "tensor '%s': data_offsets must be [begin, end] integers", name);
    json_int_t b = json_integer_value(json_array_get(jo, 0));
    json_int_t e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < b)
        return tb_err_set(err, TB_EFORMAT, "tensor '%s': bad data_offsets [%lld, %lld]", name,
                          (long long)b, (long long)e);
    if ((unsigned long long)e > dsize)
        return tb_err_set(err, TB_EFORMAT,
                          "tensor '%s': data_offsets [%lld, %lld] outside the data area "
                          "(%zu bytes; file truncated?)",
                          name, (long long)b, (long long)e, dsize);
    if ((size_t)(e - b) != out->nbytes)
        return tb_err_set(err, TB_EFORMAT,
                          "tensor '%s': shape needs %zu bytes of %s but data_offsets span %lld",
                          name, out->nbytes, ds, (long long)(e - b));
    out->data = data + b;
    return 0;
}

static tb_safetensors *parse(const unsigned char *img, size_t size, tb_err *err)
{
    if (size < 8) {
        tb_err_set(err, TB_EFORMAT, "file too short for a safetensors header (%zu bytes)", size);
        return NULL;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | img[i];
    if (n > size - 8) {
        tb_err_set(err, TB_EFORMAT,
                   "header length %llu runs past the end of the file (%zu bytes; truncated?)",
                   (unsigned long long)n, size);
        return NULL;
    }
    if (n > TB_ST_MAX_HEADER) {
        tb_err_set(err, TB_EFORMAT, "header length %llu over the 100 MiB limit",
                   (unsigned long long)n);
        return NULL;
    }
    if (n < 2) {
        tb_err_set(err, TB_EFORMAT, "header is empty");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)img + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tb_err_set(err, TB_EFORMAT, "header is not valid JSON: %s (at byte %d)", je.text,
                   je.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        tb_err_set(err, TB_EFORMAT, "header is not a JSON object");
        return NULL;
    }
    const unsigned char *data = img + 8 + n;
    size_t dsize = size - 8 - (size_t)n;
    size_t cap = json_object_size(root);
    tb_tensor *ts = tb_calloc(cap ? cap : 1, sizeof *ts);
    size_t count = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                tb_err_set(err, TB_EFORMAT, "__metadata__ is not an object");
                goto fail;
            }
            continue;
        }
        tb_tensor *t = &ts[count];
        memset(t, 0, sizeof *t);
        if (parse_entry(key, val, data, dsize, t, err) < 0)
            goto fail;
        t->name = tb_strdup(key);
        count++;
    }
    json_decref(root);
    root = NULL;
    qsort(ts, count, sizeof *ts, cmp_offset);
    for (size_t i = 1; i < count; i++) {
        const unsigned char *prev_end = (const unsigned char *)ts[i - 1].data + ts[i - 1].nbytes;
        if (ts[i].nbytes > 0 && ts[i - 1].nbytes > 0 &&
            (const unsigned char *)ts[i].data < prev_end) {
            tb_err_set(err, TB_EFORMAT, "tensors '%s' and '%s' overlap in the data area",
                       ts[i - 1].name, ts[i].name);
            goto fail;
        }
    }
    tb_safetensors *st = tb_calloc(1, sizeof *st);
    st->base = img;
    st->size = size;
    st->tensors = ts;
    st->count = count;
    return st;
fail:
    if (root)
        json_decref(root);
    free_tensors(ts, count);
    return NULL;
}

tb_safetensors *tb_st_open_mem(const void *data, size_t size, tb_err *err)
{
    if (!data && size)
        size = 0;
    return parse(data ? data : (const void *)"", size, err);
}

tb_safetensors *tb_st_open(const char *path, tb_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tb_err_set(err, errno == ENOENT ? TB_ENOTFOUND : TB_EIO, "%s: %s", path,
                   strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        tb_err_set(err, TB_EIO, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        tb_err_set(err, TB_EFORMAT, "%s: file too short for a safetensors header (%zu bytes)",
                   path, size);
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        tb_err_set(err, TB_EIO, "%s: mmap: %s", path, strerror(e));
        return NULL;
    }
    tb_safetensors *st = parse(map, size, err);
    if (!st) {
        munmap(map, size);
        tb_err_prefix(err, "%s", path);
        return NULL;
    }
    st->mapped = 1;
    return st;
}

void tb_st_close(tb_safetensors *st)
{
    if (!st)
        return;
    if (st->mapped)
        munmap((void *)st->base, st->size);
    free_tensors(st->tensors, st->count);
    free(st);
}

const char *tb_st_header(const tb_safetensors *st, size_t *len)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | st->base[i];
    *len = (size_t)n;
    return (const char *)st->base + 8;
}

size_t tb_st_file_size(const tb_safetensors *st)
{
    return st->size;
}

size_t tb_st_count(const tb_safetensors *st)
{
    return st ? st->count : 0;
}

const tb_tensor *tb_st_at(const tb_safetensors *st, size_t i)
{
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const tb_tensor *tb_st_find(const tb_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    for (size_t i = 0; i < st->count; i++)
        if (!strcmp(st->tensors[i].name, name))
            return &st->tensors[i];
    return NULL;
}

const float *tb_st_f32_view(const tb_tensor *t)
{
    if (!t || t->dtype != TB_DT_F32 || ((uintptr_t)t->data & 3u))
        return NULL;
    return t->data;
}

void tb_st_to_f32(const tb_tensor *t, float *out)
{
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case TB_DT_F32:
        memcpy(out, p, t->nbytes);  /* little-endian host assumed (x86, arm64) */
        break;
    case TB_DT_F16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = tb_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
    case TB_DT_BF16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = tb_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
    }
}

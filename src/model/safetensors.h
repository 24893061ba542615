/*
 * safetensors.h -- read Hugging Face .safetensors files (mmap, zero-copy).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the byte after the header), an optional "__metadata__" object,
 * then the raw little-endian tensor data. tb_st_open validates everything a
 * hostile or truncated file could get wrong (header length past EOF, bad
 * JSON, unknown dtypes, shape/size mismatch, offsets outside the data,
 * overlapping tensors) and names the problem in err.
 */
#ifndef TB_SAFETENSORS_H
#define TB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tastebud.h"

typedef enum tb_dtype { TB_DT_F32 = 0, TB_DT_F16, TB_DT_BF16 } tb_dtype;

#define TB_ST_MAX_DIMS 8

typedef struct tb_tensor {
    const char *name;
    tb_dtype dtype;
    int ndim;
    int64_t shape[TB_ST_MAX_DIMS];
    size_t numel;        /* product of shape */
    size_t nbytes;       /* numel * element size */
    const void *data;    /* points into the mapping */
} tb_tensor;

typedef struct tb_safetensors tb_safetensors;

/* Map and validate a file. Free with tb_st_close (which unmaps: tensor data
 * pointers die with it). */
tb_safetensors *tb_st_open(const char *path, tb_err *err);
/* Validate an in-memory image (used by tests and the fuzzer); the buffer must
 * outlive the result. */
tb_safetensors *tb_st_open_mem(const void *data, size_t size, tb_err *err);
void tb_st_close(tb_safetensors *st);
/* The raw header JSON (len bytes, not NUL-terminated), e.g. to hash it into
 * a model id. */
const char *tb_st_header(const tb_safetensors *st, size_t *len);
/* Size of the whole file image in bytes. */
size_t tb_st_file_size(const tb_safetensors *st);
size_t tb_st_count(const tb_safetensors *st);
const tb_tensor *tb_st_at(const tb_safetensors *st, size_t i);
/* NULL when absent. */
const tb_tensor *tb_st_find(const tb_safetensors *st, const char *name);
/* The F32 data in place when the tensor is F32 and 4-byte aligned, else NULL. */
const float *tb_st_f32_view(const tb_tensor *t);
/* Convert (or copy) the tensor to float32 into out (t->numel floats). */
void tb_st_to_f32(const tb_tensor *t, float *out);
const char *tb_dtype_name(tb_dtype d);
/* Scalar conversions, exposed for tests and other loaders. */
float tb_f16_to_f32(uint16_t h);
float tb_bf16_to_f32(uint16_t h);
uint16_t tb_f32_to_f16(float f);

#endif

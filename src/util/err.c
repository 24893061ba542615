/*
 * err.c -- tb_err: an error code plus a human message.
 *
 * Errors travel up as a filled-in tb_err; each layer may prefix context
 * ("opening feed 3: parsing: line 12: ..."), so the final message tells a user
 * what went wrong and where without a debugger.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int tb_err_set(tb_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tb_err_prefix(tb_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Assemble by hand: the result is cut at the buffer size on purpose. */
    size_t n = 0, cap = sizeof err->msg - 1;
    for (const char *parts[] = {prefix, ": ", old}, **p = parts; p < parts + 3; p++)
        for (const char *c = *p; *c && n < cap; c++)
            err->msg[n++] = *c;
    err->msg[n] = '\0';
    return -1;
}

const char *tb_errcode_name(int code)
{
    switch (code) {
    case TB_OK: return "ok";
    case TB_EINVAL: return "invalid argument";
    case TB_EIO: return "I/O error";
    case TB_EFORMAT: return "format error";
    case TB_ENOTFOUND: return "not found";
    case TB_EUNSUPPORTED: return "unsupported";
    case TB_ENET: return "network error";
    case TB_EDB: return "database error";
    case TB_ENOMEM: return "too large or out of memory";
    case TB_EEXIST: return "already exists";
    default: return "error";
    }
}

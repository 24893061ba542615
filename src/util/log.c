/*
 * log.c -- levelled logging to stderr.
 *
 * One line per message: "2026-12-04T15:04:05.123Z INFO  message". Lines are
 * written with a single fprintf under the stream lock, so messages from
 * worker threads never interleave mid-line. The level comes from --log-level,
 * TASTEBUD_LOG_LEVEL or the config file (see the CLI).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

static atomic_int g_level = TB_LOG_INFO;

void tb_log_set_level(int level) { atomic_store(&g_level, level); }
int tb_log_get_level(void) { return atomic_load(&g_level); }

int tb_log_parse_level(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < (int)TB_ARRAY_LEN(names); i++)
        if (tb_str_eq_nocase(s, names[i]))
            return i;
    if (tb_str_eq_nocase(s, "warning"))
        return TB_LOG_WARN;
    return -1;
}

void tb_log(int level, const char *fmt, ...)
{
    if (level < atomic_load(&g_level))
        return;
    static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    flockfile(stderr);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (long)(tv.tv_usec / 1000), tags[level < 0 ? 0 : level > 3 ? 3 : level], msg);
    funlockfile(stderr);
}

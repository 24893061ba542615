/*
 * dates.c -- the dates feeds write, in all their broken glory.
 *
 * Two parsers. ISO 8601 / RFC 3339 is tried when the text starts with four
 * digits and a '-' (Atom, JSON Feed, dc:date). Everything else goes through a
 * forgiving token scanner built for RFC 822 and its descendants: it splits
 * the text into words, numbers, clock times and zone offsets and assigns
 * each by shape, so missing weekdays, missing commas, missing seconds,
 * 2-digit years, full or lower-case month names and named zones all come out
 * right without one special case each.
 *
 * Calendar arithmetic is done here (days_from_civil) rather than with
 * timegm(), so the result never depends on the process's TZ or locale.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "feed/feed.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm, public-domain arithmetic). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int make_time(int64_t y, int mon, int day, int h, int mi, int sec, int off_min,
                     int64_t *out)
{
    if (y < 1 || y > 9999 || mon < 1 || mon > 12 || day < 1 || day > 31 || h < 0 || h > 24 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -1;
    *out = days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
    return 0;
}

static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* YYYY-MM-DD[(T| )hh:mm[:ss[.frac]]][Z|(+|-)hh[:]mm] ; also YYYY-MM */
static int parse_iso(const char *s, int64_t *out)
{
    int y, mo, d = 1, h = 0, mi = 0, sec = 0, off = 0;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo))
        return -1;
    const char *p = s + 7;
    if (*p == '-') {
        if (digits(p + 1, 2, &d))
            return -1;
        p += 3;
    }
    if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi))
            return -1;
        p += 5;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            if (*p == '.' || *p == ',')
                for (p++; isdigit((unsigned char)*p); p++)
                    ;
        }
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (digits(p, 2, &oh))
                return -1;
            p += 2;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p)) {
                if (digits(p, 2, &om))
                    return -1;
                p += 2;
            }
            off = sign * (oh * 60 + om);
        } else if (isalpha((unsigned char)*p)) {
            /* "2006-01-02 15:04:05 UTC" and friends: let the token scanner
             * say whether the word is a zone. */
            return -2;
        }
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p)
        return -2;
    return make_time(y, mo, d, h, mi, sec, off, out);
}

static const struct { const char *name; int off_min; } zones[] = {
    {"GMT", 0}, {"UT", 0}, {"UTC", 0}, {"Z", 0}, {"WET", 0}, {"BST", 60},
    {"EST", -300}, {"EDT", -240}, {"CST", -360}, {"CDT", -300}, {"MST", -420},
    {"MDT", -360}, {"PST", -480}, {"PDT", -420}, {"AKST", -540}, {"AKDT", -480},
    {"HST", -600}, {"AST", -240}, {"ADT", -180}, {"NST", -210}, {"NDT", -150},
    {"CET", 60}, {"CEST", 120}, {"MET", 60}, {"MEST", 120}, {"EET", 120},
    {"EEST", 180}, {"MSK", 180}, {"IST", 330}, {"JST", 540}, {"KST", 540},
    {"HKT", 480}, {"SGT", 480}, {"AEST", 600}, {"AEDT", 660}, {"ACST", 570},
    {"AWST", 480}, {"NZST", 720}, {"NZDT", 780},
};

static int month_of(const char *w, size_t n)
{
    static const char *m[] = {"jan", "feb", "mar", "apr", "may", "jun",
                              "jul", "aug", "sep", "oct", "nov", "dec"};
    if (n < 3)
        return 0;
    for (int i = 0; i < 12; i++)
        if (tolower((unsigned char)w[0]) == m[i][0] && tolower((unsigned char)w[1]) == m[i][1] &&
            tolower((unsigned char)w[2]) == m[i][2])
            return i + 1;
    return 0;
}

static bool is_weekday(const char *w, size_t n)
{
    static const char *d[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (n < 3)
        return false;
    for (int i = 0; i < 7; i++)
        if (tolower((unsigned char)w[0]) == d[i][0] && tolower((unsigned char)w[1]) == d[i][1] &&
            tolower((unsigned char)w[2]) == d[i][2])
            return true;
    return false;
}

/* The RFC 822 family, by token shape. */
static int parse_loose(const char *s, int64_t *out)
{
    int y = -1, mo = 0, d = -1, h = -1, mi = 0, sec = 0, off = 0, pm = -1;
    int ymd[3], nymd = 0; /* numeric date parts, for "2006/01/02" or "01/02/2006" */
    const char *p = s;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c) || c == ',' || c == '.' || c == '/' || c == '(' || c == ')') {
            p++;
            continue;
        }
        if (isalpha(c)) {
            const char *w = p;
            while (isalpha((unsigned char)*p))
                p++;
            size_t n = (size_t)(p - w);
            int m;
            /* No month shares its first three letters with a weekday, so
             * "Mar", "March", "Sept" and "mon"/"Monday" cannot be confused. */
            if ((m = month_of(w, n)) && !mo) {
                mo = m;
                continue;
            }
            if (is_weekday(w, n))
                continue;
            if ((n == 2) && (tolower((unsigned char)w[0]) == 'a' || tolower((unsigned char)w[0]) == 'p') &&
                tolower((unsigned char)w[1]) == 'm') {
                pm = tolower((unsigned char)w[0]) == 'p';
                continue;
            }
            if (n == 1 && (w[0] == 'T' || w[0] == 't'))
                continue;
            bool found = false;
            for (size_t i = 0; i < TB_ARRAY_LEN(zones); i++)
                if (strlen(zones[i].name) == n && strncasecmp(zones[i].name, w, n) == 0) {
                    off = zones[i].off_min;
                    found = true;
                    break;
                }
            if (!found && !(n == 2 && (strncasecmp(w, "th", 2) == 0 || strncasecmp(w, "st", 2) == 0 ||
                                       strncasecmp(w, "nd", 2) == 0 || strncasecmp(w, "rd", 2) == 0)))
                return -1; /* an unknown word: not a date we understand */
            continue;
        }
        if ((c == '+' || c == '-') && isdigit((unsigned char)p[1]) && h >= 0) {
            int sign = c == '-' ? -1 : 1;
            p++;
            const char *q = p;
            while (isdigit((unsigned char)*p))
                p++;
            int oh = 0, om = 0;
            if (p - q == 4) {
                digits(q, 2, &oh);
                digits(q + 2, 2, &om);
            } else if (p - q <= 2) {
                digits(q, (int)(p - q), &oh);
                if (*p == ':' && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
                    digits(p + 1, 2, &om);
                    p += 3;
                }
            } else {
                return -1;
            }
            off = sign * (oh * 60 + om);
            continue;
        }
        if (c == '-') { /* "02-Jan-2006" */
            p++;
            continue;
        }
        if (isdigit(c)) {
            const char *q = p;
            while (isdigit((unsigned char)*p))
                p++;
            int n = (int)(p - q);
            if (n > 4)
                return -1;
            int v = 0;
            digits(q, n, &v);
            if (*p == ':' && h < 0) { /* a clock time */
                h = v;
                if (!isdigit((unsigned char)p[1]))
                    return -1;
                p++;
                q = p;
                while (isdigit((unsigned char)*p))
                    p++;
                if (p - q != 2)
                    return -1;
                digits(q, 2, &mi);
                if (*p == ':' && isdigit((unsigned char)p[1])) {
                    p++;
                    q = p;
                    while (isdigit((unsigned char)*p))
                        p++;
                    if (p - q != 2)
                        return -1;
                    digits(q, 2, &sec);
                    if (*p == '.' || *p == ',')
                        for (p++; isdigit((unsigned char)*p); p++)
                            ;
                }
                continue;
            }
            if (nymd < 3)
                ymd[nymd++] = v | (n == 4 ? 0x10000 : 0);
            else
                return -1;
            continue;
        }
        return -1; /* a character no date contains */
    }
    /* Assign the bare numbers: a 4-digit one is the year; with a month name
     * the others are day then (2-digit) year; without one, Y/M/D or M/D/Y. */
    if (mo) {
        for (int i = 0; i < nymd; i++) {
            int v = ymd[i] & 0xffff;
            bool four = ymd[i] & 0x10000;
            if (four && y < 0)
                y = v;
            else if (d < 0 && v >= 1 && v <= 31 && !four)
                d = v;
            else if (y < 0)
                y = v;
            else
                return -1;
        }
    } else if (nymd == 3) {
        if (ymd[0] & 0x10000) {
            y = ymd[0] & 0xffff;
            mo = ymd[1] & 0xffff;
            d = ymd[2] & 0xffff;
        } else {
            /* US order M/D/Y, unless the first cannot be a month. */
            int a = ymd[0] & 0xffff, b = ymd[1] & 0xffff;
            y = ymd[2] & 0xffff;
            if (a > 12) {
                d = a;
                mo = b;
            } else {
                mo = a;
                d = b;
            }
        }
    } else {
        return -1;
    }
    if (y < 0 || d < 0 || !mo)
        return -1;
    if (y < 100) /* 2-digit years: RFC 2822's rule */
        y += y < 50 ? 2000 : 1900;
    if (h < 0)
        h = 0;
    if (pm == 1 && h < 12)
        h += 12;
    else if (pm == 0 && h == 12)
        h = 0;
    return make_time(y, mo, d, h, mi, sec, off, out);
}

int tb_date_parse(const char *s, int64_t *out)
{
    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s || strlen(s) > 100)
        return -1;
    if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
        isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && s[4] == '-') {
        int r = parse_iso(s, out);
        if (r != -2)
            return r;
    }
    return parse_loose(s, out);
}

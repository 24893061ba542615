/*
 * ssrf.c -- which addresses a feed fetch may connect to.
 *
 * A feed URL is chosen by a user (or by a feed's redirect), and tastebud
 * usually runs next to things that must not be reachable from outside: the
 * admin pages of a router, cloud metadata at 169.254.169.254, a database on
 * localhost. So the fetcher connects only to public unicast addresses. The
 * check runs on the address curl is about to connect to (its open-socket
 * callback), after DNS resolution, so DNS rebinding and redirects cannot get
 * around it the way a check of the URL's host name could be.
 *
 * IPv6 has several ways to carry an IPv4 address (mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16); each is judged by the IPv4 address
 * inside, so ::ffff:127.0.0.1 is loopback. The deprecated IPv4-compatible
 * form ::a.b.c.d is refused outright.
 *
 * The allow-list (config key fetch_allow_hosts) exists for feeds served on
 * one's own LAN and for tests against a local server.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "feed/fetch.h"

static int classify_v4(uint32_t a) /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    if (b0 == 0)
        return TB_ADDR_UNSPECIFIED;
    if (b0 == 127)
        return TB_ADDR_LOOPBACK;
    if (b0 == 10 || (b0 == 172 && (b1 & 0xF0) == 16) || (b0 == 192 && b1 == 168))
        return TB_ADDR_PRIVATE;
    if (b0 == 169 && b1 == 254)
        return TB_ADDR_LINKLOCAL;
    if (b0 == 100 && (b1 & 0xC0) == 64)
        return TB_ADDR_CGNAT;
    if ((b0 & 0xF0) == 224)
        return TB_ADDR_MULTICAST;
    if ((b0 & 0xF0) == 240) /* includes 255.255.255.255 */
        return TB_ADDR_RESERVED;
    if ((b0 == 192 && b1 == 0 && b2 == 0) ||     /* IETF protocol assignments */
        (b0 == 192 && b1 == 0 && b2 == 2) ||     /* TEST-NET-1 */
        (b0 == 192 && b1 == 88 && b2 == 99) ||   /* 6to4 relay anycast */
        (b0 == 198 && (b1 & 0xFE) == 18) ||      /* benchmarking 198.18/15 */
        (b0 == 198 && b1 == 51 && b2 == 100) ||  /* TEST-NET-2 */
        (b0 == 203 && b1 == 0 && b2 == 113))     /* TEST-NET-3 */
        return TB_ADDR_RESERVED;
    return TB_ADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int classify_v6(const uint8_t *a)
{
    static const uint8_t zero[16];
    if (memcmp(a, zero, 16) == 0)
        return TB_ADDR_UNSPECIFIED;
    if (memcmp(a, zero, 15) == 0 && a[15] == 1)
        return TB_ADDR_LOOPBACK;
    /* ::ffff:a.b.c.d, IPv4-mapped */
    if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
        return classify_v4(v4_at(a + 12));
    /* ::a.b.c.d, IPv4-compatible (deprecated): never a real destination */
    if (memcmp(a, zero, 12) == 0)
        return TB_ADDR_RESERVED;
    /* NAT64: well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48 */
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b) {
        if (memcmp(a + 4, zero, 8) == 0)
            return classify_v4(v4_at(a + 12));
        if (a[4] == 0 && a[5] == 1) {
            int c = classify_v4(v4_at(a + 12));
            return c == TB_ADDR_PUBLIC ? TB_ADDR_PRIVATE : c; /* a local translator */
        }
    }
    if ((a[0] & 0xFE) == 0xFC)
        return TB_ADDR_ULA;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
        return TB_ADDR_LINKLOCAL;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0)
        return TB_ADDR_PRIVATE; /* site-local, deprecated */
    if (a[0] == 0xFF)
        return TB_ADDR_MULTICAST;
    if ((a[0] & 0xE0) != 0x20)
        return TB_ADDR_RESERVED; /* outside global unicast 2000::/3 */
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 carries an IPv4 address */
        return classify_v4(v4_at(a + 2));
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return TB_ADDR_RESERVED; /* documentation 2001:db8::/32 */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02)
        return TB_ADDR_RESERVED; /* IETF protocol assignments 2001::/23 (Teredo, ORCHID...) */
    if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xF0) == 0)
        return TB_ADDR_RESERVED; /* documentation 3fff::/20 */
    return TB_ADDR_PUBLIC;
}

int tb_addr_classify(const struct sockaddr *sa)
{
    if (!sa)
        return TB_ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return classify_v4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        return classify_v6(s6->sin6_addr.s6_addr);
    }
    return TB_ADDR_RESERVED;
}

int tb_addr_classify_str(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1)
        return classify_v4(ntohl(a4.s_addr));
    if (inet_pton(AF_INET6, s, &a6) == 1)
        return classify_v6(a6.s6_addr);
    return -1;
}

const char *tb_addr_class_name(int cls)
{
    switch (cls) {
    case TB_ADDR_PUBLIC: return "public";
    case TB_ADDR_UNSPECIFIED: return "unspecified";
    case TB_ADDR_LOOPBACK: return "loopback";
    case TB_ADDR_PRIVATE: return "private";
    case TB_ADDR_LINKLOCAL: return "link-local";
    case TB_ADDR_CGNAT: return "carrier-grade NAT";
    case TB_ADDR_MULTICAST: return "multicast";
    case TB_ADDR_RESERVED: return "reserved";
    case TB_ADDR_ULA: return "unique local";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------- allow-list */

typedef struct allow_entry {
    char *name;        /* host name entry (lower-case), or NULL for an address entry */
    int family;        /* AF_INET / AF_INET6 for address entries */
    uint8_t addr[16];
    int prefix;        /* bits */
    int port;          /* 0: any */
} allow_entry;

struct tb_allowlist {
    allow_entry *e;
    size_t n;
};

static int parse_entry(const char *tok, allow_entry *e, tb_err *err)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", tok);
    memset(e, 0, sizeof *e);
    char *host = buf, *port = NULL, *slash = NULL;
    if (buf[0] == '[') { /* [v6]:port or [v6] */
        char *close = strchr(buf, ']');
        if (!close)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: missing ']' in \"%s\"", tok);
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] == '/')
            slash = close + 1;
        else if (close[1])
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: junk after ']' in \"%s\"", tok);
    } else {
        slash = strchr(buf, '/');
        char *c1 = strchr(buf, ':');
        if (c1 && !strchr(c1 + 1, ':')) { /* exactly one ':' -> host:port */
            *c1 = '\0';
            port = c1 + 1;
        }
    }
    if (slash) {
        *slash = '\0';
        int64_t bits;
        if (tb_parse_i64(slash + 1, &bits) != 0)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: bad prefix length in \"%s\"",
                              tok);
        e->prefix = (int)bits;
    } else {
        e->prefix = -1;
    }
    if (port) {
        int64_t p;
        if (tb_parse_i64(port, &p) != 0 || p < 1 || p > 65535)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: bad port in \"%s\"", tok);
        e->port = (int)p;
    }
    if (inet_pton(AF_INET, host, e->addr) == 1) {
        e->family = AF_INET;
        if (e->prefix < 0)
            e->prefix = 32;
        if (e->prefix > 32)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: prefix over 32 in \"%s\"", tok);
    } else if (inet_pton(AF_INET6, host, e->addr) == 1) {
        e->family = AF_INET6;
        if (e->prefix < 0)
            e->prefix = 128;
        if (e->prefix > 128)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: prefix over 128 in \"%s\"", tok);
    } else {
        if (slash)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: \"%s\" is not an address range",
                              tok);
        for (char *c = host; *c; c++) {
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
                return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: bad host name \"%s\"", tok);
            *c = (char)tolower((unsigned char)*c);
        }
        if (!*host)
            return tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: empty host in \"%s\"", tok);
        e->name = tb_strdup(host);
    }
    return 0;
}

tb_allowlist *tb_allowlist_parse(const char *spec, tb_err *err)
{
    tb_allowlist *a = tb_calloc(1, sizeof *a);
    if (!spec)
        return a;
    const char *p = spec;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        char tok[300];
        size_t n = (size_t)(p - s);
        if (n >= sizeof tok) {
            tb_allowlist_free(a);
            tb_err_set(err, TB_EINVAL, "fetch_allow_hosts: entry too long");
            return NULL;
        }
        memcpy(tok, s, n);
        tok[n] = '\0';
        a->e = tb_realloc(a->e, (a->n + 1) * sizeof *a->e);
        if (parse_entry(tok, &a->e[a->n], err) != 0) {
            tb_allowlist_free(a);
            return NULL;
        }
        a->n++;
    }
    return a;
}

void tb_allowlist_free(tb_allowlist *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].name);
    free(a->e);
    free(a);
}

bool tb_allowlist_host(const tb_allowlist *a, const char *host, int port)
{
    if (!a || !host)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].name && tb_str_eq_nocase(a->e[i].name, host) &&
            (a->e[i].port == 0 || a->e[i].port == port))
            return true;
    return false;
}

static bool prefix_match(const uint8_t *x, const uint8_t *y, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(x, y, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (x[full] & mask) == (y[full] & mask);
}

bool tb_allowlist_addr(const tb_allowlist *a, const struct sockaddr *sa)
{
    if (!a || !sa)
        return false;
    const uint8_t *addr;
    int fam, port;
    uint8_t v4[4];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        memcpy(v4, &s4->sin_addr, 4);
        addr = v4;
        fam = AF_INET;
        port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        addr = s6->sin6_addr.s6_addr;
        fam = AF_INET6;
        port = ntohs(s6->sin6_port);
    } else {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const allow_entry *e = &a->e[i];
        if (e->name || e->family != fam || (e->port && e->port != port))
            continue;
        if (prefix_match(addr, e->addr, e->prefix))
            return true;
    }
    return false;
}

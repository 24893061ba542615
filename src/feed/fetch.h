/*
 * fetch.h -- getting feeds over HTTP politely and safely.
 *
 * tb_fetch does one conditional GET with libcurl, following redirects by
 * hand so that every hop's scheme and every connection's address is checked
 * by the SSRF guard (ssrf.c). The options come from the config keys fetch_*
 * and user_agent; the CLI/server read them and fill struct tb_fetch_opts.
 */
#ifndef TB_FEED_FETCH_H
#define TB_FEED_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tastebud.h"
#include "util/util.h"

#define TB_USER_AGENT "tastebud/" TB_VERSION " (self-hosted feed recommender)"

struct tb_fetch_opts {
    double timeout;          /* fetch_timeout: whole transfer incl. redirects, seconds */
    double connect_timeout;  /* fetch_connect_timeout: seconds to connect */
    size_t max_bytes;        /* fetch_max_bytes: body limit after decompression */
    int max_redirects;       /* fetch_max_redirects */
    int per_host;            /* fetch_per_host: concurrent fetches per host */
    int max_failures;        /* fetch_max_failures: consecutive failures before disabling */
    int64_t interval;        /* fetch_interval: seconds between fetches of a healthy feed */
    const char *allow_hosts; /* fetch_allow_hosts: comma-separated, see tb_allowlist_parse */
    const char *user_agent;  /* user_agent; NULL: TB_USER_AGENT */
};

/* Fill o with the defaults (the same values as config.c's table). */
void tb_fetch_opts_default(struct tb_fetch_opts *o);
/* Fill o from the fetch_* and user_agent keys of c. The string fields point
 * into c, so c must outlive o. */
struct tb_config;
void tb_fetch_opts_from_config(struct tb_fetch_opts *o, const struct tb_config *c);

/* What one fetch produced. Strings are owned by the struct (NULL when the
 * server sent none); free with tb_fetch_result_free. */
struct tb_fetch_result {
    long status;          /* final HTTP status (200, 304, 404...), 0 when none */
    tb_buf body;          /* the (decompressed) body; empty for 304 */
    char *final_url;      /* URL after redirects */
    char *content_type;   /* full Content-Type header value */
    char *charset;        /* its charset parameter */
    char *etag;
    char *last_modified;
    int64_t retry_after;  /* seconds from Retry-After (429/503), 0 none */
    int redirects;        /* hops followed */
};

/* GET url. etag / last_modified (may be NULL) make it conditional: a 304
 * returns 0 with r->status == 304 and an empty body. Returns 0 for 2xx and
 * 304; -1 otherwise with err set (TB_ENET: network error, timeout, refused
 * address or scheme, too many redirects, HTTP status >= 400 -- r->status and
 * r->retry_after still filled in; TB_ENOMEM: body over max_bytes). *r is
 * zeroed first and must be freed with tb_fetch_result_free either way. */
int tb_fetch(const char *url, const char *etag, const char *last_modified,
             const struct tb_fetch_opts *o, struct tb_fetch_result *r, tb_err *err);
void tb_fetch_result_free(struct tb_fetch_result *r);

/* ---------------------------------------------------------------- SSRF */

/* What an address is, for the SSRF guard. Everything but TB_ADDR_PUBLIC is
 * refused unless allow-listed. */
enum tb_addr_class {
    TB_ADDR_PUBLIC = 0,
    TB_ADDR_UNSPECIFIED,  /* 0.0.0.0/8, :: */
    TB_ADDR_LOOPBACK,     /* 127/8, ::1 */
    TB_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fec0::/10 */
    TB_ADDR_LINKLOCAL,    /* 169.254/16, fe80::/10 */
    TB_ADDR_CGNAT,        /* 100.64/10 */
    TB_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
    TB_ADDR_RESERVED,     /* 240/4, broadcast, documentation/benchmark nets,
                             IETF assignments, IPv4-compatible ::a.b.c.d,
                             anything outside 2000::/3 not listed here */
    TB_ADDR_ULA,          /* fc00::/7 */
};

/* Classify an IPv4 or IPv6 socket address. IPv4-mapped (::ffff:a.b.c.d),
 * NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16) addresses are
 * classified by the IPv4 address they carry. Unknown families: RESERVED. */
int tb_addr_classify(const struct sockaddr *sa);
/* The same for a numeric address in text; -1 when s is not one. */
int tb_addr_classify_str(const char *s);
/* "public", "loopback", "private", ... */
const char *tb_addr_class_name(int cls);

/* The fetch_allow_hosts list: comma/space-separated entries, each one of
 *   NAME or NAME:PORT            a host name as written in URLs ("localhost")
 *   IP or IP:PORT or [IPv6]:PORT an address
 *   CIDR                         an address range ("192.168.1.0/24", "fd00::/8")
 * A name entry allows every address that name resolves to; an address or
 * range entry allows that address whatever name led to it. A port, when
 * given, limits the entry to that port. */
typedef struct tb_allowlist tb_allowlist;

/* NULL spec or "" gives an empty list. Bad entries: NULL and TB_EINVAL. */
tb_allowlist *tb_allowlist_parse(const char *spec, tb_err *err);
void tb_allowlist_free(tb_allowlist *a);
/* Is host (as in the URL, lower-case compared) on port allowed by name? */
bool tb_allowlist_host(const tb_allowlist *a, const char *host, int port);
/* Is the connected address (with its port) allowed? */
bool tb_allowlist_addr(const tb_allowlist *a, const struct sockaddr *sa);

#endif

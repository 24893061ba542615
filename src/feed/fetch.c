/*
 * fetch.c -- one polite, guarded HTTP GET of a feed (libcurl easy API).
 *
 * Politeness: a real User-Agent, compressed transfer (Accept-Encoding with
 * everything this libcurl decodes: gzip, deflate, br, zstd), conditional GET
 * (If-None-Match / If-Modified-Since as the server sent them, so a 304 costs
 * one round trip and no body), Retry-After reported to the caller. Scheduling
 * (TTL, backoff, per-host limits) lives in ingest.c.
 *
 * Safety: redirects are followed here, not by curl, so each hop's URL is
 * checked (http/https only, and CURLOPT_PROTOCOLS_STR says the same to
 * curl) and its host name looked up in the allow-list. Every socket curl
 * opens goes through open_socket(), which refuses non-public addresses
 * (ssrf.c) unless the hop's host name or the address itself is on the
 * allow-list -- the check sees the address after DNS resolution, so neither
 * a DNS answer pointing at 127.0.0.1 nor a redirect to http://[::1]/ gets
 * through. Proxies from the environment are disabled, since the guard would
 * then see only the proxy's address. Limits: a total deadline across all
 * hops, a connect timeout, and a body cap enforced on the decompressed bytes
 * (a gzip bomb stops at the cap).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <arpa/inet.h>

#include "feed/parse.h"
#include "util/config.h"
#include "feed/fetch.h"

void tb_fetch_opts_default(struct tb_fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout = 20;
    o->connect_timeout = 10;
    o->max_bytes = 10 * 1024 * 1024;
    o->max_redirects = 5;
    o->per_host = 2;
    o->max_failures = 10;
    o->interval = 1800;
    o->allow_hosts = NULL;
    o->user_agent = NULL;
}

void tb_fetch_opts_from_config(struct tb_fetch_opts *o, const tb_config *c)
{
    tb_fetch_opts_default(o);
    o->timeout = tb_config_double(c, "fetch_timeout", o->timeout);
    o->connect_timeout = tb_config_double(c, "fetch_connect_timeout", o->connect_timeout);
    o->max_bytes = (size_t)tb_config_int(c, "fetch_max_bytes", (int64_t)o->max_bytes);
    o->max_redirects = (int)tb_config_int(c, "fetch_max_redirects", o->max_redirects);
    o->per_host = (int)tb_config_int(c, "fetch_per_host", o->per_host);
    o->max_failures = (int)tb_config_int(c, "fetch_max_failures", o->max_failures);
    o->interval = tb_config_int(c, "fetch_interval", o->interval);
    o->allow_hosts = tb_config_get(c, "fetch_allow_hosts");
    o->user_agent = tb_config_get(c, "user_agent");
}

void tb_fetch_result_free(struct tb_fetch_result *r)
{
    if (!r)
        return;
    tb_buf_free(&r->body);
    free(r->final_url);
    free(r->content_type);
    free(r->charset);
    free(r->etag);
    free(r->last_modified);
    memset(r, 0, sizeof *r);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct hop_ctx {
    const tb_allowlist *allow;
    bool host_allowed;   /* this hop's host name is allow-listed */
    bool refused;        /* open_socket said no */
    char refused_msg[160];
    tb_buf *body;
    size_t max_bytes;
    bool too_big;
} hop_ctx;

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    hop_ctx *h = clientp;
    (void)purpose;
    int cls = tb_addr_classify(&a->addr);
    if (cls != TB_ADDR_PUBLIC && !h->host_allowed && !tb_allowlist_addr(h->allow, &a->addr)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
        if (!h->refused)
            snprintf(h->refused_msg, sizeof h->refused_msg, "%s (%s address)", ip,
                     tb_addr_class_name(cls));
        h->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    hop_ctx *h = ud;
    size_t len = size * n;
    if (h->max_bytes && h->body->len + len > h->max_bytes) {
        h->too_big = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    tb_buf_append(h->body, p, len);
    return len;
}

static char *header_value(CURL *c, const char *name)
{
    struct curl_header *hv = NULL;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &hv) != CURLHE_OK || !hv || !hv->value)
        return NULL;
    return tb_pf_clean(hv->value);
}

static int64_t parse_retry_after(const char *v)
{
    if (!v)
        return 0;
    int64_t s;
    if (tb_parse_i64(v, &s) == 0)
        return s > 0 ? s : 0;
    int64_t t;
    if (tb_date_parse(v, &t) == 0) {
        int64_t d = t - tb_unix_now();
        return d > 0 ? d : 0;
    }
    return 0;
}

static char *charset_of(const char *ct)
{
    if (!ct)
        return NULL;
    const char *p = strcasestr(ct, "charset=");
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"' || *p == '\'')
        p++;
    size_t n = strcspn(p, "\"'; \t");
    return n ? tb_strndup(p, n) : NULL;
}

int tb_fetch(const char *url, const char *etag, const char *last_modified,
             const struct tb_fetch_opts *o, struct tb_fetch_result *r, tb_err *err)
{
    memset(r, 0, sizeof *r);
    struct tb_fetch_opts def;
    if (!o) {
        tb_fetch_opts_default(&def);
        o = &def;
    }
    pthread_once(&curl_once, curl_init);
    tb_allowlist *allow = tb_allowlist_parse(o->allow_hosts, err);
    if (!allow)
        return -1;
    CURL *c = curl_easy_init();
    CURLU *u = curl_url();
    if (!c || !u) {
        tb_allowlist_free(allow);
        curl_easy_cleanup(c);
        curl_url_cleanup(u);
        return tb_err_set(err, TB_ENOMEM, "out of memory starting a transfer");
    }
    struct curl_slist *hdrs = NULL;
    if (etag && *etag) {
        char *h = tb_asprintf("If-None-Match: %s", etag);
        hdrs = curl_slist_append(hdrs, h);
        free(h);
    }
    if (last_modified && *last_modified) {
        char *h = tb_asprintf("If-Modified-Since: %s", last_modified);
        hdrs = curl_slist_append(hdrs, h);
        free(h);
    }
    hop_ctx h = {.allow = allow, .body = &r->body, .max_bytes = o->max_bytes};
    double timeout = o->timeout > 0 ? o->timeout : 20;
    double deadline = tb_mono() + timeout;
    curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent && *o->user_agent ? o->user_agent
                                                                           : TB_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 
                     (long)(TB_MIN(timeout, o->connect_timeout > 0 ? o->connect_timeout : 10.0) *
                            1000));
    if (o->max_bytes)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    char *cur = tb_strdup(url);
    int rc = -1;
    for (int hop = 0;; hop++) {
        /* the hop's URL: scheme and host checked before any connection */
        char *scheme = NULL, *host = NULL, *port = NULL;
        if (curl_url_set(u, CURLUPART_URL, cur, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
            tb_err_set(err, TB_EINVAL, "not a valid URL: \"%s\"", cur);
            curl_free(scheme);
            break;
        }
        bool ok_scheme = tb_str_eq_nocase(scheme, "http") || tb_str_eq_nocase(scheme, "https");
        curl_free(scheme);
        if (!ok_scheme) {
            tb_err_set(err, TB_ENET, "refused %s: only http and https URLs are fetched%s", cur,
                       hop ? " (reached by a redirect)" : "");
            break;
        }
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
            tb_err_set(err, TB_EINVAL, "not a valid URL (no host): \"%s\"", cur);
            curl_free(host);
            curl_free(port);
            break;
        }
        /* curl gives IPv6 hosts in brackets; the allow-list has them bare */
        char hostbuf[256];
        snprintf(hostbuf, sizeof hostbuf, "%s", host);
        size_t hl = strlen(hostbuf);
        if (hl > 2 && hostbuf[0] == '[' && hostbuf[hl - 1] == ']') {
            memmove(hostbuf, hostbuf + 1, hl - 2);
            hostbuf[hl - 2] = '\0';
        }
        h.host_allowed = tb_allowlist_host(allow, hostbuf, atoi(port));
        curl_free(host);
        curl_free(port);
        h.refused = false;
        h.too_big = false;
        tb_buf_clear(&r->body);
        double left = deadline - tb_mono();
        if (left <= 0) {
            tb_err_set(err, TB_ENET, "timed out after %.0f s fetching %s", timeout, url);
            break;
        }
        curl_easy_setopt(c, CURLOPT_URL, cur);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left * 1000) + 1);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        if (cc != CURLE_OK) {
            if (h.refused)
                tb_err_set(err, TB_ENET,
                           "refused to connect to %s for %s: not a public address (SSRF guard; "
                           "add it to fetch_allow_hosts to allow)",
                           h.refused_msg, cur);
            else if (h.too_big || cc == CURLE_FILESIZE_EXCEEDED)
                tb_err_set(err, TB_ENOMEM, "%s: body larger than fetch_max_bytes (%zu bytes)",
                           cur, o->max_bytes);
            else if (cc == CURLE_OPERATION_TIMEDOUT)
                tb_err_set(err, TB_ENET, "%s: timed out after %.1f s", cur, timeout);
            else
                tb_err_set(err, TB_ENET, "%s: %s", cur, curl_easy_strerror(cc));
            break;
        }
        if (status >= 300 && status < 400 && status != 304) {
            char *loc = NULL;
            curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) {
                tb_err_set(err, TB_ENET, "%s: HTTP %ld redirect without a Location", cur, status);
                break;
            }
            if (hop + 1 > o->max_redirects) {
                tb_err_set(err, TB_ENET, "%s: more than %d redirects", url, o->max_redirects);
                break;
            }
            char *next = tb_strdup(loc);
            free(cur);
            cur = next;
            r->redirects = hop + 1;
            continue;
        }
        /* final answer */
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        r->content_type = ct ? tb_strdup(ct) : NULL;
        r->charset = charset_of(ct);
        r->etag = header_value(c, "ETag");
        r->last_modified = header_value(c, "Last-Modified");
        char *ra = header_value(c, "Retry-After");
        r->retry_after = parse_retry_after(ra);
        free(ra);
        r->final_url = tb_strdup(cur);
        if (status >= 400) {
            tb_err_set(err, TB_ENET, "%s: HTTP status %ld", cur, status);
            break;
        }
        if (status == 304)
            tb_buf_clear(&r->body);
        rc = 0;
        break;
    }
    free(cur);
    curl_slist_free_all(hdrs);
    curl_url_cleanup(u);
    curl_easy_cleanup(c);
    tb_allowlist_free(allow);
    if (!r->body.data)
        tb_buf_puts(&r->body, "");
    return rc;
}

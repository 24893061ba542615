/*
 * http.c -- the libmicrohttpd daemon and the life of one request.
 *
 * The daemon runs MHD's own epoll loop on a pool of threads
 * (MHD_USE_EPOLL_INTERNAL_THREAD + MHD_OPTION_THREAD_POOL_SIZE); each
 * request is handled entirely on the pool thread that accepted it. A
 * request's state (struct tb_req) is made in the URI-log callback, which MHD
 * calls first with the raw request target: we keep that raw target because
 * /feed/{user}/{feed URL} must see the feed URL's own query string exactly as
 * sent, which MHD would otherwise split into arguments. The state is freed
 * in the completion callback, which also feeds the metrics and writes the
 * access log line:
 *
 *   access GET /feed/3f2a…/12 200 5123B 0.41ms
 *
 * User ids are capabilities (whoever knows one reads that user's feeds), so
 * the log keeps only their first 4 characters and no query strings.
 *
 * Graceful stop: MHD_quiesce_daemon closes the listening socket, requests in
 * flight are given up to grace_ms to finish, then the daemon and the jobs
 * stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

void tb_opml_entries_free(struct tb_opml_entry *e, size_t n)
{
    for (size_t i = 0; i < n && e; i++) {
        free(e[i].url);
        free(e[i].title);
        free(e[i].category);
    }
    free(e);
}

void tb_server_opts_default(struct tb_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->threads = 2;
    o->feed_wait_ms = 5000;
    o->feed_items = 50;
    o->access_log = true;
    o->jobs = true;
    o->scan_interval_s = 30;
    o->embed_batch = 64;
    o->shown_interval_s = 12 * 3600;
    tb_rank_opts_default(&o->rank);
}

/* ------------------------------------------------------------ helpers */

bool tb_user_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n >= 1 && n <= 64;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *tb_http_unescape(const char *s, size_t n)
{
    char *out = tb_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
            (l = hexval((unsigned char)s[i + 2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

char *tb_http_query(const char *uri, const char *name)
{
    const char *q = strchr(uri, '?');
    if (!q)
        return NULL;
    size_t nl = strlen(name);
    for (const char *p = q + 1; *p;) {
        const char *e = strchr(p, '&');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *v = tb_http_unescape(p + nl + 1, len - nl - 1);
            for (char *c = v; *c; c++)
                if (*c == '+')
                    *c = ' ';
            return v;
        }
        if (len == nl && strncmp(p, name, nl) == 0)
            return tb_strdup("");
        p += len + (e ? 1 : 0);
    }
    return NULL;
}

void tb_http_common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* Feed and page URLs carry the user id: never leak it to other sites. */
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Server", "tastebud/" TB_VERSION);
}

enum MHD_Result tb_http_send(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                             const char *ctype, tb_buf *body)
{
    size_t len = body ? body->len : 0;
    char *data = body ? tb_buf_steal(body) : NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, data ? data : (void *)"", 
                                        data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    tb_http_common_headers(resp);
    r->status = status;
    r->bytes = len;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result tb_http_json(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                             tb_buf *json)
{
    tb_buf_putc(json, '\n');
    return tb_http_send(c, r, status, "application/json; charset=utf-8", json);
}

enum MHD_Result tb_http_error(struct MHD_Connection *c, struct tb_req *r, unsigned status,
                              const char *fmt, ...)
{
    tb_buf msg = {0}, b = {0};
    va_list ap;
    va_start(ap, fmt);
    tb_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    tb_buf_puts(&b, "{\"error\":");
    tb_buf_json_str(&b, tb_buf_cstr(&msg));
    tb_buf_puts(&b, "}");
    tb_buf_free(&msg);
    return tb_http_json(c, r, status, &b);
}

char *tb_feed_public_url(tb_server *s, const char *user, int64_t feed_id)
{
    return tb_asprintf("%s/feed/%s/%lld", s->base_url, user, (long long)feed_id);
}

/* ------------------------------------------------------------ lifecycle */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    tb_server *s = cls;
    struct tb_req *r = tb_calloc(1, sizeof *r);
    r->uri = tb_strdup(uri ? uri : "/");
    r->t0 = tb_mono();
    r->route = TB_R_OTHER;
    atomic_fetch_add(&s->metrics.in_flight, 1);
    return r;
}

/* The logged form of the path: no query, the user segment cut short. */
static void set_log_path(struct tb_req *r, const char *path, size_t user_at)
{
    size_t n = strcspn(path, "?");
    if (user_at && user_at < n) {
        size_t ue = user_at + strcspn(path + user_at, "/?");
        size_t keep = TB_MIN(ue - user_at, 4);
        snprintf(r->log_path, sizeof r->log_path, "%.*s%.*s%s%.*s", (int)user_at, path,
                 (int)keep, path + user_at, ue - user_at > keep ? "\xe2\x80\xa6" : "",
                 (int)TB_MIN(n - ue, 100), path + ue);
    } else {
        snprintf(r->log_path, sizeof r->log_path, "%.*s", (int)TB_MIN(n, 150), path);
    }
    for (char *p = r->log_path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == ' ')
            *p = '_';
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    tb_server *s = cls;
    struct tb_req *r = *con_cls;
    if (!r)
        return;
    double dt = tb_mono() - r->t0;
    unsigned status = r->status ? r->status : 499; /* client went away before an answer */
    tb_metrics_observe(&s->metrics, r->route, (int)status, dt);
    if (s->o.access_log)
        tb_info("access %s %s %u %zuB %.2fms", r->method ? r->method : "-",
                r->log_path[0] ? r->log_path : "-", status, r->bytes, dt * 1000.0);
    atomic_fetch_sub(&s->metrics.in_flight, 1);
    tb_buf_free(&r->body);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

static enum MHD_Result dispatch(tb_server *s, struct MHD_Connection *c, struct tb_req *r)
{
    const char *uri = r->uri;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (tb_str_starts(uri, "/feed/")) {
        r->route = TB_R_FEED;
        set_log_path(r, uri, 6);
        if (!get)
            return tb_http_error(c, r, 405, "use GET for feeds");
        return tb_route_feed(s, c, r, uri + 6);
    }
    if (tb_str_starts(uri, "/r/")) {
        r->route = TB_R_REDIRECT;
        set_log_path(r, uri, 3);
        if (!get)
            return tb_http_error(c, r, 405, "use GET for links");
        return tb_route_redirect(s, c, r, uri + 3);
    }
    set_log_path(r, uri, 0);
    if (tb_str_starts(uri, "/api/"))
        return tb_route_api(s, c, r, uri);
    if (strcmp(uri, "/healthz") == 0) {
        r->route = TB_R_HEALTHZ;
        tb_buf b = {0};
        tb_buf_puts(&b, "ok\n");
        return tb_http_send(c, r, 200, "text/plain; charset=utf-8", &b);
    }
    if (strcmp(uri, "/metrics") == 0) {
        r->route = TB_R_METRICS;
        return tb_route_metrics(s, c, r);
    }
    if (!get)
        return tb_http_error(c, r, 405, "method not allowed");
    r->route = TB_R_WEB;
    return tb_route_web(s, c, r, uri);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    tb_server *s = cls;
    struct tb_req *r = *con_cls;
    if (!r)
        return MHD_NO;
    r->method = method;
    if (!r->started) {
        r->started = true;
        /* GET/HEAD have no body to wait for: answer on the first call. */
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
            return dispatch(s, c, r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->body.len + *upload_data_size > TB_MAX_BODY)
            r->body_too_big = true;
        else
            tb_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->body_too_big)
        return tb_http_error(c, r, 413, "request body over %u bytes", TB_MAX_BODY);
    return dispatch(s, c, r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    tb_warn("http: %s", msg);
}

/* Parse "ADDR:PORT", "[V6]:PORT" or ":PORT". */
static int parse_listen(const char *l, struct sockaddr_storage *ss, socklen_t *len, bool *v6,
                        tb_err *err)
{
    memset(ss, 0, sizeof *ss);
    const char *colon = strrchr(l, ':');
    if (!colon)
        return tb_err_set(err, TB_EINVAL, "listen address '%s' has no ':PORT'", l);
    int64_t port;
    if (tb_parse_i64(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return tb_err_set(err, TB_EINVAL, "listen address '%s': bad port", l);
    char host[128];
    size_t hl = (size_t)(colon - l);
    if (hl >= sizeof host)
        return tb_err_set(err, TB_EINVAL, "listen address '%s' is too long", l);
    memcpy(host, l, hl);
    host[hl] = 0;
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return tb_err_set(err, TB_EINVAL, "listen address '%s': unbalanced '['", l);
        host[n - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return tb_err_set(err, TB_EINVAL, "listen address '%s': bad IPv6 address", l);
        *len = sizeof *a;
        *v6 = true;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "*") == 0)
        a->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return tb_err_set(err, TB_EINVAL, "listen address '%s': bad IPv4 address", l);
    *len = sizeof *a;
    *v6 = false;
    return 0;
}

tb_server *tb_server_start(const struct tb_server_opts *o, tb_err *err)
{
    if (!o || !o->store) {
        tb_err_set(err, TB_EINVAL, "server: no store");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool v6 = false;
    const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
    if (parse_listen(listen, &ss, &sl, &v6, err) != 0)
        return NULL;
    tb_server *s = tb_calloc(1, sizeof *s);
    s->o = *o;
    if (s->o.threads <= 0)
        s->o.threads = 2;
    if (s->o.feed_items == 0)
        s->o.feed_items = 50;
    if (s->o.embed_batch == 0)
        s->o.embed_batch = 64;
    if (s->o.scan_interval_s <= 0)
        s->o.scan_interval_s = 30;
    s->listen = tb_strdup(listen);
    s->o.listen = s->listen;
    s->cache = tb_feed_cache_new(4096);
    s->shown = tb_shown_new(s->o.shown_interval_s);
    atomic_store(&s->gen, 1);

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads, MHD_OPTION_URI_LOG_CALLBACK,
        uri_cb, s, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        tb_err_set(err, TB_EIO, "cannot listen on %s (%s)", listen,
                   errno ? strerror(errno) : "address in use or not available");
        tb_feed_cache_free(s->cache);
        tb_shown_free(s->shown);
        free(s->listen);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    if (o->base_url && *o->base_url) {
        s->base_url = tb_strdup(o->base_url);
        size_t n = strlen(s->base_url);
        while (n > 0 && s->base_url[n - 1] == '/')
            s->base_url[--n] = 0;
    } else {
        char host[128];
        const char *colon = strrchr(listen, ':');
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
            strcpy(host, "127.0.0.1");
        else if (strcmp(host, "[::]") == 0)
            strcpy(host, "[::1]");
        s->base_url = tb_asprintf("http://%s:%d", host, s->port);
    }
    s->o.base_url = s->base_url;
    if (s->o.jobs)
        s->jobs = tb_jobs_start(s);
    tb_info("serving on %s, port %d (links use %s), %d HTTP threads", listen, s->port,
            s->base_url, s->o.threads);
    return s;
}

int tb_server_port(const tb_server *s) { return s->port; }
const char *tb_server_base_url(const tb_server *s) { return s->base_url; }

void tb_server_stop(tb_server *s, int grace_ms)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    double until = tb_mono() + grace_ms / 1000.0;
    while (atomic_load(&s->metrics.in_flight) > 0 && tb_mono() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    long long left = atomic_load(&s->metrics.in_flight);
    if (left > 0)
        tb_warn("stopping with %lld request(s) still open", left);
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    if (s->jobs)
        tb_jobs_stop(s->jobs);
    tb_feed_cache_free(s->cache);
    tb_shown_free(s->shown);
    free(s->listen);
    free(s->base_url);
    free(s);
}

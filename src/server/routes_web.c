/*
 * routes_web.c -- the web page (assets compiled into the binary) and
 * /metrics.
 *
 * The page is plain HTML/CSS/JS from web/, turned into a C array by
 * scripts/embed-assets at build time (build/gen/assets.c). Every page
 * response carries a strict Content-Security-Policy: scripts and styles
 * only from this origin, no inline script, no plugins, no framing -- so even
 * if feed text ever reached the DOM as markup it could not run. (The page
 * itself only ever puts feed text into the DOM with textContent.)
 */
#include <string.h>

#include <stdlib.h>

#include "server/internal.h"

static const char *CSP = "default-src 'self'; script-src 'self'; style-src 'self'; "
                         "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const char *mime(const char *name)
{
    if (tb_str_ends(name, ".html"))
        return "text/html; charset=utf-8";
    if (tb_str_ends(name, ".js"))
        return "text/javascript; charset=utf-8";
    if (tb_str_ends(name, ".css"))
        return "text/css; charset=utf-8";
    if (tb_str_ends(name, ".svg"))
        return "image/svg+xml";
    if (tb_str_ends(name, ".png"))
        return "image/png";
    return "application/octet-stream";
}

enum MHD_Result tb_route_web(tb_server *s, struct MHD_Connection *c, struct tb_req *r,
                             const char *uri)
{
    size_t pl = strcspn(uri, "?#");
    char path[128];
    if (pl >= sizeof path)
        return tb_http_error(c, r, 404, "not found");
    memcpy(path, uri, pl);
    path[pl] = 0;
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    for (size_t i = 0; i < tb_assets_count; i++) {
        if (strcmp(tb_assets[i].name, name) != 0)
            continue;
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            tb_assets[i].len, (void *)tb_assets[i].data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", mime(name));
        MHD_add_response_header(resp, "Content-Security-Policy", CSP);
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        tb_http_common_headers(resp);
        r->status = 200;
        r->bytes = tb_assets[i].len;
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    return tb_http_error(c, r, 404, "not found");
}

enum MHD_Result tb_route_metrics(tb_server *s, struct MHD_Connection *c, struct tb_req *r)
{
    tb_buf b = {0};
    tb_metrics_render(&s->metrics, &b);
    tb_buf_printf(&b, "# HELP tastebud_data_generation Changes seen since start.\n"
                      "# TYPE tastebud_data_generation counter\ntastebud_data_generation %llu\n",
                  (unsigned long long)atomic_load(&s->gen));
    return tb_http_send(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

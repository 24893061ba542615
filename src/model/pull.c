/*
 * pull.c -- `tastebud model pull ORG/NAME`: fetch a model from the Hub.
 *
 * Protocol (the public Hub HTTP API, also served by mirrors via HF_ENDPOINT):
 *
 *   GET {endpoint}/api/models/{repo}/tree/{rev}?recursive=true
 *       -> [{"type": "file", "path": "1_Pooling/config.json", "size": 190,
 *            "oid": "<git blob sha1>"},
 *           {"type": "file", "path": "model.safetensors", "size": 90868376,
 *            "lfs": {"oid": "<sha256 hex>", "size": 90868376, ...}}, ...]
 *   GET {endpoint}/{repo}/resolve/{rev}/{path}   (may redirect to a CDN)
 *
 * Each wanted file is downloaded to <path>.part, resumed with "Range:
 * bytes=N-" when a .part is there (a server that answers 200 instead of 206
 * restarts the file), checked (size always; SHA-256 for LFS files, whose
 * oid is the content's SHA-256), then renamed into place. Bad data from the
 * server (too many bytes, wrong hash, unsafe paths, malformed listing) is an
 * error that names the file; a wrong hash also deletes the .part so the
 * next pull starts clean.
 */
#include "model/pull.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/sha256.h"
#include "util/util.h"

#define LISTING_MAX (16u << 20)

bool tb_pull_repo_valid(const char *repo)
{
    if (!repo || !*repo || strlen(repo) > 200)
        return false;
    int slashes = 0;
    for (const char *p = repo; *p; p++) {
        char c = *p;
        if (c == '/') {
            slashes++;
            if (p == repo || !p[1])
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return slashes == 1 && !strstr(repo, "..") && repo[0] != '.' && !strstr(repo, "/.");
}

char *tb_pull_dir_name(const char *repo)
{
    const char *slash = strchr(repo, '/');
    if (!slash)
        return tb_strdup(repo);
    return tb_asprintf("%.*s--%s", (int)(slash - repo), repo, slash + 1);
}

/* A path from the listing we are willing to write: relative, [A-Za-z0-9._-/],
 * no empty or dot-leading components. */
static bool path_safe(const char *p)
{
    if (!*p || *p == '/' || strlen(p) > 200)
        return false;
    const char *comp = p;
    for (const char *q = p;; q++) {
        if (*q == '/' || !*q) {
            if (q == comp || *comp == '.')
                return false;
            if (!*q)
                break;
            comp = q + 1;
            continue;
        }
        char c = *q;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The files a sentence encoder needs: *.json, *.txt, *.safetensors at the
 * top or one level down in a sentence-transformers module folder
 * ("1_Pooling", "2_Dense"). Skips weights in other formats (pytorch_model.bin,
 * onnx/, openvino/) that can be large. */
static bool wanted(const char *p)
{
    if (!(tb_str_ends(p, ".json") || tb_str_ends(p, ".txt") || tb_str_ends(p, ".safetensors")))
        return false;
    const char *slash = strchr(p, '/');
    if (!slash)
        return true;
    if (strchr(slash + 1, '/'))
        return false;
    const char *q = p;
    if (!(*q >= '0' && *q <= '9'))
        return false;
    while (*q >= '0' && *q <= '9')
        q++;
    return *q == '_' && q + 1 < slash;
}

/* ---------------------------------------------------------------- http */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct pull_ctx {
    const struct tb_pull_opts *o;
    char *endpoint;             /* owned, no trailing '/' */
    const char *rev;
    struct curl_slist *headers; /* Authorization, owned */
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
} pull_ctx;

static void curl_common(pull_ctx *c, const char *url)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* give up on a stalled transfer: under 1 byte/s for 60 s */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tastebud/" TB_VERSION);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    if (c->headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    c->errbuf[0] = 0;
}

static int curl_fail(pull_ctx *c, CURLcode rc, const char *url, tb_err *err)
{
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        return tb_err_set(err, code == 404 ? TB_ENOTFOUND : TB_ENET, "%s: HTTP %ld", url, code);
    return tb_err_set(err, TB_ENET, "%s: %s", url, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
}

static size_t buf_write(char *p, size_t sz, size_t n, void *ud)
{
    tb_buf *b = ud;
    if (b->len + sz * n > LISTING_MAX)
        return 0; /* abort: a listing this large is not a model repository */
    tb_buf_append(b, p, sz * n);
    return sz * n;
}

/* ---------------------------------------------------------------- one file */

typedef struct dl_state {
    pull_ctx *c;
    FILE *fp;
    const char *path;     /* repo path, for messages and progress */
    uint64_t start;       /* bytes already in the .part */
    uint64_t written;     /* bytes written by this request */
    uint64_t total;       /* expected size */
    bool checked;         /* response code looked at */
    bool restarted;       /* the server ignored Range: file truncated */
    bool too_long;
    int werr;
} dl_state;

static size_t file_write(char *p, size_t sz, size_t n, void *ud)
{
    dl_state *d = ud;
    size_t len = sz * n;
    if (!d->checked) {
        d->checked = true;
        long code = 0;
        curl_easy_getinfo(d->c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (d->start > 0 && code == 200) {
            /* Range ignored: the body is the whole file */
            if (fflush(d->fp) != 0 || ftruncate(fileno(d->fp), 0) != 0 ||
                fseek(d->fp, 0, SEEK_SET) != 0) {
                d->werr = errno;
                return 0;
            }
            d->start = 0;
            d->restarted = true;
        }
    }
    if (d->start + d->written + len > d->total) {
        d->too_long = true;
        return 0;
    }
    if (fwrite(p, 1, len, d->fp) != len) {
        d->werr = errno;
        return 0;
    }
    d->written += len;
    return len;
}

static int xfer_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    (void)ulnow;
    dl_state *d = ud;
    const struct tb_pull_opts *o = d->c->o;
    if (o && o->progress)
        o->progress(o->progress_ud, d->path, d->start + (uint64_t)dlnow, d->total);
    return 0;
}

static int file_size(const char *p, uint64_t *out)
{
    struct stat st;
    if (stat(p, &st) != 0)
        return -1;
    *out = (uint64_t)st.st_size;
    return 0;
}

static void note(pull_ctx *c, const char *path, const char *what, uint64_t size)
{
    if (c->o && c->o->note)
        c->o->note(c->o->progress_ud, path, what, size);
}

static int fetch_file(pull_ctx *c, const char *repo, const char *dest, const char *path,
                      uint64_t size, const char *sha256, tb_err *err)
{
    char *final = tb_path_join(dest, path);
    char *part = tb_asprintf("%s.part", final);
    char *url = tb_asprintf("%s/%s/resolve/%s/%s", c->endpoint, repo, c->rev, path);
    int rc = -1;
    FILE *fp = NULL;
    /* make the subfolder */
    char *slash = strrchr(final, '/');
    if (slash) {
        *slash = 0;
        int r = tb_mkdir_p(final, err);
        *slash = '/';
        if (r < 0)
            goto out;
    }
    uint64_t have = 0;
    if (file_size(final, &have) == 0 && have == size) {
        char hex[65];
        if (!sha256 || (tb_sha256_file(final, hex, NULL) == 0 && strcmp(hex, sha256) == 0)) {
            note(c, path, "skip", size);
            rc = 0;
            goto out;
        }
    }
    uint64_t start = 0;
    if (file_size(part, &start) != 0 || start > size)
        start = 0;
    note(c, path, start ? "resume" : "get", size);
    fp = fopen(part, start ? "ab" : "wb");
    if (!fp) {
        tb_err_set(err, TB_EIO, "%s: %s", part, strerror(errno));
        goto out;
    }
    dl_state d = {.c = c, .fp = fp, .path = path, .start = start, .total = size};
    if (start < size || size == 0) {
        curl_common(c, url);
        char range[48];
        if (start) {
            snprintf(range, sizeof range, "%llu-", (unsigned long long)start);
            curl_easy_setopt(c->curl, CURLOPT_RANGE, range);
        }
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, file_write);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &d);
        curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xfer_progress);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &d);
        CURLcode cr = curl_easy_perform(c->curl);
        if (d.too_long) {
            tb_err_set(err, TB_EFORMAT, "%s: the server sent more than the %llu bytes listed", path,
                       (unsigned long long)size);
            fclose(fp);
            fp = NULL;
            unlink(part);
            goto out;
        }
        if (d.werr) {
            tb_err_set(err, TB_EIO, "%s: %s", part, strerror(d.werr));
            goto out;
        }
        if (cr != CURLE_OK) {
            curl_fail(c, cr, url, err);
            goto out;
        }
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        tb_err_set(err, TB_EIO, "%s: %s", part, strerror(errno));
        goto out;
    }
    fp = NULL;
    uint64_t got = 0;
    if (file_size(part, &got) != 0 || got != size) {
        tb_err_set(err, TB_ENET, "%s: got %llu of %llu bytes (run the pull again to resume)", path,
                   (unsigned long long)got, (unsigned long long)size);
        goto out;
    }
    if (c->o && c->o->progress)
        c->o->progress(c->o->progress_ud, path, size, size);
    if (sha256) {
        char hex[65];
        if (tb_sha256_file(part, hex, err) < 0)
            goto out;
        if (strcmp(hex, sha256) != 0) {
            unlink(part);
            tb_err_set(err, TB_EFORMAT, "%s: sha256 mismatch: expected %s, got %s (download removed)",
                       path, sha256, hex);
            goto out;
        }
    }
    if (rename(part, final) != 0) {
        tb_err_set(err, TB_EIO, "rename %s: %s", part, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fp)
        fclose(fp);
    free(final);
    free(part);
    free(url);
    return rc;
}

/* ---------------------------------------------------------------- the pull */

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int tb_model_pull(const char *repo, const char *dest_dir, const struct tb_pull_opts *opts,
                  tb_err *err)
{
    if (!tb_pull_repo_valid(repo))
        return tb_err_set(err, TB_EINVAL,
                          "\"%s\" is not a repository name of the form ORG/NAME", repo ? repo : "");
    pthread_once(&curl_once, curl_init);
    pull_ctx c = {.o = opts};
    const char *ep = opts && opts->endpoint && *opts->endpoint ? opts->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep)
        ep = "https://huggingface.co";
    if (!tb_str_starts(ep, "http://") && !tb_str_starts(ep, "https://"))
        return tb_err_set(err, TB_EINVAL, "endpoint \"%s\" is not an http(s) URL", ep);
    c.endpoint = tb_strdup(ep);
    for (size_t l = strlen(c.endpoint); l > 0 && c.endpoint[l - 1] == '/'; l--)
        c.endpoint[l - 1] = 0;
    c.rev = opts && opts->revision && *opts->revision ? opts->revision : "main";
    int rc = -1;
    tb_buf listing = {0};
    json_t *root = NULL;
    for (const char *p = c.rev; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) {
            tb_err_set(err, TB_EINVAL, "revision \"%s\" has unsupported characters", c.rev);
            free(c.endpoint);
            return -1;
        }
    const char *tok = opts && opts->token ? opts->token : getenv("HF_TOKEN");
    if (tok && *tok) {
        char *h = tb_asprintf("Authorization: Bearer %s", tok);
        c.headers = curl_slist_append(NULL, h);
        free(h);
    }
    c.curl = curl_easy_init();
    if (!c.curl) {
        tb_err_set(err, TB_ENET, "cannot initialise libcurl");
        goto out;
    }
    if (tb_mkdir_p(dest_dir, err) < 0)
        goto out;
    char *url = tb_asprintf("%s/api/models/%s/tree/%s?recursive=true", c.endpoint, repo, c.rev);
    curl_common(&c, url);
    curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &listing);
    CURLcode cr = curl_easy_perform(c.curl);
    if (cr != CURLE_OK) {
        curl_fail(&c, cr, url, err);
        free(url);
        goto out;
    }
    free(url);
    json_error_t je;
    root = json_loadb(listing.data ? listing.data : "", listing.len, 0, &je);
    if (!root || !json_is_array(root)) {
        tb_err_set(err, TB_EFORMAT, "%s: the file listing is not a JSON array%s%s", repo,
                   root ? "" : ": ", root ? "" : je.text);
        goto out;
    }
    /* validate the whole listing before writing anything */
    size_t i;
    json_t *e;
    int nwanted = 0;
    bool has_config = false;
    json_array_foreach(root, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *path = json_string_value(json_object_get(e, "path"));
        if (!type || !path) {
            tb_err_set(err, TB_EFORMAT, "%s: listing entry %zu lacks type or path", repo, i);
            goto out;
        }
        if (strcmp(type, "file") != 0 || !wanted(path))
            continue;
        if (!path_safe(path)) {
            tb_err_set(err, TB_EFORMAT, "%s: refusing unsafe file path \"%s\"", repo, path);
            goto out;
        }
        json_t *sz = json_object_get(e, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
            tb_err_set(err, TB_EFORMAT, "%s: %s has no valid size", repo, path);
            goto out;
        }
        json_t *lfs = json_object_get(e, "lfs");
        if (lfs && !json_is_null(lfs)) {
            const char *oid = json_string_value(json_object_get(lfs, "oid"));
            if (!oid || !is_hex64(oid)) {
                tb_err_set(err, TB_EFORMAT, "%s: %s has no valid lfs.oid (sha256)", repo, path);
                goto out;
            }
        }
        nwanted++;
        if (strcmp(path, "config.json") == 0)
            has_config = true;
    }
    if (!has_config) {
        tb_err_set(err, TB_ENOTFOUND, "%s: no config.json in the repository: not a model", repo);
        goto out;
    }
    json_array_foreach(root, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *path = json_string_value(json_object_get(e, "path"));
        if (strcmp(type, "file") != 0 || !wanted(path))
            continue;
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
        json_t *lfs = json_object_get(e, "lfs");
        const char *sha = lfs ? json_string_value(json_object_get(lfs, "oid")) : NULL;
        if (fetch_file(&c, repo, dest_dir, path, size, sha, err) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    tb_buf_free(&listing);
    if (c.curl)
        curl_easy_cleanup(c.curl);
    curl_slist_free_all(c.headers);
    free(c.endpoint);
    return rc;
}

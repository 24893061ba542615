/*
 * config.c -- the table of settings and the layered lookup over it.
 *
 * The table below is the single source of truth for every setting tastebud
 * reads: its name, its default and what it does. `tastebud config` prints it
 * with the effective values, and docs/CONFIG.md documents it. Values are kept
 * as text and parsed by the typed getters, so every source (file, environment,
 * flag) goes through the same validation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static const tb_config_key KEYS[] = {
    /* general */
    {"data_dir", "./data", "folder for the database and the model cache"},
    {"database", NULL, "SQLite file path, or a postgres:// URL (default <data_dir>/tastebud.db)"},
    {"log_level", "info", "debug, info, warn or error"},
    {"threads", "0", "worker threads for embedding and ranking (0 = one per CPU)"},
    /* models */
    {"model", TB_DEFAULT_MODEL, "embedding model: a directory, or a name in <data_dir>/models"},
    {"quantize", "none", "transformer weights: none or int8"},
    {"embed_batch", "64", "texts embedded per batch"},
    {"hf_endpoint", "https://huggingface.co", "where `model pull` downloads from"},
    /* recommendation */
    {"min_reads", "10", "reads needed before feeds are filtered (cold start passes through)"},
    {"filter_ratio", "0.5", "share of items kept for being closest to the user's interests"},
    {"explore_ratio", "0.1", "share of items added at random, for discovering new topics"},
    {"diversity", "0", "MMR trade-off between relevance and variety (0 = off, up to 1)"},
    {"rank_method", "default", "how items are scored: default (kde), kde, knn, centroid, weighted "
                               "or hybrid (docs/RECOMMENDER.md)"},
    {"half_life_days", "30", "age at which a read counts half as much in the profile"},
    {"max_clusters", "10", "upper bound on the number of interest clusters"},
    {"seed", "0", "seed for random choices (0 = different every day per user)"},
    /* feeds */
    {"fetch_interval", "1800", "seconds between fetches of a feed (a longer feed TTL wins)"},
    {"fetch_timeout", "20", "seconds a feed fetch may take in all"},
    {"fetch_connect_timeout", "10", "seconds to connect to a feed's server"},
    {"fetch_max_bytes", "10485760", "largest feed body accepted, in bytes"},
    {"fetch_max_redirects", "5", "redirects followed per fetch"},
    {"fetch_per_host", "2", "concurrent fetches per host"},
    {"fetch_max_failures", "10", "consecutive failures after which a feed is disabled"},
    {"fetch_allow_hosts", "", "hosts/addresses exempt from the private-address guard "
                              "(comma-separated names, IPs or CIDRs, e.g. 192.168.1.0/24)"},
    {"user_agent", "tastebud/" TB_VERSION " (self-hosted feed recommender)",
     "User-Agent sent when fetching feeds"},
    /* server */
    {"listen", "127.0.0.1:8080", "address and port `tastebud serve` listens on"},
    {"base_url", NULL, "public URL of the server, used in rewritten feed links "
                       "(default http://<listen>)"},
    {"feed_wait_ms", "5000", "how long a first feed request waits for the first fetch"},
    {"feed_items", "50", "items per filtered feed"},
    {"shown_interval", "12", "hours between two \"shown\" events for the same user and item "
                             "(a rendered feed records its items as shown; 0 = never)"},
    {"access_log", "true", "log one line per HTTP request"},
    {NULL, NULL, NULL},
};

enum { SRC_DEFAULT = 0, SRC_FILE, SRC_ENV, SRC_FLAG };

struct tb_config {
    char *values[TB_ARRAY_LEN(KEYS)];
    int sources[TB_ARRAY_LEN(KEYS)];
};

const tb_config_key *tb_config_keys(void) { return KEYS; }

static int key_index(const char *key)
{
    for (int i = 0; KEYS[i].key; i++)
        if (strcmp(KEYS[i].key, key) == 0)
            return i;
    return -1;
}

tb_config *tb_config_new(void) { return tb_calloc(1, sizeof(tb_config)); }

void tb_config_free(tb_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < TB_ARRAY_LEN(KEYS); i++)
        free(c->values[i]);
    free(c);
}

static void put(tb_config *c, int i, const char *value, int source)
{
    free(c->values[i]);
    c->values[i] = tb_strdup(value);
    c->sources[i] = source;
}

int tb_config_set(tb_config *c, const char *key, const char *value, tb_err *err)
{
    int i = key_index(key);
    if (i < 0)
        return tb_err_set(err, TB_EINVAL, "unknown setting '%s'", key);
    put(c, i, value, SRC_FLAG);
    return 0;
}

int tb_config_load_file(tb_config *c, const char *path, bool required, tb_err *err)
{
    tb_buf b = {0};
    tb_err e = {0};
    if (tb_read_file(path, &b, 1 << 20, &e) != 0) {
        tb_buf_free(&b);
        if (e.code == TB_ENOTFOUND && !required)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    int lineno = 0;
    char *text = tb_buf_steal(&b);
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        char *s = tb_str_trim(line);
        if (hash && (hash == s || (hash > s && isspace((unsigned char)hash[-1]))))
            *hash = '\0';
        s = tb_str_trim(s);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            tb_err_set(err, TB_EFORMAT, "%s: line %d: expected 'key = value'", path, lineno);
            free(text);
            return -1;
        }
        *eq = '\0';
        char *key = tb_str_trim(s), *val = tb_str_trim(eq + 1);
        size_t vn = strlen(val);
        if (vn >= 2 && val[0] == '"' && val[vn - 1] == '"') {
            val[vn - 1] = '\0';
            val++;
        }
        int i = key_index(key);
        if (i < 0) {
            tb_warn("%s: line %d: unknown setting '%s' ignored (see `tastebud config`)", path,
                    lineno, key);
            continue;
        }
        if (c->sources[i] <= SRC_FILE)
            put(c, i, val, SRC_FILE);
    }
    free(text);
    return 0;
}

void tb_config_load_env(tb_config *c)
{
    for (int i = 0; KEYS[i].key; i++) {
        char name[96] = "TASTEBUD_";
        size_t n = strlen(name);
        for (const char *k = KEYS[i].key; *k && n + 1 < sizeof name; k++)
            name[n++] = (char)toupper((unsigned char)*k);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v && c->sources[i] <= SRC_ENV)
            put(c, i, v, SRC_ENV);
    }
}

const char *tb_config_get(const tb_config *c, const char *key)
{
    int i = key_index(key);
    if (i < 0)
        return NULL;
    if (c && c->values[i])
        return c->values[i];
    return KEYS[i].def;
}

const char *tb_config_source(const tb_config *c, const char *key)
{
    static const char *names[] = {"default", "file", "env", "flag"};
    int i = key_index(key);
    if (i < 0 || !c)
        return "default";
    return names[c->sources[i]];
}

int64_t tb_config_int(const tb_config *c, const char *key, int64_t fallback)
{
    const char *v = tb_config_get(c, key);
    int64_t out;
    if (v && tb_parse_i64(v, &out) == 0)
        return out;
    int i = key_index(key);
    if (v)
        tb_warn("setting %s = '%s' is not an integer; using the default", key, v);
    if (i >= 0 && KEYS[i].def && tb_parse_i64(KEYS[i].def, &out) == 0)
        return out;
    return fallback;
}

double tb_config_double(const tb_config *c, const char *key, double fallback)
{
    const char *v = tb_config_get(c, key);
    double out;
    if (v && tb_parse_double(v, &out) == 0)
        return out;
    int i = key_index(key);
    if (v)
        tb_warn("setting %s = '%s' is not a number; using the default", key, v);
    if (i >= 0 && KEYS[i].def && tb_parse_double(KEYS[i].def, &out) == 0)
        return out;
    return fallback;
}

static int parse_bool(const char *v)
{
    if (!v)
        return -1;
    if (tb_str_eq_nocase(v, "1") || tb_str_eq_nocase(v, "true") || tb_str_eq_nocase(v, "yes") ||
        tb_str_eq_nocase(v, "on"))
        return 1;
    if (tb_str_eq_nocase(v, "0") || tb_str_eq_nocase(v, "false") || tb_str_eq_nocase(v, "no") ||
        tb_str_eq_nocase(v, "off"))
        return 0;
    return -1;
}

bool tb_config_bool(const tb_config *c, const char *key, bool fallback)
{
    const char *v = tb_config_get(c, key);
    int b = parse_bool(v);
    if (b >= 0)
        return b;
    int i = key_index(key);
    if (v)
        tb_warn("setting %s = '%s' is not true/false; using the default", key, v);
    if (i >= 0 && (b = parse_bool(KEYS[i].def)) >= 0)
        return b;
    return fallback;
}

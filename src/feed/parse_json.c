/*
 * parse_json.c -- JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1).
 *
 * jansson parses the whole document (with a depth limit it enforces itself);
 * we then read the few fields that map onto tb_item. Version differences:
 * 1.0 has "author" (object), 1.1 "authors" (array) -- both are read. Type
 * mismatches (a number where a string belongs) are ignored field by field
 * rather than failing the feed, as with XML in recover mode.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feed/parse.h"

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *author_name(json_t *o)
{
    json_t *a = json_object_get(o, "authors");
    if (json_is_array(a) && json_array_size(a) > 0) {
        tb_buf b = {0};
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            const char *n = json_is_object(v) ? jstr(v, "name") : NULL;
            if (n && *n) {
                if (b.len)
                    tb_buf_puts(&b, ", ");
                tb_buf_puts(&b, n);
            }
        }
        if (b.len)
            return tb_buf_steal(&b);
        tb_buf_free(&b);
    }
    a = json_object_get(o, "author");
    if (json_is_object(a) && jstr(a, "name"))
        return tb_strdup(jstr(a, "name"));
    return NULL;
}

int tb_feed_parse_json(const char *data, size_t len, const char *url, tb_parsed_feed *out,
                       tb_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    if (!root)
        return tb_err_set(err, TB_EFORMAT, "not a feed: invalid JSON at line %d: %s", je.line,
                          je.text);
    const char *version = json_is_object(root) ? jstr(root, "version") : NULL;
    if (!version || !strstr(version, "jsonfeed.org/version/")) {
        json_decref(root);
        return tb_err_set(err, TB_EFORMAT,
                          "not a feed: JSON without a \"version\" of https://jsonfeed.org/version/1.x");
    }
    out->format = "json";
    const char *feed_url = jstr(root, "feed_url");
    const char *base = url ? url : feed_url;
    out->title = tb_pf_clean(jstr(root, "title"));
    out->site_url = tb_pf_resolve(jstr(root, "home_page_url"), base);
    out->description = tb_pf_clean(jstr(root, "description"));
    out->image = tb_pf_resolve(jstr(root, "icon") ? jstr(root, "icon") : jstr(root, "favicon"),
                               base);
    char *feed_author = author_name(root);
    json_t *items = json_object_get(root, "items");
    size_t i;
    json_t *it;
    if (json_is_array(items)) {
        json_array_foreach(items, i, it) {
            if (!json_is_object(it))
                continue;
            tb_item_draft d = {0};
            json_t *id = json_object_get(it, "id");
            if (json_is_string(id))
                d.guid = tb_strdup(json_string_value(id));
            else if (json_is_integer(id)) /* 1.0 feeds in the wild use numbers */
                d.guid = tb_asprintf("%lld", (long long)json_integer_value(id));
            const char *link = jstr(it, "url") ? jstr(it, "url") : jstr(it, "external_url");
            d.link = tb_pf_resolve(link, base);
            if (jstr(it, "title"))
                d.title = tb_strdup(jstr(it, "title"));
            const char *h = jstr(it, "content_html");
            if (h) {
                d.html = tb_strdup(h);
            } else if ((h = jstr(it, "content_text")) || (h = jstr(it, "summary"))) {
                tb_buf b = {0};
                tb_buf_xml_escape(&b, h);
                d.html = tb_buf_steal(&b);
            }
            d.author = author_name(it);
            if (!d.author && feed_author)
                d.author = tb_strdup(feed_author);
            json_t *tags = json_object_get(it, "tags");
            size_t j;
            json_t *t;
            if (json_is_array(tags)) {
                json_array_foreach(tags, j, t) {
                    if (json_is_string(t))
                        tb_pf_add_tag(&d, json_string_value(t));
                }
            }
            const char *dp = jstr(it, "date_published"), *dm = jstr(it, "date_modified");
            int64_t ts;
            if (dp && tb_date_parse(dp, &ts) == 0)
                d.published = ts;
            if (dm && tb_date_parse(dm, &ts) == 0)
                d.updated = ts;
            d.date_raw = tb_strdup(dp ? dp : dm);
            const char *img = jstr(it, "image") ? jstr(it, "image") : jstr(it, "banner_image");
            d.image = tb_pf_resolve(img, base);
            json_t *att = json_object_get(it, "attachments");
            json_t *a;
            if (json_is_array(att))
                json_array_foreach(att, j, a) {
                    if (!json_is_object(a) || !jstr(a, "url"))
                        continue;
                    const char *mt = jstr(a, "mime_type");
                    if (mt && strncmp(mt, "image/", 6) == 0) {
                        if (!d.image)
                            d.image = tb_pf_resolve(jstr(a, "url"), base);
                    } else if (!d.enclosure_url) {
                        d.enclosure_url = tb_pf_resolve(jstr(a, "url"), base);
                        d.enclosure_type = mt ? tb_strdup(mt) : NULL;
                        json_t *sz = json_object_get(a, "size_in_bytes");
                        if (json_is_integer(sz))
                            d.enclosure_length = json_integer_value(sz);
                    }
                }
            d.base = d.link ? tb_strdup(d.link) : (base ? tb_strdup(base) : NULL);
            tb_pf_item_finish(tb_pf_item_new(out), &d);
        }
    }
    free(feed_author);
    json_decref(root);
    return 0;
}

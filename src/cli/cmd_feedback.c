/*
 * cmd_feedback.c -- `tastebud feedback USER ITEM read|like|dislike`: record
 * what a user did with an item; the profile picks it up on the next
 * recommendation.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void feedback_usage(void)
{
    printf("usage: tastebud feedback USER ITEM read|like|dislike|shown\n\n"
           "ITEM is a numeric item id or COLLECTION:KEY (the id as imported).\n");
}

TB_COMMAND(feedback, "record that a user read, liked or disliked an item")
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        feedback_usage();
        return 0;
    }
    if (argc != 4)
        return tb_cli_usage(cli, "feedback needs USER ITEM and read, like or dislike");
    const char *user = argv[1], *item = argv[2];
    int kind = tb_event_kind_parse(argv[3]);
    if (kind < 0)
        return tb_cli_usage(cli, "unknown feedback '%s' (read, like, dislike or shown)", argv[3]);
    tb_store *s = tb_cli_store(cli);
    if (!s)
        return 1;
    tb_err err = {0};
    int r = tb_store_user_exists(s, user, &err);
    if (r < 0)
        return tb_cli_fail_err(cli, &err);
    if (r == 0)
        return tb_cli_fail(cli, "no user '%s' (create it with `tastebud user add %s`)", user,
                           user);
    int64_t id;
    tb_item it = {0};
    const char *colon = strrchr(item, ':');
    if (tb_parse_i64(item, &id) == 0) {
        if (tb_store_item_get(s, id, &it, &err) < 0)
            return tb_cli_fail_err(cli, &err);
    } else if (colon && colon != item) {
        char *col = tb_strndup(item, (size_t)(colon - item));
        int rc = tb_store_item_get_by_key(s, col, colon + 1, &it, &err);
        free(col);
        if (rc < 0)
            return tb_cli_fail_err(cli, &err);
    } else {
        return tb_cli_usage(cli, "ITEM must be a numeric id or COLLECTION:KEY, not '%s'", item);
    }
    id = it.id;
    tb_item_clear(&it);
    if (tb_store_event_add(s, user, id, kind, tb_unix_now(), &err) < 0)
        return tb_cli_fail_err(cli, &err);
    return 0;
}

/*
 * config.h -- settings from defaults, tastebud.conf, TASTEBUD_* and flags.
 *
 * Every setting has a key (lower_snake_case), a default and a one-line doc in
 * the table in config.c; docs/CONFIG.md and `tastebud config` are made from
 * that table. Later sources win: default < config file < environment
 * (TASTEBUD_<KEY upper-cased>) < command-line flag.
 *
 * The file format is "key = value" lines; '#' starts a comment; values may be
 * quoted with "". Unknown keys are reported as warnings with the line number,
 * so a typo does not go unnoticed but an older binary still starts.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tastebud.h"

typedef struct tb_config tb_config;

typedef struct tb_config_key {
    const char *key;
    const char *def;   /* default value as text (NULL: unset) */
    const char *doc;
} tb_config_key;

tb_config *tb_config_new(void);
void tb_config_free(tb_config *c);
/* Read a config file. A missing file is an error only if required. */
int tb_config_load_file(tb_config *c, const char *path, bool required, tb_err *err);
/* Apply TASTEBUD_* environment variables for every known key. */
void tb_config_load_env(tb_config *c);
/* Set a value (from a flag). Unknown keys are refused with TB_EINVAL. */
int tb_config_set(tb_config *c, const char *key, const char *value, tb_err *err);
/* The effective value, or the default; NULL if neither. */
const char *tb_config_get(const tb_config *c, const char *key);
/* Typed getters: on an unparsable value they log a warning and return the
 * default's value (or fallback when even that does not parse). */
int64_t tb_config_int(const tb_config *c, const char *key, int64_t fallback);
double tb_config_double(const tb_config *c, const char *key, double fallback);
bool tb_config_bool(const tb_config *c, const char *key, bool fallback);
/* Where a key's value came from: "default", "file", "env", "flag". */
const char *tb_config_source(const tb_config *c, const char *key);
/* The table of known keys, terminated by a {NULL} entry. */
const tb_config_key *tb_config_keys(void);

#endif

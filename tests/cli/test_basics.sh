# CLI basics: help, version, argument errors, settings, the store.

test_help_lists_commands() {
    run "$TB" --help
    assert_rc 0
    assert_out_contains "usage: tastebud"
    assert_out_contains "status"
    assert_out_contains "--data-dir"
}

test_version() {
    run "$TB" --version
    assert_rc 0
    assert_out_contains "tastebud 0."
}

test_no_command_is_usage_error() {
    run "$TB"
    assert_rc 2
    assert_err_contains "usage:"
}

test_unknown_command() {
    run "$TB" frobnicate
    assert_rc 2
    assert_err_contains "unknown command 'frobnicate'"
}

test_unknown_global_option() {
    run "$TB" --no-such-option status
    assert_rc 2
    assert_err_contains "unknown option"
}

test_unknown_command_option() {
    run "$TB" -d "$TB_DATA" status --bogus
    assert_rc 2
    assert_err_contains "tastebud status: unknown option"
}

test_command_help() {
    run "$TB" status --help
    assert_rc 0
    assert_out_contains "usage: tastebud status"
}

test_status_creates_store() {
    run "$TB" -d "$TB_DATA/sub/dir" status
    assert_rc 0
    assert_out_contains "schema version 1"
    [ -f "$TB_DATA/sub/dir/tastebud.db" ] || fail "database file not created"
}

test_refuses_non_sqlite_file() {
    mkdir -p "$TB_DATA"
    echo "this is not a database" > "$TB_DATA/tastebud.db"
    run "$TB" -d "$TB_DATA" status
    assert_rc 1
    assert_err_contains "not a SQLite database"
    # the file is left as it was
    assert_eq "$(cat "$TB_DATA/tastebud.db")" "this is not a database"
}

test_user_add_and_list() {
    run "$TB" -d "$TB_DATA" user add alice
    assert_rc 0
    run "$TB" -d "$TB_DATA" user add --random
    assert_rc 0
    [ ${#OUT} -eq 32 ] || fail "random id should be 32 hex chars, got '$OUT'"
    run "$TB" -d "$TB_DATA" user list
    assert_out_contains "alice"
    run "$TB" -d "$TB_DATA" user add alice
    assert_rc 1
    assert_err_contains "already exists"
}

test_user_bad_id() {
    run "$TB" -d "$TB_DATA" user add "../etc"
    assert_rc 2
}

test_config_layers() {
    mkdir -p "$TB_DATA"
    printf '# comment\nmin_reads = 7\nfilter_ratio = "0.4"\nno_such_key = 1\n' > "$TB_DATA/tastebud.conf"
    run "$TB" -d "$TB_DATA" config min_reads
    assert_rc 0
    assert_out_contains 'min_reads = "7"  # file'
    assert_err_contains "unknown setting 'no_such_key'"
    TASTEBUD_MIN_READS=3 run "$TB" -d "$TB_DATA" config min_reads
    assert_out_contains 'min_reads = "3"  # env'
    TASTEBUD_MIN_READS=3 run "$TB" -d "$TB_DATA" --set min_reads=5 config min_reads
    assert_out_contains 'min_reads = "5"  # flag'
}

test_config_bad_file_and_set() {
    mkdir -p "$TB_DATA"
    printf 'this line has no equals sign\n' > "$TB_DATA/bad.conf"
    run "$TB" -c "$TB_DATA/bad.conf" config
    assert_rc 2
    assert_err_contains "line 1"
    run "$TB" -c "$TB_DATA/missing.conf" config
    assert_rc 2
    run "$TB" --set nonsense=1 config
    assert_rc 2
    assert_err_contains "unknown setting"
    run "$TB" --log-level loud config
    assert_rc 2
}

test_config_doc_is_current() {
    [ -f "$ROOT/docs/CONFIG.md" ] || skip "docs/CONFIG.md not present"
    run "$ROOT/scripts/gen-config-doc" "$TB"
    assert_rc 0
    [ "$OUT" = "$(cat "$ROOT/docs/CONFIG.md")" ] ||
        fail "docs/CONFIG.md is stale: run scripts/gen-config-doc bin/tastebud > docs/CONFIG.md"
}

# The real binary on the PostgreSQL backend: catalogue import, feedback,
# recommendations and the server, each in a schema of its own on the server
# that scripts/with-pg starts (`make test` wraps the CLI tests with it).
# Skipped when TB_TEST_PG_URL is not set.

pg_setup() {
    [ -n "${TB_TEST_PG_URL:-}" ] || { skip "TB_TEST_PG_URL not set: no PostgreSQL server"; return 77; }
    command -v psql >/dev/null || { skip "psql not installed"; return 77; }
    schema="cli_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    psql -q "$TB_TEST_PG_URL" -c "CREATE SCHEMA $schema" || return 1
    trap 'psql -q "$TB_TEST_PG_URL" -c "DROP SCHEMA '"$schema"' CASCADE" >/dev/null 2>&1 || true' EXIT
    case "$TB_TEST_PG_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
    export TASTEBUD_DATABASE="${TB_TEST_PG_URL}${sep}options=-csearch_path%3D$schema"
    make_tiny_catalogue "$TB_DATA" || return 1
}

test_pg_catalogue_feedback_recommend() {
    pg_setup || return $?
    run "$TB" --data-dir "$TB_DATA" status
    assert_rc 0
    assert_out_contains "backend:        postgres (schema version 1)"
    [ ! -e "$TB_DATA/tastebud.db" ] || fail "a SQLite file was created although database is PostgreSQL"
    "$TB" --data-dir "$TB_DATA" user add ann >/dev/null || fail "user add"
    run "$TB" --data-dir "$TB_DATA" --set model=tiny items import shop "$TB_DATA/cat.jsonl"
    assert_rc 0
    assert_err_contains "40 imported (40 new)"
    for i in $(seq 1 12); do "$TB" --data-dir "$TB_DATA" feedback ann "shop:p$i" like || return 1; done
    run "$TB" --data-dir "$TB_DATA" --set model=tiny --set explore_ratio=0 recommend ann -n 5 --explain
    assert_rc 0
    assert_eq "$(printf '%s\n' "$OUT" | grep -c 'shop:p')" "5"
    run "$TB" --data-dir "$TB_DATA" status
    assert_out_contains "events:         12"
    assert_out_contains "embeddings:     40"
    assert_out_contains "profiles:       1"
}

test_pg_serve_users_and_health() {
    pg_setup || return $?
    command -v curl >/dev/null || { skip "curl not installed"; return 77; }
    port=$((20000 + RANDOM % 20000))
    "$TB" --data-dir "$TB_DATA" --set model=tiny serve --listen "127.0.0.1:$port" \
        >"$TB_DATA/serve.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true; psql -q "$TB_TEST_PG_URL" -c "DROP SCHEMA '"$schema"' CASCADE" >/dev/null 2>&1 || true' EXIT
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    run curl -sf "http://127.0.0.1:$port/healthz"
    assert_rc 0
    run curl -sf -X POST "http://127.0.0.1:$port/api/users"
    assert_rc 0
    id=$(echo "$OUT" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
    [ ${#id} -eq 32 ] || fail "no user id in '$OUT'"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    run "$TB" --data-dir "$TB_DATA" user list
    assert_out_contains "$id"
}

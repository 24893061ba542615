# `tastebud serve` as a process: start on an ephemeral loopback port, talk
# to it with curl, stop it with SIGTERM (graceful) and with kill -9 (nothing
# committed may be lost: SQLite WAL).

# serve_start: starts the server in the background on port 0; sets PORT,
# BASE and SPID. Extra arguments go before `serve`.
serve_start() {
    command -v curl >/dev/null 2>&1 || skip "curl is not installed"
    : > "$TB_DATA/serve.log"
    "$TB" --data-dir "$TB_DATA" "$@" serve --listen 127.0.0.1:0 2>>"$TB_DATA/serve.log" &
    SPID=$!
    PORT=""
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$TB_DATA/serve.log" | tail -1)
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "server did not start: $(cat "$TB_DATA/serve.log")"
    BASE="http://127.0.0.1:$PORT"
}

serve_stop() {
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
}

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

test_serve_basics_and_graceful_stop() {
    serve_start
    trap serve_stop RETURN
    run curl -sf "$BASE/healthz"
    assert_rc 0
    assert_eq "$OUT" "ok"
    run curl -s -o /dev/null -w '%{http_code}' "$BASE/feed/nosuchuser/1"
    assert_eq "$OUT" "404"
    U=$(curl -sf -X POST "$BASE/api/users" | json_field '["id"]')
    [ ${#U} -eq 32 ] || fail "user id '$U' is not 128-bit hex"
    # A feed URL prefixed by hand: answered with valid RSS (empty until fetched).
    run curl -s -D "$TB_DATA/h" "$BASE/feed/$U/https://example.invalid/rss.xml"
    assert_out_contains '<rss version="2.0"'
    grep -qi '^etag: "' "$TB_DATA/h" || fail "no ETag"
    etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: \(.*\)\r$/\1/p' "$TB_DATA/h")
    run curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/feed/$U/1"
    # the id form is another cache key, but the same bytes, so the same ETag
    assert_eq "$OUT" "304"
    run curl -s "$BASE/metrics"
    assert_out_contains 'tastebud_http_requests_total{route="feed"'
    run curl -s -w ' %{http_code}' -X POST --data-binary 'this is no OPML' "$BASE/api/opml?user=$U"
    assert_out_contains 'malformed OPML'
    assert_out_contains ' 400'
    kill -TERM "$SPID"
    wait "$SPID"
    RC=$?
    assert_rc 0
    grep -q "stopped" "$TB_DATA/serve.log" || fail "no clean stop: $(cat "$TB_DATA/serve.log")"
    grep -q "access GET /feed/${U:0:4}" "$TB_DATA/serve.log" || fail "access log line missing"
    if grep -q "$U" "$TB_DATA/serve.log"; then fail "the access log leaks the full user id"; fi
    trap - RETURN
}

test_serve_survives_kill_9() {
    serve_start
    U=$(curl -sf -X POST "$BASE/api/users" | json_field '["id"]')
    run curl -sf -X POST -H 'Content-Type: application/json' \
        -d "{\"user\":\"$U\",\"url\":\"https://example.invalid/a.xml\"}" "$BASE/api/feeds"
    assert_rc 0
    run curl -sf -X POST -d "user=$U&url=https://example.invalid/b.xml" "$BASE/api/feeds"
    assert_rc 0
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null || true
    serve_start
    trap serve_stop RETURN
    run curl -sf "$BASE/api/feeds?user=$U"
    assert_rc 0
    assert_out_contains "https://example.invalid/a.xml"
    assert_out_contains "https://example.invalid/b.xml"
    run curl -s -o /dev/null -w '%{http_code}' "$BASE/feed/$U/2"
    assert_eq "$OUT" "200"
    trap - RETURN
    serve_stop
}

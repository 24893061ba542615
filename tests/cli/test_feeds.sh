# Feeds and OPML from the command line (fixtures in tests/fixtures/feeds;
# the network part uses tests/feedserver.py on 127.0.0.1).

FIX=tests/fixtures/feeds

test_feed_parse_prints_fields() {
    run "$TB" --data-dir "$TB_DATA" feed parse "$FIX/rss2.xml"
    assert_rc 0
    assert_out_contains "format: rss2"
    assert_out_contains "title: Fixture RSS 2.0"
    assert_out_contains "items: 3"
    assert_out_contains "author: Ann Author"
}

test_feed_parse_json_output() {
    run "$TB" --data-dir "$TB_DATA" feed parse --json "$FIX/atom10.xml"
    assert_rc 0
    assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["items"]), d["items"][0]["url"])')" \
        "2 https://blog.example.com/posts/one.html"
}

test_feed_parse_bad_file_is_clear_error() {
    run "$TB" --data-dir "$TB_DATA" feed parse "$FIX/subs.opml"
    assert_rc 1
    assert_err_contains "not a feed"
    run "$TB" --data-dir "$TB_DATA" feed parse /nonexistent/file.xml
    assert_rc 1
}

test_opml_import_export_rewrite() {
    run "$TB" --data-dir "$TB_DATA" opml import "$FIX/subs.opml"
    assert_rc 0
    assert_out_contains "4 feeds imported for local"
    run "$TB" --data-dir "$TB_DATA" opml export
    assert_rc 0
    assert_out_contains 'xmlUrl="https://rd.example/rss?a=1&amp;b=2"'
    run "$TB" --data-dir "$TB_DATA" opml export --rewrite https://tb.example/
    assert_rc 0
    assert_out_contains 'xmlUrl="https://tb.example/feed/local/'
    assert_out_not_contains 'xmlUrl="https://rd.example'
}

test_feed_add_refuses_loopback() {
    run "$TB" --data-dir "$TB_DATA" feed add http://127.0.0.1:9/feed
    assert_rc 1
    assert_err_contains "SSRF"
}

test_feed_add_fetch_enable_via_local_server() {
    command -v python3 >/dev/null || { skip "python3 missing"; return; }
    local fifo="$TB_DATA/srv.in" port
    mkfifo "$fifo"
    python3 tests/feedserver.py <"$fifo" >"$TB_DATA/port" &
    local pid=$!
    exec 9>"$fifo"
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$TB_DATA/port" ] && break; sleep 0.2; done
    port=$(cat "$TB_DATA/port")
    export TASTEBUD_FETCH_ALLOW_HOSTS=localhost
    # a web page: the announced feed is found and stored
    run "$TB" --data-dir "$TB_DATA" feed add "http://localhost:$port/page.html"
    assert_rc 0
    assert_out_contains "/feed.xml"
    assert_out_contains "2 items (2 new)"
    run "$TB" --data-dir "$TB_DATA" feed fetch 1
    assert_rc 0
    assert_out_contains "not modified"
    run "$TB" --data-dir "$TB_DATA" feed add --no-fetch "http://localhost:$port/500"
    assert_rc 0
    run "$TB" --data-dir "$TB_DATA" feed fetch 2
    assert_rc 1
    assert_err_contains "HTTP status 500"
    TASTEBUD_FETCH_MAX_FAILURES=2 run "$TB" --data-dir "$TB_DATA" feed fetch 2
    assert_err_contains "disabled"
    run "$TB" --data-dir "$TB_DATA" feed list
    assert_out_contains "DISABLED"
    run "$TB" --data-dir "$TB_DATA" feed enable 2
    assert_rc 0
    run "$TB" --data-dir "$TB_DATA" feed list
    assert_out_not_contains "DISABLED"
    unset TASTEBUD_FETCH_ALLOW_HOSTS
    exec 9>&-
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# `tastebud serve` end to end with the real fetcher, the real model and a
# real RSS reader: a local fixture feed server (tests/cli/fixture_httpd.py,
# feeds written by tests/cli/mkfeeds.py plus copies of tests/fixtures/feeds)
# on a free loopback port, the server on another, driven with curl; newsboat
# reads the filtered feed. Every process started here is killed on exit.
#
# Model: the default model (wink-glove-100d) when it is in
# $TASTEBUD_DATA_DIR, ./data or build/test-data (tests/cli/test_embed.sh
# fetches it there), else a tiny GloVe model of the fixture words.

E2E_PIDS=()
e2e_cleanup() {
    local p
    for p in "${E2E_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# wait_for_line FILE SED-EXPR PID: prints the first match of the sed
# expression in FILE, retrying for up to 15 s while PID lives.
wait_for_line() {
    local v=""
    for _ in $(seq 1 300); do
        v=$(sed -n "$2" "$1" 2>/dev/null | head -1)
        [ -n "$v" ] && { echo "$v"; return 0; }
        kill -0 "$3" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

# e2e_fixtures: feeds in $TB_DATA/www, served on $FBASE (pid $FPID).
e2e_fixtures() {
    command -v curl >/dev/null 2>&1 || { skip "curl is not installed"; return 77; }
    command -v python3 >/dev/null 2>&1 || { skip "python3 is not installed"; return 77; }
    trap e2e_cleanup EXIT
    mkdir -p "$TB_DATA/www"
    python3 "$ROOT/tests/cli/mkfeeds.py" "$TB_DATA/www"
    cp "$ROOT/tests/fixtures/feeds/rss2.xml" "$ROOT/tests/fixtures/feeds/atom10.xml" "$TB_DATA/www/"
    python3 -u "$ROOT/tests/cli/fixture_httpd.py" "$TB_DATA/www" >"$TB_DATA/www.log" 2>&1 &
    FPID=$!
    E2E_PIDS+=("$FPID")
    local p
    p=$(wait_for_line "$TB_DATA/www.log" 's/^port \([0-9]*\)$/\1/p' "$FPID") ||
        fail "fixture feed server did not start: $(cat "$TB_DATA/www.log")"
    FBASE="http://127.0.0.1:$p"
    curl -sf -o /dev/null "$FBASE/topics.xml" || fail "fixture server does not answer"
}

# e2e_model: sets MODEL to a model directory.
e2e_model() {
    local d
    for d in "${TASTEBUD_DATA_DIR:-}" "$ROOT/data" "$ROOT/build/test-data"; do
        if [ -n "$d" ] && [ -f "$d/models/wink-glove-100d/model.safetensors" ]; then
            MODEL="$d/models/wink-glove-100d"
            echo "model: default (wink-glove-100d)"
            return 0
        fi
    done
    "$TB" model import-glove "$TB_DATA/www/glove.txt" "$TB_DATA/tiny" >/dev/null
    MODEL="$TB_DATA/tiny"
    echo "model: tiny GloVe (default model not found)"
}

# e2e_serve [ARGS...]: starts the server on a free port with the real
# fetcher allowed to reach the fixture server; sets SPID, BASE.
e2e_serve() {
    : >"$TB_DATA/serve.log"
    "$TB" --data-dir "$TB_DATA" --set fetch_allow_hosts=127.0.0.1 --set min_reads=3 \
        --set seed=1 --set "model=$MODEL" "$@" serve --listen 127.0.0.1:0 \
        2>>"$TB_DATA/serve.log" &
    SPID=$!
    E2E_PIDS+=("$SPID")
    local p
    p=$(wait_for_line "$TB_DATA/serve.log" 's/.*listening on port \([0-9]*\).*/\1/p' "$SPID") ||
        fail "tastebud serve did not start: $(cat "$TB_DATA/serve.log")"
    BASE="http://127.0.0.1:$p"
}

e2e_user() { curl -sf -X POST "$BASE/api/users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# links_of FILE TOPIC: the item links of TOPIC's items in an RSS file.
links_of() {
    python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
for it in ET.parse(sys.argv[1]).getroot().iter("item"):
    if it.findtext("title", "").startswith(sys.argv[2] + " "):
        print(it.findtext("link"))
PY
}

# count_items FILE [TOPIC]: items (of TOPIC) in an RSS file; fails on invalid XML.
count_items() {
    python3 - "$1" "${2:-}" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "rss" and root.get("version") == "2.0", root.tag
print(sum(1 for it in root.iter("item") if it.findtext("title", "").startswith(sys.argv[2])))
PY
}

hdr() { sed -n "s/^$2: \(.*\)\r$/\1/Ip" "$1" | head -1; }

test_serve_e2e_real_fetcher_ranking_and_newsboat() {
    e2e_fixtures
    e2e_model
    e2e_serve
    U=$(e2e_user)
    [ ${#U} -eq 32 ] || fail "no user id: '$U'"
    feed="$FBASE/topics.xml"

    # First request: subscribes, fetches with the real fetcher, passes through.
    run curl -s -D "$TB_DATA/h1" -o "$TB_DATA/f1.xml" -w '%{http_code}' "$BASE/feed/$U/$feed"
    assert_eq "$OUT" "200"
    assert_eq "$(hdr "$TB_DATA/h1" X-Tastebud-Ranked)" "no"
    n_orig=$(count_items "$TB_DATA/f1.xml")
    assert_eq "$n_orig" "36"
    grep -q "<title>Three topics</title>" "$TB_DATA/f1.xml" || fail "channel title not kept"
    if grep -q "https://topics.example/pets" "$TB_DATA/f1.xml"; then fail "an original link leaked"; fi
    run curl -sf "$BASE/api/feeds?user=$U"
    assert_out_contains "$feed"

    # Reads: /r/ answers 302 to the stored URL, for pet items only.
    links_of "$TB_DATA/f1.xml" pets | head -3 >"$TB_DATA/reads"
    assert_eq "$(wc -l <"$TB_DATA/reads")" "3"
    while read -r l; do
        case "$l" in "$BASE/r/$U/"*) ;; *) fail "link $l does not go through /r/" ;; esac
        run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$l"
        case "$OUT" in "302 https://topics.example/pets/"*) ;; *) fail "read $l: $OUT" ;; esac
    done <"$TB_DATA/reads"
    # a link inside the description: the stored HTML's first link
    l=$(head -1 "$TB_DATA/reads")
    run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$l?l=0"
    case "$OUT" in "302 https://topics.example/more/"*) ;; *) fail "description link: $OUT" ;; esac
    run curl -s -o /dev/null -w '%{http_code}' "$l?l=7"
    assert_eq "$OUT" "404"

    # After min_reads (3) reads and the embedding queue: ranked, fewer items,
    # mostly pets.
    ranked=""
    for _ in $(seq 1 100); do
        curl -s -D "$TB_DATA/h2" -o "$TB_DATA/f2.xml" "$BASE/feed/$U/$feed"
        ranked=$(hdr "$TB_DATA/h2" X-Tastebud-Ranked)
        [ "$ranked" = "yes" ] && break
        sleep 0.1
    done
    assert_eq "$ranked" "yes"
    n_ranked=$(count_items "$TB_DATA/f2.xml")
    pets=$(count_items "$TB_DATA/f2.xml" pets)
    food=$(count_items "$TB_DATA/f2.xml" food)
    space=$(count_items "$TB_DATA/f2.xml" space)
    echo "ranked feed: $n_ranked of $n_orig items (pets $pets, food $food, space $space)"
    [ "$n_ranked" -gt 0 ] && [ "$n_ranked" -lt "$n_orig" ] || fail "ranked feed has $n_ranked items"
    [ "$pets" -gt "$food" ] && [ "$pets" -gt "$space" ] || fail "pets not ranked first"

    # Picks (API) leave out what was already read.
    run curl -sf "$BASE/api/recommendations?user=$U&limit=100"
    assert_rc 0
    python3 - "$OUT" "$TB_DATA/reads" <<'PY' || fail "picks include read items: $OUT"
import json, sys
d = json.loads(sys.argv[1])
read = {l.strip().rsplit("/", 1)[1] for l in open(sys.argv[2])}
ids = {str(i["id"]) for i in d["items"]}
assert not d["cold_start"] and ids and not (ids & read), (ids, read)
PY

    # ETag / 304 on the ranked feed.
    etag=$(hdr "$TB_DATA/h2" ETag)
    [ -n "$etag" ] || fail "no ETag"
    run curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/feed/$U/$feed"
    assert_eq "$OUT" "304"
    lm=$(hdr "$TB_DATA/h2" Last-Modified)
    run curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$BASE/feed/$U/$feed"
    assert_eq "$OUT" "304"

    # newsboat, a real RSS reader, reads the ranked feed and lists its items.
    if command -v newsboat >/dev/null 2>&1; then
        mkdir -p "$TB_DATA/nb"
        echo "$BASE/feed/$U/$feed" >"$TB_DATA/nb/urls"
        echo "reload-threads 1" >"$TB_DATA/nb/conf"
        run env HOME="$TB_DATA/nb" newsboat -u "$TB_DATA/nb/urls" -c "$TB_DATA/nb/cache.db" \
            -C "$TB_DATA/nb/conf" -x reload print-unread
        assert_rc 0
        assert_out_contains "$n_ranked unread articles"
        python3 - "$TB_DATA/nb/cache.db" "$TB_DATA/f2.xml" "$BASE/r/$U/" <<'PY' || fail "newsboat's items differ"
import sqlite3, sys, xml.etree.ElementTree as ET
got = sorted(sqlite3.connect(sys.argv[1]).execute("select title, url from rss_item").fetchall())
want = sorted((it.findtext("title"), it.findtext("link"))
              for it in ET.parse(sys.argv[2]).getroot().iter("item"))
assert got == want, (got[:3], want[:3])
assert all(u.startswith(sys.argv[3]) for _, u in got)
print("newsboat lists", len(got), "items")
PY
    else
        echo "newsboat not installed: reader check skipped"
    fi

    # Bad user ids: 404 (unknown, malformed).
    run curl -s -o /dev/null -w '%{http_code}' "$BASE/feed/0123456789abcdef0123456789abcdef/$feed"
    assert_eq "$OUT" "404"
    run curl -s -o /dev/null -w '%{http_code}' "$BASE/feed/x%27y/1"
    assert_eq "$OUT" "404"
    run curl -s -o /dev/null -w '%{http_code}' "$BASE/r/0123456789abcdef0123456789abcdef/1"
    assert_eq "$OUT" "404"

    # Malformed OPML: 400 with a message.
    run curl -s -w ' %{http_code}' -X POST --data-binary '<opml><body><outline' "$BASE/api/opml?user=$U"
    assert_out_contains "OPML"
    assert_out_contains " 400"

    # OPML upload (multipart): answered with OPML pointing at the server;
    # the real fetcher fetches both feeds.
    cat >"$TB_DATA/subs.opml" <<OPML
<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
<outline text="News"><outline type="rss" text="RSS two" xmlUrl="$FBASE/rss2.xml"/>
<outline type="rss" text="Atom" xmlUrl="$FBASE/atom10.xml"/></outline>
</body></opml>
OPML
    run curl -s -w '\n%{http_code}' -F "user=$U" -F "file=@$TB_DATA/subs.opml" "$BASE/api/opml"
    assert_eq "$(printf '%s\n' "$OUT" | tail -1)" "200"
    printf '%s\n' "$OUT" | sed '$d' >"$TB_DATA/out.opml"
    python3 - "$TB_DATA/out.opml" "$BASE/feed/$U/" <<'PY' || fail "rewritten OPML is wrong: $OUT"
import sys, xml.etree.ElementTree as ET
urls = [o.get("xmlUrl") for o in ET.parse(sys.argv[1]).getroot().iter("outline") if o.get("xmlUrl")]
assert len(urls) == 2 and all(u.startswith(sys.argv[2]) for u in urls), urls
PY
    for u in $(python3 -c 'import sys,xml.etree.ElementTree as ET; [print(o.get("xmlUrl")) for o in ET.parse(sys.argv[1]).getroot().iter("outline") if o.get("xmlUrl")]' "$TB_DATA/out.opml"); do
        n=0
        for _ in $(seq 1 100); do
            curl -sf -o "$TB_DATA/o.xml" "$u" && n=$(count_items "$TB_DATA/o.xml") && [ "$n" -gt 0 ] && break
            sleep 0.1
        done
        [ "$n" -gt 0 ] || fail "$u: no items after the OPML import"
    done
    run curl -sf "$BASE/api/feeds?user=$U"
    assert_out_contains "$FBASE/rss2.xml"
    assert_out_contains "$FBASE/atom10.xml"
    run curl -s "$BASE/metrics"
    assert_out_contains "tastebud_feeds_fetched_total 3"
}

# st KEY: a row count from `tastebud status` (opens the store itself).
st() { "$TB" --data-dir "$TB_DATA" status | sed -n "s/^$1: *\([0-9]*\).*/\1/p"; }
metric() { curl -sf "$BASE/metrics" | sed -n "s/^$1 \([0-9]*\)$/\1/p"; }

test_serve_e2e_kill_9_during_ingestion_loses_nothing() {
    e2e_fixtures
    e2e_model
    e2e_serve
    U=$(e2e_user)
    feed="$FBASE/topics.xml"
    curl -sf -o "$TB_DATA/f1.xml" "$BASE/feed/$U/$feed" || fail "first feed request"
    for l in $(links_of "$TB_DATA/f1.xml" pets | head -3); do
        run curl -s -o /dev/null -w '%{http_code}' "$l"
        assert_eq "$OUT" "302"
    done
    item=$(links_of "$TB_DATA/f1.xml" pets | sed -n 4p | sed 's|.*/||')
    run curl -sf -X POST -d "user=$U&item=$item&kind=like" "$BASE/api/feedback"
    assert_rc 0
    # The profile gets built (ranked feed, recommendations) and saved.
    ranked=""
    for _ in $(seq 1 100); do
        ranked=$(curl -s -D - -o /dev/null "$BASE/feed/$U/$feed" | sed -n 's/^X-Tastebud-Ranked: \(.*\)\r$/\1/Ip')
        [ "$ranked" = "yes" ] && break
        sleep 0.1
    done
    assert_eq "$ranked" "yes"
    run curl -sf "$BASE/api/recommendations?user=$U"
    assert_out_contains '"cold_start":false'
    for _ in $(seq 1 50); do [ "$(st profiles)" = "1" ] && break; sleep 0.1; done
    assert_eq "$(st profiles)" "1"
    events=$(st events)
    shown=$(metric tastebud_shown_recorded_total)
    echo "before: $events events ($shown shown), profile saved"
    [ "$events" -ge $((4 + 36)) ] || fail "expected 3 reads, 1 like and 36 shown events, have $events"

    # A big ingestion: four feeds of 400 items, two of them served slowly.
    cat >"$TB_DATA/big.opml" <<OPML
<?xml version="1.0"?>
<opml version="2.0"><body>
<outline type="rss" text="b1" xmlUrl="$FBASE/big-1.xml"/><outline type="rss" text="b2" xmlUrl="$FBASE/big-2.xml"/>
<outline type="rss" text="b3" xmlUrl="$FBASE/slow/big-3.xml"/><outline type="rss" text="b4" xmlUrl="$FBASE/slow/big-4.xml"/>
</body></opml>
OPML
    run curl -sf -X POST --data-binary "@$TB_DATA/big.opml" "$BASE/api/opml?user=$U"
    assert_rc 0
    for _ in $(seq 1 200); do
        [ "$(metric tastebud_feeds_fetched_total)" -ge 2 ] 2>/dev/null && break
        sleep 0.02
    done
    fetched=$(metric tastebud_feeds_fetched_total)
    embedded=$(metric tastebud_items_embedded_total)
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null || true
    echo "killed -9 with $fetched feeds fetched, $embedded items embedded"
    [ "$fetched" -ge 2 ] && [ "$fetched" -lt 5 ] || fail "kill did not happen during the ingestion ($fetched feeds fetched)"

    # The store opens cleanly and has everything that was answered.
    python3 - "$TB_DATA/tastebud.db" <<'PY' || fail "integrity check failed"
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0]
assert r == "ok", r
PY
    assert_eq "$(st users)" "1"
    assert_eq "$(st subscriptions)" "5"
    assert_eq "$(st events)" "$events"
    assert_eq "$(st profiles)" "1"

    # Restart: the profile is used at once, and the ingestion finishes.
    e2e_serve
    run curl -s -D "$TB_DATA/h" -o /dev/null -w '%{http_code}' "$BASE/feed/$U/$feed"
    assert_eq "$OUT" "200"
    grep -qi '^X-Tastebud-Ranked: yes' "$TB_DATA/h" || fail "not ranked after the restart"
    run curl -sf "$BASE/api/interests?user=$U"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["points"]) >= 4 and d["clusters"], d' "$OUT" ||
        fail "interests after the restart: $OUT"
    items=0
    for _ in $(seq 1 150); do
        items=$(st items)
        [ "$items" -eq $((36 + 4 * 400)) ] && break
        sleep 0.1
    done
    assert_eq "$items" "$((36 + 4 * 400))"
    [ "$(st events)" -ge "$events" ] || fail "events lost"
}

#!/usr/bin/env bash
# Browser end-to-end test of the web page: headless Chromium driven through
# chromedriver's WebDriver HTTP API with curl, against the real binary, the
# real fetcher and a local fixture feed server (tests/cli/fixture_httpd.py
# serving tests/cli/mkfeeds.py's feeds). It signs up, adds a feed, sees the
# feed link and today's picks, clicks "like" on one (and checks through the
# API that the like was recorded), reads a few items through /r/ with curl,
# looks at the interest map (points and clusters) and saves a screenshot to
# build/e2e/serve.png. Model: the default model when present (./data,
# build/test-data, $TASTEBUD_DATA_DIR), else a tiny GloVe model.
# Skips (exit 0) when chromium/chromedriver are missing.
#   usage: tests/e2e/serve.sh [BIN]
set -euo pipefail
BIN=${1:-bin/tastebud}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || true)
DRIVER=$(command -v chromedriver || true)
if [ -z "$CHROME" ] || [ -z "$DRIVER" ]; then
  echo "e2e: skipped (chromium and chromium-driver are not installed: scripts/install-deps e2e)"
  exit 0
fi
t0=$(date +%s)
mkdir -p build/e2e
rm -f build/e2e/serve.png build/e2e/serve-fail.png
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
SID=""
fail() {
  echo "e2e: FAIL: $*"
  [ -n "$SID" ] && wd GET /screenshot | val | base64 -d > build/e2e/serve-fail.png 2>/dev/null || true
  echo "--- server log"; tail -20 "$T/serve.log" || true
  exit 1
}
# wait_port FILE SED PID: the first match of SED in FILE, up to 15 s.
wait_port() {
  for _ in $(seq 300); do
    v=$(sed -n "$2" "$1" 2>/dev/null | head -1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Fixture feeds and their server.
python3 "$ROOT/tests/cli/mkfeeds.py" "$T/www"
python3 -u "$ROOT/tests/cli/fixture_httpd.py" "$T/www" >"$T/www.log" 2>&1 & PIDS+=($!)
FPORT=$(wait_port "$T/www.log" 's/^port \([0-9]*\)$/\1/p' "${PIDS[-1]}") || fail "fixture server did not start"
FEED="http://127.0.0.1:$FPORT/topics.xml"

# Model.
MODEL=""
for d in "${TASTEBUD_DATA_DIR:-}" "$ROOT/data" "$ROOT/build/test-data"; do
  if [ -n "$d" ] && [ -f "$d/models/wink-glove-100d/model.safetensors" ]; then
    MODEL="$d/models/wink-glove-100d"; break
  fi
done
if [ -z "$MODEL" ]; then
  "$BIN" model import-glove "$T/www/glove.txt" "$T/tiny" >/dev/null
  MODEL="$T/tiny"
fi

# The server.
"$BIN" --data-dir "$T/data" --set fetch_allow_hosts=127.0.0.1 --set min_reads=3 --set seed=1 \
  --set "model=$MODEL" serve --listen 127.0.0.1:0 2>"$T/serve.log" & PIDS+=($!)
PORT=$(wait_port "$T/serve.log" 's/.*listening on port \([0-9]*\).*/\1/p' "${PIDS[-1]}") || fail "server did not start"
BASE="http://127.0.0.1:$PORT"

# chromedriver on a free port (retry if the random one is taken).
WD=""
for _ in 1 2 3 4 5; do
  DPORT=$((30000 + RANDOM % 20000))
  "$DRIVER" --port=$DPORT >"$T/driver.log" 2>&1 & DP=$!
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$DPORT/status" >/dev/null 2>&1; then WD="http://127.0.0.1:$DPORT"; break; fi
    kill -0 $DP 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$WD" ]; then PIDS+=($DP); break; fi
  kill $DP 2>/dev/null || true; wait $DP 2>/dev/null || true
done
[ -n "$WD" ] || fail "chromedriver did not start: $(cat "$T/driver.log")"
caps=$(cat <<JSON
{"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":"$CHROME",
"args":["--headless","--no-sandbox","--disable-gpu","--disable-quic","--no-first-run",
"--disable-background-networking","--disable-component-update","--disable-sync",
"--disable-dev-shm-usage","--user-data-dir=$T/profile","--window-size=1000,2200"]}}}}
JSON
)
SID=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$caps" "$WD/session" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])') ||
  fail "no WebDriver session: $(tail -5 "$T/driver.log")"
S="$WD/session/$SID"
wd() { curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$S$2"; }
val() { python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print("" if v is None else v)'; }
# js EXPR: the value of a JavaScript expression in the page.
js() { wd POST /execute/sync "$(python3 -c 'import json,sys; print(json.dumps({"script": "return (" + sys.argv[1] + ");", "args": []}))' "$1")" | val; }
find() { wd POST /element "{\"using\":\"css selector\",\"value\":\"$1\"}" |
         python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(list(v.values())[0])'; }
click() { wd POST "/element/$(find "$1")/click" '{}' >/dev/null || fail "cannot click $1"; }
# until N JS-EXPR: wait (N tenths of a second) for the expression to be true.
until_js() { for _ in $(seq "$1"); do [ "$(js "$2")" = "True" ] && return 0; sleep 0.1; done; return 1; }

# Sign up.
wd POST /url "{\"url\":\"$BASE/\"}" >/dev/null
click '#signup-btn'
until_js 30 "document.getElementById('user-id').textContent.length == 32" || fail "sign-up gave no id"
uid=$(js "document.getElementById('user-id').textContent")
echo "e2e: signed up as ${uid:0:4}…"

# Add the fixture feed; the real fetcher fetches it.
wd POST "/element/$(find '#feed-url')/value" "{\"text\":\"$FEED\"}" >/dev/null
click '#feed-form button'
until_js 100 "document.getElementById('feeds').textContent.includes('/feed/$uid/')" ||
  fail "the feed link did not appear: $(js "document.getElementById('feeds').textContent")"
feeds=$(js "document.getElementById('feeds').textContent")
case "$feeds" in *"Three topics"*"36 items"*) ;; *) fail "feed list: $feeds" ;; esac

# See items: today's picks list the feed's items (reload until they are in).
for _ in $(seq 20); do
  [ "$(js "document.querySelectorAll('#recs li').length")" -gt 0 ] && break
  sleep 0.3
  wd POST /refresh '{}' >/dev/null
done
nrecs=$(js "document.querySelectorAll('#recs li').length")
[ "$nrecs" -gt 0 ] || fail "no picks listed"
echo "e2e: $nrecs picks listed"

# Like the first pick; the page marks it, the API has it.
liked=$(js "document.querySelector('#recs li a').textContent")
click '#recs li .fb-like'
until_js 30 "document.querySelector('#recs li').classList.contains('liked')" || fail "like not shown"
curl -sf "$BASE/metrics" | grep -q '^tastebud_events_recorded_total 1$' || fail "the like was not recorded"
curl -sf "$BASE/api/interests?user=$uid" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert any(p.get("title") == sys.argv[1] for p in d["points"]), d["points"]' "$liked" ||
  fail "the liked item is not in the user's interests"
echo "e2e: liked “$liked”"

# Reads through the tracked links of the filtered feed (as a reader would),
# of items other than the liked one.
curl -sf -o "$T/feed.xml" "$BASE/feed/$uid/$FEED" || fail "filtered feed"
python3 - "$T/feed.xml" "$liked" >"$T/reads" <<'PY'
import sys, xml.etree.ElementTree as ET
items = [i for i in ET.parse(sys.argv[1]).getroot().iter("item") if i.findtext("title") != sys.argv[2]]
for topic, n in (("pets", 4), ("space", 3)):
    for it in [i for i in items if i.findtext("title").startswith(topic)][:n]:
        print(it.findtext("link"))
PY
while read -r l; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$l")" = 302 ] || fail "read $l"
done <"$T/reads"

# The interest map: reload; points and clusters appear.
wd POST /refresh '{}' >/dev/null
for _ in $(seq 30); do
  [ "$(js "document.querySelectorAll('#map circle').length")" -ge 8 ] && break
  sleep 0.3
  wd POST /refresh '{}' >/dev/null
done
npts=$(js "document.querySelectorAll('#map circle').length")
[ "$npts" -ge 8 ] || fail "the interest map has $npts points (want 8: 7 reads + 1 like)"
ncl=$(js "document.querySelectorAll('#clusters li').length")
[ "$ncl" -ge 1 ] || fail "no interest clusters listed"
note=$(js "document.getElementById('map-note').textContent")
case "$note" in *"items you read"*) ;; *) fail "map note: $note" ;; esac
recs_note=$(js "document.getElementById('recs-note').textContent")
echo "e2e: map has $npts points in $ncl interests; picks: $recs_note"
# No feed text rendered as markup: the page has no element the feed injected.
[ "$(js "document.querySelectorAll('#recs script, #feeds script, #clusters script').length")" = 0 ] ||
  fail "markup from feed text in the page"

# The whole page in the screenshot: make the window as tall as the page.
h=$(js "document.documentElement.scrollHeight")
wd POST /window/rect "{\"width\":1000,\"height\":$((h + 140))}" >/dev/null || true
sleep 0.2
wd GET /screenshot | val | base64 -d > build/e2e/serve.png
wd DELETE "" >/dev/null || true
SID=""
echo "e2e: passed in $(( $(date +%s) - t0 )) s (screenshot build/e2e/serve.png)"

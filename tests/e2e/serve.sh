#!/usr/bin/env bash
# Browser end-to-end test of the web page: headless Chromium driven through
# chromedriver's WebDriver HTTP API with curl. Signs up, adds a feed, checks
# the feed link shows up, looks at the picks and the interest map, saves a
# screenshot to build/e2e/. Skips (exit 0) when chromium/chromedriver are
# missing.   usage: tests/e2e/serve.sh [BIN]
set -euo pipefail
BIN=${1:-bin/tastebud}
CHROME=$(command -v chromium || command -v chromium-browser || true)
DRIVER=$(command -v chromedriver || true)
if [ -z "$CHROME" ] || [ -z "$DRIVER" ]; then
  echo "e2e: skipped (chromium and chromium-driver are not installed: scripts/install-deps e2e)"
  exit 0
fi
mkdir -p build/e2e
T=$(mktemp -d)
cleanup() { kill "$SPID" "$DPID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
"$BIN" --data-dir "$T" serve --listen 127.0.0.1:0 2>"$T/serve.log" & SPID=$!
for _ in $(seq 100); do PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$T/serve.log"); [ -n "$PORT" ] && break; sleep 0.05; done
BASE="http://127.0.0.1:$PORT"
DPORT=$((30000 + RANDOM % 20000))
"$DRIVER" --port=$DPORT >"$T/driver.log" 2>&1 & DPID=$!
WD="http://127.0.0.1:$DPORT"
for _ in $(seq 100); do curl -sf "$WD/status" >/dev/null 2>&1 && break; sleep 0.1; done
caps=$(cat <<JSON
{"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":"$CHROME",
"args":["--headless","--no-sandbox","--disable-gpu","--disable-quic","--no-first-run",
"--disable-background-networking","--disable-component-update","--disable-sync",
"--user-data-dir=$T/profile","--window-size=1000,1400"]}}}}
JSON
)
SID=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$caps" "$WD/session" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
S="$WD/session/$SID"
wd() { curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$S$2"; }
val() { python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'; }
find() { wd POST /element "{\"using\":\"css selector\",\"value\":\"$1\"}" |
         python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(list(v.values())[0])'; }
text() { wd GET "/element/$(find "$1")/text" | val; }
fail() { echo "e2e: FAIL: $*"; wd GET /screenshot | val | base64 -d > build/e2e/serve-fail.png || true; exit 1; }

wd POST /url "{\"url\":\"$BASE/\"}" >/dev/null
wd POST "/element/$(find '#signup-btn')/click" '{}' >/dev/null
sleep 0.5
uid=$(text '#user-id')
[ ${#uid} -eq 32 ] || fail "sign-up gave no id (got '$uid')"
wd POST "/element/$(find '#feed-url')/value" '{"text":"https://example.invalid/feed.xml"}' >/dev/null
wd POST "/element/$(find '#feed-form button')/click" '{}' >/dev/null
for _ in $(seq 50); do
  feeds=$(text '#feeds'); case "$feeds" in *"/feed/$uid/"*) break ;; esac; sleep 0.1
done
case "$feeds" in *"/feed/$uid/"*) ;; *) fail "the feed link did not appear: $feeds" ;; esac
note=$(text '#map-note')
[ -n "$note" ] || fail "the interest map section is empty"
wd GET /screenshot | val | base64 -d > build/e2e/serve.png
wd DELETE "" >/dev/null || true
echo "e2e: passed (screenshot build/e2e/serve.png)"

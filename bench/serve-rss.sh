#!/usr/bin/env bash
# serve-rss.sh -- peak memory (VmHWM) of `tastebud serve` with the default
# model, after real work: a fixture feed server on loopback serving five
# feeds (1,636 items, tests/cli/mkfeeds.py), 20 users each importing them by
# OPML (the real fetcher and the embedding queue ingest everything), 10
# reads per user, every user's five filtered feeds rendered (ranked), the
# picks and interest map API for each user, then a burst of cached requests.
#   usage: bench/serve-rss.sh [BIN]     (run by build/bench/serve)
# Prints VmHWM / VmRSS of the server process. Skips when the default model
# is absent (scripts/fetch-default-model).
set -euo pipefail
BIN=${1:-bin/tastebud}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=""
for d in "${TASTEBUD_DATA_DIR:-}" "$ROOT/data" "$ROOT/build/test-data"; do
  if [ -n "$d" ] && [ -f "$d/models/wink-glove-100d/model.safetensors" ]; then MODEL="$d/models/wink-glove-100d"; break; fi
done
[ -n "$MODEL" ] || { echo "serve-rss: skipped (default model absent: scripts/fetch-default-model)"; exit 0; }
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"' EXIT
python3 "$ROOT/tests/cli/mkfeeds.py" "$T/www"
: >"$T/www.log"; : >"$T/serve.log"
python3 -u "$ROOT/tests/cli/fixture_httpd.py" "$T/www" >"$T/www.log" 2>&1 & PIDS+=($!)
for _ in $(seq 200); do FP=$(sed -n 's/^port //p' "$T/www.log"); [ -n "$FP" ] && break; sleep 0.05; done
F="http://127.0.0.1:$FP"
"$BIN" --data-dir "$T/data" --set fetch_allow_hosts=127.0.0.1 --set min_reads=3 --set "model=$MODEL" \
  --set access_log=false serve --listen 127.0.0.1:0 2>"$T/serve.log" & SPID=$!; PIDS+=($SPID)
for _ in $(seq 300); do P=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$T/serve.log"); [ -n "$P" ] && break; sleep 0.05; done
B="http://127.0.0.1:$P"
hwm() { awk '/^VmHWM:/ {printf "%.1f MB", $2 / 1024}' /proc/$SPID/status; }
rss() { awk '/^VmRSS:/ {printf "%.1f MB", $2 / 1024}' /proc/$SPID/status; }
echo "serve-rss: after start (model loaded): VmRSS $(rss), VmHWM $(hwm)"
{
  echo '<?xml version="1.0"?><opml version="2.0"><body>'
  for f in topics big-1 big-2 big-3 big-4; do echo "<outline type=\"rss\" text=\"$f\" xmlUrl=\"$F/$f.xml\"/>"; done
  echo '</body></opml>'
} >"$T/all.opml"
users=()
for _ in $(seq 20); do
  u=$(curl -sf -X POST "$B/api/users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -sf -o /dev/null -X POST --data-binary "@$T/all.opml" "$B/api/opml?user=$u"
  users+=("$u")
done

for _ in $(seq 600); do
  m=$(curl -sf "$B/metrics")
  e=$(echo "$m" | sed -n 's/^tastebud_items_embedded_total //p')
  [ "${e:-0}" -ge 1636 ] && break
  sleep 0.1
done
echo "serve-rss: $e items fetched and embedded"
for u in "${users[@]}"; do
  curl -sf -o "$T/f.xml" "$B/feed/$u/1"
  for l in $(grep -o "$B/r/$u/[0-9]*<" "$T/f.xml" | tr -d '<' | head -10); do curl -s -o /dev/null "$l"; done
done
for u in "${users[@]}"; do
  for id in 1 2 3 4 5; do curl -sf -o /dev/null "$B/feed/$u/$id"; done
  curl -sf -o /dev/null "$B/api/recommendations?user=$u"
  curl -sf -o /dev/null "$B/api/interests?user=$u"
done
if command -v wrk >/dev/null 2>&1; then
  wrk -t2 -c32 -d3s "$B/feed/${users[0]}/2" >/dev/null 2>&1 || true
fi
echo "serve-rss: after 20 users x 5 feeds, 200 reads, 100 ranked feeds, wrk burst: VmRSS $(rss), VmHWM $(hwm)"
echo "serve-rss: peak RSS (VmHWM) $(hwm) (target < 300 MB)"

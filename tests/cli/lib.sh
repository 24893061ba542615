# lib.sh -- assertions for the shell-level CLI tests (sourced by run.sh).
#
# Each test file defines functions named test_*; run.sh calls each in a fresh
# temporary data directory ($TB_DATA) with $TB pointing at the binary under
# test. An assertion that fails prints what it expected and what it got and
# returns non-zero; the test function stops there (run.sh runs with errexit
# inside each test).

# run CMD...: run the command, capturing stdout in $OUT, stderr in $ERR and
# the exit status in $RC. Never fails by itself.
run() {
    OUT_FILE=$(mktemp) ERR_FILE=$(mktemp)
    set +e
    "$@" >"$OUT_FILE" 2>"$ERR_FILE"
    RC=$?
    set -e
    OUT=$(cat "$OUT_FILE") ERR=$(cat "$ERR_FILE")
    rm -f "$OUT_FILE" "$ERR_FILE"
}

fail() { echo "    FAIL: $*" >&2; return 1; }

assert_rc() {
    [ "$RC" -eq "$1" ] || fail "expected exit status $1, got $RC (stderr: $ERR)"
}

assert_out_contains() {
    case "$OUT" in *"$1"*) ;; *) fail "stdout lacks '$1'; stdout was: $OUT" ;; esac
}

assert_err_contains() {
    case "$ERR" in *"$1"*) ;; *) fail "stderr lacks '$1'; stderr was: $ERR" ;; esac
}

assert_out_not_contains() {
    case "$OUT" in *"$1"*) fail "stdout unexpectedly has '$1'" ;; *) ;; esac
}

assert_eq() {
    [ "$1" = "$2" ] || fail "expected '$2', got '$1'"
}

# skip REASON: mark the current test skipped (counted, not failed).
skip() { echo "    SKIP: $*"; return 77; }

# make_tiny_catalogue DIR: a 4-d GloVe model of two topics (pets, food)
# imported as DIR/models/tiny, and DIR/cat.jsonl with 20 items of each
# (ids p1..p20 and f1..f20), so recommendation tests need no download.
make_tiny_catalogue() {
    cat >"$1/g.txt" <<'G'
the 0.1 0.2 0.3 0.4
cat 1 0 0 0
dog 0.9 0.1 0 0
kitten 0.95 0 0.05 0
sandwich 0 0 1 0
burger 0 0 0.9 0.1
pizza 0 0.1 0.9 0
G
    "$TB" --data-dir "$1" model import-glove "$1/g.txt" "$1/models/tiny" >/dev/null || return 1
    : >"$1/cat.jsonl"
    for i in $(seq 1 20); do
        printf '{"id": "p%d", "title": "cat dog %d", "text": "kitten"}\n' "$i" "$i" >>"$1/cat.jsonl"
        printf '{"id": "f%d", "title": "burger pizza %d", "text": "sandwich"}\n' "$i" "$i" >>"$1/cat.jsonl"
    done
}

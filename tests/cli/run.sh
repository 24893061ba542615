#!/usr/bin/env bash
# run.sh BIN [FILE...] -- run the shell-level CLI tests against BIN.
#
# Every tests/cli/test_*.sh (or the files given) is sourced in a subshell;
# each function in it named test_* runs with errexit in its own temporary
# data directory. Prints one line per test and a closing
# "cli: N passed, N failed, N skipped" line; exits non-zero if any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$here"/test_*.sh)
export TB ROOT="$root"
pass=0 failc=0 skipc=0
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    tests=$(bash -c "source '$here/lib.sh'; source '$f'; declare -F" | awk '$3 ~ /^test_/ {print $3}')
    for t in $tests; do
        TB_DATA=$(mktemp -d)
        export TB_DATA
        start=$(date +%s)
        ( cd "$root" && set -e && source "$here/lib.sh" && source "$f" && "$t" ) >"$TB_DATA.log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        if [ $rc -eq 0 ]; then
            pass=$((pass + 1)); echo "  ok    $(basename "$f" .sh)/$t (${secs}s)"
        elif [ $rc -eq 77 ]; then
            skipc=$((skipc + 1)); echo "  skip  $(basename "$f" .sh)/$t"; sed 's/^/        /' "$TB_DATA.log"
        else
            failc=$((failc + 1)); echo "  FAIL  $(basename "$f" .sh)/$t"; sed 's/^/        /' "$TB_DATA.log"
        fi
        rm -rf "$TB_DATA" "$TB_DATA.log"
    done
done
echo "cli: $pass passed, $failc failed, $skipc skipped"
[ $failc -eq 0 ]

#!/usr/bin/env bash
# Runs the whole suite and ends with "tests: N passed, N failed".
# Usage: tests/run.sh ASAN_BUILD_DIR FUZZ_BUILD_DIR
# Every test prints TAP lines ("ok ..." / "not ok ..."); a program that exits non-zero
# without reporting a failure (a sanitizer report at exit, a crash) counts as one more failure.
set -u
cd "$(dirname "$0")/.."
build=${1:-build/asan}
fuzzbuild=${2:-build/fuzz}
export FB_BUILD=$PWD/$build
export FB_ROOT=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=TAP
pass=0
fail=0
failed=()
logdir=$(mktemp -d /tmp/fbtest.XXXXXX)

run() { # name command...
    local name=$1; shift
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    local start=$(date +%s)
    "$@" >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -cE '^ok ' "$log")
    f=$(grep -cE '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name reported no result" >>"$log"; fi
    pass=$((pass + p)); fail=$((fail + f))
    printf '%-40s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $(( $(date +%s) - start ))
    if [ "$f" -gt 0 ]; then
        failed+=("$name")
        grep -E '^not ok ' "$log" | sed 's/^/    /'
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run "unit/$(basename "$t")" "$t"
done
for t in tests/integ/*.sh; do
    [ -x "$t" ] || continue
    run "integ/$(basename "$t" .sh)" timeout 900 "$t"
done
for t in tests/browser/*.sh; do
    [ -x "$t" ] || continue
    run "browser/$(basename "$t" .sh)" timeout 600 "$t"
done
for t in "$fuzzbuild"/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    run "fuzz/$(basename "$t")" scripts/fuzz.sh --one "$t" "${FUZZ_SMOKE_SECONDS:-10}"
done

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]} (logs in $logdir)"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# Runs libFuzzer targets on their committed corpus and dictionary.
#   scripts/fuzz.sh BUILD_DIR SECONDS        every target, SECONDS each
#   scripts/fuzz.sh --one BINARY SECONDS      one target; prints a TAP line
# New inputs go to a scratch corpus so the committed one stays small; a crash is saved in
# build/ and fails the run.
set -u
cd "$(dirname "$0")/.."
one() {
    local bin=$1 secs=$2 name
    name=$(basename "$bin"); name=${name#fuzz_}
    local corpus=fuzz/corpus/$name dict=fuzz/dict/$name.dict
    local scratch; scratch=$(mktemp -d /tmp/fbfuzz.XXXXXX)
    local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096
                -artifact_prefix=build/ -print_final_stats=1)
    [ -f "$dict" ] && args+=(-dict="$dict")
    "$bin" "${args[@]}" "$scratch" "$corpus" 2>&1 | tail -n 15
    if [ "${PIPESTATUS[0]}" -eq 0 ]; then
        echo "ok - fuzz $name ${secs}s without a crash"
        rm -rf "$scratch"; return 0
    fi
    echo "not ok - fuzz $name found a crash (artifact in build/)"
    rm -rf "$scratch"; return 1
}
if [ "${1:-}" = --one ]; then one "$2" "$3"; exit; fi
rc=0
for t in "$1"/fuzz/fuzz_*; do [ -x "$t" ] && { one "$t" "$2" || rc=1; }; done
exit $rc

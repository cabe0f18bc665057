#!/usr/bin/env bash
# The simulator's threads: the same run on 1, 2 and 3 threads gives the same JSON (except the
# thread count and the wall time), across the scenarios that cross parts in different ways
# (visitors trading, lossy links and corrupters, the TCP competitor and its sink, origin fallback
# over TCP behind symmetric NATs, spoofers), and a ThreadSanitizer build finds no data race in
# those runs.
set -u
. "$(dirname "$0")/sim_lib.sh"

strip() { echo "$1" | sed 's/,"threads":[0-9]*,"wall_seconds":[0-9.]*//'; }
scenarios=(
    "--n 48 --profile broadband --corrupt 0.3 --loss 0.02 --arrivals poisson --rate 400 --seed 5"
    "--n 40 --profile dsl --nat mixed --loss 0.01 --seed 2"
    "--n 16 --profile dsl --tcp --seed 3 --time-limit 40"
    "--n 8 --profile dsl --seed-rate 0.05 --nat mixed --symmetric 0.9 --seed 4"
    "--n 12 --profile broadband --spoof 3 --linger 1 --seed 6"
)
for sc in "${scenarios[@]}"; do
    # shellcheck disable=SC2086
    one=$(sim_json $sc --threads 1)
    ok=1
    for t in 2 3; do
        # shellcheck disable=SC2086
        other=$(sim_json $sc --threads $t)
        if [ "$(strip "$one")" != "$(strip "$other")" ]; then
            ok=0
            echo "# $sc: 1 and $t threads differ:"
            diff <(strip "$one" | tr ',' '\n') <(strip "$other" | tr ',' '\n') | head -10 |
                sed 's/^/# /'
        fi
    done
    if [ $ok = 1 ] && [ "$(field "$one" threads)" = 1 ] && [ "$(field "$other" threads)" = 3 ]; then
        echo "ok - the same result on 1, 2 and 3 threads: $sc"
    else
        echo "not ok - the same result on 1, 2 and 3 threads: $sc"
    fi
done
j=$(sim_json --n 8 --profile dsl --seed-rate 0.05 --nat mixed --symmetric 0.9 --seed 4 --threads 2)
check "the fallback scenario crossed parts over TCP" 'http_fetches > 0 && completed_fraction == 1' \
    "$j" http_fetches completed_fraction

# ThreadSanitizer: its own build of the binary (the tests' build is ASan's).
tsan=$FB_ROOT/build/tsan
if ! make -C "$FB_ROOT" -s BUILD="$tsan" TSAN=1 -j2 "$tsan/flashback" >/dev/null 2>&1; then
    echo "not ok - a ThreadSanitizer build of flashback"
    exit 1
fi
tsan_run() { # flags...: the TSan binary on 3 threads; without address randomization when the
    # kernel's layout is one this TSan cannot map (high mmap entropy)
    local out
    # shellcheck disable=SC2086
    out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" timeout 600 "$tsan/flashback" sim "$@" \
        --threads 3 --json 2>&1)
    local rc=$?
    if grep -q "unexpected memory mapping" <<<"$out" && command -v setarch >/dev/null; then
        out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" timeout 600 setarch "$(uname -m)" -R \
            "$tsan/flashback" sim "$@" --threads 3 --json 2>&1)
        rc=$?
    fi
    echo "$out"
    return $rc
}
for sc in "${scenarios[@]}"; do
    # shellcheck disable=SC2086
    if out=$(tsan_run $sc) && ! grep -q "ThreadSanitizer" <<<"$out"; then
        echo "ok - no data race (ThreadSanitizer, 3 threads): $sc"
    else
        echo "not ok - no data race (ThreadSanitizer, 3 threads): $sc"
        grep -A12 "ThreadSanitizer" <<<"$out" | head -30 | sed 's/^/# /'
    fi
done

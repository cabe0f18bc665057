#!/usr/bin/env bash
# make bench-sim: flash crowds of N = 1, 2, 4 ... 4096 visitors on the dsl and broadband profiles
# (burst arrivals, leave on completion), measured against the Kumar-Ross bound. Prints a table per
# profile and writes BUILD/bench/sim.json (one object per run) and BUILD/bench/sim.svg.
# Usage: bench/sim.sh BUILD_DIR
# Environment: BENCH_SIM_MAX (largest N, default 4096), BENCH_SIM_PROFILES (default
# "dsl broadband"), BENCH_SIM_SEED (default 1), BENCH_SIM_ARGS (extra flags for every run),
# BENCH_SIM_OUT (output folder, default BUILD/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
max=${BENCH_SIM_MAX:-4096}
profiles=${BENCH_SIM_PROFILES:-dsl broadband}
seed=${BENCH_SIM_SEED:-1}
out=${BENCH_SIM_OUT:-$build/bench}
mkdir -p "$out"
jsonl=$out/sim.jsonl
: >"$jsonl"
# Run a private copy of the binary, so a rebuild during the benchmark cannot mix versions.
bin=$(mktemp /tmp/flashback-bench.XXXXXX)
trap 'rm -f "$bin"' EXIT
cp "$build/flashback" "$bin"
chmod 755 "$bin"
"$bin" sim --help >/dev/null || { echo "bench-sim: $build/flashback does not run" >&2; exit 1; }

for p in $profiles; do
    n=1
    while [ "$n" -le "$max" ]; do
        # Bounded: the simulator stops at its virtual time limit, and the wall clock is capped.
        if ! timeout 1800 "$bin" sim --n "$n" --profile "$p" --seed "$seed" --time-limit-x 20 \
            ${BENCH_SIM_ARGS:-} --json >>"$jsonl"; then
            echo "bench-sim: run n=$n profile=$p failed" >&2
        fi
        n=$((n * 2))
    done
done

# sim.json: the runs as one JSON array.
{ echo "["; sed '$!s/$/,/' "$jsonl"; echo "]"; } >"$out/sim.json"

awk -f bench/sim_table.awk "$jsonl"
awk -f bench/sim_svg.awk "$jsonl" >"$out/sim.svg"
echo
echo "wrote $out/sim.json and $out/sim.svg"

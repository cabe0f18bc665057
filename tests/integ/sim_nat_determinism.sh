#!/usr/bin/env bash
# NAT and determinism. Cone NATs: visitors trade directly once the seed introduced them. All
# symmetric: no direct path, so no byte travels between visitors, and the seed and the origin
# fallback still deliver the page. The same --seed gives the same JSON (except wall time); another
# seed gives another run.
set -u
. "$(dirname "$0")/sim_lib.sh"

j=$(sim_json --n 16 --profile broadband --nat cone --seed 7)
check "cone NAT: all complete" 'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" \
    completed_fraction wrong_bytes_delivered
check "cone NAT: visitors trade directly after introduction" 'data_from_peers > 0' "$j" \
    data_from_peers

j=$(sim_json --n 12 --profile broadband --nat mixed --symmetric 1 --seed 7)
check "all symmetric NAT: all complete through the seed and the origin" \
    'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" completed_fraction \
    wrong_bytes_delivered
check "all symmetric NAT: no byte between visitors, the NATs filtered the punches" \
    'data_from_peers == 0 && nat_filtered > 0' "$j" data_from_peers nat_filtered

j=$(sim_json --n 16 --profile broadband --nat mixed --symmetric 0.5 --seed 7)
check "mixed NAT: all complete" 'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" \
    completed_fraction wrong_bytes_delivered

strip() { echo "$1" | sed 's/"wall_seconds":[0-9.]*//'; }
a=$(sim_json --n 16 --profile dsl --nat mixed --loss 0.01 --corrupt 0.2 --seed 11)
b=$(sim_json --n 16 --profile dsl --nat mixed --loss 0.01 --corrupt 0.2 --seed 11)
c=$(sim_json --n 16 --profile dsl --nat mixed --loss 0.01 --corrupt 0.2 --seed 12)
if [ "$(strip "$a")" = "$(strip "$b")" ]; then
    echo "ok - the same seed gives the same result"
else
    echo "not ok - the same seed gives the same result"
    diff <(strip "$a" | tr ',' '\n') <(strip "$b" | tr ',' '\n') | head -20 | sed 's/^/# /'
fi
if [ "$(strip "$a")" != "$(strip "$c")" ]; then
    echo "ok - another seed gives another run"
else
    echo "not ok - another seed gives another run"
fi

# Bad flags are clean usage errors.
for bad in "--n 0" "--profile fast" "--loss 1.5" "--nat full" "--bogus"; do
    "$FB_BUILD/flashback" sim $bad >/dev/null 2>&1
    rc=$?
    if [ "$rc" -eq 2 ]; then echo "ok - sim $bad: usage error"; else echo "not ok - sim $bad: exit $rc"; fi
done

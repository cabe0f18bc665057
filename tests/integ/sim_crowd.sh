#!/usr/bin/env bash
# The simulator on small crowds of both profiles: every honest visitor completes, no wrong byte
# is delivered, the makespan respects the Kumar-Ross bound (the model cannot beat physics), and
# the visitors carry part of the load.
set -u
. "$(dirname "$0")/sim_lib.sh"

j=$(sim_json --n 1 --profile dsl --seed 3)
check "dsl n=1: the visitor completes" 'completed_fraction == 1 && time_limit_hit == "false"' \
    "$j" completed_fraction time_limit_hit
check "dsl n=1: makespan >= T_min (F/d = 10.67 s) and within 2x of it" \
    'max >= 0.99 * t_min && max < 2 * t_min && t_min > 10.6 && t_min < 10.7' "$j" max t_min
check "dsl n=1: every chunk byte from the origin, none from visitors" \
    'data_from_seed + data_from_origin == bytes_per_page && data_from_peers == 0 && wrong_bytes_delivered == 0' \
    "$j" data_from_seed data_from_origin bytes_per_page data_from_peers wrong_bytes_delivered

j=$(sim_json --n 24 --profile dsl --seed 3)
check "dsl n=24: all complete, no wrong byte" \
    'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" completed_fraction \
    wrong_bytes_delivered
check "dsl n=24: makespan >= 0.99 T_min" 'max >= 0.99 * t_min && mean <= max' "$j" max t_min mean
check "dsl n=24: visitors upload part of the page" 'peer_bytes > 0 && data_from_peers > 0' \
    "$j" peer_bytes data_from_peers
check "dsl n=24: overlay turnover measured" 'max_turnover_10s > 0 && max_turnover_10s <= 1' \
    "$j" max_turnover_10s

j=$(sim_json --n 32 --profile broadband --seed 3)
check "broadband n=32: all complete, no wrong byte" \
    'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" completed_fraction \
    wrong_bytes_delivered
check "broadband n=32: makespan >= 0.99 T_min" 'max >= 0.99 * t_min' "$j" max t_min

j=$(sim_json --n 20 --profile broadband --arrivals poisson --rate 10 --linger 1 --seed 3)
check "poisson ramp with linger: all complete" \
    'completed_fraction == 1 && wrong_bytes_delivered == 0 && end_time > 1' "$j" \
    completed_fraction wrong_bytes_delivered end_time

# Bad flags: a one-line error naming the flag on stderr, exit status 2, nothing on stdout.
for args in "--n 0" "--n 100001" "--n 12x" "--seed -1" "--seed 1.5" "--profile cable" \
    "--loss 1" "--corrupt -0.1" "--arrivals wave" "--nat full" "--chunk-size 1000" \
    "--chunk-size 5000" "--chunk-size 65536" "--threads 0" "--threads 9" "--threads 1.5" \
    "--bogus" "--n"; do
    out=$("$FB_BUILD/flashback" sim $args --json 2>/tmp/fb_sim_err.$$)
    rc=$?
    err=$(head -c 300 /tmp/fb_sim_err.$$)
    flag=${args%% *}
    if [ "$rc" = 2 ] && [ -z "$out" ] && [ "$(wc -l </tmp/fb_sim_err.$$)" -le 2 ] &&
        echo "$err" | grep -q -- "$flag"; then
        echo "ok - sim $args: refused with '$err'"
    else
        echo "not ok - sim $args: status $rc, stdout '${out:0:80}', stderr '$err'"
    fi
done
rm -f /tmp/fb_sim_err.$$

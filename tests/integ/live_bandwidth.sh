#!/usr/bin/env bash
# The swarm against client-server under a capped origin (network namespaces,
# tests/lib/netns.sh): flashbackd in a public namespace whose link sends at most ORIGIN_CAP
# (tc tbf on the bridge side of its link, through an ifb device: a queue in the network, as a
# real uplink has, rather than on the sender's own interface, where Linux TCP aborts
# connections whose retransmissions its local qdisc keeps refusing), and N_PEERS hosts on the same public network, uncapped. First the
# crowd fetches the demo page through the swarm (`flashback get --all`, leaving on completion),
# then the same crowd fetches it client-server: every byte over HTTP from the origin with curl,
# as browsers do (the page and its objects, 4 connections per client, a transfer cut off is
# retried and resumed), under the same cap. Every file of every run is compared with the
# source. Prints the two completion times (last peer done) and their ratio, and asserts the
# swarm is faster. Timings are noisy on a shared machine. (curl's --retry stands for a browser's
# reload, should a transfer still be cut off.)
set -u
FB_ROOT=${FB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
FB_BUILD=${FB_BUILD:-$FB_ROOT/build}
FB=$FB_BUILD/flashback
FBD=$FB_BUILD/flashbackd
SC=$FB_BUILD/tools/sitecheck
LIB=$FB_ROOT/tests/lib/netns.sh
N_PEERS=${N_PEERS:-30}
ORIGIN_CAP=${ORIGIN_CAP:-10mbit}
SEED_RATE=${SEED_RATE:-9mbit} # under the cap, leaving room for HTTP (manifests, fallback)

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() {
    n=$((n + 1))
    echo "not ok $n - $*"
    failed=1
}
check() { # description command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
json() { grep -o "\"$2\":[0-9a-z]*" "$1" | tail -n1 | cut -d: -f2; }

for t in ip tc nft conntrack curl ss; do
    command -v "$t" >/dev/null || { notok "prerequisite $t is missing (scripts/deps.sh test)"; exit 1; }
done
for b in "$FB" "$FBD" "$SC"; do
    [ -x "$b" ] || { notok "$b is built"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { notok "network namespaces need root"; exit 1; }

. "$LIB"
ns_init
work=$(mktemp -d /tmp/fblivebw.$$.XXXXXX)
ns_at_exit "rm -rf '$work'"
R=$work/root
mkdir -p "$R"
cp -r "$FB_ROOT/site/." "$R/"
rm -f "$R/img/.stamp"
page_objs=$("$SC" links "$R/index.html" /) || { notok "sitecheck lists the demo page"; exit 1; }
page_bytes=0
for p in /index.html $page_objs; do page_bytes=$((page_bytes + $(stat -c %s "$R$p"))); done

ns_public && ns_public_host origin || { notok "topology"; exit 1; }
for i in $(seq "$N_PEERS"); do ns_public_host "p$i" || { notok "host p$i"; exit 1; }; done
ns_pin_neighbours && ns_cap_uplink origin "$ORIGIN_CAP" tbf
check "topology: the origin (egress capped at $ORIGIN_CAP) and $N_PEERS hosts on one network" [ $? -eq 0 ]
origin=$(ns_addr origin)
# Long send and keep-alive timeouts: 120 HTTP connections share the capped link in the
# client-server run, tbf drops, and TCP's backed-off retransmissions can leave a response
# without progress for more than the default 60 s (the connection would be reset), as the
# crowd benchmark found with nginx.
ns_bg origin "$FBD" --root "$R" --listen "$origin:8080" --seed-rate "$SEED_RATE" \
    --send-timeout 600 --keepalive-timeout 600 >"$work/fbd.out" 2>"$work/fbd.err"
FBD_PID=$NS_LAST_PID
ns_wait_port origin tcp 8080 && ns_wait_port origin udp 8080
check "flashbackd serves http://$origin:8080/, seed at $SEED_RATE" [ $? -eq 0 ]
O=http://$origin:8080
metrics() { ns_exec origin curl -s "$O/.flashback/metrics" >"$work/metrics.$1"; }
metric() { awk -v n="$2" '$1 == n {print $2}' "$work/metrics.$1"; }
# A first manifest request builds (and caches) the manifest outside the timed runs.
ns_exec p1 curl -s -o /dev/null "$O/.flashback/manifest/"

# crowd NAME swarm|curl: all peers at once; sets MS (time until the last one exited), FAIL,
# DIFF. A swarm peer is `flashback get --all`; a curl client fetches the page and each object.
crowd() {
    local name=$1 how=$2 i p rc
    local pids=() t0 t1 args=()
    for p in $page_objs; do args+=(-o "$p" "$O$p"); done
    t0=$(date +%s%N)
    for i in $(seq "$N_PEERS"); do
        if [ "$how" = swarm ]; then
            ns_bg "p$i" "$FB" get --quiet --stats --timeout 150 --all "$work/$name$i" "$O/" \
                >/dev/null 2>"$work/$name$i.err"
        else
            mkdir -p "$work/$name$i"
            (cd "$work/$name$i" && exec ip netns exec "$(ns_name "p$i")" curl -S --no-progress-meter --fail \
                --max-time 300 --retry 5 --retry-all-errors --retry-delay 1 -C - \
                --parallel --parallel-max 4 --create-dirs -o index.html "$O/" \
                "${args[@]/#\//}" 2>"$work/$name$i.err") &
            NS_LAST_PID=$!
            NS_PIDS+=("$NS_LAST_PID")
        fi
        pids+=("$NS_LAST_PID")
    done
    FAIL=0
    for i in $(seq "$N_PEERS"); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        if [ "$rc" -ne 0 ]; then
            FAIL=$((FAIL + 1))
            echo "# $name$i: exit $rc: $(tr '\r' '\n' <"$work/$name$i.err" | grep -v '^$' | tail -n 2 | tr '\n' ' ' | head -c 300)"
        fi
    done
    t1=$(date +%s%N)
    MS=$(((t1 - t0) / 1000000))
    DIFF=0
    for i in $(seq "$N_PEERS"); do
        for p in /index.html $page_objs; do cmp -s "$work/$name$i$p" "$R$p" || DIFF=$((DIFF + 1)); done
    done
}
sum() { local s=0 i v; for i in $(seq "$N_PEERS"); do v=$(json "$work/$1$i.err" "$2"); s=$((s + ${v:-0})); done; echo $s; }

metrics 0
crowd swarm swarm
swarm_ms=$MS
metrics 1
check "swarm: $N_PEERS peers exit 0 ($FAIL failed), every file identical ($DIFF differ)" [ "$FAIL" -eq 0 -a "$DIFF" -eq 0 ]
s_http=$(($(metric 1 flashback_http_sent_bytes_total) - $(metric 0 flashback_http_sent_bytes_total)))
s_udp=$(($(metric 1 flashback_seed_udp_sent_bytes_total) - $(metric 0 flashback_seed_udp_sent_bytes_total)))
echo "# swarm: last peer done after $swarm_ms ms; origin sent HTTP $s_http + seed UDP $s_udp bytes for $((N_PEERS * page_bytes)) delivered; peers report $(sum swarm bytes_peers) from peers, $(sum swarm bytes_seed) from the seed, $(sum swarm bytes_origin_http) over HTTP"

crowd plain curl
plain_ms=$MS
metrics 2
check "client-server: $N_PEERS curl clients exit 0 ($FAIL failed), every file identical ($DIFF differ)" [ "$FAIL" -eq 0 -a "$DIFF" -eq 0 ]
p_http=$(($(metric 2 flashback_http_sent_bytes_total) - $(metric 1 flashback_http_sent_bytes_total)))
echo "# client-server: last client done after $plain_ms ms; origin sent HTTP $p_http bytes over $(($(metric 2 flashback_http_connections_accepted_total) - $(metric 1 flashback_http_connections_accepted_total))) connections; $(grep -c 'Will retry' "$work"/plain*.err | awk -F: '{s += $2} END {print s + 0}') transfers retried"
ratio=$((swarm_ms * 1000 / (plain_ms > 0 ? plain_ms : 1)))
floor_ms=$((N_PEERS * page_bytes * 8 / $(_ns_rate_bits "$ORIGIN_CAP") * 1000))
echo "# ratio swarm / client-server = $((ratio / 1000)).$(printf %03d $((ratio % 1000))) ($swarm_ms ms / $plain_ms ms; client-server cannot beat $floor_ms ms at $ORIGIN_CAP)"
check "the swarm finished faster than client-server under a $ORIGIN_CAP origin ($swarm_ms < $plain_ms ms)" \
    [ "$swarm_ms" -lt "$plain_ms" ]
kill "$FBD_PID"
rc=0
wait "$FBD_PID" || rc=$?
check "flashbackd stopped cleanly (exit $rc)" [ "$rc" -eq 0 -a -z "$(grep -l Sanitizer "$work/fbd.err")" ]
exit $failed

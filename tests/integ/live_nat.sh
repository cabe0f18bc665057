#!/usr/bin/env bash
# The live swarm through real NATs (network namespaces, tests/lib/netns.sh): flashbackd in a
# public namespace, two port-restricted cone NATs (masquerade, `ct state new drop` on the WAN
# side) with two hosts each, and one symmetric NAT (masquerade with random ports) with two
# hosts. The seed is capped low (SEED_RATE) so that peers must trade. Every peer runs
# `flashback get --all --stats` of the demo page and every file is compared with the source.
#   1. a1 (behind cone c1) and b1 (behind cone c2) fetch together: both get chunks from each
#      other directly (peer bytes > 0 on both sides, the routers' conntrack shows the direct flow
#      answered, the seed's metrics count the introductions).
#   2. a3 fetches behind c1 and stays (lingers); a2 joins behind c1 too: it gets chunks from a3
#      over their LAN (local addresses): peer bytes > 0, and c1's WAN saw less than a page.
#   3. s1 and s2 behind the symmetric NAT: punching to the cone peer fails (conntrack shows it
#      unanswered), yet both complete through the fallback (seed over UDP, origin over HTTP,
#      each other over the LAN).
#   4. Keepalives: the routers forget UDP mappings after 25 s (conntrack timeouts lowered); after
#      35 s in which only a3's keepalives crossed c1, b2 joins behind c2 and still gets chunks
#      from a3: the seed's introduction reached a3 through the mapping the keepalive held, and
#      a3 punched back.
set -u
TAP_NUMBERED=1
. "$(dirname "$0")/../lib/integ.sh"
. "$FB_ROOT/tests/lib/netns.sh"
SEED_RATE=${SEED_RATE:-2mbit}
NAT_TIMEOUT=25 # seconds: the routers' UDP conntrack timeouts (the engine re-JOINs every 20 s)

json() { grep -o "\"$2\":[0-9a-z]*" "$1" | tail -n1 | cut -d: -f2; }

fb_need_cmds ip tc nft conntrack curl ss
fb_need_built "$FB" "$FBD" "$SC"
fb_need_root
ns_init
fb_ns_workdir livenat
fb_demo_site "$work"

ns_public && ns_public_host origin && ns_router c1 cone 2 && ns_router c2 cone 2 &&
    ns_router s1 symmetric 2 && ns_pin_neighbours
check "topology: origin, cone NATs c1 and c2, symmetric NAT s1, two hosts behind each" [ $? -eq 0 ]
for r in c1 c2 s1; do
    ns_exec "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=$NAT_TIMEOUT \
        net.netfilter.nf_conntrack_udp_timeout_stream=$NAT_TIMEOUT || { notok "conntrack timeouts on $r"; exit 1; }
done
origin=$(ns_addr origin)
fbd_ns_start origin "$SEED_RATE"
check "flashbackd serves http://$origin:8080/ and seeds on UDP port 8080 at $SEED_RATE" [ $? -eq 0 ]

metrics() { ns_exec origin curl -s "$O/.flashback/metrics" >"$work/metrics.$1"; }
metric() { awk -v n="$2" '$1 == n {print $2}' "$work/metrics.$1"; }

# peer HOST TAG ARGS...: starts `flashback get` of the demo page in HOST; its pid in PID_TAG.
declare -A PID
peer() {
    local host=$1 tag=$2
    shift 2
    ns_bg "$host" "$FB" get --stats --timeout 60 --all "$work/$tag" "$@" "$O/" \
        >"$work/$tag.out" 2>"$work/$tag.err"
    PID[$tag]=$NS_LAST_PID
}
# finish TAG: waits for the peer; sets RC.
finish() {
    RC=0
    wait "${PID[$1]}" || RC=$?
}
# wait_done TAG SECONDS: waits until a lingering peer reports completion (outputs written).
wait_done() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        grep -q 'flashback get: complete; seeding' "$work/$1.err" && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
same() {
    local p
    for p in /index.html $page_objs; do cmp -s "$work/$1$p" "$R$p" || return 1; done
}
# good RC TAG: the peer exited 0 and every file is identical.
good() { [ "$1" -eq 0 ] && same "$2"; }
sources() { echo "seed $(json "$work/$1.err" bytes_seed), peers $(json "$work/$1.err" bytes_peers), HTTP $(json "$work/$1.err" bytes_origin_http)"; }
# answered ROUTER DEST_IP: the router tracks a UDP flow to DEST_IP that got an answer.
answered() { ns_exec "$1" conntrack -L -p udp --orig-dst "$2" 2>/dev/null | grep -v UNREPLIED | grep -q udp; }
unanswered_only() {
    local all
    all=$(ns_exec "$1" conntrack -L -p udp --orig-dst "$2" 2>/dev/null | grep -c udp)
    [ "$all" -gt 0 ] && ! answered "$1" "$2"
}

metrics 0

# ---- 1. two cone NATs ------------------------------------------------------------------------
t0=$(date +%s)
peer c1-h1 a1
peer c2-h1 b1
finish a1
a1_rc=$RC
finish b1
b1_rc=$RC
check "a1 (behind c1): exit $a1_rc, every file identical ($(sources a1))" good "$a1_rc" a1
check "b1 (behind c2): exit $b1_rc, every file identical ($(sources b1))" good "$b1_rc" b1
check "a1 and b1 got chunks from each other across two cone NATs ($(json "$work/a1.err" bytes_peers) and $(json "$work/b1.err" bytes_peers) bytes)" \
    [ "$(json "$work/a1.err" bytes_peers)" -gt 0 -a "$(json "$work/b1.err" bytes_peers)" -gt 0 ]
check "c2 tracks an answered flow to c1's WAN address (direct path)" answered c2 "$(ns_addr c1)"
check "c1 tracks an answered flow to c2's WAN address (direct path)" answered c1 "$(ns_addr c2)"
metrics 1
check "the seed introduced peers ($(metric 1 flashback_seed_introductions_total)) after $(metric 1 flashback_seed_joins_total) joins" \
    [ "$(metric 1 flashback_seed_introductions_total)" -gt 0 -a "$(metric 1 flashback_seed_joins_total)" -ge 2 ]
echo "# phase 1: $(($(date +%s) - t0)) s"

# ---- 2. two hosts behind one NAT -------------------------------------------------------------
t0=$(date +%s)
peer c1-h1 a3 --linger 600
wait_done a3 60
a3_done=$?
echo "# a3 complete after $(($(date +%s) - t0)) s"
check "a3 (behind c1) completed and stays; every file identical" good "$a3_done" a3
wan0=$(ns_counter c1 wan rx)
peer c1-h2 a2
finish a2
wan1=$(ns_counter c1 wan rx)
check "a2 (behind c1 with a3): exit $RC, every file identical ($(sources a2))" good "$RC" a2
check "a2 got chunks from a3 ($(json "$work/a2.err" bytes_peers) bytes)" [ "$(json "$work/a2.err" bytes_peers)" -gt 0 ]
check "those crossed the LAN, not c1's WAN ($((wan1 - wan0)) bytes in on the WAN, page $page_bytes)" \
    [ $((wan1 - wan0)) -lt "$page_bytes" ]
echo "# phase 2: $(($(date +%s) - t0)) s (a2: complete at $(json "$work/a2.err" ms_complete) ms, exit at $(json "$work/a2.err" ms_total) ms)"

# ---- 3. the symmetric NAT --------------------------------------------------------------------
t0=$(date +%s)
peer s1-h1 s1
peer s1-h2 s2
finish s1
s1_rc=$RC
finish s2
s2_rc=$RC
check "s1 (behind the symmetric NAT): exit $s1_rc, every file identical ($(sources s1))" good "$s1_rc" s1
check "s2 (behind the symmetric NAT): exit $s2_rc, every file identical ($(sources s2))" good "$s2_rc" s2
check "punching from the symmetric NAT to the cone peer went unanswered, as it must" \
    unanswered_only s1 "$(ns_addr c1)"
metrics 2
echo "# phase 3: $(($(date +%s) - t0)) s"
echo "# seed: $(metric 2 flashback_seed_joins_total) joins, $(metric 2 flashback_seed_introductions_total) introductions, $(metric 2 flashback_seed_peers) tracked"

# ---- 4. keepalives hold the NAT mapping ------------------------------------------------------
quiet=$((NAT_TIMEOUT + 10))
sleep "$quiet" & wait $!
check "after ${quiet}s with nothing but keepalives, c1 still maps a3 to the seed" answered c1 "$origin"
peer c2-h2 b2
finish b2
check "b2 (behind c2): exit $RC, every file identical ($(sources b2))" good "$RC" b2
check "b2 got chunks from a3 through c1's mapping that only keepalives held ($(json "$work/b2.err" bytes_peers) bytes)" \
    [ "$(json "$work/b2.err" bytes_peers)" -gt 0 ]
ns_stop "${PID[a3]}"
metrics 3
echo "# metrics: HTTP $(metric 3 flashback_http_sent_bytes_total) bytes, seed UDP $(metric 3 flashback_seed_udp_sent_bytes_total) bytes, $(metric 3 flashback_seed_joins_total) joins, $(metric 3 flashback_seed_introductions_total) introductions"
fbd_stop "$FBD_PID" "$work/fbd.err"
exit $failed

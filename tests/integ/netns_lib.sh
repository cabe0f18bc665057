#!/usr/bin/env bash
# Self-test of tests/lib/netns.sh: builds two port-restricted cone NATs and one symmetric NAT
# with one host each, and shows with build/tools/udpprobe (UDP) and nginx + curl (TCP) that the
# topology behaves as the NAT tests and benchmarks assume: hosts reach the public server, which
# sees the routers' WAN addresses; cone hosts hole-punch after exchanging those addresses, but
# nothing unsolicited gets in; the symmetric NAT maps each destination to a new port, so
# punching to it fails; caps and losses hold roughly; teardown leaves no namespace behind.
set -u
FB_ROOT=${FB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
FB_BUILD=${FB_BUILD:-$FB_ROOT/build}
PROBE=$FB_BUILD/tools/udpprobe
LIB=$FB_ROOT/tests/lib/netns.sh

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { # description command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}

for t in ip tc nft conntrack nginx curl ss; do
    command -v "$t" >/dev/null || { notok "prerequisite $t is missing (scripts/deps.sh test)"; exit 1; }
done
[ -x "$PROBE" ] || { notok "udpprobe not built at $PROBE"; exit 1; }
[ "$(id -u)" -eq 0 ] || { notok "network namespaces need root"; exit 1; }

. "$LIB"
ns_init
work=$(mktemp -d /tmp/fbnetns.XXXXXX)
ns_at_exit "rm -rf '$work'"

ns_public && ns_public_host origin && ns_router c1 cone 1 && ns_router c2 cone 1 &&
    ns_router s1 symmetric 1
check "topology built: public bridge, origin, two cone NATs, one symmetric NAT" [ $? -eq 0 ]
origin=$(ns_addr origin)
ns_pin_neighbours
pinned=$(ip -n "$(ns_name origin)" neigh show nud permanent | grep -c lladdr)
check "neighbour tables pinned: the origin has 4 permanent entries (bridge, 3 routers): $pinned" \
    [ "$pinned" -eq 4 ]

# Two rendezvous ports on the origin: a NAT's mapping is judged by comparing them.
ns_bg origin "$PROBE" serve 3478 120 >"$work/serve1.out"
ns_bg origin "$PROBE" serve 3479 120 >"$work/serve2.out"
ns_wait_port origin udp 3478 && ns_wait_port origin udp 3479
check "rendezvous listening on udp 3478 and 3479" [ $? -eq 0 ]

declare -A seen1 seen2
for h in c1-h1 c2-h1 s1-h1; do
    seen1[$h]=$(ns_exec "$h" "$PROBE" ask 5000 "$origin:3478" 3000)
    seen2[$h]=$(ns_exec "$h" "$PROBE" ask 5000 "$origin:3479" 3000)
done
for h in c1-h1 c2-h1 s1-h1; do
    r=${h%-h1}
    check "$h reaches the public server (observed ${seen1[$h]:-nothing})" [ -n "${seen1[$h]}" ]
    check "server observes $h as its router's WAN address $(ns_addr "$r")" \
        [ "${seen1[$h]%:*}" = "$(ns_addr "$r")" -a "${seen2[$h]%:*}" = "$(ns_addr "$r")" ]
done
check "server log shows the routers' addresses, never a private one" \
    bash -c "grep -q '^from ' '$work/serve1.out' && ! grep -q '^from 10\.' '$work/serve1.out'"
check "cone NAT keeps one external port for every destination (${seen1[c1-h1]}, ${seen2[c1-h1]})" \
    [ "${seen1[c1-h1]}" = "${seen2[c1-h1]}" ]
check "symmetric NAT picks a new external port per destination (${seen1[s1-h1]}, ${seen2[s1-h1]})" \
    [ -n "${seen1[s1-h1]}" -a "${seen1[s1-h1]}" != "${seen2[s1-h1]}" ]

# Unsolicited traffic must not get through a cone NAT: c1-h1 sends to c2-h1's observed address
# while c2-h1 only listens (it has talked to the rendezvous only).
ns_bg c2-h1 "$PROBE" serve 5000 2 >"$work/listen.out"
ns_wait_port c2-h1 udp 5000
ns_exec c1-h1 "$PROBE" send 5000 "${seen1[c2-h1]}" 20
wait "$NS_LAST_PID"
check "an unsolicited datagram does not cross a cone NAT" \
    bash -c "grep -q ready '$work/listen.out' && ! grep -q '^from' '$work/listen.out'"
# The WAN-side drop keeps it from creating a conntrack entry, which would make masquerade remap
# c2-h1's port later (seen without the rule: 5000 became 1061).
tracked=$(ns_exec c2 conntrack -L -s "$(ns_addr c1)" 2>/dev/null | grep -c .)
check "the unsolicited datagram left no conntrack entry on the cone router ($tracked)" \
    [ "$tracked" -eq 0 ]

# Hole punching between the two cone hosts with the server-observed addresses: both send,
# both receive.
ns_exec c1-h1 "$PROBE" punch 5000 "${seen1[c2-h1]}" 5 >"$work/p1.out" &
p1=$!
ns_exec c2-h1 "$PROBE" punch 5000 "${seen1[c1-h1]}" 5 >"$work/p2.out" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "cone host 1 receives cone host 2's punch ($(cat "$work/p1.out"))" [ $r1 -eq 0 ]
check "cone host 2 receives cone host 1's punch ($(cat "$work/p2.out"))" [ $r2 -eq 0 ]

# Punching to the symmetric NAT with its server-observed address must fail both ways.
ns_exec c1-h1 "$PROBE" punch 5001 "${seen1[s1-h1]}" 2 >"$work/p3.out" &
p1=$!
ns_exec s1-h1 "$PROBE" punch 5000 "${seen1[c1-h1]%:*}:5001" 2 >"$work/p4.out" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "a cone host cannot punch to the symmetric NAT's observed port" [ $r1 -ne 0 ]
check "the symmetric host cannot punch to the cone host either" [ $r2 -ne 0 ]

# Two hosts behind the same NAT reach each other on their LAN addresses (as ICE host candidates
# do), without the router translating anything.
ns_router lan cone 2
ns_exec lan-h1 "$PROBE" punch 5000 "$(ns_addr lan-h2):5000" 3 >"$work/p5.out" &
p1=$!
ns_exec lan-h2 "$PROBE" punch 5000 "$(ns_addr lan-h1):5000" 3 >"$work/p6.out" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "two hosts behind one NAT reach each other on local addresses" [ $r1 -eq 0 -a $r2 -eq 0 ]

# Conntrack flush: the router forgets its mappings.
before=$(ns_exec c1 conntrack -C 2>/dev/null)
ns_flush_conntrack c1
after=$(ns_exec c1 conntrack -C 2>/dev/null)
check "conntrack flush empties the router's table ($before -> $after entries)" \
    [ "${before:-0}" -gt 0 -a "${after:-1}" -eq 0 ]

# Random loss on the origin's ingress: 30% of 400 datagrams. Binomial sd is about 9; allow a
# wide margin.
ns_loss origin eth0 30 udp
ns_bg origin "$PROBE" serve 4000 3 >"$work/loss.out"
ns_wait_port origin udp 4000
ns_exec c1-h1 "$PROBE" send 6000 "$origin:4000" 400
wait "$NS_LAST_PID"
got=$(grep -c '^from' "$work/loss.out")
check "30% random loss delivers 240..320 of 400 datagrams (got $got)" [ "$got" -ge 240 -a "$got" -le 320 ]
ns_unloss origin
ns_bg origin "$PROBE" serve 4001 2 >"$work/loss2.out"
ns_wait_port origin udp 4001
ns_exec c1-h1 "$PROBE" send 6001 "$origin:4001" 200
wait "$NS_LAST_PID"
got=$(grep -c '^from' "$work/loss2.out")
check "without the loss rule 195..200 of 200 arrive (got $got)" [ "$got" -ge 195 ]

# Rate cap: a 3 MB TCP transfer from nginx on the origin, before and after an 8 Mbit/s cap on
# the origin's egress. Wide margins: two shared cores.
mkdir -p "$work/www"
head -c 3000000 /dev/urandom >"$work/www/f.bin"
ns_nginx origin "$work/www" 8080 "$work/nginx"
check "nginx answers inside the origin namespace" [ $? -eq 0 ]
fetch() { ns_exec c1-h1 curl -s -m 30 -o /dev/null -w '%{speed_download}' "http://$origin:8080/f.bin"; }
fast=$(fetch)
fast=${fast%.*}
ns_cap origin eth0 8mbit tbf
capped=$(fetch)
capped=${capped%.*}
check "uncapped transfer is far above 8 Mbit/s ($((${fast:-0} * 8 / 1000)) kbit/s)" \
    [ "${fast:-0}" -gt 4000000 ]
check "tbf 8mbit cap holds: 5..9 Mbit/s measured ($((${capped:-0} * 8 / 1000)) kbit/s)" \
    [ "${capped:-0}" -ge 625000 -a "${capped:-0}" -le 1125000 ]
ns_cap origin eth0 4mbit htb
capped=$(fetch)
capped=${capped%.*}
check "htb 4mbit cap holds: 2.5..4.5 Mbit/s measured ($((${capped:-0} * 8 / 1000)) kbit/s)" \
    [ "${capped:-0}" -ge 312500 -a "${capped:-0}" -le 562500 ]
ns_uncap origin eth0
ns_cap_uplink origin 8mbit tbf
capped=$(fetch)
capped=${capped%.*}
check "uplink cap (ifb on the bridge side) 8mbit holds: 5..9 Mbit/s ($((${capped:-0} * 8 / 1000)) kbit/s)" \
    [ "${capped:-0}" -ge 625000 -a "${capped:-0}" -le 1125000 ]
ns_uncap_uplink origin
fast=$(fetch)
fast=${fast%.*}
check "removing the uplink cap restores full speed ($((${fast:-0} * 8 / 1000)) kbit/s)" \
    [ "${fast:-0}" -gt 4000000 ]

# Routing without NAT: a host behind a router of kind none keeps its private address.
ns_router plain none 1
ns_bg origin "$PROBE" serve 4002 5 >/dev/null
ns_wait_port origin udp 4002
seen=$(ns_exec plain-h1 "$PROBE" ask 5000 "$origin:4002" 3000)
check "a router of kind none forwards without translation (observed $seen)" \
    [ "${seen%:*}" = "$(ns_addr plain-h1)" ]

# Teardown: the namespaces of this run disappear, and so do those of a run that fails (set -e)
# or is killed by a signal.
tag=$NS_TAG
ns_teardown # also runs the ns_at_exit hook that removed $work
work=$(mktemp -d /tmp/fbnetns.XXXXXX)
check "teardown removes every namespace of the run" \
    bash -c "! ip netns list | grep -q '^$tag-'"
child=$(bash -c ". '$LIB'; set -e; ns_init; echo \$NS_TAG; ns_public; ns_public_host x; false" 2>/dev/null)
check "a run that fails under set -e leaves no namespace ($child)" \
    bash -c "[ -n '$child' ] && ! ip netns list | grep -q '^$child-'"
bash -c ". '$LIB'; ns_init; echo \$NS_TAG; ns_public; ns_public_host x; ns_bg x sleep 60; sleep 60 & wait" \
    >"$work/child.out" 2>/dev/null &
cpid=$!
for ((i = 0; i < 100; i++)); do
    t=$(head -n1 "$work/child.out" 2>/dev/null)
    [ -n "$t" ] && ip netns list | grep -q "^$t-x" && break
    sleep 0.1
done
kill -TERM $cpid
wait $cpid 2>/dev/null
check "a run killed by SIGTERM leaves no namespace ($t)" \
    bash -c "[ -n '$t' ] && ! ip netns list | grep -q '^$t-'"
rm -rf "$work"
echo "1..$n"

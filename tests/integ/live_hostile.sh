#!/usr/bin/env bash
# Hostile traffic against flashbackd's seed, from another network namespace (tests/lib/netns.sh,
# tools/udpspoof.c sending with forged IPv4 source addresses through a raw socket):
#   1. Spoofed requests: every message a stranger can send (JOINs without or with a forged token,
#      REQUESTs, HELLO, PING, ...) for the real swarm, with the source address of a victim host.
#      What reaches the victim (counted in its own namespace) is at most 3x the bytes sent in its
#      name, and never a peer list (PEERS) or a chunk (DATA): only address-validation TOKENs.
#   2. A flood of 100,000 garbage datagrams from forged addresses: a real peer fetching during
#      the flood and another after it both complete with every byte right, flashbackd's resident
#      memory stays within a small margin, and its metrics count the datagrams it refused.
set -u
TAP_NUMBERED=1
. "$(dirname "$0")/../lib/integ.sh"
. "$FB_ROOT/tests/lib/netns.sh"
SPOOF=$FB_BUILD/tools/udpspoof
FLOOD=${FLOOD:-100000}
FLOOD_RATE=${FLOOD_RATE:-20000} # datagrams per second
RSS_MARGIN=${RSS_MARGIN:-2097152} # bytes

fb_need_cmds ip tc nft conntrack curl ss
fb_need_built "$FB" "$FBD" "$SC" "$SPOOF"
fb_need_root
ns_init
fb_ns_workdir livehostile
fb_demo_site "$work"

ns_public && ns_public_host origin && ns_public_host attacker && ns_public_host victim &&
    ns_public_host peer && ns_pin_neighbours
check "topology: origin, attacker, victim and a peer on one network" [ $? -eq 0 ]
origin=$(ns_addr origin)
victim=$(ns_addr victim)
fbd_ns_start origin 4mbit
check "flashbackd serves http://$origin:8080/ and seeds on UDP port 8080" [ $? -eq 0 ]
metrics() { ns_exec origin curl -s "$O/.flashback/metrics" >"$work/metrics.$1"; }
metric() { awk -v n="$2" '$1 == n {print $2}' "$work/metrics.$1"; }
dropped() { # all datagrams refused, by every reason, in scrape $1
    awk '$1 ~ /^flashback_seed_dropped_datagrams_total/ {s += $2} END {print s + 0}' "$work/metrics.$1"
}
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$FBD_PID/status"; }
kernel_drops() { ns_exec origin awk '/^Udp:/ && $2 ~ /^[0-9]/ {print $4}' /proc/net/snmp; } # InErrors (buffer full included)

# get TAG: a real peer fetches the demo page; RC and the files in $work/TAG.
get() {
    RC=0
    ns_exec peer "$FB" get --quiet --stats --timeout 60 --all "$work/$1" "$O/" >/dev/null \
        2>"$work/$1.err" || RC=$?
}
good() { [ "$1" -eq 0 ] && fb_same_site "$work/$2"; }

# A real peer first: the swarm exists, flashbackd's allocations are warm.
get warm
check "a real peer completes (exit $RC), every file identical" good "$RC" warm
ns_exec attacker curl -s -o "$work/manifest" "$O/.flashback/manifest/"
check "the attacker has the page's manifest (and so the swarm id)" [ -s "$work/manifest" ]

# ---- 1. spoofed requests -----------------------------------------------------------------------
metrics 0
ns_bg victim "$SPOOF" sink 4000 8 >"$work/sink.out"
sink=$NS_LAST_PID
ns_wait_port victim udp 4000
ns_exec attacker "$SPOOF" attack "$victim:4000" "$origin:8080" "$work/manifest" 200 >"$work/attack.out"
wait "$sink"
metrics 1
read -r _ sent_n sent_b <"$work/attack.out"
read -r _ got_n got_b < <(grep '^got ' "$work/sink.out")
types=$(awk '/^type / {printf "%s:%s ", $2, $3}' "$work/sink.out")
echo "# spoofed: $sent_n datagrams, $sent_b bytes sent in the victim's name; the victim got $got_n datagrams, $got_b bytes (types ${types:-none})"
check "the attack was sent ($sent_n datagrams)" [ "${sent_n:-0}" -gt 0 ]
check "the victim got at most 3x the bytes sent in its name ($got_b <= 3 x $sent_b)" \
    [ "${got_b:-0}" -le $((3 * ${sent_b:-0})) ]
check "the victim got no peer list and no chunk, only TOKENs ($types)" \
    [ -z "$(awk '/^type / && $2 != 2' "$work/sink.out")" ]
check "the spoofer was never tracked ($(metric 1 flashback_seed_peers) peers), its requests refused ($(($(metric 1 'flashback_seed_dropped_datagrams_total{reason="unvalidated"}') - $(metric 0 'flashback_seed_dropped_datagrams_total{reason="unvalidated"}'))) unvalidated)" \
    [ "$(metric 1 flashback_seed_peers)" -eq 0 -a \
    "$(metric 1 'flashback_seed_dropped_datagrams_total{reason="unvalidated"}')" -gt "$(metric 0 'flashback_seed_dropped_datagrams_total{reason="unvalidated"}')" ]
check "no chunk byte left the seed for the spoofer ($(metric 0 flashback_seed_chunk_sent_bytes_total) before, $(metric 1 flashback_seed_chunk_sent_bytes_total) after)" \
    [ "$(metric 1 flashback_seed_chunk_sent_bytes_total)" -eq "$(metric 0 flashback_seed_chunk_sent_bytes_total)" ]

# ---- 2. a garbage flood --------------------------------------------------------------------------
rss0=$(rss)
kd0=$(kernel_drops)
metrics 2
ns_bg attacker "$SPOOF" flood "${origin%.*}" "$origin:8080" "$FLOOD" "$FLOOD_RATE" >"$work/flood.out"
flood=$NS_LAST_PID
t0=$(date +%s%N)
get during
during_ms=$((($(date +%s%N) - t0) / 1000000))
flood_running=0
kill -0 "$flood" 2>/dev/null && flood_running=1
check "a real peer completes during the flood (exit $RC in $during_ms ms, flood still running: $flood_running), every file identical" \
    good "$RC" during
wait "$flood"
read -r _ flood_n flood_b <"$work/flood.out"
sleep 1 # let the socket drain
get after
check "a real peer completes after the flood (exit $RC), every file identical" good "$RC" after
metrics 3
rss1=$(rss)
kd1=$(kernel_drops)
refused=$(($(dropped 3) - $(dropped 2)))
kdrops=$((kd1 - kd0))
echo "# flood: ${flood_n:-0} datagrams ($flood_b bytes) at $FLOOD_RATE/s; flashbackd refused $refused, the kernel dropped $kdrops (buffer full)"
echo "# flashbackd RSS: $rss0 bytes before the flood, $rss1 after ($((rss1 - rss0)) bytes); metrics say $(metric 3 process_resident_memory_bytes)"
check "the flood was sent (${flood_n:-0} datagrams)" [ "${flood_n:-0}" -eq "$FLOOD" ]
check "flashbackd counted every garbage datagram it read as refused ($refused + $kdrops dropped by the kernel >= $FLOOD)" \
    [ $((refused + kdrops)) -ge "$FLOOD" ]
check "flashbackd's memory stayed bounded (RSS grew $((rss1 - rss0)) bytes, margin $RSS_MARGIN)" \
    [ $((rss1 - rss0)) -le "$RSS_MARGIN" ]
fbd_stop "$FBD_PID" "$work/fbd.err"
exit $failed

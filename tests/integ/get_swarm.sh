#!/usr/bin/env bash
# `flashback get` in a real swarm on loopback: flashbackd serving the demo site (site/), its
# manifests, and its seed capped at SEED_RATE, and a crowd of N_PEERS concurrent `flashback get
# --all` of the demo page. Every file of every peer must be byte-identical to the source, and the
# origin (HTTP bytes plus the seed's UDP bytes, from flashbackd's /.flashback/metrics) must have
# supplied under 40% of all the bytes the crowd received. Meanwhile a peer is flooded with garbage
# datagrams (it must still finish) and a peer given a corrupt manifest fails with exit 5. A seed
# that sends only corrupt chunks costs a peer time, never a wrong byte. Last, flashbackd is
# killed right after a peer fetched the manifest: exit 6, in bounded time.
#
# The corrupt manifest and the hostile seed cannot come from flashbackd: there the origin is
# nginx plus tools/fbseed (a seed built on the same engine and filestore, with --corrupt).
set -u
. "$(dirname "$0")/../lib/integ.sh"
SEED=$FB_BUILD/tools/fbseed
N_PEERS=${N_PEERS:-50}
SEED_RATE=${SEED_RATE:-2000000} # bytes per second
fb_tmpdir swarm
json() { grep -o "\"$2\":[0-9a-z]*" "$1" | head -n1 | cut -d: -f2; }
# metric FILE NAME: a sample's value in a Prometheus text scrape (labels included in NAME).
metric() { awk -v n="$2" '$1 == n {print $2}' "$1"; }

fb_need_built "$FB" "$FBD" "$SEED" "$SC"
fb_need_cmds nginx
fb_demo_site "$T"

# start_fbd RATE: flashbackd on 127.0.0.1:0 serving $R, its seed capped at RATE bytes/s.
# Sets O and FBD_PID.
start_fbd() { fbd_serve_site fbd "$1"; }
# stop_fbd: SIGTERM, a graceful stop; flashbackd must exit 0 without a sanitizer report.
stop_fbd() { fbd_stop "$FBD_PID" "$T/fbd.err"; }

# start_origin RATE: a stand-in origin for what flashbackd never serves: tools/fbseed (capped at
# RATE bytes/s, with $SEED_ARGS) and nginx serving the files, the manifest of / (naming the seed)
# and a corrupt manifest for /bad.html. Sets NO (its URL), SEED_PORT.
start_origin() {
    fbseed_start seed --rate "$1" ${SEED_ARGS:-} "$R" "$T/manifest.txt" / $page_objs || return 1
    sed '5s/^./g/' "$T/manifest.txt" >"$T/bad.txt"
    fb_nginx_start origin_conf || return 1
    NO=http://127.0.0.1:$NGINX_PORT
}
# origin_conf PORT: nginx's server for the stand-in origin (see fb_nginx_start).
origin_conf() {
    cat <<EOF
  access_log off;
  server {
    listen 127.0.0.1:$1 backlog=1024;
    root $R;
    location = /.flashback/manifest/ { root $T; try_files /manifest.txt =404;
                                       add_header Flashback-Seed $SEED_PORT; }
    location = /.flashback/manifest/bad.html { root $T; try_files /bad.txt =404;
                                               add_header Flashback-Seed $SEED_PORT; }
  }
EOF
}
stop_origin() {
    kill "$NGINX_PID" "$SEED_PID" 2>/dev/null
    wait "$NGINX_PID" "$SEED_PID" 2>/dev/null
    fb_forget "$NGINX_PID"
    fb_forget "$SEED_PID"
}

start_fbd "$SEED_RATE" || { notok "flashbackd starts"; cat "$T/fbd.out" "$T/fbd.err"; exit 1; }
ok "flashbackd on $O, seed at $SEED_RATE B/s, page $page_bytes bytes"
# The hostile seed's origin (for the corrupt manifest during the crowd, and the hostile seed).
SEED_ARGS="--corrupt 1"
start_origin "$SEED_RATE" || { notok "the stand-in origin starts"; cat "$T/logs/start.log" "$T/seed.err"; exit 1; }
SEED_ARGS=
curl -s -o "$T/metrics0" -w '%{size_header} %{size_download}\n' "$O/.flashback/metrics" >"$T/scrape0" ||
    { notok "metrics before the crowd"; exit 1; }
scrape0=$(awk '{print $1 + $2}' "$T/scrape0")

# ---- the crowd -------------------------------------------------------------------------------
t0=$(date +%s%N)
pids=()
for i in $(seq "$N_PEERS"); do
    "$FB" get --quiet --stats --timeout 90 --all "$T/p$i" "$O/" >"$T/p$i.out" 2>"$T/p$i.err" &
    pids+=($!)
done
# A peer that stays 2 s after completion to upload.
"$FB" get --quiet --stats --timeout 90 --linger 2 -o "$T/linger.html" "$O/" >/dev/null \
    2>"$T/linger.err" &
lingerer=$!
# A peer on a known port, flooded with garbage datagrams while it downloads.
flood_port=$(fb_free_port)
"$FB" get --quiet --stats --timeout 90 --bind "127.0.0.1:$flood_port" --all "$T/flooded" "$O/" \
    >"$T/flooded.out" 2>"$T/flooded.err" &
flooded=$!
(
    for i in $(seq 3000); do
        kill -0 "$flooded" 2>/dev/null || break
        printf 'FB\x01garbage %d %s' "$i" "$RANDOM$RANDOM$RANDOM" >/dev/udp/127.0.0.1/$flood_port
    done
) 2>/dev/null &
flooder=$!
# A peer given a corrupt manifest, in the middle of the crowd.
rc=0
timeout 30 "$FB" get --quiet --all "$T/bad" "$NO/bad.html" >/dev/null 2>"$T/bad.err" || rc=$?
check "corrupt manifest during the crowd: exit 5 ($(head -c 160 "$T/bad.err"))" \
    test "$rc" -eq 5 -a ! -e "$T/bad"

codes=()
for pid in "${pids[@]}"; do
    rc=0
    wait "$pid" || rc=$?
    codes+=("$rc")
done
makespan_ms=$((($(date +%s%N) - t0) / 1000000))
rc=0
wait "$lingerer" || rc=$?
stayed=$(($(json "$T/linger.err" ms_total) - $(json "$T/linger.err" ms_complete)))
check "--linger 2: exit 0, stayed ${stayed} ms after completion, uploaded $(json "$T/linger.err" bytes_uploaded) bytes" \
    test "$rc" -eq 0 -a "$stayed" -ge 1900 -a "$stayed" -le 5500
check "--linger: the page is identical" cmp -s "$T/linger.html" "$R/index.html"
rc=0
wait "$flooded" || rc=$?
wait "$flooder" 2>/dev/null
check "flooded peer: exit 0 despite $(json "$T/flooded.err" udp_dropped) garbage datagrams dropped" \
    test "$rc" -eq 0 -a "$(json "$T/flooded.err" udp_dropped)" -gt 0
n_fail=0
for c in "${codes[@]}"; do [ "$c" -eq 0 ] || n_fail=$((n_fail + 1)); done
check "$N_PEERS peers: all exit 0 ($n_fail failed: ${codes[*]})" test "$n_fail" -eq 0
[ "$n_fail" -eq 0 ] || for i in $(seq "$N_PEERS"); do
    [ "${codes[$((i - 1))]}" -eq 0 ] || sed "s/^/#   p$i: /" "$T/p$i.err" | head -n 3
done

# Every file of every peer, byte for byte.
n_diff=0
n_files=0
for i in $(seq "$N_PEERS") flooded; do
    d=$T/p$i
    [ "$i" = flooded ] && d=$T/flooded
    for p in /index.html $page_objs; do
        n_files=$((n_files + 1))
        cmp -s "$d$p" "$R$p" || n_diff=$((n_diff + 1))
    done
done
check "$n_files files identical to the source ($n_diff differ)" test "$n_diff" -eq 0

# Where the bytes came from: flashbackd's counters after the crowd, less those before it (and
# the bytes of the first scrape itself).
curl -s -o "$T/metrics1" "$O/.flashback/metrics" || notok "metrics after the crowd"

# The manifest's answer carries an address token, and a peer that echoes it is taken in on its
# first JOIN: the seed sends it no TOKEN (no unvalidated datagram to drop).
tok=$(curl -s -D - -o /dev/null "$O/.flashback/manifest/" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "flashback-token" {print $2}')
check "the manifest's answer carries Flashback-Token ($tok)" \
    test "$(printf %s "$tok" | grep -cE '^[0-9a-f]{32}$')" = 1
curl -s -o "$T/metrics2" "$O/.flashback/metrics"
"$FB" get --quiet --timeout 30 -o "$T/tok.html" "$O/" 2>"$T/tok.err"
curl -s -o "$T/metrics3" "$O/.flashback/metrics"
unval='flashback_seed_dropped_datagrams_total{reason="unvalidated"}'
d_unval=$(($(metric "$T/metrics3" "$unval") - $(metric "$T/metrics2" "$unval")))
d_joins=$(($(metric "$T/metrics3" flashback_seed_joins_total) - $(metric "$T/metrics2" flashback_seed_joins_total)))
check "a peer with the token joins without the TOKEN round trip ($d_joins join, $d_unval unvalidated)" \
    test "$d_joins" = 1 -a "$d_unval" = 0 -a -n "$(cmp "$T/tok.html" "$R/index.html" && echo same)"
stop_fbd
http_bytes=$(($(metric "$T/metrics1" flashback_http_sent_bytes_total) - $(metric "$T/metrics0" flashback_http_sent_bytes_total) - scrape0))
seed_udp=$(($(metric "$T/metrics1" flashback_seed_udp_sent_bytes_total) - $(metric "$T/metrics0" flashback_seed_udp_sent_bytes_total)))
joins=$(metric "$T/metrics1" flashback_seed_joins_total)
intros=$(metric "$T/metrics1" flashback_seed_introductions_total)
sum() { local f=$1 s=0 i v; for i in $(seq "$N_PEERS"); do v=$(json "$T/p$i.err" "$f"); s=$((s + ${v:-0})); done; echo $s; }
peers_peer=$(sum bytes_peers)
peers_seed=$(sum bytes_seed)
peers_http=$(sum bytes_origin_http)
uploaded=$(sum bytes_uploaded)
bans=$(sum bans)
mean_ms=$(($(sum ms_complete) / N_PEERS))
received=$(((N_PEERS + 2) * page_bytes))
origin=$((http_bytes + ${seed_udp:-0}))
share=$((origin * 1000 / received))
echo "# crowd of $N_PEERS (+1 flooded, +1 lingering): makespan ${makespan_ms} ms, mean completion ${mean_ms} ms"
echo "# origin (flashbackd metrics): HTTP $http_bytes bytes (manifests included) + seed UDP $seed_udp bytes = $origin of $received received ($((share / 10)).$((share % 10))%)"
echo "# seed: $joins joins, $intros introductions"
echo "# peers report: $peers_peer bytes from peers, $peers_seed from the seed, $peers_http over HTTP; $uploaded uploaded; $bans bans"
check "the origin supplied under 40% of the bytes ($((share / 10)).$((share % 10))%)" test "$share" -lt 400
check "peers traded among themselves (${peers_peer} bytes)" test "$peers_peer" -gt 0
check "no peer was banned in an honest crowd" test "$bans" -eq 0
check "the seed counted every peer's join ($joins) and introduced peers ($intros)" \
    test "$joins" -ge "$N_PEERS" -a "$intros" -gt 0

# ---- a hostile seed: every chunk it sends is corrupt ---------------------------------------
# The peer must ban nothing it cannot, write nothing unverified, and get the page from the
# origin's HTTP soon after the bad data piles up (docs/PEER.md, fallback policy).
t0=$(date +%s%N)
rc=0
timeout 60 "$FB" get --stats --timeout 40 -o "$T/hostile.html" "$NO/" >/dev/null 2>"$T/hostile.err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
stop_origin
E=$T/hostile.err
check "hostile seed: exit 0 in $ms ms (well before half of --timeout), page identical" \
    test "$rc" -eq 0 -a "$ms" -lt 15000 -a -n "$(cmp "$T/hostile.html" "$R/index.html" && echo same)"
check "hostile seed: $(json "$E" chunks_bad) bad chunks refused, none used ($(json "$E" bytes_seed) seed bytes)" \
    test "$(json "$E" chunks_bad)" -ge 16 -a "$(json "$E" bytes_seed)" = 0 -a \
    "$(json "$E" bytes_origin_http)" = "$page_bytes"

# ---- the origin dies after the manifest ------------------------------------------------------
# A slow seed (the page would take ~100 s from it), then flashbackd (HTTP and seed) gone 1 s into
# the run.
start_fbd 20000 || { notok "flashbackd restarts"; exit 1; }
(
    sleep 1
    kill "$FBD_PID"
) &
killer=$!
t0=$(date +%s%N)
rc=0
timeout 60 "$FB" get --stats --timeout 45 -o "$T/dead.html" "$O/" >/dev/null 2>"$T/dead.err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$killer"
stop_fbd
check "origin killed after the manifest: exit 6 in $ms ms, before --timeout ($(grep -v '^{' "$T/dead.err" | tail -n1 | head -c 200))" \
    test "$rc" -eq 6 -a "$ms" -lt 20000 -a ! -e "$T/dead.html"
check "killed origin: the manifest had been fetched" grep -q '"ms_manifest":[0-9]' "$T/dead.err"

exit $failed

#!/usr/bin/env bash
# bench/crowd.sh BUILD: the flash-crowd benchmark (`make bench-crowd`). One origin whose uplink is
# capped with tc, and a crowd of N clients arriving in one burst and leaving on completion, all in
# network namespaces this script creates and removes. The same crowd is served three ways: by
# Debian's nginx (each client fetches the page and its objects with curl), by a BitTorrent swarm
# (aria2 seeder on the origin, opentracker, aria2 leechers), and by Flashback (flashbackd and
# `flashback get --all`, once they exist). It prints per N the makespan and mean completion time
# of each system beside T_min and the client-server time, their ratios, and the origin's share of
# the bytes, and writes BUILD/bench/crowd.json, crowd.svg and crowd.txt. docs/BENCH-CROWD.md
# explains the setup and how to read the output.
#
# Environment:
#   CROWD_NS="25 50 100 200"   crowd sizes (1..240)
#   CROWD_SYSTEMS="nginx bittorrent flashback"
#   CROWD_RATE=10mbit          the origin's uplink (tc tbf, on the bridge side: ns_cap_uplink)
#   CROWD_PEER_UP=20mbit       every crowd host's uplink (tc tbf); "none" leaves it unbounded
#   CROWD_SEED_RATE=RATE       flashbackd's --seed-rate (default CROWD_RATE)
#   CROWD_TIMEOUT=SECONDS      bound on one run (default 3 x the client-server time + 120 s)
#   CROWD_DEBUG=1              keep aria2's info-level logs (seeder and every leecher)
#   SITE=DIR                   the page's root with index.html (default: site/ when it has an
#                              index.html, else a ~2 MB stand-in generated in a temp dir)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || {
    echo "usage: bench/crowd.sh BUILD_DIR" >&2
    exit 2
}
CROWD_NS=${CROWD_NS:-"25 50 100 200"}
CROWD_SYSTEMS=${CROWD_SYSTEMS:-"nginx bittorrent flashback"}
CROWD_RATE=${CROWD_RATE:-10mbit}
CROWD_PEER_UP=${CROWD_PEER_UP:-20mbit}
OUT=$BUILD/bench
ORIGIN_PORT=80
TRACKER_PORT=6969

. "$ROOT/tests/lib/netns.sh"

die() {
    echo "crowd: $*" >&2
    exit 1
}

for t in nginx curl aria2c opentracker mktorrent tc ip nft awk; do
    command -v "$t" >/dev/null || die "missing $t: run scripts/deps.sh build test bench"
done
maxn=0
for n in $CROWD_NS; do
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 240 ] || die "crowd size '$n' not in 1..240"
    [ "$n" -gt "$maxn" ] && maxn=$n
done
for s in $CROWD_SYSTEMS; do
    case "$s" in nginx | bittorrent | flashback) ;; *) die "unknown system '$s'" ;; esac
done

ns_init
work=$(mktemp -d "${TMPDIR:-/tmp}/fbcrowd.XXXXXX")
chmod 755 "$work"
ns_at_exit "rm -rf '$work'"
mkdir -p "$OUT"

# ---------------------------------------------------------------------------------------------
# The page: index.html and the same-origin objects it embeds. BUILD/tools/sitecheck (from the
# demo site's branch) lists them with core/html_links, as flashbackd's manifests will; without
# it, they are read from the HTML with grep and sed: src/href/poster/srcset of img, script,
# link, source, video, audio and input tags, kept when they name files under SITE.

# Writes a stand-in of the demo page into DIR: index.html (~30 KB) and 20 embedded objects,
# about 2 MB in all, random bytes (incompressible, as images are).
make_standin() {
    local d=$1 i
    mkdir -p "$d/img" "$d/css" "$d/js"
    local sizes=(61000 83000 97000 104000 118000 126000 131000 142000 75000 88000
        93000 109000 137000 66000 79000 112000 121000 99000)
    head -c 24000 /dev/urandom | base64 -w 100 >"$d/css/style.css"
    head -c 36000 /dev/urandom | base64 -w 100 >"$d/js/app.js"
    {
        echo '<!doctype html><html><head><meta charset="utf-8"><title>Stand-in page</title>'
        echo '<link rel="stylesheet" href="css/style.css"><script src="js/app.js" defer></script>'
        echo '</head><body><h1>A stand-in for the demo page</h1>'
        for i in "${!sizes[@]}"; do
            head -c "${sizes[$i]}" /dev/urandom >"$d/img/photo$((i + 1)).jpg"
            echo "<figure><img src=\"img/photo$((i + 1)).jpg\" alt=\"photo $((i + 1))\">"
            echo "<figcaption>Photo $((i + 1))</figcaption></figure>"
            head -c 1200 /dev/urandom | base64 -w 100 | sed 's/^/<p>/; s/$/<\/p>/'
        done
        echo '<p><a href="https://example.org/">an external link</a></p></body></html>'
    } >"$d/index.html"
}

# Prints index.html and the same-origin objects it embeds, one path (relative to SITE) a line.
page_objects() {
    local site=$1
    echo index.html
    if [ -x "$BUILD/tools/sitecheck" ]; then
        "$BUILD/tools/sitecheck" links "$site/index.html" /index.html
    else
        grep -oiE '<(img|script|link|source|video|audio|input)[[:space:]][^>]*>' "$site/index.html" |
            grep -oiE "(src|href|poster|srcset)=(\"[^\"]*\"|'[^']*')" |
            sed -E "s/^[a-zA-Z]+=[\"']//; s/[\"']\$//" |
            tr ',' '\n' | sed -E 's/^[[:space:]]+//; s/[[:space:]].*$//'
    fi | sed -E 's/[?#].*$//; s|^\./||; s|^/||' |
        grep -vE '^([a-zA-Z][a-zA-Z0-9+.-]*:|/)' |
        while IFS= read -r p; do [ -n "$p" ] && [ -f "$site/$p" ] && echo "$p"; done |
        awk '!seen[$0]++'
}

if [ -z "${SITE:-}" ]; then
    if [ -f "$ROOT/site/index.html" ]; then
        SITE=$ROOT/site
    else
        SITE=$work/standin
        make_standin "$SITE"
        echo "crowd: site/index.html not found; using a generated stand-in ($SITE)"
    fi
fi
SITE=$(cd "$SITE" && pwd) || die "SITE does not exist"
[ -f "$SITE/index.html" ] || die "no index.html in $SITE"
page_objects "$SITE" >"$work/objects"
nobj=$(wc -l <"$work/objects")
F=0
while IFS= read -r p; do F=$((F + $(stat -c %s "$SITE/$p"))); done <"$work/objects"
[ "$nobj" -ge 2 ] || echo "crowd: warning: index.html embeds no object found under $SITE" >&2

bits() { _ns_rate_bits "$1"; }
US=$(bits "$CROWD_RATE") || exit 1
if [ "$CROWD_PEER_UP" = none ]; then UP=0; else UP=$(bits "$CROWD_PEER_UP") || exit 1; fi

# ---------------------------------------------------------------------------------------------
# The network: the public bridge (pub, 192.0.2.1, where the BitTorrent tracker runs so that its
# traffic does not cross the origin's link), the origin (192.0.2.2, egress capped), and one
# namespace per crowd host (192.0.2.3 ...), each with its own uplink cap.
echo "crowd: building the network: origin capped at $CROWD_RATE, $maxn hosts (uplink $CROWD_PEER_UP)"
ns_public || die "cannot build the public namespace"
ns_public_host origin || die "cannot build the origin"
ns_cap_uplink origin "$CROWD_RATE" tbf || die "cannot cap the origin"
ORIGIN=$(ns_addr origin)
TRACKER=$(ns_addr pub)
for ((i = 1; i <= maxn; i++)); do
    ns_public_host "c$i" || die "cannot build crowd host $i"
    if [ "$UP" -gt 0 ]; then ns_cap_uplink "c$i" "$CROWD_PEER_UP" tbf || die "cannot cap host $i"; fi
done
# Permanent ARP entries for every pair: the kernel's neighbour table is shared by all namespaces
# and overflows at 1024 dynamic entries, which stalls a crowd of 100 hosts (tests/lib/netns.sh).
ns_pin_neighbours || die "cannot pin the neighbour tables"
PUBNS=$(ns_name pub)

# Prints the percentage of CPU time the whole machine spent idle since the /proc/stat line
# given: near 0 means the run was CPU-bound (by us or by anything else on the machine).
cpu_idle() {
    { echo "$1"; head -n1 /proc/stat; } | awk '
        { t = 0; for (i = 2; i <= NF; i++) t += $i; idle = $5 + $6
          if (NR == 1) { t0 = t; i0 = idle } else { t1 = t; i1 = idle } }
        END { printf "%.0f\n", (t1 > t0) ? 100 * (i1 - i0) / (t1 - t0) : 0 }'
}

# Prints where the machine's CPU went since the /proc/stat line $1, in percent of all CPUs:
# "user U sys S softirq Q idle I" (user includes nice).
cpu_split() {
    { echo "$1"; head -n1 /proc/stat; } | awk '
        { t = 0; for (i = 2; i <= NF; i++) t += $i
          if (NR == 1) { t0 = t; u0 = $2 + $3; s0 = $4; q0 = $8; i0 = $5 + $6 }
          else { t1 = t; u1 = $2 + $3; s1 = $4; q1 = $8; i1 = $5 + $6 } }
        END { d = (t1 > t0) ? t1 - t0 : 1
              printf "user %.0f sys %.0f softirq %.0f idle %.0f\n", 100 * (u1 - u0) / d,
                  100 * (s1 - s0) / d, 100 * (q1 - q0) / d, 100 * (i1 - i0) / d }'
}

# Prints the kernel's count of neighbour-table overflows (machine-wide).
table_fulls() {
    local h
    h=$(awk 'NR == 2 { print $NF }' /proc/net/stat/arp_cache 2>/dev/null)
    echo $((16#${h:-0}))
}

# Prints "dev rx tx" for every bridge port (vK) and uplink shaper (iK), with one exec.
port_bytes() {
    ip netns exec "$PUBNS" sh -c 'for d in /sys/class/net/[vi][0-9]*; do
        echo "${d##*/} $(cat "$d/statistics/rx_bytes") $(cat "$d/statistics/tx_bytes")"; done'
}

# Prints "ORIGIN_SENT CLIENTS_RECEIVED" between two port_bytes snapshots, for clients 1..N.
# What the origin sent is what left its uplink shaper (iK: packets the cap dropped do not
# count); what a client received is what its bridge port sent it.
bytes_between() {
    local before=$1 after=$2 n=$3 ports="" i o=${NS_PORT[origin]}
    for ((i = 1; i <= n; i++)); do ports+="${NS_PORT[c$i]} "; done
    awk -v origin="i${o#v}" -v ports="$ports" '
        BEGIN { k = split(ports, a, " "); for (i = 1; i <= k; i++) client[a[i]] = 1 }
        FNR == NR { rx0[$1] = $2; tx0[$1] = $3; next }
        $1 == origin { o = $3 - tx0[$1] }
        ($1 in client) { c += $3 - tx0[$1] }
        END { printf "%d %d\n", o, c }' "$before" "$after"
}

# ---------------------------------------------------------------------------------------------
# Clients. Every client is a small bash wrapper started inside its own namespace; all of them
# wait on a FIFO and start together when it closes (the burst). Each writes
# "I START END RC BYTES" (EPOCHREALTIME seconds; "-" when unknown) into OUT/cI when it has left.

# URLs of the page for curl, in page order (the HTML first, as a browser needs it first).
while IFS= read -r p; do echo "http://$ORIGIN:$ORIGIN_PORT/$p"; done <"$work/objects" >"$work/urls"

cat >"$work/client_nginx.sh" <<'EOF'
#!/usr/bin/env bash
# One visitor: fetches every URL in order over one keep-alive connection; END is when the last
# byte of the last object arrived. RC is curl's status; BYTES the body bytes received.
i=$1 out=$2 fifo=$3 urls=$4 tmax=$5
args=()
while IFS= read -r u; do args+=(-o /dev/null "$u"); done <"$urls"
echo "$i" >>"$out/ready"
read -r _ <"$fifo"
start=$EPOCHREALTIME
curl -sS --fail --max-time "$tmax" -w '%{size_download}\n' "${args[@]}" >"$out/sizes$i" 2>"$out/err$i"
rc=$?
end=$EPOCHREALTIME
bytes=$(awk '{ s += $1 } END { print s + 0 }' "$out/sizes$i")
echo "$i $start $end $rc $bytes" >"$out/c$i"
EOF

cat >"$work/client_bittorrent.sh" <<'EOF'
#!/usr/bin/env bash
# One leecher: aria2c on the page's torrent, leaving when done (--seed-time=0). END is the time
# aria2 reported completion through its hook (it exits about 2 s later).
i=$1 out=$2 fifo=$3 torrent=$4 dl=$5 hook=$6
mkdir -p "$dl"
echo "$i" >>"$out/ready"
read -r _ <"$fifo"
start=$EPOCHREALTIME
CROWD_DONE=$out/t$i aria2c --dir="$dl" --seed-time=0 --enable-dht=false --enable-dht6=false \
    --bt-enable-lpd=false --disable-ipv6=true --file-allocation=none --summary-interval=0 \
    --console-log-level=warn --on-bt-download-complete="$hook" ${CROWD_DEBUG:+--log=$out/alog$i --log-level=info} \
    "$torrent" >"$out/log$i" 2>&1
rc=$?
end=$(cat "$out/t$i" 2>/dev/null) || { end=-; [ $rc -ne 0 ] || rc=99; }
echo "$i $start $end $rc -" >"$out/c$i"
EOF

cat >"$work/client_flashback.sh" <<'EOF'
#!/usr/bin/env bash
# One Flashback visitor: `flashback get --all DIR URL`. END is when every object was verified
# and written under DIR (its --stats ms_complete), as BitTorrent's END is aria2's completion
# hook: the exit time less the time from completion to exit (ms_total - ms_complete, on the
# process's own clock), during which it only finishes uploads and says goodbye. EXIT, the 6th
# field, is the exit time. RC is its exit status (0 only when every byte verified).
i=$1 out=$2 fifo=$3 flashback=$4 dl=$5 url=$6 tmax=$7
mkdir -p "$dl"
echo "$i" >>"$out/ready"
read -r _ <"$fifo"
start=$EPOCHREALTIME
"$flashback" get --all "$dl" --timeout "$tmax" --stats --quiet "$url" >"$out/log$i" 2>&1
rc=$?
exit=$EPOCHREALTIME
times >"$out/u$i"
end=$(tail -n 1 "$out/log$i" | awk -v x="$exit" '
    match($0, /"ms_complete":[0-9]+/) { c = substr($0, RSTART + 14, RLENGTH - 14)
        if (match($0, /"ms_total":[0-9]+/)) { t = substr($0, RSTART + 11, RLENGTH - 11)
            if (t + 0 >= c + 0) { printf "%.6f\n", x - (t - c) / 1000; exit } } }
    END { }')
[ -n "$end" ] || end=$exit
echo "$i $start $end $rc - $exit" >"$out/c$i"
EOF

cat >"$work/bt_hook.sh" <<'EOF'
#!/usr/bin/env bash
# aria2's --on-bt-download-complete hook: records when the download completed.
echo "$EPOCHREALTIME" >"$CROWD_DONE"
EOF
chmod +x "$work"/*.sh

# Runs one crowd: run_crowd SYSTEM N TMAX ARGS... starts N wrappers of SYSTEM (ARGS are passed
# to each, with @I@ replaced by the client's number), releases them at once, waits until all
# have left or TMAX seconds passed, stops what is left, and leaves the records in $work/run.
# Sets RUN_T0 (the release) and RUN_IDLE (machine-wide CPU idle % during the run).
run_crowd() {
    local sys=$1 n=$2 tmax=$3
    shift 3
    local out=$work/run i
    rm -rf "$out" "$OUT/crowd-runs/$sys-$n"
    mkdir -p "$out"
    mkfifo "$out/go"
    for ((i = 1; i <= n; i++)); do
        ns_bg "c$i" "$work/client_$sys.sh" "$i" "$out" "$out/go" "${@//@I@/$i}"
    done
    local t=0
    while [ "$({ wc -l <"$out/ready"; } 2>/dev/null || echo 0)" -lt "$n" ]; do
        t=$((t + 1))
        [ $t -le 600 ] || { echo "crowd: clients not ready after 60 s" >&2; break; }
        sleep 0.1
    done
    # Open the FIFO for writing: every waiting reader's open returns; closing it gives them EOF.
    exec 7<>"$out/go"
    sleep 0.3
    RUN_T0=$EPOCHREALTIME
    exec 7>&-
    local deadline=$((SECONDS + tmax)) done=0 fulls0 stat0
    fulls0=$(table_fulls)
    stat0=$(head -n1 /proc/stat)
    while [ $SECONDS -lt $deadline ]; do
        done=$(find "$out" -maxdepth 1 -name 'c*' | wc -l)
        [ "$done" -ge "$n" ] && break
        sleep 0.5
    done
    [ "$done" -ge "$n" ] || echo "crowd: $sys N=$n: $((n - done)) clients still running after ${tmax}s; stopped" >&2
    [ "$(table_fulls)" = "$fulls0" ] ||
        echo "crowd: warning: the kernel's neighbour table overflowed during this run" >&2
    RUN_IDLE=$(cpu_idle "$stat0")
    RUN_CPU=$(cpu_split "$stat0")
    if [ -n "${CROWD_DEBUG:-}" ]; then
        mkdir -p "$OUT/crowd-runs/$sys-$n"
        ns_exec origin nstat -asz >"$OUT/crowd-runs/$sys-$n/nstat-origin" 2>&1
        ns_exec c1 nstat -asz >"$OUT/crowd-runs/$sys-$n/nstat-c1" 2>&1
    fi
    for ((i = 1; i <= n; i++)); do ns_killall "c$i"; done
    sleep 1
    for ((i = 1; i <= n; i++)); do
        for p in $(ip netns pids "$(ns_name "c$i")" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    for p in "${NS_PIDS[@]}"; do
        [ "$p" = "${SERVER_PID:-}" ] || [ "$p" = "${SEEDER_PID:-}" ] || [ "$p" = "${TRACKER_PID:-}" ] ||
            ns_stop "$p"
    done
}

# Summarises $work/run for SYSTEM and N into one line of $work/results:
#   system n status completed failed makespan mean median max spread origin_bytes client_bytes
#   cpu_idle_pct
# A client counts as completed when its status is 0, its end time is known and its bytes are
# right (VERIFY is a function given the client's number that returns 0 when they are).
summarise() {
    local sys=$1 n=$2 verify=$3 bytes=$4 i good=0 line keep=$OUT/crowd-runs/$1-$2
    : >"$work/times"
    mkdir -p "$keep"
    # Keep every client's record (I START END RC BYTES) and the logs of those that failed.
    for ((i = 1; i <= n; i++)); do
        line=$(cat "$work/run/c$i" 2>/dev/null) || line="$i - - killed -"
        echo "$line" >>"$keep/clients"
        set -- $line
        if [ "$4" = 0 ] && [ "$3" != - ] && "$verify" "$i" "$5"; then
            echo "$2 $3" >>"$work/times"
            good=$((good + 1))
        else
            cp "$work/run/err$i" "$work/run/log$i" "$work/run/alog$i" "$keep/" 2>/dev/null
        fi
        [ -z "${CROWD_DEBUG:-}" ] || cp "$work/run/alog$i" "$keep/" 2>/dev/null
    done
    awk -v sys="$sys" -v n="$n" -v good="$good" -v bytes="$bytes" -v idle="${RUN_IDLE:--}" '
        { s[NR] = $1; e[NR] = $2; d[NR] = $2 - $1; sum += $2 - $1
          if (NR == 1 || $1 < s0) s0 = $1; if (NR == 1 || $1 > s1) s1 = $1
          if (NR == 1 || $2 > e1) e1 = $2 }
        END {
            if (NR == 0) { printf "%s %d failed 0 %d - - - - - %s %s\n", sys, n, n, bytes, idle; exit }
            m = NR; for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (d[j] < d[i]) { t = d[i]; d[i] = d[j]; d[j] = t }
            med = (m % 2) ? d[(m + 1) / 2] : (d[m / 2] + d[m / 2 + 1]) / 2
            printf "%s %d %s %d %d %.2f %.2f %.2f %.2f %.2f %s %s\n", sys, n, (good == n ? "ok" : "partial"),
                good, n - good, e1 - s0, sum / m, med, d[m], s1 - s0, bytes, idle }' "$work/times" >>"$work/results"
    tail -n 1 "$work/results" | awk -v cpu="${RUN_CPU:-}" '{ printf "crowd: %-10s N=%-3d %s: %d done, %d failed, makespan %s s, mean %s s, CPU idle %s%% (%s)\n",
        $1, $2, $3, $4, $5, $6, $7, $13, cpu }'
}

objects_ok() { # CLIENT_DIR: every object byte-identical to the site's
    local d=$1 p
    while IFS= read -r p; do cmp -s "$SITE/$p" "$d/$p" || return 1; done <"$work/objects"
}
verify_nginx() { [ "$2" = "$F" ]; }
verify_bittorrent() { objects_ok "$work/dl/$1/page"; }
verify_flashback() { objects_ok "$work/dl/$1"; }

run_timeout() { # N: the bound on one run
    [ -n "${CROWD_TIMEOUT:-}" ] && { echo "$CROWD_TIMEOUT"; return; }
    echo $((3 * $1 * F * 8 / US + 120))
}

# ---------------------------------------------------------------------------------------------
# System 1: nginx (Debian's, one worker, sendfile on) on the origin.
run_nginx() {
    local n=$1 b0 b1
    ns_nginx origin "$SITE" "$ORIGIN_PORT" "$work/nginx" || die "nginx did not start"
    SERVER_PID=$NS_LAST_PID
    port_bytes >"$work/b0"
    run_crowd nginx "$n" "$(run_timeout "$n")" "$work/urls" "$(run_timeout "$n")"
    port_bytes >"$work/b1"
    ns_stop "$SERVER_PID"
    SERVER_PID=
    mkdir -p "$OUT/crowd-runs/nginx-$n"
    cp "$work/nginx/error.log" "$OUT/crowd-runs/nginx-$n/nginx-error.log"
    summarise nginx "$n" verify_nginx "$(bytes_between "$work/b0" "$work/b1" "$n")"
}

# ---------------------------------------------------------------------------------------------
# System 2: a BitTorrent swarm. The page's files in one torrent (64 KiB pieces), the seeder on
# the origin (so its upload crosses the capped link), opentracker on the public bridge.
prepare_torrent() {
    local p
    mkdir -p "$work/seed/page"
    while IFS= read -r p; do
        mkdir -p "$work/seed/page/$(dirname "$p")"
        cp "$SITE/$p" "$work/seed/page/$p"
    done <"$work/objects"
    mktorrent -l 16 -a "http://$TRACKER:$TRACKER_PORT/announce" -o "$work/page.torrent" \
        "$work/seed/page" >/dev/null || die "mktorrent failed"
    INFOHASH=$(aria2c -S "$work/page.torrent" | awk '/^Info Hash:/ { print $3 }')
    [ ${#INFOHASH} -eq 40 ] || die "cannot read the torrent's info hash"
    # Debian's opentracker only tracks whitelisted hashes; it chroots into -d, so the whitelist
    # path is relative to it, and it must drop root (-u nobody).
    mkdir -p "$work/tracker"
    echo "$INFOHASH" >"$work/tracker/whitelist"
    chmod 755 "$work/tracker"
    chmod 644 "$work/tracker/whitelist"
}

# Prints the number of seeders the tracker knows for our torrent (scrape), or nothing.
tracker_seeds() {
    local hex=$INFOHASH esc="" k
    for ((k = 0; k < 40; k += 2)); do esc+="%${hex:k:2}"; done
    ns_exec pub curl -s -m 2 "http://$TRACKER:$TRACKER_PORT/scrape?info_hash=$esc" |
        grep -aoE 'completei[0-9]+e' | head -n1 | tr -dc 0-9
}

run_bittorrent() {
    local n=$1 t
    [ -n "${INFOHASH:-}" ] || prepare_torrent
    # A fresh tracker and seeder per run: no stale peers.
    ns_bg pub opentracker -i "$TRACKER" -p "$TRACKER_PORT" -P "$TRACKER_PORT" -d "$work/tracker" \
        -u nobody -w whitelist
    TRACKER_PID=$NS_LAST_PID
    ns_wait_port pub tcp "$TRACKER_PORT" 10 || die "opentracker did not start"
    ns_bg origin aria2c --dir="$work/seed" --seed-ratio=0.0 --check-integrity=true \
        --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --disable-ipv6=true \
        --file-allocation=none --summary-interval=0 --console-log-level=warn \
        ${CROWD_DEBUG:+--log=$OUT/crowd-runs/seeder-$n.log --log-level=info} \
        "$work/page.torrent" >"$work/seeder.log" 2>&1
    SEEDER_PID=$NS_LAST_PID
    for ((t = 0; t < 60; t++)); do
        [ "$(tracker_seeds)" = 1 ] && break
        sleep 0.5
    done
    [ "$(tracker_seeds)" = 1 ] || die "the seeder did not register with the tracker"
    sleep 2
    rm -rf "$work/dl"
    port_bytes >"$work/b0"
    run_crowd bittorrent "$n" "$(run_timeout "$n")" "$work/page.torrent" "$work/dl/@I@" \
        "$work/bt_hook.sh"
    port_bytes >"$work/b1"
    summarise bittorrent "$n" verify_bittorrent "$(bytes_between "$work/b0" "$work/b1" "$n")"
    ns_stop "$SEEDER_PID"
    ns_stop "$TRACKER_PID"
    SEEDER_PID= TRACKER_PID=
    rm -rf "$work/dl"
}

# ---------------------------------------------------------------------------------------------
# System 3: Flashback.
# >>> FLASHBACK: this is where flashbackd and `flashback get` plug in. <<<
# flashbackd serves SITE on the origin (HTTP, manifests, tracker and seed over UDP) with its
# seed capped at the same rate as the link; each client runs `flashback get --all DIR URL`.
# Until both programs exist, the run is recorded as "not built" and the table shows n/a.
flashback_ready() {
    "$BUILD/flashback" get --help >/dev/null 2>&1 &&
        "$BUILD/flashbackd" --help 2>&1 | grep -q -- --seed-rate
}

# Prints the crowd's timeline from every client's `--stats` line and `times` in $work/run:
# the median, 90th percentile and largest of the manifest time, first verified chunk,
# completion and exit (ms since the client's start), of the bytes from the origin (manifest,
# HTTP chunks, seed) and of each client's CPU time (user and system, ms), plus the sums.
flashback_timeline() {
    local f
    for f in "$work/run"/log*; do
        [ -f "$f" ] || continue
        local i=${f##*/log}
        { tail -n 1 "$f"; echo; sed -n 2p "$work/run/u$i" 2>/dev/null; } | tr '\n' ' '
        echo
    done | awk '
        function grab(k,   m) { if (match($0, "\"" k "\":[0-9]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); return "" }
        function ms(t,   p) { split(t, p, /[ms]/); return int((p[1] * 60 + p[2]) * 1000 + 0.5) }
        BEGIN { nj = split("ms_manifest ms_first_byte ms_complete ms_total bytes_manifest bytes_origin_http bytes_seed http_requests udp_dgrams_out udp_send_calls udp_gso_dgrams engine_ticks", K, " ")
                K[nj + 1] = "cpu_user"; K[nj + 2] = "cpu_sys"; nk = nj + 2 }
        {
            n++
            for (j = 1; j <= nj; j++) { v = grab(K[j]); if (v != "") { c[j]++; V[j, c[j]] = v + 0; S[j] += v } }
            if (NF >= 2 && $(NF - 1) ~ /^[0-9]+m/) {
                j = nj + 1; c[j]++; V[j, c[j]] = ms($(NF - 1)); S[j] += ms($(NF - 1))
                j = nj + 2; c[j]++; V[j, c[j]] = ms($NF); S[j] += ms($NF)
            }
        }
        END {
            printf "crowd: flashback timeline over %d clients (median / p90 / max; sum)\n", n
            for (j = 1; j <= nk; j++) {
                m = c[j]; if (!m) continue
                for (a = 1; a <= m; a++) x[a] = V[j, a]
                for (a = 2; a <= m; a++) { t = x[a]; for (b = a - 1; b >= 1 && x[b] > t; b--) x[b + 1] = x[b]; x[b + 1] = t }
                printf "  %-18s %9d %9d %9d ; %d\n", K[j], x[int((m + 1) / 2)], x[int((m * 9 + 9) / 10)], x[m], S[j]
            }
        }'
}

run_flashback() {
    local n=$1
    if ! flashback_ready; then
        echo "flashback: not built yet ($BUILD/flashback get or flashbackd --seed-rate missing)"
        echo "flashback $n not-built - - - - - - - - - -" >>"$work/results"
        return 0
    fi
    ns_bg origin "$BUILD/flashbackd" --root "$SITE" --listen "$ORIGIN:$ORIGIN_PORT" \
        --seed-rate "${CROWD_SEED_RATE:-$CROWD_RATE}" >"$work/flashbackd.log" 2>&1
    SERVER_PID=$NS_LAST_PID
    ns_wait_port origin tcp "$ORIGIN_PORT" 10 || die "flashbackd did not start"
    rm -rf "$work/dl"
    port_bytes >"$work/b0"
    run_crowd flashback "$n" "$(run_timeout "$n")" "$BUILD/flashback" "$work/dl/@I@" \
        "http://$ORIGIN:$ORIGIN_PORT/index.html" "$(run_timeout "$n")"
    mkdir -p "$OUT/crowd-runs/flashback-$n"
    cp "$work/run"/log* "$OUT/crowd-runs/flashback-$n/" 2>/dev/null
    flashback_timeline | tee "$OUT/crowd-runs/flashback-$n/timeline"
    cat "$work/run"/c[0-9]* 2>/dev/null | awk 'NF >= 6 && $4 == 0 {
            if (!s0 || $2 < s0) s0 = $2; if ($6 > x1) x1 = $6; if ($3 > e1) e1 = $3 }
        END { if (s0) printf "crowd: flashback makespan to the last completion %.2f s, to the last exit %.2f s\n", e1 - s0, x1 - s0 }' |
        tee -a "$OUT/crowd-runs/flashback-$n/timeline"
    # flashbackd's own counters: what its HTTP side and its seed sent, and how.
    ns_exec origin curl -s --max-time 10 "http://$ORIGIN:$ORIGIN_PORT/.flashback/metrics" \
        >"$OUT/crowd-runs/flashback-$n/metrics" 2>/dev/null
    awk '$1 == "flashback_http_sent_bytes_total" { h = $2 }
         $1 == "flashback_seed_udp_sent_bytes_total" { u = $2 }
         $1 == "flashback_seed_udp_sent_datagrams_total" { d = $2 }
         $1 == "flashback_seed_udp_send_calls_total" { c = $2 }
         $1 == "flashback_seed_udp_gso_datagrams_total" { g = $2 }
         END { printf "crowd: flashbackd sent %d bytes over HTTP, %d over UDP (%d datagrams in %d system calls, %d of them in GSO runs)\n", h, u, d, c, g }' \
        "$OUT/crowd-runs/flashback-$n/metrics"
    cp "$work/flashbackd.log" "$OUT/crowd-runs/flashback-$n/" 2>/dev/null
    port_bytes >"$work/b1"
    ns_stop "$SERVER_PID"
    SERVER_PID=
    summarise flashback "$n" verify_flashback "$(bytes_between "$work/b0" "$work/b1" "$n")"
    rm -rf "$work/dl"
}

# ---------------------------------------------------------------------------------------------
echo "crowd: page $SITE: $nobj files, $F bytes; origin $CROWD_RATE; peers up $CROWD_PEER_UP"
: >"$work/results"
for n in $CROWD_NS; do
    for s in $CROWD_SYSTEMS; do
        "run_$s" "$n"
    done
done

# ---------------------------------------------------------------------------------------------
# Report: the table, JSON and SVG, all from $work/results.
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
awk -v F="$F" -v US="$US" -v UP="$UP" -v nobj="$nobj" -v site="$SITE" -v rate="$CROWD_RATE" \
    -v peerup="$CROWD_PEER_UP" -v ns="$CROWD_NS" -v systems="$CROWD_SYSTEMS" -v date="$date" \
    -v json="$OUT/crowd.json" -v svg="$OUT/crowd.svg" -f "$ROOT/bench/crowd_report.awk" \
    "$work/results" | tee "$OUT/crowd.txt"
echo "crowd: wrote $OUT/crowd.json, $OUT/crowd.svg and $OUT/crowd.txt"

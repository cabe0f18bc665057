#!/usr/bin/env bash
# `flashback crowd` on loopback against flashbackd serving the demo site with its seed capped low,
# and `make demo` without a terminal.
#  - A crowd of N_CROWD: exit 0; its JSON consistent with itself, with the site's files and with
#    flashbackd's own metrics (each visitor joined the seed with a socket of its own; the bytes
#    add up to N pages within the manifests; the origin's share under 40%); the text summary and
#    the plain progress lines.
#  - Options: --origin-rate, --arrivals even, a burst, --linger, --bind.
#  - Failures: bad flags (exit 2), an unreachable origin and a page without a manifest (exit 3),
#    a crowd over `ulimit -n 256` refused before any request (exit 4) while one that fits runs,
#    the origin killed during the crowd (exit 1, bounded), the page changed at the origin during
#    the crowd (the crowd's own check against the manifest it fetched first: exit 1).
#  - `make demo` with stdin from /dev/null and stdout to a file, DEMO_PORT busy: exit 0, the
#    summary printed, flashbackd stopped.
set -u
root=${FB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FB_BUILD:-$root/build}
FB=$build/flashback
FBD=$build/flashbackd
SC=$build/tools/sitecheck
N_CROWD=${N_CROWD:-20}
T=$(mktemp -d /tmp/fbcrowd.$$.XXXXXX)
PIDS=()
failed=0
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok - $*"; }
notok() {
    echo "not ok - $*"
    failed=1
}
check() { # description command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1"; else notok "$1 (got '$2', want '$3')"; fi
}
# json FILE FIELD: a numeric (or null) field of a JSON line; jstr FILE FIELD: a string field.
json() { grep -o "\"$2\":-\?[0-9.a-z]*" "$1" | head -n1 | cut -d: -f2; }
jstr() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -n1 | cut -d: -f2- | tr -d '"'; }
# metric FILE NAME: a sample's value in a Prometheus text scrape.
metric() { awk -v n="$2" '$1 == n {print $2}' "$1"; }

for b in "$FB" "$FBD" "$SC"; do
    [ -x "$b" ] || { notok "$b is built"; exit 1; }
done

R=$T/root
mkdir -p "$R"
cp -r "$root/site/." "$R/"
rm -f "$R/img/.stamp"
objs=$("$SC" links "$R/index.html" /) || { notok "sitecheck lists the demo page"; exit 1; }
page_bytes=$(stat -c %s "$R/index.html")
for p in $objs; do page_bytes=$((page_bytes + $(stat -c %s "$R$p"))); done

# start_fbd NAME RATE: flashbackd on 127.0.0.1:0 serving $R, its seed capped at RATE. Sets
# O (its URL, no trailing slash) and FBD_PID.
start_fbd() {
    local i
    "$FBD" --root "$R" --listen 127.0.0.1:0 --seed-rate "$2" >"$T/$1.out" 2>"$T/$1.err" &
    FBD_PID=$!
    PIDS+=("$FBD_PID")
    for i in $(seq 100); do
        O=$(sed -n 's|^flashbackd: serving .* on \(http://[0-9.:]*\)/$|\1|p' "$T/$1.out")
        [ -n "$O" ] && grep -q '^flashbackd: seeding on udp://' "$T/$1.out" && return 0
        kill -0 "$FBD_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
scrape() { curl -s -o "$1" "$O/.flashback/metrics"; }

start_fbd fbd 10mbit || { notok "flashbackd starts"; cat "$T/fbd.err"; exit 1; }
O1=$O
FBD1=$FBD_PID
ok "flashbackd on $O, seed capped at 10mbit, the page $page_bytes bytes"

# ---- a crowd, JSON ---------------------------------------------------------------------------
scrape "$T/m0"
rc=0
timeout 120 "$FB" crowd "$O/" --n "$N_CROWD" --over 2 --json >"$T/c.json" 2>"$T/c.err" || rc=$?
scrape "$T/m1"
J=$T/c.json
check "crowd of $N_CROWD: exit 0 ($(grep -m1 'flashback crowd: [^h]' "$T/c.err" | head -c 200))" test "$rc" -eq 0
check "one JSON line on stdout" test "$(wc -l <"$J")" -eq 1 -a "$(head -c1 "$J")" = "{"
eq "completed == N" "$(json "$J" completed)" "$N_CROWD"
eq "arrived == N" "$(json "$J" arrived)" "$N_CROWD"
eq "failed == 0, verify_failures == 0" "$(json "$J" failed)/$(json "$J" verify_failures)" "0/0"
eq "exit field 0, no error" "$(json "$J" exit)/$(jstr "$J" error)" "0/"
eq "page_bytes is the site's page and objects" "$(json "$J" page_bytes)" "$page_bytes"
eq "objects: the page and what it embeds" "$(json "$J" objects)" "$((1 + $(echo "$objs" | wc -w)))"
man=$(json "$J" manifest_bytes)
eq "manifest_bytes is the origin's manifest" "$man" "$(curl -s "$O/.flashback/manifest/" | wc -c)"
bm=$(json "$J" bytes_manifest)
bh=$(json "$J" bytes_origin_http)
bs=$(json "$J" bytes_seed)
bp=$(json "$J" bytes_peers)
bo=$(json "$J" bytes_origin)
eq "bytes_origin = manifests + HTTP ranges + seed" "$bo" "$((bm + bh + bs))"
check "every visitor fetched the manifest (bytes_manifest $bm = N x $man, or a few refetches)" \
    test "$bm" -ge $((N_CROWD * man)) -a "$bm" -le $((N_CROWD * man + 2 * man))
need=$((N_CROWD * page_bytes))
sum=$((bo + bp))
check "origin + peers ($sum) = N x page ($need) within the manifests and 2% of HTTP duplicates" \
    test "$sum" -ge "$need" -a "$sum" -le $((need + bm + need / 50))
check "seed + peers + HTTP ranges cover N pages" test $((bs + bp + bh)) -ge "$need"
share=$(json "$J" origin_share)
check "origin share $share < 0.40 with the seed at 10mbit" awk -v s="$share" 'BEGIN { exit !(s < 0.40) }'
check "origin share = origin / (origin + peers)" \
    awk -v s="$share" -v o="$bo" -v p="$bp" 'BEGIN { d = s - o / (o + p); exit !(d < 1e-5 && d > -1e-5) }'
# flashbackd's side: one seed join per visitor (each its own socket), every manifest asked.
joins=$(($(metric "$T/m1" flashback_seed_joins_total) - $(metric "$T/m0" flashback_seed_joins_total)))
eq "flashbackd saw N seed joins (a socket per visitor)" "$joins" "$N_CROWD"
mreq=$(($(metric "$T/m1" flashback_manifest_requests_total) - $(metric "$T/m0" flashback_manifest_requests_total)))
check "flashbackd served N + 1 manifests ($mreq: the crowd's own first, then each visitor's)" \
    test "$mreq" -ge $((N_CROWD + 1)) -a "$mreq" -le $((N_CROWD + 3))
sh=$(json "$J" server_http_bytes)
ss=$(json "$J" server_seed_bytes)
check "the origin's own count (HTTP $sh + seed $ss) covers what the visitors counted from it ($bo), with at most 30% overhead" \
    test $((sh + ss)) -ge "$bo" -a $((sh + ss)) -le $((bo * 13 / 10 + 100000))
check "flashbackd's seed bytes during the run match the crowd's (metrics delta $ss)" \
    test "$ss" -le $(($(metric "$T/m1" flashback_seed_udp_sent_bytes_total) - $(metric "$T/m0" flashback_seed_udp_sent_bytes_total)))
m50=$(json "$J" ms_p50)
m95=$(json "$J" ms_p95)
mmax=$(json "$J" ms_max)
mmean=$(json "$J" ms_mean)
span=$(json "$J" ms_makespan)
check "times ordered: 0 < p50 $m50 <= p95 $m95 <= max $mmax <= makespan $span; mean $mmean" \
    test "$m50" -gt 0 -a "$m50" -le "$m95" -a "$m95" -le "$mmax" -a "$mmax" -le "$span" -a "$mmean" -le "$mmax"
eq "the rate from flashbackd's metrics" "$(json "$J" origin_rate)/$(jstr "$J" origin_rate_source)" "1250000/metrics"
eq "plain_ms = N x page / rate" "$(json "$J" plain_ms)" "$(((N_CROWD * page_bytes * 1000 + 625000) / 1250000))"
fs=$(json "$J" fds_start)
fp=$(json "$J" fds_peak)
check "descriptors: peak $fp <= start $fs + N x 6" test "$fp" -gt "$fs" -a "$fp" -le $((fs + N_CROWD * 6))
check "memory per visitor measured ($(json "$J" mem_per_visitor) bytes) and at least the page" \
    test "$(json "$J" mem_per_visitor)" -ge "$page_bytes"
check "the text summary on stderr with --json" grep -qE "^  completed +$N_CROWD of $N_CROWD, 0 failed" "$T/c.err"
check "plain progress lines on stderr (not a terminal)" grep -qE '^ +[0-9.]+s  arrived [0-9]+/'"$N_CROWD"'  active' "$T/c.err"

# ---- options ----------------------------------------------------------------------------------
rc=0
timeout 60 "$FB" crowd "$O/" --n 4 --over 0 --arrivals even --linger 1 --origin-rate 2MB \
    --bind 127.0.0.1 >"$T/o.out" 2>"$T/o.err" || rc=$?
check "burst of 4, --linger 1, --bind 127.0.0.1, --origin-rate 2MB: exit 0" test "$rc" -eq 0
check "text summary on stdout: completed 4 of 4, every byte verified" grep -qE '^  completed +4 of 4, 0 failed; every byte verified' "$T/o.out"
check "plain server from --origin-rate: 4 x page at 2000000 bytes/s" \
    grep -qE "^  plain server +$(awk -v b="$page_bytes" 'BEGIN { printf "%.1f", 4 * b / 2000000 }') s: 4 x $page_bytes bytes at 2000000 bytes/s" "$T/o.out"
check "... and says the rate came from --origin-rate" grep -q 'the rate given by --origin-rate' "$T/o.out"
check "lingering shows in the summary" grep -q 'each lingered 1.0 s' "$T/o.out"
rc=0
timeout 60 "$FB" crowd "$O/" --n 3 --over 1 --linger 1.5 --json --quiet >"$T/l.json" 2>"$T/l.err" || rc=$?
check "--linger 1.5: the run lasts at least 1.5 s past the last completion (run $(json "$T/l.json" ms_run) ms, makespan $(json "$T/l.json" ms_makespan) ms)" \
    test "$rc" -eq 0 -a "$(json "$T/l.json" ms_run)" -ge $(($(json "$T/l.json" ms_makespan) + 1500))
check "--quiet: nothing on stderr" test ! -s "$T/l.err"

# ---- bad usage --------------------------------------------------------------------------------
bad_flags() { # description args...
    local d=$1 rc=0
    shift
    timeout 10 "$FB" crowd "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
    check "$d: exit 2 ($(head -c 120 "$T/bad.err"))" test "$rc" -eq 2 -a -s "$T/bad.err" -a ! -s "$T/bad.out"
}
bad_flags "no URL" --n 3
bad_flags "--n 0" "$O/" --n 0
bad_flags "--n abc" "$O/" --n abc
bad_flags "--n over the maximum" "$O/" --n 100001
bad_flags "--over -1" "$O/" --over -1
bad_flags "--timeout 0" "$O/" --timeout 0
bad_flags "--bind with a port" "$O/" --bind 127.0.0.1:5000
bad_flags "--bind not an address" "$O/" --bind nowhere
bad_flags "--arrivals burst" "$O/" --arrivals burst
bad_flags "--origin-rate 10mb (bits or bytes?)" "$O/" --origin-rate 10mb
bad_flags "--origin-conns 0" "$O/" --origin-conns 0
bad_flags "--json=1" "$O/" --json=1
bad_flags "unknown option" "$O/" --visitors 3
bad_flags "ftp URL" ftp://127.0.0.1/
bad_flags "two URLs" "$O/" "$O/about.html"
rc=0
"$FB" crowd --help >"$T/help" 2>&1 || rc=$?
check "--help: exit 0, the options and exit codes" test "$rc" -eq 0 -a -n "$(grep -e '--linger' "$T/help")" -a -n "$(grep 'exit status' "$T/help")"

# ---- the origin -------------------------------------------------------------------------------
# A port nothing listens on: a flashbackd's, after it stopped.
start_fbd dead 10mbit || { notok "a flashbackd to stop starts"; exit 1; }
kill "$FBD_PID"
wait "$FBD_PID" 2>/dev/null
dead=${O##*:}
O=$O1
rc=0
timeout 30 "$FB" crowd "http://127.0.0.1:$dead/" --n 3 >"$T/u.out" 2>"$T/u.err" || rc=$?
check "unreachable origin: exit 3, says so ($(head -c 160 "$T/u.err"))" \
    test "$rc" -eq 3 -a -n "$(grep 'cannot reach the origin' "$T/u.err")"
rc=0
timeout 30 "$FB" crowd "$O/no-such-page.html" --n 3 >"$T/u.out" 2>"$T/u.err" || rc=$?
check "a page without a manifest (404): exit 3 ($(head -c 160 "$T/u.err"))" \
    test "$rc" -eq 3 -a -n "$(grep 'HTTP 404' "$T/u.err")"

# ---- the descriptor limit ---------------------------------------------------------------------
scrape "$T/f0"
rc=0
(ulimit -n 256 && exec "$FB" crowd "$O/" --n 100) >"$T/f.out" 2>"$T/f.err" || rc=$?
scrape "$T/f1"
check "ulimit -n 256, 100 visitors: refused, exit 4 ($(head -c 200 "$T/f.err"))" \
    test "$rc" -eq 4 -a -n "$(grep 'do not fit in the descriptor limit' "$T/f.err")"
most=$(sed -n 's/.*at most \([0-9]*\) visitors.*/\1/p' "$T/f.err")
check "the refusal names the most that fit ($most) and was made before any request" \
    test -n "$most" -a "${most:-0}" -gt 0 -a "${most:-999}" -lt 100 -a \
    "$(metric "$T/f1" flashback_manifest_requests_total)" = "$(($(metric "$T/f0" flashback_manifest_requests_total)))"
rc=0
(ulimit -n 256 && exec "$FB" crowd "$O/" --n "$most" --over 1 --json --quiet) >"$T/f2.json" 2>"$T/f2.err" || rc=$?
check "ulimit -n 256, $most visitors (the most that fit): exit 0, peak $(json "$T/f2.json" fds_peak) descriptors of $(json "$T/f2.json" fd_limit)" \
    test "$rc" -eq 0 -a "$(json "$T/f2.json" completed)" = "$most" -a "$(json "$T/f2.json" fds_peak)" -lt 256

# ---- the page changed at the origin during the crowd ------------------------------------------
rc=0
timeout 90 "$FB" crowd "$O/" --n 8 --over 4 --arrivals even --json >"$T/ch.json" 2>"$T/ch.err" &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 100); do
    grep -q 'objects,' "$T/ch.err" && break
    sleep 0.05
done
sleep 1.5
printf '\n/* changed during the crowd */\n' >>"$R/css/main.css"
wait "$cpid" || rc=$?
check "the page changed during the crowd: exit 1, $(json "$T/ch.json" verify_failures) visitors' bytes refused against the first manifest ($(grep -m1 'visitor [0-9]* failed' "$T/ch.err" | head -c 160))" \
    test "$rc" -eq 1 -a "$(json "$T/ch.json" verify_failures)" -ge 1 -a "$(json "$T/ch.json" completed)" -lt 8

# ---- the origin dies during the crowd ---------------------------------------------------------
start_fbd slow 40kB || { notok "a second flashbackd starts"; exit 1; }
rc=0
t0=$(date +%s)
timeout 60 "$FB" crowd "$O/" --n 5 --over 0.5 --timeout 30 --json >"$T/k.json" 2>"$T/k.err" &
cpid=$!
PIDS+=("$cpid")
sleep 1.5
kill -9 "$FBD_PID"
wait "$FBD_PID" 2>/dev/null
wait "$cpid" || rc=$?
el=$(($(date +%s) - t0))
check "origin killed during the crowd: exit 1 in ${el} s, completed $(json "$T/k.json" completed) of 5 ($(grep -m1 'visitor [0-9]* failed' "$T/k.err" | head -c 160))" \
    test "$rc" -eq 1 -a "$(json "$T/k.json" completed)" -lt 5 -a "$el" -le 40
O=$O1

# ---- make demo without a terminal --------------------------------------------------------------
busy=${O1##*:}
case "$build" in
"$root"/*) rel=${build#"$root"/} ;;
*) rel=$build ;;
esac
rc=0
t0=$(date +%s)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u DEMO_N -u DEMO_OVER -u DEMO_RATE DEMO_PORT="$busy" \
    timeout 300 make -C "$root" --no-print-directory demo BUILD="$rel" SAN=1 \
    </dev/null >"$T/demo.out" 2>"$T/demo.err" || rc=$?
el=$(($(date +%s) - t0))
check "make demo, no terminal: exit 0 in ${el} s" test "$rc" -eq 0
check "make demo: port $busy busy, said so and used another" grep -q "port $busy is busy" "$T/demo.out"
check "make demo: the summary (100 of 100 completed, every byte verified)" \
    grep -qE '^  completed +100 of 100, 0 failed; every byte verified' "$T/demo.out"
check "make demo: beside what a plain server would have needed (100 pages at 10mbit)" \
    grep -qE "^  plain server +$(awk -v b="$page_bytes" 'BEGIN { printf "%.1f", 100 * b / 1250000 }') s: 100 x" "$T/demo.out"
check "make demo: the rate is the seed's cap, read from flashbackd's metrics" \
    grep -q "the seed's cap in flashbackd's metrics" "$T/demo.out"
check "make demo: flashbackd stopped cleanly" grep -q 'flashbackd stopped (exit 0); crowd exit 0' "$T/demo.out"
check "make demo: no sanitizer report" test -z "$(grep -l Sanitizer "$T/demo.err" "$T/demo.out")"
rc=0
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEMO_RATE=10mb DEMO_PORT=0 \
    timeout 120 "$root/scripts/demo.sh" "$build" </dev/null >"$T/demo2.out" 2>"$T/demo2.err" || rc=$?
check "demo with a bad DEMO_RATE: fails, flashbackd's reason shown" \
    test "$rc" -ne 0 -a -n "$(grep -e '--seed-rate' "$T/demo2.err")"
rc=0
DEMO_N=lots timeout 20 "$root/scripts/demo.sh" "$build" </dev/null >"$T/demo3.out" 2>&1 || rc=$?
check "demo with DEMO_N=lots: exit 2" test "$rc" -eq 2 -a -n "$(grep DEMO_N "$T/demo3.out")"

# ---- flashbackd stops cleanly -----------------------------------------------------------------
rc=0
kill "$FBD1"
wait "$FBD1" 2>/dev/null || rc=$?
check "flashbackd stopped cleanly (exit $rc, no sanitizer report)" test "$rc" -eq 0 -a -z "$(grep -l Sanitizer "$T/fbd.err")"
check "no sanitizer report from any crowd" test -z "$(grep -l Sanitizer "$T"/*.err)"
exit $failed

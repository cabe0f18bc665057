#!/usr/bin/env bash
# make bench-origin: flashbackd (release build, no access log) against Debian's nginx (one worker,
# sendfile on, access log off) on the same 1 KB, 100 KB and 10 MB files, with wrk -t1 -c50 on
# loopback, the two servers run alternately in the same run. Prints req/s and p99 latency for both
# and the ratio flashbackd/nginx per size, each server's CPU time per request, then flashbackd's
# memory per idle keep-alive connection (RSS growth with 10,000 of them, from a separate client
# process).
# Writes build/bench/origin.json.
# Usage: bench/origin.sh BUILD_DIR    env: ROUNDS (default 2), SECONDS_PER_RUN (default 5),
#        IDLE_CONNS (default 10000), NGINX_OPEN_FILE_CACHE=1 to give nginx an open-file cache.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-2}
DUR=${SECONDS_PER_RUN:-5}
IDLE=${IDLE_CONNS:-10000}
FBD=$BUILD/flashbackd
IDLECONNS=$BUILD/bench/idleconns
for c in wrk nginx; do
    command -v $c >/dev/null || { echo "bench-origin: $c is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
[ -x "$FBD" ] && [ -x "$IDLECONNS" ] || { echo "bench-origin: build first (make)" >&2; exit 1; }

T=$(mktemp -d /tmp/fbbench.XXXXXX)
FB_PID="" NG_PID="" IC_PID=""
cleanup() {
    for p in $FB_PID $NG_PID $IC_PID; do kill "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in $FB_PID $NG_PID $IC_PID; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/root" "$T/nginx/logs"
head -c 1024 /dev/urandom >"$T/root/1k.bin"
head -c 102400 /dev/urandom >"$T/root/100k.bin"
head -c 10485760 /dev/urandom >"$T/root/10m.bin"

# CPU placement: on two or more cores, the server gets core 0 and wrk core 1, for both servers.
SRV_CPU=() WRK_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SRV_CPU=(taskset -c 0)
    WRK_CPU=(taskset -c 1)
fi

# flashbackd on a free port (it prints the port it got).
"${SRV_CPU[@]}" "$FBD" --root "$T/root" --listen 127.0.0.1:0 --max-conns $((IDLE + 2000)) \
    --keepalive-timeout 300 >"$T/fb.out" 2>"$T/fb.err" &
FB_PID=$!
for _ in $(seq 100); do grep -q serving "$T/fb.out" && break; sleep 0.05; done
FB_ADDR=$(sed -n 's|^flashbackd: serving .* on http://\(.*\)/$|\1|p' "$T/fb.out")
[ -n "$FB_ADDR" ] || { echo "bench-origin: flashbackd did not start: $(cat "$T/fb.err")" >&2; exit 1; }

# nginx on a free port: try a few random ones until it binds.
ofc=""
[ "${NGINX_OPEN_FILE_CACHE:-0}" = 1 ] && ofc="open_file_cache max=1000 inactive=60s;"
user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
NG_ADDR=""
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    cat >"$T/nginx/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
master_process off;
error_log $T/nginx/logs/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    default_type application/octet-stream;
    $ofc
    server { listen 127.0.0.1:$port; root $T/root; }
}
EOF
    "${SRV_CPU[@]}" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" 2>>"$T/nginx/start.err" &
    NG_PID=$!
    sleep 0.3
    if kill -0 "$NG_PID" 2>/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$port/1k.bin"; then
        NG_ADDR=127.0.0.1:$port
        break
    fi
    kill "$NG_PID" 2>/dev/null || true
    wait "$NG_PID" 2>/dev/null || true
    NG_PID=""
done
[ -n "$NG_ADDR" ] || { echo "bench-origin: nginx did not start: $(tail -n 3 "$T/nginx/logs/error.log")" >&2; exit 1; }

for f in 1k.bin 100k.bin 10m.bin; do
    cmp -s <(curl -sS "http://$FB_ADDR/$f") "$T/root/$f" || { echo "bench-origin: flashbackd served a wrong $f" >&2; exit 1; }
done

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run ADDR FILE PID: one wrk run; prints "req_per_sec p99_ms errors cpu_us_per_request", the
# last being the server's CPU time per request, which other load on the machine disturbs less.
run() {
    local out c0 c1 n
    c0=$(cpu_ticks "$3")
    out=$("${WRK_CPU[@]}" wrk -t1 -c50 -d"$DUR" --timeout 10s --latency "http://$1/$2")
    grep -E 'Non-2xx|Socket errors' <<<"$out" | sed "s|^|bench-origin: $2 on $1:|" >&2 || true
    c1=$(cpu_ticks "$3")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    local rps p99 err
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}' <<<"$out")
    err=$(awk '/Non-2xx|Socket errors/ {e = 1} END {print e + 0}' <<<"$out")
    echo "$rps $p99 $err $(awk -v t=$((c1 - c0)) -v u="$TICK_US" -v n="$n" 'BEGIN {print (n > 0 ? t * u / n : 0)}')"
}

echo "bench-origin: flashbackd on $FB_ADDR, nginx $(nginx -v 2>&1 | sed 's|.*nginx/||') on $NG_ADDR;" \
    "wrk -t1 -c50 -d${DUR}s, $ROUNDS alternating rounds per size${SRV_CPU:+, server on cpu0, wrk on cpu1}"
echo "(2 shared cores: other work on the machine makes these figures noisy)"
declare -A sum_rps sum_p99 sum_cpu
for f in 1k.bin 100k.bin 10m.bin; do
    for srv in fb ng; do sum_rps[$srv.$f]=0; sum_p99[$srv.$f]=0; sum_cpu[$srv.$f]=0; done
    "${WRK_CPU[@]}" wrk -t1 -c50 -d1 "http://$FB_ADDR/$f" >/dev/null # warm-up
    "${WRK_CPU[@]}" wrk -t1 -c50 -d1 "http://$NG_ADDR/$f" >/dev/null
    for r in $(seq "$ROUNDS"); do
        for srv in fb ng; do
            addr=$FB_ADDR pid=$FB_PID
            [ $srv = ng ] && addr=$NG_ADDR pid=$NG_PID
            read -r rps p99 err cpu <<<"$(run "$addr" "$f" "$pid")"
            sum_rps[$srv.$f]=$(awk -v a="${sum_rps[$srv.$f]}" -v b="$rps" 'BEGIN {print a + b}')
            sum_p99[$srv.$f]=$(awk -v a="${sum_p99[$srv.$f]}" -v b="$p99" 'BEGIN {print a + b}')
            sum_cpu[$srv.$f]=$(awk -v a="${sum_cpu[$srv.$f]}" -v b="$cpu" 'BEGIN {print a + b}')
        done
    done
done

# Memory per idle keep-alive connection: RSS before and with IDLE connections open.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
curl -sS -o /dev/null "http://$FB_ADDR/1k.bin"
rss_before=$(rss_kb "$FB_PID")
mkfifo "$T/hold"
"$IDLECONNS" "$FB_ADDR" "$IDLE" /1k.bin 300 <"$T/hold" >"$T/idle.out" &
IC_PID=$!
exec {hold}>"$T/hold"
for _ in $(seq 600); do
    grep -q '^ready' "$T/idle.out" && break
    kill -0 "$IC_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q '^ready' "$T/idle.out" || { echo "bench-origin: idleconns failed" >&2; exit 1; }
sleep 0.5
rss_after=$(rss_kb "$FB_PID")
exec {hold}>&-
wait "$IC_PID" || true
IC_PID=""
per_conn=$(( (rss_after - rss_before) * 1024 / IDLE ))

# Table and JSON.
mkdir -p "$BUILD/bench"
json=$BUILD/bench/origin.json
printf '\n%-6s %14s %10s %6s %10s %12s %16s %14s\n' size "flashbackd r/s" "nginx r/s" ratio \
    "fb p99 ms" "nginx p99 ms" "fb cpu us/req" "nginx cpu us/req"
{
    echo "{"
    echo "  \"tool\": \"wrk -t1 -c50 -d${DUR}s --timeout 10s\", \"rounds\": $ROUNDS,"
    echo "  \"nginx_open_file_cache\": ${NGINX_OPEN_FILE_CACHE:-0},"
    echo "  \"sizes\": ["
} >"$json"
sep=""
for f in 1k.bin 100k.bin 10m.bin; do
    label=${f%.bin}
    read -r fr np fp99 np99 ratio fc nc < <(awk -v a="${sum_rps[fb.$f]}" -v b="${sum_rps[ng.$f]}" \
        -v c="${sum_p99[fb.$f]}" -v d="${sum_p99[ng.$f]}" -v e="${sum_cpu[fb.$f]}" \
        -v g="${sum_cpu[ng.$f]}" -v n="$ROUNDS" \
        'BEGIN {printf "%.0f %.0f %.2f %.2f %.2f %.1f %.1f\n", a/n, b/n, c/n, d/n, (b > 0 ? a/b : 0), e/n, g/n}')
    printf '%-6s %14s %10s %6s %10s %12s %16s %14s\n' "$label" "$fr" "$np" "$ratio" "$fp99" "$np99" "$fc" "$nc"
    printf '%s    {"size": "%s", "flashbackd_rps": %s, "nginx_rps": %s, "ratio": %s, "flashbackd_p99_ms": %s, "nginx_p99_ms": %s, "flashbackd_cpu_us_per_req": %s, "nginx_cpu_us_per_req": %s}' \
        "$sep" "$label" "$fr" "$np" "$ratio" "$fp99" "$np99" "$fc" "$nc" >>"$json"
    sep=$',\n'
done
printf '\nidle keep-alive connections: %d; flashbackd RSS %d KiB -> %d KiB: %d bytes per connection (goal < 2048)\n' \
    "$IDLE" "$rss_before" "$rss_after" "$per_conn"
{
    echo
    echo "  ],"
    echo "  \"idle_connections\": $IDLE, \"rss_before_kib\": $rss_before, \"rss_after_kib\": $rss_after,"
    echo "  \"bytes_per_idle_connection\": $per_conn"
    echo "}"
} >>"$json"
echo "wrote $json"

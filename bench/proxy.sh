#!/usr/bin/env bash
# make bench-proxy: what flashbackd --upstream costs and saves. Debian's nginx (one worker)
# serves a 1 KB and a 100 KB file; wrk -t1 -c50 loads, for each size: nginx directly,
# flashbackd --root on the same directory, and flashbackd --upstream nginx (default 1 s TTL).
# Prints req/s of the three, the ratios proxy/static and proxy/nginx, and how many requests
# reached nginx while the proxy was loaded (about one per TTL is the goal), then the same for a
# cold path hit by C concurrent requests at once (curl --parallel).
# Usage: bench/proxy.sh BUILD_DIR    env: SECONDS_PER_RUN (default 5), CONCURRENT (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DUR=${SECONDS_PER_RUN:-5}
CONC=${CONCURRENT:-200}
FBD=$BUILD/flashbackd
for c in wrk nginx curl; do
    command -v $c >/dev/null || { echo "bench-proxy: $c is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
[ -x "$FBD" ] || { echo "bench-proxy: build first (make)" >&2; exit 1; }

T=$(mktemp -d /tmp/fbbenchpx.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/root" "$T/logs"
head -c 1024 /dev/urandom >"$T/root/1k.bin"
head -c 102400 /dev/urandom >"$T/root/100k.bin"
head -c 1024 /dev/urandom >"$T/root/cold.bin"

user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
NG=""
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    cat >"$T/nginx.conf" <<EOF
$user
daemon off; master_process off; worker_processes 1; pid $T/nginx.pid; error_log $T/logs/error.log;
events { worker_connections 4096; }
http { access_log $T/up.log; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $T; proxy_temp_path $T; fastcgi_temp_path $T; uwsgi_temp_path $T;
  scgi_temp_path $T; default_type application/octet-stream;
  server { listen 127.0.0.1:$port backlog=4096; root $T/root; } }
EOF
    nginx -p "$T" -c "$T/nginx.conf" 2>>"$T/logs/start.log" &
    pid=$!
    for _ in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$port/1k.bin" && NG=127.0.0.1:$port && break; sleep 0.1; done
    [ -n "$NG" ] && { PIDS+=("$pid"); break; }
    kill "$pid" 2>/dev/null || true
done
[ -n "$NG" ] || { echo "bench-proxy: nginx did not start" >&2; exit 1; }

start_fbd() { # NAME ARGS...: sets ADDR
    local name=$1
    shift
    "$FBD" --listen 127.0.0.1:0 --no-udp "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q serving "$T/$name.out" && break; sleep 0.05; done
    ADDR=$(sed -n 's|^flashbackd: serving .* on http://\([^ ]*\)/$|\1|p' "$T/$name.out")
    [ -n "$ADDR" ] || { echo "bench-proxy: flashbackd did not start: $(cat "$T/$name.err")" >&2; exit 1; }
}
start_fbd static --root "$T/root"
STATIC=$ADDR
start_fbd proxy --upstream "http://$NG"
PROXY=$ADDR

rps() { wrk -t1 -c50 -d"${DUR}s" "http://$1" | awk '/^Requests\/sec/ {printf "%d", $2}'; }
upcount() { grep -c " /$1 " "$T/up.log" || true; }
echo "# bench-proxy: wrk -t1 -c50 -d${DUR}s on loopback, 2 shared cores: figures are noisy"
printf '%-8s %12s %12s %12s %10s %10s %16s\n' file nginx static proxy proxy/st proxy/ng upstream_reqs
for f in 1k.bin 100k.bin; do
    ng=$(rps "$NG/$f")
    st=$(rps "$STATIC/$f")
    before=$(upcount "$f")
    px=$(rps "$PROXY/$f")
    up=$(($(upcount "$f") - before))
    printf '%-8s %12s %12s %12s %10s %10s %16s\n' "$f" "$ng" "$st" "$px" \
        "$(awk -v a="$px" -v b="$st" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v a="$px" -v b="$ng" 'BEGIN {printf "%.2f", a / b}')" \
        "$up in ${DUR}s ($((px * DUR)) served)"
done
args=()
for i in $(seq "$CONC"); do args+=(-o /dev/null "http://$PROXY/cold.bin"); done
before=$(upcount cold.bin)
curl -s --parallel --parallel-immediate --parallel-max "$CONC" "${args[@]}" >/dev/null 2>&1
echo "# $CONC concurrent GETs of a cold path: $(($(upcount cold.bin) - before)) upstream request(s)"

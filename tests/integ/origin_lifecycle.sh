#!/usr/bin/env bash
# flashbackd's life: command-line errors (exit 2 with one line), --help/--version, the start
# line with the real port, IPv6, the combined access log and its reopening on SIGHUP, and the
# graceful stop on SIGTERM/SIGINT (in-flight responses finish, idle connections close, exit 0,
# and the deadline cuts off a response that takes too long).
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
make_root
D=$FB_BUILD/flashbackd

# Errors: exit code 2 and exactly one line on stderr.
expect_exit2() { # description, args...
    local d=$1
    shift
    local rc=0
    timeout 10 "$D" "$@" >"$T/o" 2>"$T/e" || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/e")" -eq 1 ] && [ ! -s "$T/o" ]; then
        ok "$d: exit 2, '$(cat "$T/e")'"
    else
        fail "$d: exit $rc, stderr '$(cat "$T/e")'"
    fi
}
expect_exit2 "unknown flag" --root "$R" --listen 127.0.0.1:0 --bogus
expect_exit2 "flag without its value" --root "$R" --listen
expect_exit2 "bad number" --root "$R" --listen 127.0.0.1:0 --max-conns many
expect_exit2 "negative timeout" --root "$R" --listen 127.0.0.1:0 --header-timeout -1
expect_exit2 "zero connections" --root "$R" --listen 127.0.0.1:0 --max-conns 0
expect_exit2 "no swarm grace (0 meant the 30 s default)" --root "$R" --listen 127.0.0.1:0 --swarm-grace 0
if timeout 10 "$D" --root "$R" --listen 127.0.0.1:0 --max-head 10 2>&1 | grep -q "out of range (256 bytes to"; then
    ok "a value out of range names the range"
else
    fail "a value out of range names the range: '$(timeout 10 "$D" --root "$R" --listen 127.0.0.1:0 --max-head 10 2>&1)'"
fi
expect_exit2 "stray argument" "$R"
expect_exit2 "missing root" --root "$T/nope" --listen 127.0.0.1:0
expect_exit2 "root is a file" --root "$R/one.txt" --listen 127.0.0.1:0
expect_exit2 "bad listen address" --root "$R" --listen nonsense
expect_exit2 "port out of range" --root "$R" --listen 127.0.0.1:70000
start_server --root "$R"
expect_exit2 "port in use" --root "$R" --listen "$ADDR"
check "first server unaffected by the second" curl -sSf -o /dev/null "http://$ADDR/one.txt"
check "SIGTERM: exit 0" stop_server

rc=0
"$D" --help >"$T/o" 2>&1 || rc=$?
check "--help exits 0 and lists the limits" test "$rc" -eq 0 -a -n "$(grep -- --max-conns "$T/o")"
eq "--version" "$("$D" --version)" "flashbackd 0.1.0"

# The start line names the real port; flags accept --name=value.
start_server --root="$R" --keepalive-timeout=5
check "start line has a real port ($ADDR)" test "$PORT" -gt 0
eq "start line names the root" "$(head -n1 "$SERVER_OUT")" \
    "flashbackd: serving $(realpath "$R") on http://$ADDR/"
check "SIGTERM: exit 0" stop_server

# IPv6 loopback, when the machine has it.
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
    start_server --root "$R" --listen '[::1]:0'
    check "IPv6 start line" grep -q '^flashbackd: serving .* on http://\[::1\]:[0-9]*/$' "$SERVER_OUT"
    eq "IPv6 request" "$(curl -sS -g "http://$ADDR/one.txt")" one
    check "SIGTERM: exit 0" stop_server
else
    ok "IPv6 # SKIP no ::1 on this machine"
fi

# Access log in the combined format; SIGHUP reopens it (rotation).
LOG=$T/access.log
start_server --root "$R" --access-log "$LOG"
curl -sS -o /dev/null -A 'test agent "quoted"' -e 'http://ref.example/page' "http://$ADDR/big.bin"
curl -sS -o /dev/null -I "http://$ADDR/one.txt"
curl -sS -o /dev/null "http://$ADDR/nope"
raw -r 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'
for _ in $(seq 50); do [ "$(wc -l <"$LOG")" -ge 4 ] && break; sleep 0.1; done
eq "one log line per response" "$(wc -l <"$LOG")" 4
re='^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000\] '
check "GET line: combined format, body bytes, referer, escaped agent" grep -qE \
    "${re}\"GET /big.bin HTTP/1.1\" 200 1048576 \"http://ref.example/page\" \"test agent \\\\x22quoted\\\\x22\"$" "$LOG"
check "HEAD line: no body bytes" grep -qE "${re}\"HEAD /one.txt HTTP/1.1\" 200 0 \"-\" \"curl/" "$LOG"
check "404 line" grep -qE "${re}\"GET /nope HTTP/1.1\" 404 14 " "$LOG"
check "400 line for a request that did not parse" grep -qE "${re}\"-\" 400 16 \"-\" \"-\"$" "$LOG"
mv "$LOG" "$LOG.1"
kill -HUP "$PID"
sleep 0.3
curl -sS -o /dev/null "http://$ADDR/two.txt"
for _ in $(seq 50); do [ -s "$LOG" ] && break; sleep 0.1; done
check "after SIGHUP the new file gets new lines" grep -q '"GET /two.txt HTTP/1.1" 200 4 ' "$LOG"
check "after SIGHUP the old file gets none" test -z "$(grep two.txt "$LOG.1")"
check "SIGTERM: exit 0" stop_server

# Graceful stop: a 96 MiB download (larger than what the loopback socket buffers hold) read at
# 48 MB/s is in flight when SIGTERM arrives; it finishes whole, an idle keep-alive connection is
# closed at once, new connections are refused, and the exit code is 0.
truncate -s 96M "$R/huge.bin"
start_server --root "$R" --shutdown-timeout 10
host=${ADDR%:*}
exec {idle}<>"/dev/tcp/$host/$PORT"
printf 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\n' >&"$idle"
curl -sS --limit-rate 48M -o "$T/huge.out" "http://$ADDR/huge.bin" &
cpid=$!
sleep 0.5
t0=$(date +%s%3N)
kill -TERM "$PID"
sleep 0.2
check "idle keep-alive connection closed at SIGTERM" timeout 2 bash -c "cat <&$idle >/dev/null"
check "new connections refused while stopping" \
    test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$ADDR/one.txt")" = 000
rc=0
wait "$PID" || rc=$?
el=$(($(date +%s%3N) - t0))
eq "graceful stop: exit 0" "$rc" 0
check "graceful stop waited for the download (${el} ms)" test "$el" -ge 400 -a "$el" -le 9000
rc=0
wait "$cpid" || rc=$?
eq "in-flight download finished (curl exit)" "$rc" 0
check "in-flight download is whole" cmp -s "$T/huge.out" "$R/huge.bin"
exec {idle}>&-

# The deadline: a client that requests 96 MiB and never reads keeps its response in flight; it is
# cut off (reset) after --shutdown-timeout 1 and flashbackd exits 0.
start_server --root "$R" --shutdown-timeout 1
host=${ADDR%:*}
exec {stuck}<>"/dev/tcp/$host/$PORT"
printf 'GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n' >&"$stuck"
sleep 0.5
t0=$(date +%s%3N)
kill -INT "$PID"
rc=0
wait "$PID" || rc=$?
el=$(($(date +%s%3N) - t0))
eq "SIGINT with a stuck download: exit 0" "$rc" 0
check "stopped at the deadline (${el} ms)" test "$el" -ge 800 -a "$el" -le 3000
got=$(timeout 10 cat <&"$stuck" 2>/dev/null | wc -c)
check "the stuck response was cut off ($got of 100663296 bytes)" test "$got" -lt 100663296
exec {stuck}>&-
finish

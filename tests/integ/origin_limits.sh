#!/usr/bin/env bash
# Limits set by flags: a slow sender gets 408 and is closed, a silent connection is closed
# quietly, an idle keep-alive connection is closed after its timeout, oversized heads get 414 or
# 431, and past --max-conns new connections get 503 while the server stays up and recovers.
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
make_root
truncate -s 64M "$R/huge.bin"
start_server --root "$R" --header-timeout 1 --keepalive-timeout 2 --max-head 1k \
    --max-headers 8 --linger-timeout 300ms --send-timeout 1
ms() { date +%s%3N; }

# A head that never ends: 408 after the header timeout, then the connection is closed.
t0=$(ms)
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n' -t 5000
el=$(($(ms) - t0))
eq "unfinished head: 408" "$(statuses <"$OUT")" 408
check "unfinished head: closed (fbhttp exit $RC)" test "$RC" -eq 0 -o "$RC" -eq 4
check "unfinished head: answered within 1-3 s (${el} ms)" test "$el" -ge 900 -a "$el" -le 3000

# A head dribbled one byte every 150 ms (about 6 s in all): the whole head must arrive within the
# header timeout, so progress does not extend it.
t0=$(ms)
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nX-Slow: yes\r\n\r\n' -c 1 -d 150 -t 8000
el=$(($(ms) - t0))
eq "slowloris dribble: 408" "$(statuses <"$OUT")" 408
check "slowloris dribble: cut off well before the head completes (${el} ms)" test "$el" -le 3000

# A connection that sends nothing is closed without a response.
t0=$(ms)
raw -t 5000
el=$(($(ms) - t0))
check "silent connection: closed (fbhttp exit $RC)" test "$RC" -eq 0
check "silent connection: no bytes sent" test ! -s "$OUT"
check "silent connection: closed after about 1 s (${el} ms)" test "$el" -ge 900 -a "$el" -le 3000

# Keep-alive idle timeout: one request, then silence; closed about 2 s later.
t0=$(ms)
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\n' -t 6000
el=$(($(ms) - t0))
eq "idle keep-alive: the request was answered" "$(statuses <"$OUT")" 200
check "idle keep-alive: closed by the server (fbhttp exit $RC)" test "$RC" -eq 0
check "idle keep-alive: closed after about 2 s (${el} ms)" test "$el" -ge 1800 -a "$el" -le 4000

# A slow but steady client within the limits is served: each request completes quickly.
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\n' -c 10 -d 50 -t 600
eq "head in pieces within the timeout: 200" "$(statuses <"$OUT")" 200

# Head size and field count.
long=$(printf 'a%.0s' $(seq 1100))
raw -r "GET /$long HTTP/1.1\r\nHost: a\r\n\r\n"
eq "request line over --max-head: 414" "$(statuses <"$OUT")" 414
raw -r "GET / HTTP/1.1\r\nHost: a\r\nX-Big: $long\r\n\r\n"
eq "fields over --max-head: 431" "$(statuses <"$OUT")" 431
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n\r\n' -t 500
eq "8 fields (the limit): 200" "$(statuses <"$OUT")" 200
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n'
eq "9 fields: 431" "$(statuses <"$OUT")" 431
# A client that stops reading: its response makes no progress and is dropped after the send
# timeout, with a reset (the server keeps nothing for it).
host=${ADDR%:*}
exec {stuck}<>"/dev/tcp/$host/$PORT"
printf 'GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n' >&"$stuck"
sleep 2.5
got=$(timeout 5 cat <&"$stuck" 2>/dev/null | wc -c)
check "stalled reader dropped after the send timeout ($got of 67108864 bytes)" \
    test "$got" -lt 67108864
exec {stuck}>&-
check "flashbackd exits 0 on SIGTERM" stop_server

# --max-conns: five connections held open, the sixth gets 503 and is closed; the server stays up
# and serves again once the five go away.
start_server --root "$R" --max-conns 5 --header-timeout 30
host=${ADDR%:*}
fds=()
for i in 1 2 3 4 5; do
    exec {fd}<>"/dev/tcp/$host/$PORT"
    fds+=("$fd")
done
sleep 0.3
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\n' -t 3000
eq "connection over --max-conns: 503" "$(statuses <"$OUT")" 503
check "connection over --max-conns: closed (fbhttp exit $RC)" test "$RC" -eq 0 -o "$RC" -eq 4
refused=0
for i in $(seq 20); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$ADDR/one.txt")
    [ "$code" = 503 ] || [ "$code" = 000 ] && refused=$((refused + 1))
done
eq "20 more connections over the cap are all refused" "$refused" 20
printf 'GET /two.txt HTTP/1.1\r\nHost: a\r\n\r\n' >&"${fds[0]}"
read -r -t 3 line <&"${fds[0]}"
eq "a held connection is still served" "${line%$'\r'}" "HTTP/1.1 200 OK"
for fd in "${fds[@]}"; do exec {fd}>&-; done
sleep 0.3
eq "after the held connections close, new ones are served" \
    "$(curl -sS --max-time 3 "http://$ADDR/one.txt")" one
check "server process still running" kill -0 "$PID"
check "flashbackd exits 0 on SIGTERM" stop_server
finish

#!/usr/bin/env bash
# flashbackd --upstream in front of an unchanged site: Debian's nginx on 127.0.0.1 serving the
# demo site, with locations that set a cookie, forbid storing, answer 404, redirect, serve a body
# over the cap, serve slowly, and freshen for 1 s. Through the proxy: bytes identical to
# nginx's, nginx's Content-Type kept, conditional GET -> 304 and Range -> 206 from the mirror,
# uncacheable answers relayed with their headers and never stored, 200 concurrent requests for
# a cold path -> one upstream request (nginx's access log), expiry -> a conditional upstream
# request answered 304, upstream stopped -> the stale copy, a cold path then -> 502, a slow
# upstream -> 504, a body over --upstream-max-body -> 502, POST -> 405, bad flags -> exit 2.
set -u
. "$(dirname "$0")/../lib/integ.sh"
fb_tmpdir proxy
fb_need_built "$FBD" "$SC"
fb_need_cmds nginx curl
fb_demo_site "$T"
head -c 3000000 /dev/urandom >"$R/large.bin"   # under the cap: mirrored, sent with sendfile
head -c 5000000 /dev/urandom >"$R/huge.bin"    # over --upstream-max-body 4m
head -c 200000 /dev/urandom >"$R/slow.bin"     # sent at 20 kB/s: longer than the timeout
head -c 100000 /dev/urandom >"$R/crowd.bin"    # sent at 40 kB/s: the crowd arrives meanwhile
head -c 300000 /dev/urandom >"$R/nocache.bin"  # no-cache: shared by concurrent requests, not stored
head -c 100000 /dev/urandom >"$R/swr.bin"      # max-age=1, no validators, 2.5 s to fetch
printf 'session page\n' >"$R/cookie.txt"
printf 'secret\n' >"$R/nostore.txt"
printf 'fresh for one second\n' >"$R/short.txt"
printf 'custom type\n' >"$R/data.xyz"
for i in $(seq 5); do printf 'cold %d\n' "$i" >"$R/cold$i.txt"; done
printf 'hostile headers\n' >"$R/bighead.txt"
# 80 header lines of 1000 bytes: a header block over flashbackd's 64 KiB cap.
big=$(head -c 1000 /dev/zero | tr '\0' 'h')
bighead=$(for i in $(seq 80); do printf 'add_header X-Big-%d %s; ' "$i" "$big"; done)

upstream_conf() {
    cat <<EOF
  log_format up '\$request_method \$request_uri \$status inm=\$http_if_none_match ck=\$cookie_k xff=\$http_x_forwarded_for';
  access_log $T/up.log up;
  types { text/html html; text/css css; text/javascript js; image/png png; image/svg+xml svg;
          image/jpeg jpg; text/plain txt; application/x-custom xyz; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$1 backlog=1024;
    root $R;
    location = /cookie.txt { add_header Set-Cookie "s=1; Path=/"; }
    location = /nostore.txt { add_header Cache-Control "no-store"; }
    location = /short.txt { add_header Cache-Control "max-age=1"; }
    location = /moved { return 301 /index.html; }
    location = /noval.txt { add_header Cache-Control "max-age=1"; return 200 "no validators\n"; }
    location = /slow.bin { limit_rate 20k; }
    location = /crowd.bin { limit_rate 40k; }
    location = /swr.bin { add_header Cache-Control "max-age=1"; etag off; if_modified_since off;
                          limit_rate 40k; }
    location = /nocache.bin { add_header Cache-Control "no-cache"; limit_rate 300k; }
    location = /bighead.txt { $bighead }
  }
EOF
}
fb_nginx_start upstream_conf || { notok "nginx starts"; cat "$T/logs/start.log"; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
upcount() { grep -c "^GET $1 " "$T/up.log"; } # upstream requests for a path

# ---- bad flags -------------------------------------------------------------------------------
expect_exit2() { # description, args...
    local d=$1 rc=0
    shift
    timeout 10 "$FBD" --listen 127.0.0.1:0 --no-udp "$@" >"$T/o" 2>"$T/e" || rc=$?
    check "$d: exit 2 with one line ($(head -c 120 "$T/e"))" \
        test "$rc" -eq 2 -a "$(wc -l <"$T/e")" -eq 1 -a ! -s "$T/o"
}
expect_exit2 "--upstream ftp://" --upstream ftp://127.0.0.1/
expect_exit2 "--upstream without a host" --upstream http:///x
expect_exit2 "--upstream with a bad port" --upstream http://127.0.0.1:99999
expect_exit2 "--upstream with a query" --upstream "$U/?a=b"
expect_exit2 "--upstream with a user" --upstream http://u:p@127.0.0.1/
expect_exit2 "--upstream and --root" --upstream "$U" --root "$R"
expect_exit2 "--mirror-dir without --upstream" --mirror-dir "$T/m"
expect_exit2 "--mirror-dir not empty" --upstream "$U" --mirror-dir "$R"
expect_exit2 "--upstream-ttl bad" --upstream "$U" --upstream-ttl soon

# ---- a fresh mirror of its own, capped, removed at exit ----------------------------------------
cp "$R/large.bin" "$R/large2.bin"
fbd_start own --no-udp --upstream "$U" --mirror-bytes 4m --upstream-ttl 60s --shutdown-timeout 1s ||
    { notok "flashbackd with its own mirror"; exit 1; }
own=$(sed -n 's|.*(mirror \(.*\)) on.*|\1|p' "$T/own.out")
check "its own mirror exists while it runs ($own)" test -d "$own"
curl -s -o "$T/l1" "$FBD_URL/large.bin"
curl -s -o "$T/l2" "$FBD_URL/large2.bin"
check "--mirror-bytes 4m: two 3 MB files, the older copy goes, the newer stays" \
    test ! -e "$own/large.bin" -a -e "$own/large2.bin"
curl -s -o "$T/l3" "$FBD_URL/large.bin"
check "the evicted path is fetched again, all three answers identical" \
    sh -c "cmp -s '$T/l1' '$R/large.bin' && cmp -s '$T/l2' '$R/large2.bin' && cmp -s '$T/l3' '$R/large.bin'"
eq "evictions counted" "$(curl -s "$FBD_URL/.flashback/metrics" | awk '$1 == "flashback_proxy_evictions_total" {print $2}')" 2
# A stop while an upstream request is in flight (the upstream needs 10 s, --shutdown-timeout is
# 1 s): a clean exit within the deadline, the waiting client cut off, never a hang.
curl -s -m 20 -o /dev/null -w '%{http_code}' "$FBD_URL/slow.bin" >"$T/inflight.code" &
inflight=$!
sleep 0.5
t0=$(date +%s%N)
fbd_stop "$FBD_PID" "$T/own.err"
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$inflight"
check "stopped during an upstream request: exit in $ms ms, the client cut off ($(cat "$T/inflight.code"))" \
    test "$ms" -lt 4000 -a "$(cat "$T/inflight.code")" != 200
check "its own mirror is removed at exit" test ! -e "$own"

# An upstream with a path prefix.
fbd_start pre --no-udp --upstream "$U/img/" || { notok "flashbackd --upstream URL/img/"; exit 1; }
curl -s -o "$T/pre.svg" "$FBD_URL/logo.svg"
check "--upstream URL/img/: /logo.svg is the upstream's /img/logo.svg" cmp -s "$T/pre.svg" "$R/img/logo.svg"
fbd_stop "$FBD_PID" "$T/pre.err"
: >"$T/up.log"

# ---- the proxy ---------------------------------------------------------------------------------
mkdir "$T/mirror"
M=$T/mirror
fbd_start px --no-udp --upstream "$U" --mirror-dir "$M" --upstream-max-body 4m \
    --upstream-timeout 5s --upstream-ttl 60s ||
    { notok "flashbackd --upstream starts"; cat "$T/px.err"; exit 1; }
P=$FBD_URL
ok "flashbackd in front of $U on $P"

# Bytes and types, for the page and every object it embeds.
n_diff=0
n_type=0
for p in /index.html / $page_objs /large.bin /data.xyz; do
    want=$p
    [ "$p" = / ] && want=/index.html
    t_up=$(curl -s -o "$T/up.body" -w '%{content_type}' "$U$p")
    t_px=$(curl -s -o "$T/px.body" -w '%{content_type}' "$P$p")
    cmp -s "$T/px.body" "$R$want" || { n_diff=$((n_diff + 1)); echo "# differs: $p"; }
    [ "$t_up" = "$t_px" ] || { n_type=$((n_type + 1)); echo "# type of $p: '$t_px', upstream '$t_up'"; }
done
check "page, its $(echo $page_objs | wc -w) objects, a 3 MB file: bytes identical to the upstream's ($n_diff differ)" \
    test "$n_diff" -eq 0
check "Content-Type kept from the upstream ($n_type differ)" test "$n_type" -eq 0
eq "the upstream's type wins over the guess by extension" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$P/data.xyz")" application/x-custom
check "the mirror holds the page and the 3 MB file" cmp -s "$M/large.bin" "$R/large.bin"
check "/ is mirrored as index.html" cmp -s "$M/index.html" "$R/index.html"
eq "the client's address reaches the upstream as X-Forwarded-For" \
    "$(grep '^GET /data.xyz ' "$T/up.log" | tail -n1 | sed 's/.*xff=//')" 127.0.0.1

# Served from the mirror: a second GET costs the upstream nothing; 304 and 206.
before=$(upcount /index.html)
curl -s -o /dev/null "$P/index.html"
eq "a fresh copy is served without the upstream" "$(upcount /index.html)" "$before"
etag=$(curl -s -D - -o /dev/null "$P/large.bin" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
eq "If-None-Match with the ETag -> 304" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$P/large.bin")" 304
code=$(curl -s -o "$T/range" -w '%{http_code}' -r 1000-1999 "$P/large.bin")
check "Range -> 206 with the right 1000 bytes" \
    test "$code" = 206 -a "$(cmp "$T/range" <(tail -c +1001 "$R/large.bin" | head -c 1000) && echo same)" = same
eq "HEAD has the length and no body" \
    "$(curl -s -I "$P/large.bin" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')" 3000000
eq "the ETag stays while the upstream object does not change" \
    "$(curl -s -D - -o /dev/null "$P/large.bin" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')" "$etag"

# Uncacheable answers: relayed with their status and headers, never stored.
for i in 1 2; do curl -s -D "$T/cookie.h$i" -o "$T/cookie.b$i" "$P/cookie.txt"; done
check "Set-Cookie answer relayed with its cookie and bytes" \
    grep -qi '^Set-Cookie: s=1; Path=/' "$T/cookie.h2"
check "Set-Cookie answer: bytes identical" cmp -s "$T/cookie.b2" "$R/cookie.txt"
eq "Set-Cookie answer: both requests went upstream" "$(upcount /cookie.txt)" 2
check "Set-Cookie answer: not in the mirror" test ! -e "$M/cookie.txt"
for i in 1 2; do curl -s -D "$T/ns.h" -o "$T/ns.b" "$P/nostore.txt"; done
check "no-store answer relayed with its Cache-Control" grep -qi '^Cache-Control: no-store' "$T/ns.h"
eq "no-store answer: both requests went upstream, none stored" \
    "$(upcount /nostore.txt)$(test -e "$M/nostore.txt" && echo stored)" 2
eq "404 relayed" "$(curl -s -o /dev/null -w '%{http_code}' "$P/missing.html")" 404
check "404 not stored" test ! -e "$M/missing.html"
curl -s -D "$T/moved.h" -o /dev/null "$P/moved"
check "301 relayed with its Location, not followed" \
    grep -qE '^HTTP/1.1 301|^Location: http://127.0.0.1:[0-9]+/index.html' "$T/moved.h"
check "301: Location kept" grep -qi '^Location: .*/index.html' "$T/moved.h"
eq "a body over --upstream-max-body -> 502" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$P/huge.bin")" 502
check "the body over the cap is not stored" test ! -e "$M/huge.bin"
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 "$P/slow.bin")
ms=$((($(date +%s%N) - t0) / 1000000))
check "a slow upstream -> 504 after --upstream-timeout 5s ($code in $ms ms)" \
    test "$code" = 504 -a "$ms" -ge 4500 -a "$ms" -lt 9000
eq "an upstream header block over 64 KiB -> 502" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$P/bighead.txt")" 502
eq "POST -> 405" "$(curl -s -o /dev/null -w '%{http_code}' -d x "$P/index.html")" 405
code=$(curl -s -o "$T/r5" -w '%{http_code}' -r 0-3 "$P/cold5.txt")
eq "Range on a cold path: the waiting request gets its 206 from the new copy" "$code $(cat "$T/r5")" "206 cold"
# A query is part of the key: mirrored apart (under the hidden .q directory), types kept.
for i in 1 2; do curl -s -o "$T/q1.$i" "$P/cold1.txt?x=1"; done
curl -s -o "$T/q2" "$P/cold1.txt?x=2"
check "a query: bytes identical, one upstream request per distinct query ($(upcount '/cold1.txt?x=1') and $(upcount '/cold1.txt?x=2'))" \
    test "$(cat "$T/q1.1")$(cat "$T/q1.2")$(cat "$T/q2")" = "cold 1cold 1cold 1" -a \
    "$(upcount '/cold1.txt?x=1')" = 1 -a "$(upcount '/cold1.txt?x=2')" = 1
check "a query: mirrored under .q, apart from the path without it" \
    test -e "$M/.q/cold1.txt/.f783d31" -a ! -e "$M/cold1.txt"
eq "a query: the upstream's Content-Type" "$(curl -s -o /dev/null -w '%{content_type}' "$P/data.xyz?v=2")" \
    application/x-custom
long=$(head -c 1500 /dev/zero | tr '\0' 'c')
eq "a request with Authorization is passed through, with its (1.5 kB) Cookie" \
    "$(curl -s -H "Authorization: Basic eDp5" -H "Cookie: k=$long" "$P/cold1.txt")$(grep -c "^GET /cold1.txt .* ck=$long " "$T/up.log")" \
    "cold 11"
check "... and not stored" test ! -e "$M/cold1.txt"
curl -s -o /dev/null -H "Cookie: k=v" "$P/cold4.txt"
check "a fetch that fills the mirror carries no Cookie" grep -q "^GET /cold4.txt 200 .* ck=- " "$T/up.log"

# ---- the crowd on a cold path: one upstream request ---------------------------------------------
# One curl process, 200 transfers at once; the upstream takes about 2.5 s for this object.
args=()
for i in $(seq 200); do args+=(-o "$T/c$i" "$P/crowd.bin"); done
curl -s --parallel --parallel-immediate --parallel-max 200 "${args[@]}" >/dev/null 2>&1
n_bad=0
for i in $(seq 200); do cmp -s "$T/c$i" "$R/crowd.bin" || n_bad=$((n_bad + 1)); done
check "200 concurrent GETs of a cold path: all identical ($n_bad differ)" test "$n_bad" -eq 0
eq "200 concurrent GETs of a cold path: upstream requests" "$(upcount /crowd.bin)" 1
echo "# 200 concurrent cold GETs -> $(upcount /crowd.bin) upstream request(s)"

# A no-cache answer: relayed (from a spooled file) to every concurrent request, never stored.
args=()
for i in $(seq 20); do args+=(-o "$T/n$i" "$P/nocache.bin"); done
curl -s --parallel --parallel-immediate --parallel-max 20 "${args[@]}" >/dev/null 2>&1
n_bad=0
for i in $(seq 20); do cmp -s "$T/n$i" "$R/nocache.bin" || n_bad=$((n_bad + 1)); done
check "20 concurrent GETs of a no-cache 300 kB object: all identical ($n_bad differ), $(upcount /nocache.bin) upstream request(s), not stored" \
    test "$n_bad" -eq 0 -a "$(upcount /nocache.bin)" -le 2 -a ! -e "$M/nocache.bin"
check "no spooled file is left in the mirror" test -z "$(ls -A "$M" | grep fbrelay)"
eq "the shared 300 kB answer went through one spooled file" \
    "$(curl -s "$P/.flashback/metrics" | awk '$1 == "flashback_proxy_spooled_total" {print $2}')" 1

# ---- freshness: expiry, revalidation, stale-if-error -----------------------------------------
curl -s -o "$T/s1" "$P/short.txt"
curl -s -o /dev/null "$P/short.txt"
eq "max-age=1: fresh copy, one upstream request" "$(upcount /short.txt)" 1
sleep 1.5
curl -s -D "$T/s2.h" -o "$T/s2" "$P/short.txt"
line=$(grep '^GET /short.txt ' "$T/up.log" | sed -n 2p)
check "after max-age a conditional request, answered 304 ($line)" \
    test -n "$(echo "$line" | grep -E ' 304 inm=[^ -]')"
check "revalidated copy: same bytes" cmp -s "$T/s2" "$R/short.txt"
curl -s -o "$T/metrics" "$P/.flashback/metrics"
m() { awk -v n="$1" '$1 == n {print $2}' "$T/metrics"; }
check "metrics: revalidations $(m flashback_proxy_revalidations_total), 304s $(m flashback_proxy_not_modified_total), coalesced $(m flashback_proxy_coalesced_total)" \
    test "$(m flashback_proxy_not_modified_total)" -ge 1 -a "$(m flashback_proxy_coalesced_total)" -ge 100
# Without validators the upstream answers 200 again: same bytes, so the copy (and its ETag) stays.
e1=$(curl -s -D - -o /dev/null "$P/noval.txt" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
sleep 1.5
e2=$(curl -s -D - -o "$T/nv" "$P/noval.txt" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
check "no validators upstream: refetched after max-age ($(upcount /noval.txt) requests), same ETag $e1" \
    test "$(upcount /noval.txt)" = 2 -a -n "$e1" -a "$e1" = "$e2" -a "$(cat "$T/nv")" = "no validators"
# While a stale copy is being revalidated (slowly), other requests get it at once.
curl -s -o /dev/null "$P/swr.bin"
sleep 1.2
curl -s -m 20 -o "$T/swr0" "$P/swr.bin" &
trigger=$!
sleep 0.3
n_fast=0
for i in $(seq 10); do
    t=$(curl -s -o "$T/swr$i" -w '%{time_total}' "$P/swr.bin")
    cmp -s "$T/swr$i" "$R/swr.bin" && awk -v t="$t" 'BEGIN {exit !(t < 0.5)}' && n_fast=$((n_fast + 1))
done
wait "$trigger"
check "a stale copy being revalidated: 10 requests meanwhile answered at once from it ($n_fast fast), the revalidating one gets the new answer" \
    test "$n_fast" -eq 10 -a -n "$(cmp "$T/swr0" "$R/swr.bin" && echo same)"
eq "... and the upstream saw 2 requests for it" "$(upcount /swr.bin)" 2
sleep 1.2
kill "$NGINX_PID"
wait "$NGINX_PID" 2>/dev/null
fb_forget "$NGINX_PID"
code=$(curl -s -o "$T/s3" -w '%{http_code}' "$P/short.txt")
check "upstream stopped: the stale copy is served ($code)" \
    test "$code" = 200 -a -n "$(cmp "$T/s3" "$R/short.txt" && echo same)"
eq "upstream stopped: a cold path -> 502" "$(curl -s -o /dev/null -w '%{http_code}' "$P/cold3.txt")" 502
eq "upstream stopped: a fresh copy still served" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$P/index.html")" 200
curl -s -o "$T/metrics" "$P/.flashback/metrics"
check "metrics: stale served $(m flashback_proxy_stale_served_total), while updating $(m flashback_proxy_stale_updating_total), upstream errors $(m flashback_proxy_upstream_errors_total)" \
    test "$(m flashback_proxy_stale_served_total)" -ge 1 -a "$(m flashback_proxy_upstream_errors_total)" -ge 2 -a \
    "$(m flashback_proxy_stale_updating_total)" -ge 10
fbd_stop "$FBD_PID" "$T/px.err"
check "a given --mirror-dir is left empty at exit" test -z "$(ls -A "$M")"

exit $failed

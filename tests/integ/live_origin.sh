#!/usr/bin/env bash
# flashbackd's manifest service, metrics and seed flags, on loopback: the contract's headers
# (Content-Type, Cache-Control, ETag, Flashback-Seed as PORT or HOST:PORT), the objects of the
# demo page in document order, HEAD and 304, paths that get 404, the caps (501 for a page over
# --manifest-bytes, --manifest-objects), a rebuilt manifest when a file changes (a new swarm; the
# old one retired after --swarm-grace), the Prometheus text of /.flashback/metrics, --no-udp
# and --udp, and the command-line errors of the new flags.
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
D=$FB_BUILD/flashbackd
fb_demo_site "$T"
echo "outside" >"$T/outside.txt"
ln -s "$T/outside.txt" "$R/escape.html"
mkdir -p "$R/.hidden"
echo "<p>hidden</p>" >"$R/.hidden/index.html"
head -c 4000000 /dev/urandom >"$R/big.bin"
{
    echo '<!doctype html><title>large</title>'
    for i in 1 2 3 4 5 6; do
        head -c 2000000 /dev/urandom >"$R/large$i.bin"
        echo "<img src=large$i.bin>"
    done
} >"$R/large.html"

expect_exit2() { # description, args...
    local d=$1 rc=0
    shift
    timeout 10 "$D" "$@" >"$T/o" 2>"$T/e" || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/e")" -eq 1 ]; then
        ok "$d: exit 2, '$(cat "$T/e")'"
    else
        fail "$d: exit $rc, stderr '$(cat "$T/e")'"
    fi
}
for bad in 10mb 0 fast -1mbit "1 mbit" 999 101GB; do
    expect_exit2 "--seed-rate '$bad'" --root "$R" --listen 127.0.0.1:0 --seed-rate "$bad"
done
expect_exit2 "--no-udp takes no value" --root "$R" --listen 127.0.0.1:0 --no-udp=1
expect_exit2 "--udp that does not parse" --root "$R" --listen 127.0.0.1:0 --udp nowhere
expect_exit2 "--manifest-objects over 1024" --root "$R" --listen 127.0.0.1:0 --manifest-objects 2000

# hdr FILE NAME: a response header's value (the last response in FILE).
hdr() { tr -d '\r' <"$1" | grep -i "^$2:" | tail -n1 | sed 's/^[^:]*: *//'; }
status() { tr -d '\r' <"$1" | grep '^HTTP/' | tail -n1 | cut -d' ' -f2; }

# ---- the default: seed on the HTTP port number ---------------------------------------------------
start_server --root "$R" --seed-rate 1.5mbit --swarm-grace 2s --manifest-bytes 3m
check "start line names the seed: same port, 187500 bytes/s ($(sed -n 2p "$SERVER_OUT"))" \
    grep -qx "flashbackd: seeding on udp://127.0.0.1:$PORT at 187500 bytes/s" "$SERVER_OUT"
M=http://$ADDR/.flashback/manifest
curl -s -D "$T/h" -o "$T/m" "$M/"
eq "manifest of /: 200" "$(status "$T/h")" 200
eq "Content-Type" "$(hdr "$T/h" Content-Type)" "text/plain; charset=utf-8"
eq "Cache-Control" "$(hdr "$T/h" Cache-Control)" "no-cache"
eq "Flashback-Seed is the port alone" "$(hdr "$T/h" Flashback-Seed)" "$PORT"
etag=$(hdr "$T/h" ETag)
check "a strong ETag ($etag)" grep -qx '"[0-9a-f]*"' <<<"$etag"
check "the body is a manifest" grep -qx 'flashback-manifest 1' <(head -n1 "$T/m")
want=$(printf '/\n'; "$SC" links "$R/index.html" /)
got=$(awk '$1 == "object" {print $2}' "$T/m")
eq "objects: the page, then what it embeds, in document order ($(echo "$got" | wc -l))" "$got" "$want"
check "object ETags are what a GET answers (/css/main.css)" test "$(awk '$2 == "/css/main.css" {print $5}' "$T/m")" = \
    "$(curl -s -D - -o /dev/null "http://$ADDR/css/main.css" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')"
curl -s -o "$T/m2" "$M"
check "/.flashback/manifest (no slash) is the manifest of / too" cmp -s "$T/m" "$T/m2"
curl -s -I -o /dev/null -D "$T/h" "$M/"
eq "HEAD: 200, the GET's length" "$(status "$T/h") $(hdr "$T/h" Content-Length)" "200 $(stat -c %s "$T/m")"
curl -s -o /dev/null -D "$T/h" -H "If-None-Match: $etag" "$M/"
eq "If-None-Match with its ETag: 304" "$(status "$T/h")" 304
eq "Vary: Accept-Encoding" "$(hdr "$T/h" Vary)" "Accept-Encoding"
curl -s -o "$T/mgz" -D "$T/h" -H 'Accept-Encoding: br, gzip;q=0.5' "$M/"
gzetag=$(hdr "$T/h" ETag)
eq "Accept-Encoding gzip: 200, Content-Encoding gzip" "$(status "$T/h") $(hdr "$T/h" Content-Encoding)" "200 gzip"
eq "... the gzipped ETag is the plain one with -gz" "$gzetag" "${etag%\"}-gz\""
eq "... Content-Length is the gzipped size" "$(hdr "$T/h" Content-Length)" "$(stat -c %s "$T/mgz")"
check "... it unzips to the plain manifest" cmp -s "$T/m" <(gzip -dc "$T/mgz")
check "... smaller by at least a third ($(stat -c %s "$T/mgz") of $(stat -c %s "$T/m") bytes)" \
    test $(($(stat -c %s "$T/mgz") * 3)) -lt $(($(stat -c %s "$T/m") * 2))
curl -s -o /dev/null -D "$T/h" -H 'Accept-Encoding: gzip' -H "If-None-Match: $gzetag" "$M/"
eq "... If-None-Match with the gzipped ETag: 304" "$(status "$T/h")" 304
curl -s -o /dev/null -D "$T/h" -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" "$M/"
eq "... If-None-Match with the plain ETag: 200 (another representation)" "$(status "$T/h")" 200
for ae in 'gzip;q=0' 'identity' 'gzip;q=2' '*;q=0'; do
    curl -s -o "$T/mid" -D "$T/h" -H "Accept-Encoding: $ae" "$M/"
    eq "Accept-Encoding '$ae': plain" "$(hdr "$T/h" Content-Encoding)|$(cmp -s "$T/m" "$T/mid" && echo same)" "|same"
done
curl -s -o "$T/m3" -D "$T/h" "$M/about.html"
eq "manifest of /about.html: 200, object 0 is /about.html" \
    "$(status "$T/h") $(awk '$1 == "object" {print $2; exit}' "$T/m3")" "200 /about.html"
curl -s -o "$T/m4" "$M/img/hero.png"
eq "a file that is not HTML is its own manifest" "$(grep -c '^object ' "$T/m4")" 1
for p in /nope.html /escape.html /.hidden/ /img/ "/%2e%2e/%2e%2e/etc/passwd"; do
    eq "manifest of $p: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$M$p")" 404
done
eq "manifest of a file over --manifest-bytes: 501" "$(curl -s -o /dev/null -w '%{http_code}' "$M/big.bin")" 501
eq "POST to a manifest: 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$M/")" 405
eq "an unknown /.flashback/ path: 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/.flashback/nothing")" 404
check "flashback get of the page through this flashbackd" \
    "$FB" get --quiet --all "$T/g1" "http://$ADDR/" 2>"$T/g1.err"
check "... identical" cmp -s "$T/g1/index.html" "$R/index.html"

# ---- metrics ---------------------------------------------------------------------------------------
curl -s -D "$T/h" -o "$T/metrics" "http://$ADDR/.flashback/metrics"
eq "metrics: 200, Prometheus text 0.0.4" "$(status "$T/h") $(hdr "$T/h" Content-Type)" \
    "200 text/plain; version=0.0.4; charset=utf-8"
bad=$(grep -v '^#' "$T/metrics" | grep -cvE '^[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9]+(\.[0-9]+)?$')
eq "every sample line is NAME{LABEL=\"V\"} VALUE" "$bad" 0
untyped=$(grep -v '^#' "$T/metrics" | sed 's/[{ ].*//' | sort -u | while read -r m; do
    grep -q "^# TYPE $m \(counter\|gauge\)$" "$T/metrics" && grep -q "^# HELP $m " "$T/metrics" || echo "$m"
done)
eq "every metric has HELP and TYPE" "$untyped" ""
for m in flashback_http_sent_bytes_total flashback_seed_udp_sent_bytes_total \
    flashback_seed_udp_sent_datagrams_total flashback_seed_chunk_sent_bytes_total flashback_seed_peers \
    flashback_seed_joins_total flashback_seed_introductions_total flashback_seed_bans_total \
    'flashback_seed_dropped_datagrams_total{reason="unvalidated"}' \
    'flashback_seed_dropped_datagrams_total{reason="cap"}' \
    'flashback_seed_dropped_datagrams_total{reason="malformed"}' flashback_manifests_built_total \
    'flashback_http_responses_total{class="2xx"}' flashback_http_connections_accepted_total \
    process_resident_memory_bytes; do
    check "metric $m is there" grep -q "^$m [0-9]" "$T/metrics"
done
v() { awk -v n="$1" '$1 == n {print $2}' "$T/metrics"; }
check "the get above shows: $(v flashback_seed_joins_total) join, $(v flashback_seed_chunk_sent_bytes_total) chunk bytes from the seed" \
    test "$(v flashback_seed_joins_total)" -ge 1 -a "$(v flashback_seed_chunk_sent_bytes_total)" -gt 0
check "404s and 501 counted ($(v 'flashback_http_responses_total{class="4xx"}') 4xx, $(v 'flashback_http_responses_total{class="5xx"}') 5xx)" \
    test "$(v 'flashback_http_responses_total{class="4xx"}')" -ge 7 -a "$(v 'flashback_http_responses_total{class="5xx"}')" -ge 1

# ---- a file changes ---------------------------------------------------------------------------
echo "/* changed $$ */" >>"$R/css/main.css"
sleep 1.1
curl -s -D "$T/h" -o "$T/m5" "$M/"
check "after a change: a new ETag ($(hdr "$T/h" ETag))" test "$(hdr "$T/h" ETag)" != "$etag"
check "... and the new size of /css/main.css" test "$(awk '$2 == "/css/main.css" {print $3}' "$T/m5")" = \
    "$(stat -c %s "$R/css/main.css")"
curl -s -o "$T/metrics" "http://$ADDR/.flashback/metrics"
check "the manifest was rebuilt ($(v flashback_manifest_rebuilds_total)), the old swarm is retiring ($(v flashback_seed_swarms_retiring))" \
    test "$(v flashback_manifest_rebuilds_total)" -ge 1 -a "$(v flashback_seed_swarms_retiring)" -ge 1
check "a get after the change has the new bytes" "$FB" get --quiet --all "$T/g2" "http://$ADDR/"
check "... identical to the changed file" cmp -s "$T/g2/css/main.css" "$R/css/main.css"
sleep 2.5
curl -s -o "$T/metrics" "http://$ADDR/.flashback/metrics"
check "after --swarm-grace the old swarm is gone ($(v flashback_seed_swarms_retiring) retiring, $(v flashback_seed_swarms_removed_total) removed)" \
    test "$(v flashback_seed_swarms_retiring)" -eq 0 -a "$(v flashback_seed_swarms_removed_total)" -ge 1
check "SIGTERM: exit 0" stop_server

# ---- --manifest-objects; a build in slices -------------------------------------------------------
start_server --root "$R" --manifest-objects 5
curl -s -o "$T/m6" "http://$ADDR/.flashback/manifest/"
eq "--manifest-objects 5: five objects" "$(grep -c '^object ' "$T/m6")" 5
# 8 MB to hash (the page and 4 objects): more than one 4 MiB slice, so the answer waits while the
# loop goes on; a second request for it waits too, and a request for a file is served meanwhile.
curl -s -o "$T/m7" -D "$T/h7" "http://$ADDR/.flashback/manifest/large.html" &
c1=$!
curl -s -o "$T/m8" "http://$ADDR/.flashback/manifest/large.html" &
c2=$!
curl -s -o "$T/one" "http://$ADDR/one.txt" 2>/dev/null
wait $c1 $c2
eq "a manifest built in slices: 200, five objects" "$(status "$T/h7") $(grep -c '^object ' "$T/m7")" "200 5"
check "both waiting requests got the same manifest" cmp -s "$T/m7" "$T/m8"
check "its hash for large1.bin is right" test "$(awk '$2 == "/large1.bin" {getline; print; exit}' "$T/m7")" = \
    "$(head -c "$(awk '$1 == "chunk-size" {print $2}' "$T/m7")" "$R/large1.bin" | sha256sum | cut -d' ' -f1)"
curl -s -o "$T/metrics" "http://$ADDR/.flashback/metrics"
check "metrics: $(v flashback_manifest_deferred_total) requests waited, $(v flashback_manifest_build_slices_total) slices, the loop held at most $(v flashback_manifest_build_seconds_max) s" \
    test "$(v flashback_manifest_deferred_total)" -ge 1 -a "$(v flashback_manifest_build_slices_total)" -ge 1
check "SIGTERM: exit 0" stop_server

# ---- --no-udp: a plain origin ------------------------------------------------------------------
start_server --root "$R" --no-udp
check "--no-udp: no seed in the start line" test "$(grep -c seeding "$SERVER_OUT")" -eq 0
curl -s -D "$T/h" -o /dev/null "http://$ADDR/.flashback/manifest/"
eq "--no-udp: a manifest without Flashback-Seed" "$(status "$T/h") $(hdr "$T/h" Flashback-Seed)" "200 "
check "--no-udp: flashback get completes from the origin alone" \
    "$FB" get --quiet --stats --all "$T/g3" "http://$ADDR/" 2>"$T/g3.err"
check "... in origin mode, identical" grep -q '"mode":"origin"' "$T/g3.err"
check "... identical" cmp -s "$T/g3/img/hero.png" "$R/img/hero.png"
eq "--no-udp: flashback_seed_up 0" "$(curl -s "http://$ADDR/.flashback/metrics" | awk '$1 == "flashback_seed_up" {print $2}')" 0
check "SIGTERM: exit 0" stop_server

# ---- --udp elsewhere: HOST:PORT ----------------------------------------------------------------
for _ in 1 2 3 4 5; do
    up=$((20000 + RANDOM % 40000))
    start_server --root "$R" --udp "127.0.0.2:$up"
    grep -q seeding "$SERVER_OUT" && break
done
curl -s -D "$T/h" -o /dev/null "http://$ADDR/.flashback/manifest/"
eq "--udp 127.0.0.2:$up: Flashback-Seed names host and port" "$(hdr "$T/h" Flashback-Seed)" "127.0.0.2:$up"
check "flashback get completes through that seed" \
    "$FB" get --quiet --stats --all "$T/g4" "http://$ADDR/" 2>"$T/g4.err"
check "... from the seed ($(grep -o '"bytes_seed":[0-9]*' "$T/g4.err"))" grep -q '"bytes_seed":[1-9]' "$T/g4.err"
expect_exit2 "--udp on a port in use" --root "$R" --listen 127.0.0.1:0 --udp "127.0.0.2:$up"
check "SIGTERM: exit 0" stop_server
finish

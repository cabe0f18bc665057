#!/usr/bin/env bash
# The swarm for pages behind an upstream: Debian's nginx serves the demo site (one of the page's
# images with a Set-Cookie, so it must not be stored), flashbackd --upstream runs in front of it
# with its seed. Checked: the manifest of / is built from the mirror, lists every object but the
# uncacheable one, with nginx's types; `flashback get --all` gets every file byte for byte
# through the swarm (the uncacheable image is not in the manifest, so --all leaves it out, as
# for any object a manifest lacks); a crowd of 8 more gets
# all identical, with bytes traded between peers; nginx saw each object about once (not once
# per peer); `flashback open` serves the page from the swarm.
set -u
. "$(dirname "$0")/../lib/integ.sh"
fb_tmpdir pxswarm
fb_need_built "$FB" "$FBD" "$SC"
fb_need_cmds nginx curl
fb_demo_site "$T"
N_PEERS=${N_PEERS:-8}
COOKIE_OBJ=$(echo $page_objs | tr ' ' '\n' | grep '\.png$' | tail -n1)
json() { grep -o "\"$2\":-\?[0-9]*" "$1" | tail -n1 | cut -d: -f2; }
hdr() { tr -d '\r' <"$1" | grep -i -m1 "^$2:" | sed 's/^[^:]*: *//'; }
# same_cacheable DIR: DIR holds the page and every object but COOKIE_OBJ, each identical to R's
same_cacheable() {
    local p
    for p in /index.html $page_objs; do
        [ "$p" = "$COOKIE_OBJ" ] || cmp -s "$1$p" "$R$p" || return 1
    done
}

upstream_conf() {
    cat <<EOF
  log_format up '\$request_method \$request_uri \$status';
  access_log $T/up.log up;
  types { text/html html; text/css css; application/javascript js; image/png png;
          image/svg+xml svg; image/x-icon ico; }
  server {
    listen 127.0.0.1:$1 backlog=1024;
    root $R;
    location = $COOKIE_OBJ { add_header Set-Cookie "seen=1"; }
  }
EOF
}
fb_nginx_start upstream_conf || { notok "nginx starts"; cat "$T/logs/start.log"; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
: >"$T/up.log" # forget fb_nginx_start's probe

fbd_start fbd --upstream "$U" --upstream-ttl 60s --seed-rate 1000000 ||
    { notok "flashbackd --upstream starts"; cat "$T/fbd.err"; exit 1; }
O=$FBD_URL
check "flashbackd --upstream seeds on UDP" grep -q '^flashbackd: seeding on udp://' "$T/fbd.out"

# The manifest, built from the mirror.
code=$(curl -s -o "$T/manifest" -w '%{http_code}' "$O/.flashback/manifest/")
n_obj=$(awk '$1 == "objects" {print $2}' "$T/manifest")
n_page=$(($(echo $page_objs | wc -w) + 1))
check "manifest of /: 200, $n_obj objects: the page and all its objects but the uncacheable one" \
    test "$code" = 200 -a "$n_obj" = $((n_page - 1))
check "manifest of /: the uncacheable $COOKIE_OBJ is left out" \
    test -z "$(grep "^object $COOKIE_OBJ " "$T/manifest")"
check "manifest of /: nginx's types (application/javascript, not the guess)" \
    grep -q '^object /js/page.js [0-9]* application/javascript ' "$T/manifest"

# One peer: every file through the swarm, the uncacheable one over HTTP.
rc=0
timeout 90 "$FB" get --quiet --stats --timeout 60 --all "$T/g1" "$O/" 2>"$T/g1.err" || rc=$?
check "flashback get --all through the proxy: exit 0, every file of the manifest identical" \
    test "$rc" -eq 0 -a -n "$(same_cacheable "$T/g1" && echo same)"
check "first get: $(json "$T/g1.err" bytes_seed) bytes from the seed (swarm), $(json "$T/g1.err" bytes_origin_http) over HTTP" \
    test "$(json "$T/g1.err" bytes_seed)" -gt 1000000 -a "$(json "$T/g1.err" bytes_origin_http)" -eq 0

# A crowd: every file identical, peers trade, the upstream sees each object about once.
pids=()
for i in $(seq "$N_PEERS"); do
    "$FB" get --quiet --stats --timeout 60 --linger 1 --all "$T/p$i" "$O/" 2>"$T/p$i.err" &
    pids+=($!)
done
n_fail=0
for pid in "${pids[@]}"; do wait "$pid" || n_fail=$((n_fail + 1)); done
n_diff=0
peers=0
for i in $(seq "$N_PEERS"); do
    same_cacheable "$T/p$i" || n_diff=$((n_diff + 1))
    peers=$((peers + $(json "$T/p$i.err" bytes_peers)))
done
check "$N_PEERS more peers: all exit 0 ($n_fail failed), every file identical ($n_diff differ)" \
    test "$n_fail" -eq 0 -a "$n_diff" -eq 0
check "peers traded among themselves ($peers bytes)" test "$peers" -gt 0
max_up=0
for p in / $page_objs; do
    n=$(grep -c "^GET $p " "$T/up.log")
    [ "$p" = "$COOKIE_OBJ" ] || [ "$n" -le "$max_up" ] || max_up=$n
done
echo "# $((N_PEERS + 1)) gets: the upstream saw each cacheable object at most $max_up time(s); $COOKIE_OBJ $(grep -c "^GET $COOKIE_OBJ " "$T/up.log") times"
check "the upstream saw each cacheable object once, not once per peer (at most $max_up)" \
    test "$max_up" -eq 1

# flashback open: the page from the swarm.
"$FB" open "$O/" >"$T/open.out" 2>"$T/open.err" &
open_pid=$!
fb_track "$open_pid"
L=
for i in $(seq 100); do
    L=$(sed -n 's|^flashback: open \(http://127\.0\.0\.1:[0-9]*/.*\) in your browser$|\1|p' "$T/open.out")
    [ -n "$L" ] && break
    sleep 0.1
done
code=$(curl -s -m 30 -D "$T/open.h" -o "$T/open.body" -w '%{http_code}' "${L%/}/")
check "flashback open: / is 200, identical, from the swarm" \
    test "$code" = 200 -a -n "$(cmp "$T/open.body" "$R/index.html" && echo same)" -a \
    "$(hdr "$T/open.h" flashback-source)" = swarm
code=$(curl -s -m 30 -o "$T/open.obj" -w '%{http_code}' "${L%/}$COOKIE_OBJ")
check "flashback open: the uncacheable object too ($code)" \
    test "$code" = 200 -a -n "$(cmp "$T/open.obj" "$R$COOKIE_OBJ" && echo same)"
kill "$open_pid"
wait "$open_pid" 2>/dev/null
fb_forget "$open_pid"
fbd_stop "$FBD_PID" "$T/fbd.err"
exit $failed

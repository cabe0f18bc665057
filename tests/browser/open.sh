#!/usr/bin/env bash
# The demo page in a real browser through `flashback open`: flashbackd serves site/ with its
# seed capped low; `flashback open` #1 runs on a free port and headless Chromium (Debian's, driven
# by playwright-core from node_modules) loads its URL with a fresh profile: every <img> must
# decode, every stylesheet apply (--courier-theme computed from main.css), both scripts run
# (page.js's data-loaded, gallery.js's data-words), no request leave the local server, and a
# screenshot lands in $FB_BUILD/open.png. Then `flashback open` #2 starts, a new browser context
# loads the same page through it, and the counters must show that #2 got most of the page from
# #1 (peer bytes), not from the origin: #2's own /.flashback/stats, #1's upload count, and
# flashbackd's /.flashback/metrics (HTTP body and seed bytes sent while #2 loaded).
. "$(dirname "$0")/../integ/open_lib.sh"
MJS=$FB_ROOT/tests/browser/open.mjs
SEED_RATE=${SEED_RATE:-150kB}

command -v node >/dev/null || { notok "node is installed (scripts/deps.sh browser)"; exit 1; }
[ -x /usr/bin/chromium ] || { notok "chromium is installed (scripts/deps.sh browser)"; exit 1; }
[ -d "$FB_ROOT/node_modules/playwright-core" ] || { notok "playwright-core is in node_modules (scripts/deps.sh browser)"; exit 1; }

# browse NAME URL: loads URL in a fresh Chromium profile; JSON in $T/NAME.json, screenshot in
# $FB_BUILD/NAME.png.
browse() {
    local name=$1 url=$2
    mkdir -p "$T/profile-$name"
    timeout 120 node "$MJS" "$url" "$FB_BUILD/$name.png" "$T/profile-$name" >"$T/$name.json" 2>"$T/$name.node.err"
}
jstr() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -n1 | cut -d'"' -f4; }
metric() { curl -s -m 5 "$O/.flashback/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
origin_bytes() { echo $(($(metric flashback_http_body_sent_bytes_total) + $(metric flashback_seed_chunk_sent_bytes_total))); }

start_fbd "$SEED_RATE" || { notok "flashbackd starts"; cat "$T/fbd.out" "$T/fbd.err"; exit 1; }
ok "flashbackd on $O, seed capped at $SEED_RATE, page $page_bytes bytes"
n_imgs=$(grep -o '<img ' "$R/index.html" | wc -l)

# ---- open #1: the first visitor ----------------------------------------------------------------
start_open o1 "$O/" || { notok "flashback open #1 starts"; cat "$T/o1.out" "$T/o1.err"; exit 1; }
O1=$OPEN_PID
L1=$L
ok "flashback open #1 serves $L1"
browse open "$L1"
J=$T/open.json
if ! grep -q '"ok":true' "$J"; then
    notok "#1: Chromium loads the page ($(head -c 300 "$J") $(head -c 300 "$T/open.node.err"))"
    sed 's/^/#   /' "$T/o1.err" | tail -n 20
    exit 1
fi
ok "#1: Chromium loaded '$(jstr "$J" title | head -c 40)...' in $(json "$J" load_ms) ms"
# An <img> inside a comment or a script string is not an element: the page has 13.
check "#1: every <img> decoded ($(json "$J" decoded) of $(json "$J" images); broken: $(grep -o '"broken":\[[^]]*\]' "$J"))" \
    test "$(json "$J" decoded)" = "$(json "$J" images)" -a "$(json "$J" images)" -ge 13
check "#1: every stylesheet applied ($(json "$J" stylesheets_applied) of $(json "$J" stylesheet_links) linked) and --courier-theme is '$(jstr "$J" theme)'" \
    test "$(json "$J" stylesheets_applied)" = "$(json "$J" stylesheet_links)" -a \
    "$(json "$J" stylesheets)" = 2 -a "$(jstr "$J" theme)" = harbour
check "#1: the scripts ran (data-loaded '$(jstr "$J" loaded)', data-words '$(jstr "$J" words)', page.js saw $(jstr "$J" body_decoded) decoded, theme '$(jstr "$J" body_theme)')" \
    test "$(jstr "$J" loaded)" = 1 -a -n "$(jstr "$J" words)" -a "$(jstr "$J" body_decoded)" = "$(json "$J" images)" \
    -a "$(jstr "$J" body_theme)" = harbour
check "#1: every request went to the local server ($(json "$J" requests) requests; foreign: $(grep -o '"foreign":\[[^]]*\]' "$J"); failed: $(grep -o '"failed":\[[^]]*\]' "$J"))" \
    test -z "$(grep -o '"foreign":\[[^]]' "$J")" -a -z "$(grep -o '"failed":\[[^]]' "$J")" -a "$(json "$J" requests)" -ge 20
check "#1: screenshot saved ($FB_BUILD/open.png, $(stat -c %s "$FB_BUILD/open.png" 2>/dev/null) bytes)" \
    sh -c "test -s '$FB_BUILD/open.png' && head -c 8 '$FB_BUILD/open.png' | od -An -tx1 | grep -q '89 50 4e 47'"
curl -s -m 5 -o "$T/s1.json" "$L1.flashback/stats"
S=$T/s1.json
echo "# #1: served $(json "$S" served_swarm) from the swarm, $(json "$S" served_proxy) proxied; bytes: origin HTTP $(json "$S" bytes_origin_http), seed $(json "$S" bytes_seed), peers $(json "$S" bytes_peers); waited $(json "$S" waited), hurried $(json "$S" hurried)"
check "#1: the page's objects came through its swarm (served_swarm $(json "$S" served_swarm) >= $((n_imgs + 4)))" \
    test "$(json "$S" served_swarm)" -ge $((n_imgs + 4))

# ---- open #2: the second visitor, served by the first --------------------------------------------
before=$(origin_bytes)
start_open o2 "$O/" || { notok "flashback open #2 starts"; cat "$T/o2.out" "$T/o2.err"; exit 1; }
O2=$OPEN_PID
L2=$L
browse open2 "$L2"
J=$T/open2.json
check "#2: Chromium loaded the page in a new context in $(json "$J" load_ms) ms: $(json "$J" decoded) of $(json "$J" images) images decoded, $(json "$J" stylesheets_applied) stylesheets applied, theme '$(jstr "$J" theme)', scripts ran" \
    test "$(grep -c '"ok":true' "$J")" = 1 -a "$(json "$J" decoded)" = "$(json "$J" images)" -a \
    "$(json "$J" stylesheets_applied)" = 2 -a "$(jstr "$J" theme)" = harbour -a "$(jstr "$J" loaded)" = 1
curl -s -m 5 -o "$T/s2.json" "$L2.flashback/stats"
curl -s -m 5 -o "$T/s1b.json" "$L1.flashback/stats"
after=$(origin_bytes)
S=$T/s2.json
peers=$(json "$S" bytes_peers)
from_origin=$(($(json "$S" bytes_origin_http) + $(json "$S" bytes_seed) + $(json "$S" bytes_manifest) + $(json "$S" bytes_proxy)))
uploaded=$(($(json "$T/s1b.json" bytes_uploaded) - $(json "$T/s1.json" bytes_uploaded)))
echo "# #2: peers $peers bytes, origin $from_origin bytes (HTTP $(json "$S" bytes_origin_http), seed $(json "$S" bytes_seed), manifest $(json "$S" bytes_manifest), proxy $(json "$S" bytes_proxy)); origin share $(json "$S" origin_share_permille) permille"
echo "# #1 uploaded $uploaded bytes meanwhile; flashbackd sent $((after - before)) bytes (HTTP bodies + seed chunks) while #2 loaded"
check "#2 got most of the page from peers: $peers of $page_bytes bytes, against $from_origin from the origin" \
    test "$peers" -gt $((page_bytes / 2)) -a "$peers" -gt "$from_origin"
check "#1 uploaded what #2 got from peers ($uploaded >= $peers)" test "$uploaded" -ge "$peers"
check "flashbackd's own counters agree: it sent $((after - before)) bytes while #2 loaded, under half the page" \
    test $((after - before)) -lt $((page_bytes / 2))

stop_open "$O2" o2
stop_open "$O1" o1
exit $failed

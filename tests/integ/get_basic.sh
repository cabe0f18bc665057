#!/usr/bin/env bash
# `flashback get` against what needs no flashbackd: bad command lines (exit 2), an unreachable
# origin (3), a plain web server (nginx) without a manifest service (the plain-download
# fallback, byte-identical output, 404 -> 4), and nginx standing in for the manifest service
# with manifests made by tools/mkmanifest: origin-only downloads (--all, every file identical),
# a seed that never answers over UDP (HTTP takes over), a corrupt manifest (5), an unsafe path
# (8, nothing written outside DIR), a 1 GiB manifest (9, refused at once), a file that changed
# under its manifest (7), a write error (8), and the origin dying after the manifest (6, in
# bounded time). Cases are data: what the origin serves, the command, the exit code and bytes.
set -u
. "$(dirname "$0")/../lib/integ.sh"
MK=$FB_BUILD/tools/mkmanifest
fb_tmpdir get
fb_need_built "$FB" "$MK" "$SC"
fb_need_cmds nginx

# run NAME EXPECTED_EXIT TIMEOUT_S ARGS...: runs flashback get, keeps stdout/stderr in $T/NAME.*
run() {
    local name=$1 want=$2 limit=$3
    shift 3
    local t0 rc=0
    t0=$(date +%s%N)
    timeout "$((limit + 5))" "$FB" get "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" -eq "$want" ] && [ "$ELAPSED_MS" -le $((limit * 1000)) ]; then
        ok "$name: exit $rc in ${ELAPSED_MS} ms ($(grep -v '^{' "$T/$name.err" | tail -n1))"
        return 0
    fi
    notok "$name: exit $rc (want $want) in ${ELAPSED_MS} ms (limit ${limit} s)"
    sed 's/^/#   /' "$T/$name.err" | head -n 20
    return 1
}
# json FILE FIELD: a numeric field of the --stats line in FILE
json() { grep -o "\"$2\":[0-9a-z]*" "$1" | head -n1 | cut -d: -f2; }

# ---- command line ----------------------------------------------------------------------------
run "usage: no URL" 2 5
run "usage: unknown option" 2 5 --bogus http://127.0.0.1/
run "usage: option without its value" 2 5 http://127.0.0.1/ --timeout
run "usage: bad timeout" 2 5 --timeout abc http://127.0.0.1/
run "usage: zero timeout" 2 5 --timeout 0 http://127.0.0.1/
run "usage: bad size" 2 5 --max-size 12Q http://127.0.0.1/
run "usage: origin-conns out of range" 2 5 --origin-conns 0 http://127.0.0.1/
run "usage: not an http URL" 2 5 ftp://127.0.0.1/
run "usage: two URLs" 2 5 http://127.0.0.1/a http://127.0.0.1/b
run "usage: flag with a value" 2 5 --stats=1 http://127.0.0.1/
run "usage: bad --bind" 2 5 --bind localhost http://127.0.0.1/
check "usage errors are one line on stderr, nothing on stdout" \
    test "$(wc -l <"$T/usage: unknown option.err")" -eq 1 -a ! -s "$T/usage: unknown option.out"
run "--help" 0 5 --help
check "--help documents the exit codes and --stats" \
    grep -q "stalled" "$T/--help.out"
check "flashback --help lists get" sh -c "'$FB' --help | grep -q '^  get '"

# ---- unreachable origin ----------------------------------------------------------------------
# Port 1 on loopback: nothing listens there, the connection is refused at once.
run "unreachable origin" 3 10 --stats http://127.0.0.1:1/
check "unreachable: says so" grep -q "could not connect" "$T/unreachable origin.err"
check "unreachable: --stats JSON with exit 3" grep -q '^{.*"exit":3,' "$T/unreachable origin.err"

# ---- an origin: nginx, with manifests for some pages ------------------------------------------
fb_demo_site "$T"
M=$T/m
mkdir -p "$M"
# Pages and their objects, as flashbackd's manifest service would list them.
"$MK" "$R" / $page_objs >"$M/root.txt" &&
    "$MK" "$R" /about.html $("$SC" links "$R/about.html" /about.html) >"$M/about.txt" &&
    cp "$R/about.html" "$R/changed.html" && cp "$R/css/main.css" "$R/changed.css" &&
    "$MK" "$R" /changed.html /changed.css >"$M/changed.txt" || {
    notok "mkmanifest builds the manifests"
    exit 1
}
# A page that will change while a peer downloads it: v1 now, v2 (and its manifest) later.
cp "$R/about.html" "$R/v.html"
"$MK" "$R" /v.html >"$M/v.txt" || { notok "mkmanifest builds the manifest of v.html"; exit 1; }
# The file changes after its manifest was made (same size, one byte differs).
printf 'X' | dd of="$R/changed.css" bs=1 seek=10 conv=notrunc status=none
touch -d '2001-01-01' "$R/changed.css"
# A corrupt manifest: one hash digit changed to a non-hex letter.
sed '5s/^./g/' "$M/root.txt" >"$M/bad.txt"
# A manifest whose second object climbs out of the output directory once decoded.
awk '/^object/ && ++n == 2 {sub(/^object [^ ]+/, "object /%2e%2e/escape.png")} {print}' \
    "$M/about.txt" >"$M/evil.txt"
grep -q '%2e%2e' "$M/evil.txt" || { notok "the unsafe manifest was made"; exit 1; }
# A manifest for 1 GiB (65536 chunks of 16 KiB): over the default --max-size of 256 MiB.
awk 'BEGIN { print "flashback-manifest 1"; print "chunk-size 16384"; print "objects 1";
             print "object /big.bin 1073741824 application/octet-stream -";
             for (i = 0; i < 65536; i++) printf "%064x\n", i; print "end" }' >"$M/huge.txt"

# origin_conf PORT: nginx's server for the origin (see fb_nginx_start).
origin_conf() {
    cat <<EOF
  access_log $T/logs/access.log;
  server {
    listen 127.0.0.1:$1;
    root $R;
    # The manifest of / names a seed on UDP port 9 of the same host, where nothing listens.
    location = /.flashback/manifest/ { root $M; try_files /root.txt =404;
                                       add_header Flashback-Seed 9; }
    location = /.flashback/manifest/about.html { root $M; try_files /about.txt =404; }
    location = /.flashback/manifest/changed.html { root $M; try_files /changed.txt =404; }
    location = /.flashback/manifest/bad.html { root $M; try_files /bad.txt =404;
                                               add_header Flashback-Seed 9; }
    location = /.flashback/manifest/evil.html { root $M; try_files /evil.txt =404; }
    location = /.flashback/manifest/huge.html { root $M; try_files /huge.txt =404; }
    location = /.flashback/manifest/v.html { root $M; try_files /v.txt =404;
                                             add_header Flashback-Seed 9; }
  }
EOF
}
fb_nginx_start origin_conf || { notok "nginx starts on a free port"; cat "$T/logs/start.log"; exit 1; }
O=http://127.0.0.1:$NGINX_PORT

# ---- plain origin: no manifest for /index.html -----------------------------------------------
run "plain origin: stdout" 0 10 --stats "$O/index.html"
check "plain origin: stdout is the page, byte for byte" cmp -s "$T/plain origin: stdout.out" "$R/index.html"
check "plain origin: says it falls back" grep -q "plain HTTP download" "$T/plain origin: stdout.err"
check "plain origin: --stats mode plain, all bytes over HTTP" \
    test "$(grep -o '"mode":"[a-z]*"' "$T/plain origin: stdout.err")" = '"mode":"plain"' -a \
    "$(json "$T/plain origin: stdout.err" bytes_origin_http)" = "$(stat -c %s "$R/index.html")"
run "plain origin: -o and --all" 0 10 -q -o "$T/plain.html" --all "$T/plainall" "$O/css/main.css"
check "plain origin: -o file identical" cmp -s "$T/plain.html" "$R/css/main.css"
check "plain origin: --all writes the URL's path" cmp -s "$T/plainall/css/main.css" "$R/css/main.css"
check "plain origin: --quiet prints nothing" test ! -s "$T/plain origin: -o and --all.err"
check "plain origin: --all without -o writes nothing to stdout" test ! -s "$T/plain origin: -o and --all.out"
run "plain origin: 404" 4 10 "$O/missing.html"
check "plain origin: 404 named" grep -q "HTTP 404" "$T/plain origin: 404.err"
run "plain origin: over --max-size" 9 10 --max-size 1K "$O/index.html"

# ---- manifest, no seed: every chunk over HTTP ranges, verified -------------------------------
run "origin only: --all" 0 20 --stats --all "$T/about" -o "$T/about.html" "$O/about.html"
n_diff=0
for p in /about.html $("$SC" links "$R/about.html" /about.html); do
    cmp -s "$T/about$p" "$R$p" || n_diff=$((n_diff + 1))
done
check "origin only: every object identical ($n_diff differ)" test "$n_diff" -eq 0
check "origin only: -o is object 0" cmp -s "$T/about.html" "$R/about.html"
E="$T/origin only: --all.err"
check "origin only: mode origin, no UDP bytes, all chunks from HTTP" \
    test "$(grep -o '"mode":"[a-z]*"' "$E")" = '"mode":"origin"' -a "$(json "$E" udp_bytes_in)" = 0 -a \
    "$(json "$E" chunks_origin)" = "$(json "$E" chunks)"

# ---- a seed that never answers: HTTP takes over after the UDP silence ------------------------
run "silent seed: --all of the demo page" 0 30 --stats --all "$T/demo" "$O/"
n_diff=0
for p in /index.html $page_objs; do
    cmp -s "$T/demo$p" "$R$p" || n_diff=$((n_diff + 1))
done
check "silent seed: all $(($(echo $page_objs | wc -w) + 1)) files identical ($n_diff differ)" test "$n_diff" -eq 0
check "silent seed: says why it went to HTTP" grep -q "no answer over UDP" "$T/silent seed: --all of the demo page.err"
E="$T/silent seed: --all of the demo page.err"
check "silent seed: mode swarm, HTTP bytes = page bytes ($(json "$E" bytes_origin_http))" \
    test "$(json "$E" bytes_origin_http)" = "$(json "$E" bytes_total)" -a "$(json "$E" bytes_seed)" = 0
check "silent seed: no temporary file left" test -z "$(find "$T/demo" -name '.fbtmp-*')"

run "--no-swarm: --all of the demo page" 0 20 --stats --no-swarm --all "$T/noswarm" "$O/"
n_diff=0
for p in /index.html $page_objs; do
    cmp -s "$T/noswarm$p" "$R$p" || n_diff=$((n_diff + 1))
done
E="$T/--no-swarm: --all of the demo page.err"
check "--no-swarm: every file identical ($n_diff differ), no UDP at all, mode origin" \
    test "$n_diff" -eq 0 -a "$(json "$E" udp_bytes_out)" = 0 -a \
    "$(grep -o '"mode":"[a-z]*"' "$E")" = '"mode":"origin"'

# ---- the page changes during the download: a new manifest, a new start -----------------------
# The seed is silent, so HTTP starts after 4 s; by then the file and its manifest are v2.
(
    sleep 1.5
    sed 's/<title>/<title>v2 /' "$R/about.html" >"$R/v.html.new" && mv "$R/v.html.new" "$R/v.html"
    "$MK" "$R" /v.html >"$M/v.txt.new" && mv "$M/v.txt.new" "$M/v.txt"
) &
changer=$!
run "page changed during the download" 0 25 --stats -o "$T/v.html" "$O/v.html"
wait "$changer"
E="$T/page changed during the download.err"
check "page changed: the new version was fetched whole (manifest fetched twice)" \
    sh -c "cmp -s '$T/v.html' '$R/v.html' && grep -q '\"manifest_fetches\":2,' '$E' && grep -q 'changed at the origin' '$E'"

# ---- bad manifests ---------------------------------------------------------------------------
run "corrupt manifest" 5 10 --all "$T/bad" "$O/bad.html"
check "corrupt manifest: says so, writes nothing" \
    sh -c "grep -q 'does not parse' '$T/corrupt manifest.err' && test ! -e '$T/bad'"
mkdir -p "$T/evil/out"
run "unsafe object path with --all" 8 10 --all "$T/evil/out" "$O/evil.html"
check "unsafe path: refused by name, nothing written" \
    sh -c "grep -q 'unsafe path' '$T/unsafe object path with --all.err' && test -z \"\$(ls -A '$T/evil/out')\" && test ! -e '$T/evil/escape.png'"
run "1 GiB manifest" 9 10 "$O/huge.html"
check "1 GiB manifest: refused before any chunk" grep -q "max-size" "$T/1 GiB manifest.err"
run "demo page over --max-size" 9 10 --max-size 100K "$O/"

# ---- the origin's file changed under its manifest --------------------------------------------
run "changed file" 7 15 --stats --all "$T/changed" "$O/changed.html"
check "changed file: the manifest was fetched again, the mismatch named" \
    sh -c "grep -q 'do not match' '$T/changed file.err' && grep -q '\"manifest_fetches\":2' '$T/changed file.err'"
check "changed file: nothing written" test ! -e "$T/changed"

# ---- write errors ----------------------------------------------------------------------------
run "write error: -o into a missing directory" 8 10 -o "$T/no/such/dir/x.html" "$O/about.html"
: >"$T/afile"
run "write error: --all on a file" 8 10 --all "$T/afile" "$O/about.html"

# ---- the origin dies after the manifest ------------------------------------------------------
# The seed never answers; the origin is gone by the time HTTP takes over: stalled, exit 6, well
# before --timeout (and --timeout itself bounds a shorter run).
(sleep 1; kill "$NGINX_PID") &
killer=$!
run "origin killed after the manifest" 6 15 --stats --timeout 60 -o "$T/dead.html" "$O/"
wait "$killer"
wait "$NGINX_PID" 2>/dev/null
fb_forget "$NGINX_PID"
E="$T/origin killed after the manifest.err"
check "killed origin: the manifest had arrived" grep -q '"manifest_fetches":1,' "$E"
check "killed origin: stalled, origin failing, nothing written" \
    sh -c "grep -q 'stalled' '$E' && test ! -e '$T/dead.html'"
fb_nginx_start origin_conf || { notok "nginx restarts"; exit 1; }
O=http://127.0.0.1:$NGINX_PORT
(sleep 1; kill "$NGINX_PID") &
killer=$!
run "killed origin, short --timeout" 6 6 --timeout 2.5 "$O/"
wait "$killer"
check "short --timeout: says it timed out" grep -q "timed out after 2.5 s" "$T/killed origin, short --timeout.err"

exit $failed

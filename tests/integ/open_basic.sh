#!/usr/bin/env bash
# `flashback open` without a browser: curl against its local server, with flashbackd serving the
# demo site (manifests, seed capped low) as the origin. Checked: the one line it prints; the page
# and every object it embeds, byte for byte, with the origin's Content-Type and ETag; 304 for a
# matching If-None-Match, HEAD, single ranges (206, 416, If-Range); a file no manifest lists (proxied, the origin's type and ETag,
# 304 too); 404 passthrough for objects and pages; a redirect made local; 405; concurrent loads
# of the page from three "tabs"; a second page (about.html) whose shared objects come from the
# first page's verified copies; the local /.flashback/stats; a plain origin without manifests
# (nginx: everything proxied); a hostile seed whose every chunk is corrupt (every byte served
# still right, none of its used); an unreachable origin (502); bad command lines; SIGTERM.
. "$(dirname "$0")/open_lib.sh"

# get NAME URL [CURL ARGS...]: body in $T/NAME.body, headers in $T/NAME.h, status in CODE
get() {
    local name=$1 url=$2
    shift 2
    CODE=$(curl -s -m 20 -D "$T/$name.h" -o "$T/$name.body" -w '%{http_code}' "$@" "$url")
}

# ---- command line ----------------------------------------------------------------------------
rc=0
"$FB" open >/dev/null 2>"$T/u1.err" || rc=$?
check "usage: no URL: exit 2, one line ($(head -c 80 "$T/u1.err"))" test "$rc" -eq 2 -a "$(wc -l <"$T/u1.err")" -eq 1
rc=0
"$FB" open --listen nowhere http://127.0.0.1:1/ >/dev/null 2>&1 || rc=$?
eq "usage: bad --listen: exit 2" "$rc" 2
rc=0
"$FB" open --max-pages 0 http://127.0.0.1:1/ >/dev/null 2>&1 || rc=$?
eq "usage: --max-pages 0: exit 2" "$rc" 2
rc=0
"$FB" open ftp://127.0.0.1/ >/dev/null 2>&1 || rc=$?
eq "usage: not an http URL: exit 2" "$rc" 2
check "--help describes --listen and the stats endpoint" \
    sh -c "'$FB' open --help | grep -q -- '--listen' && '$FB' open --help | grep -q '/.flashback/stats'"
check "flashback --help lists open" sh -c "'$FB' --help | grep -q '^  open '"

# ---- the origin and the first open -----------------------------------------------------------
start_fbd 200kB || { notok "flashbackd starts"; cat "$T/fbd.out" "$T/fbd.err"; exit 1; }
ok "flashbackd on $O, seed capped at 200 kB/s, page $page_bytes bytes"
start_open o1 "$O/" || { notok "flashback open starts"; cat "$T/o1.out" "$T/o1.err"; exit 1; }
O1=$OPEN_PID
check "prints exactly one line: 'flashback: open $L in your browser'" \
    test "$(wc -l <"$T/o1.out")" -eq 1 -a "$L" != "${L%/}/x"
L=${L%/}

# A port already taken: exit 1, one clear line.
rc=0
"$FB" open --listen "${L#http://}" "$O/" >/dev/null 2>"$T/busy.err" || rc=$?
check "a port in use: exit 1 ($(head -c 100 "$T/busy.err"))" test "$rc" -eq 1 -a -n "$(grep 'cannot listen' "$T/busy.err")"

# ---- the page and its objects ----------------------------------------------------------------
get index "$L/"
curl -s -D "$T/oindex.h" -o /dev/null "$O/"
check "GET /: 200, the page byte for byte, from the swarm" \
    sh -c "test '$CODE' = 200 && cmp -s '$T/index.body' '$R/index.html' && grep -qi '^Flashback-Source: swarm' '$T/index.h'"
eq "GET /: the origin's Content-Type" "$(hdr "$T/index.h" content-type)" "$(hdr "$T/oindex.h" content-type)"
ETAG=$(hdr "$T/index.h" etag)
eq "GET /: the origin's ETag" "$ETAG" "$(hdr "$T/oindex.h" etag)"

n_bad=0
bad=
for p in $page_objs; do
    n=$(echo "$p" | tr '/.' '__')
    get "$n" "$L$p"
    curl -s -D "$T/o$n.h" -o /dev/null "$O$p"
    if [ "$CODE" != 200 ] || ! cmp -s "$T/$n.body" "$R$p" ||
        [ "$(hdr "$T/$n.h" content-type)" != "$(hdr "$T/o$n.h" content-type)" ] ||
        [ "$(hdr "$T/$n.h" etag)" != "$(hdr "$T/o$n.h" etag)" ] || [ -z "$(hdr "$T/$n.h" etag)" ]; then
        n_bad=$((n_bad + 1))
        bad="$bad $p($CODE $(hdr "$T/$n.h" content-type))"
    fi
done
check "$(echo $page_objs | wc -w) objects: 200, identical, the origin's Content-Type and ETag ($n_bad bad:$bad)" \
    test "$n_bad" -eq 0
types=$(for p in $page_objs; do hdr "$T/$(echo "$p" | tr '/.' '__').h" content-type; done | sort -u | tr '\n' ' ')
n=0
for t in text/html text/css javascript image/png image/svg+xml icon; do
    case "$(hdr "$T/index.h" content-type) $types" in *$t*) n=$((n + 1)) ;; esac
done
check "six kinds of content types served ($types)" test "$n" -eq 6

# ---- conditional requests and HEAD ------------------------------------------------------------
get inm "$L/" -H "If-None-Match: $ETAG"
check "If-None-Match with the ETag: 304, no body, the ETag again" \
    test "$CODE" = 304 -a ! -s "$T/inm.body" -a "$(hdr "$T/inm.h" etag)" = "$ETAG"
get inm2 "$L/" -H 'If-None-Match: "other", W/"x"'
check "If-None-Match with other tags: 200 and the page" test "$CODE" = 200 -a -s "$T/inm2.body"
get inm3 "$L/css/main.css" -H 'If-None-Match: *'
eq "If-None-Match: * on an object: 304" "$CODE" 304
read -r CODE SZ < <(curl -s -I -D "$T/head.h" -o /dev/null -w '%{http_code} %{size_download}' "$L/img/hero.png")
check "HEAD: 200, Content-Length of the file, no body" \
    test "$CODE" = 200 -a "$(hdr "$T/head.h" content-length)" = "$(stat -c %s "$R/img/hero.png")" -a "$SZ" = 0

# ---- ranges (a video's seek, a resumed download) ---------------------------------------------
HSIZE=$(stat -c %s "$R/img/hero.png")
HETAG=$(hdr "$T/head.h" etag)
get rng "$L/img/hero.png" -H 'Range: bytes=100-1123'
check "Range: 206, Content-Range 100-1123/$HSIZE, exactly those bytes" \
    bash -c "test '$CODE' = 206 && test \"\$(tr -d '\r' <'$T/rng.h' | grep -i '^content-range:' | cut -d' ' -f2-)\" = 'bytes 100-1123/$HSIZE' && cmp -s '$T/rng.body' <(tail -c +101 '$R/img/hero.png' | head -c 1024)"
eq "Range: the 200 answers advertise Accept-Ranges" "$(hdr "$T/head.h" accept-ranges)" bytes
get rngsfx "$L/img/hero.png" -H 'Range: bytes=-10'
check "Range: the last 10 bytes (206, identical)" \
    bash -c "test '$CODE' = 206 && cmp -s '$T/rngsfx.body' <(tail -c 10 '$R/img/hero.png')"
get rngbad "$L/img/hero.png" -H "Range: bytes=$HSIZE-"
check "Range past the end: 416 with Content-Range: bytes */$HSIZE" \
    test "$CODE" = 416 -a "$(hdr "$T/rngbad.h" content-range)" = "bytes */$HSIZE"
get rngir "$L/img/hero.png" -H 'Range: bytes=0-9' -H "If-Range: $HETAG"
check "If-Range with the ETag: 206, 10 bytes" test "$CODE" = 206 -a "$(stat -c %s "$T/rngir.body")" = 10
get rngold "$L/img/hero.png" -H 'Range: bytes=0-9' -H 'If-Range: "old"'
check "If-Range with another ETag: 200, the whole file" \
    sh -c "test '$CODE' = 200 && cmp -s '$T/rngold.body' '$R/img/hero.png'"
get rngm "$L/img/hero.png" -H 'Range: bytes=0-9,20-29'
check "several ranges: 200, the whole file" test "$CODE" = 200 -a "$(stat -c %s "$T/rngm.body")" = "$HSIZE"

# ---- outside every manifest: the proxy -------------------------------------------------------
get notes "$L/notes.txt"
curl -s -D "$T/onotes.h" -o /dev/null "$O/notes.txt"
check "a file no manifest lists: 200, identical, fetched from the origin" \
    sh -c "test '$CODE' = 200 && cmp -s '$T/notes.body' '$R/notes.txt' && grep -qi '^Flashback-Source: origin' '$T/notes.h'"
eq "proxy: the origin's Content-Type" "$(hdr "$T/notes.h" content-type)" "$(hdr "$T/onotes.h" content-type)"
eq "proxy: the origin's ETag" "$(hdr "$T/notes.h" etag)" "$(hdr "$T/onotes.h" etag)"
get notes304 "$L/notes.txt" -H "If-None-Match: $(hdr "$T/onotes.h" etag)"
eq "proxy: If-None-Match with the origin's ETag: 304" "$CODE" 304
get notesq "$L/notes.txt?v=2"
check "proxy: the query goes along (200, identical)" sh -c "test '$CODE' = 200 && cmp -s '$T/notesq.body' '$R/notes.txt'"
get nohead "$L/notes.txt" -I
eq "proxy: HEAD gives the length" "$(hdr "$T/nohead.h" content-length)" "$(stat -c %s "$R/notes.txt")"
get miss "$L/img/missing.png"
eq "404 passthrough for an object" "$CODE" 404
get missp "$L/missing.html"
eq "404 passthrough for a page (no manifest, then the origin)" "$CODE" 404
get redir "$L/img"
check "a redirect from the origin stays local (301, Location: $(hdr "$T/redir.h" location))" \
    test "$CODE" = 301 -a "$(hdr "$T/redir.h" location)" = "/img/"
get post "$L/" -X POST -d x=1
check "POST: 405 with Allow" test "$CODE" = 405 -a -n "$(hdr "$T/post.h" allow)"
get fbpath "$L/.flashback/manifest/"
eq "the origin's /.flashback/ paths are not proxied (404)" "$CODE" 404

# ---- three tabs at once ----------------------------------------------------------------------
pids=()
for tab in 1 2 3; do
    (
        for p in / $page_objs; do
            curl -s -m 30 -o "$T/tab$tab$(echo "$p" | tr '/' '_')" "$L$p" &
        done
        wait
    ) &
    pids+=($!)
done
wait "${pids[@]}"
n_diff=0
for tab in 1 2 3; do
    for p in / $page_objs; do
        src=$R$p
        [ "$p" = / ] && src=$R/index.html
        cmp -s "$T/tab$tab$(echo "$p" | tr '/' '_')" "$src" || n_diff=$((n_diff + 1))
    done
done
check "3 tabs x $(($(echo $page_objs | wc -w) + 1)) concurrent requests: every body identical ($n_diff differ)" \
    test "$n_diff" -eq 0

# ---- a second page sharing objects with the first --------------------------------------------
curl -s -o "$T/s0" "$L/.flashback/stats"
get about "$L/about.html"
check "GET /about.html: 200, identical, from the swarm" \
    sh -c "test '$CODE' = 200 && cmp -s '$T/about.body' '$R/about.html' && grep -qi '^Flashback-Source: swarm' '$T/about.h'"
n_diff=0
for p in $ABOUT_OBJS; do
    get a "$L$p"
    { [ "$CODE" = 200 ] && cmp -s "$T/a.body" "$R$p"; } || n_diff=$((n_diff + 1))
done
curl -s -o "$T/s1" "$L/.flashback/stats"
check "about.html's $(echo $ABOUT_OBJS | wc -w) objects: 200 and identical ($n_diff differ)" test "$n_diff" -eq 0
shared=0
for p in $ABOUT_OBJS; do
    case " $(echo $page_objs) " in *" $p "*) shared=$((shared + $(stat -c %s "$R$p"))) ;; esac
done
check "about.html reused the first page's verified copies of the shared objects ($(json "$T/s1" bytes_reused) bytes reused, $shared shared)" \
    test "$(json "$T/s1" bytes_reused)" -ge "$shared" -a "$shared" -gt 0
eq "two pages (swarms) held" "$(json "$T/s1" pages)" 2

# ---- the local stats endpoint ----------------------------------------------------------------
S=$T/s1
check "/.flashback/stats: requests answered from the swarm ($(json "$S" served_swarm)) and the proxy ($(json "$S" served_proxy)), 304s ($(json "$S" not_modified))" \
    test "$(json "$S" served_swarm)" -gt 60 -a "$(json "$S" served_proxy)" -ge 5 -a "$(json "$S" not_modified)" -ge 3
echo "# open #1: origin HTTP $(json "$S" bytes_origin_http), seed $(json "$S" bytes_seed), peers $(json "$S" bytes_peers), proxy $(json "$S" bytes_proxy), reused $(json "$S" bytes_reused); waited $(json "$S" waited), hurried $(json "$S" hurried)"
check "every page byte verified: chunks bad 0, bytes_total covers both pages" \
    test "$(json "$S" chunks_bad)" -eq 0 -a "$(json "$S" bytes_total)" -gt "$page_bytes"

# ---- a second open: the page from the first ----------------------------------------------------
start_open o2 "$O/" || { notok "a second flashback open starts"; exit 1; }
O2=$OPEN_PID
L2=$(sed -n 's|^flashback: open \(.*\)/ in your browser$|\1|p' "$T/o2.out")
n_diff=0
for p in / $page_objs; do
    src=$R$p
    [ "$p" = / ] && src=$R/index.html
    curl -s -m 30 -o "$T/o2.body" "$L2$p"
    cmp -s "$T/o2.body" "$src" || n_diff=$((n_diff + 1))
done
curl -s -o "$T/s2" "$L2/.flashback/stats"
S=$T/s2
echo "# open #2: peers $(json "$S" bytes_peers), origin HTTP $(json "$S" bytes_origin_http), seed $(json "$S" bytes_seed), origin share $(json "$S" origin_share_permille) permille"
check "open #2: the page identical, most bytes from peers (open #1) ($(json "$S" bytes_peers) of $page_bytes)" \
    test "$n_diff" -eq 0 -a "$(json "$S" bytes_peers)" -gt $((page_bytes / 2))
stop_open "$O2" o2

# ---- one page at most: the oldest is retired -------------------------------------------------
start_open o6 "$O/" --max-pages 1 || { notok "open --max-pages 1 starts"; exit 1; }
O6=$OPEN_PID
L6=$(sed -n 's|^flashback: open \(.*\)/ in your browser$|\1|p' "$T/o6.out")
n_diff=0
for p in / /about.html /css/main.css /; do
    src=$R$p
    [ "$p" = / ] && src=$R/index.html
    curl -s -m 30 -o "$T/o6.body" "$L6$p"
    cmp -s "$T/o6.body" "$src" || n_diff=$((n_diff + 1))
done
curl -s -o "$T/s6" "$L6/.flashback/stats"
S=$T/s6
check "--max-pages 1: /, /about.html, then / again: identical ($n_diff differ), $(json "$S" pages_started) pages started, $(json "$S" pages_retired) retired, $(json "$S" pages) held" \
    test "$n_diff" -eq 0 -a "$(json "$S" pages_started)" = 3 -a "$(json "$S" pages_retired)" = 2 -a "$(json "$S" pages)" = 1
stop_open "$O6" o6

# ---- SIGTERM -----------------------------------------------------------------------------------
# A request left waiting on a page that never completes must not hold the exit back.
stop_open "$O1" o1

# ---- a plain origin: nginx, no manifest service ----------------------------------------------
if command -v nginx >/dev/null; then
    mkdir -p "$R/hostile"
    # A hostile seed for the page /hostile/ (a copy of the demo page): every chunk it sends is
    # corrupt. tools/fbseed builds the manifest and seeds; nginx serves both.
    cp "$R/index.html" "$R/hostile/index.html"
    fbseed_start hostile --rate 2000000 --corrupt 1 "$R" "$T/hostile.txt" /hostile/ $page_objs
    HOSTILE_PORT=$SEED_PORT
    hostile_conf() {
        cat <<EOF
  include /etc/nginx/mime.types;
  access_log off;
  server { listen 127.0.0.1:$1; root $R;
           location = /.flashback/manifest/hostile/ { root $T; try_files /hostile.txt =404;
                                                      add_header Flashback-Seed $HOSTILE_PORT; } }
EOF
    }
    fb_nginx_start hostile_conf || { notok "nginx starts on a free port"; cat "$T/logs/start.log"; exit 1; }
    port=$NGINX_PORT
    start_open o3 "http://127.0.0.1:$port/" || { notok "open on a plain origin starts"; exit 1; }
    O3=$OPEN_PID
    L3=$(sed -n 's|^flashback: open \(.*\)/ in your browser$|\1|p' "$T/o3.out")
    n_diff=0
    for p in / $page_objs; do
        src=$R$p
        [ "$p" = / ] && src=$R/index.html
        curl -s -m 20 -D "$T/o3.h" -o "$T/o3.body" "$L3$p"
        { cmp -s "$T/o3.body" "$src" && grep -qi '^Flashback-Source: origin' "$T/o3.h"; } || n_diff=$((n_diff + 1))
    done
    curl -s -o "$T/s3" "$L3/.flashback/stats"
    check "plain origin (nginx, no manifests): the page and its objects proxied, identical ($n_diff differ)" \
        test "$n_diff" -eq 0 -a "$(json "$T/s3" served_swarm)" -eq 0
    check "plain origin: no swarm, the manifest asked for once per page ($(json "$T/s3" pages_plain))" \
        test "$(json "$T/s3" pages_plain)" -ge 1 -a "$(json "$T/s3" pages)" -eq 0
    stop_open "$O3" o3

    # The hostile seed: open must serve every byte right (from the origin's ranges), none of its.
    start_open o5 "http://127.0.0.1:$port/hostile/" || { notok "open with a hostile seed starts"; exit 1; }
    O5=$OPEN_PID
    L5=$(sed -n 's|^flashback: open \(.*\)/hostile/ in your browser$|\1|p' "$T/o5.out")
    n_diff=0
    for p in /hostile/ $page_objs; do
        src=$R$p
        [ "$p" = /hostile/ ] && src=$R/hostile/index.html
        curl -s -m 30 -D "$T/o5.h" -o "$T/o5.body" "$L5$p"
        { cmp -s "$T/o5.body" "$src" && grep -qi '^Flashback-Source: swarm' "$T/o5.h"; } || n_diff=$((n_diff + 1))
    done
    curl -s -o "$T/s5" "$L5/.flashback/stats"
    S=$T/s5
    check "hostile seed: the page and its objects identical, served as verified objects ($n_diff differ)" \
        test "$n_diff" -eq 0 -a -n "$HOSTILE_PORT"
    check "hostile seed: $(json "$S" chunks_bad) bad chunks refused, not one of its bytes used (seed bytes $(json "$S" bytes_seed), origin HTTP $(json "$S" bytes_origin_http))" \
        test "$(json "$S" chunks_bad)" -gt 0 -a "$(json "$S" bytes_seed)" = 0 -a "$(json "$S" bytes_origin_http)" -ge "$page_bytes"
    stop_open "$O5" o5
else
    notok "nginx is installed (scripts/deps.sh test)"
fi

# ---- an unreachable origin -------------------------------------------------------------------
start_open o4 "http://127.0.0.1:1/" --timeout 5 || { notok "open on an unreachable origin starts"; exit 1; }
O4=$OPEN_PID
L4=$(sed -n 's|^flashback: open \(.*\)/ in your browser$|\1|p' "$T/o4.out")
get unreach "$L4/"
eq "unreachable origin: 502 for the page" "$CODE" 502
get unreach2 "$L4/img/a.png"
eq "unreachable origin: 502 for an object" "$CODE" 502
stop_open "$O4" o4

exit $failed

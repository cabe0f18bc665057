# Helpers shared by the `flashback open` tests (tests/integ/open_basic.sh, tests/browser/open.sh);
# sourced, not run by itself. Gives: a temp dir $T (removed on exit, every process started here
# killed), TAP helpers, a copy of the demo site in $R, flashbackd serving it with its seed capped
# (start_fbd), `flashback open` instances (start_open / stop_open), and readers for their JSON.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/integ.sh"
fb_tmpdir open
# json FILE FIELD: a numeric field of a JSON line
json() { grep -o "\"$2\":-\?[0-9]*" "$1" | tail -n1 | cut -d: -f2; }
# hdr FILE NAME: a header's value in a curl -D dump (case-insensitive name, CR dropped)
hdr() { tr -d '\r' <"$1" | grep -i -m1 "^$2:" | sed 's/^[^:]*: *//'; }

fb_need_built "$FB" "$FBD" "$SC"

# The demo site, plus a file no page embeds (a proxy path).
fb_demo_site "$T"
printf 'Tide tables are printed on Thursdays.\n' >"$R/notes.txt"
ABOUT_OBJS=$("$SC" links "$R/about.html" /about.html) || { notok "sitecheck lists about.html"; exit 1; }

# start_fbd RATE: flashbackd on 127.0.0.1:0 serving $R, its seed capped at RATE (flashbackd's
# units). Sets O (its URL, no trailing slash) and FBD_PID.
start_fbd() { fbd_serve_site fbd "$1"; }

# start_open NAME URL [ARGS...]: `flashback open` on a free port, stdout in $T/NAME.out and
# stderr in $T/NAME.err. Waits for its one line and sets L (the local URL it printed) and
# OPEN_PID. Returns 1 if no line came in 10 s.
start_open() {
    local name=$1 url=$2 i
    shift 2
    "$FB" open --stats "$@" "$url" >"$T/$name.out" 2>"$T/$name.err" &
    OPEN_PID=$!
    fb_track "$OPEN_PID"
    L=
    for i in $(seq 100); do
        L=$(sed -n 's|^flashback: open \(http://127\.0\.0\.1:[0-9]*/.*\) in your browser$|\1|p' "$T/$name.out")
        [ -n "$L" ] && return 0
        kill -0 "$OPEN_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop_open PID NAME: SIGTERM; it must exit 0 within 10 s, without a sanitizer report, and print
# its --stats line. Sets STOP_MS.
stop_open() {
    local pid=$1 name=$2 rc=0 i t0
    t0=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        notok "$name: stopped within 10 s of SIGTERM"
        return 1
    fi
    wait "$pid" || rc=$?
    STOP_MS=$((($(date +%s%N) - t0) / 1000000))
    check "$name: SIGTERM stops it cleanly in ${STOP_MS} ms (exit $rc, no sanitizer report, --stats printed)" \
        test "$rc" -eq 0 -a -z "$(grep -l Sanitizer "$T/$name.err")" -a -n "$(grep '^{"origin"' "$T/$name.err")"
}

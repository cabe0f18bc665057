#!/usr/bin/env bash
# make demo: the flash-crowd demo. Starts flashbackd on the demo site (site/) with its seed's
# upload capped (DEMO_RATE), then `flashback crowd`: DEMO_N visitors arriving over DEMO_OVER
# seconds, each leaving as soon as its page is complete, with a live progress line and a closing
# summary beside what a plain server would have needed for the same crowd.
# Without a terminal (CI: stdin or stdout not a tty) it stops there and exits with the crowd's
# status: 0 only when every visitor completed with every byte verified. With a terminal it
# leaves flashbackd running, prints the `flashback open` command to browse the site through the
# swarm, and stops flashbackd on Ctrl-C.
# Usage: scripts/demo.sh BUILD_DIR
# Environment: DEMO_N (visitors, default 100), DEMO_RATE (the seed's cap in flashbackd's units,
# default 10mbit), DEMO_PORT (default 8080; when busy, a free port is used instead, and said),
# DEMO_OVER (the arrival window in seconds, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
FBD=$BUILD/flashbackd
FB=$BUILD/flashback
ROOT=$PWD/site
N=${DEMO_N:-100}
RATE=${DEMO_RATE:-10mbit}
PORT=${DEMO_PORT:-8080}
OVER=${DEMO_OVER:-5}
tmp=$(mktemp -d /tmp/fbdemo.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

die() { echo "demo: $*" >&2; exit 2; }
[ -x "$FBD" ] && [ -x "$FB" ] || die "$FBD and $FB are not built (run make demo)"
[ -f "$ROOT/index.html" ] && [ -d "$ROOT/img" ] || die "the demo site is not generated (run make demo)"
[[ "$N" =~ ^[0-9]+$ ]] || die "DEMO_N must be a number of visitors, not '$N'"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -le 65535 ] || die "DEMO_PORT must be a port number, not '$PORT'"
[[ "$OVER" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DEMO_OVER must be a number of seconds, not '$OVER'"

interactive=0
[ -t 0 ] && [ -t 1 ] && interactive=1

# start PORT: flashbackd on 127.0.0.1:PORT; sets pid and url, or returns 1 (its error in $tmp/err).
start() {
    : >"$tmp/out"
    "$FBD" --root "$ROOT" --listen "127.0.0.1:$1" --seed-rate "$RATE" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    for _ in $(seq 100); do
        if grep -q '^flashbackd: seeding on' "$tmp/out"; then
            url=$(sed -n 's|^flashbackd: serving .* on \(http://.*\)$|\1|p' "$tmp/out")
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            pid=""
            return 1
        fi
        sleep 0.05
    done
    return 1
}
url=""
if ! start "$PORT"; then
    if [ "$PORT" != 0 ] && grep -q 'in use' "$tmp/err"; then
        echo "demo: port $PORT is busy (flashbackd: $(sed 's/^flashbackd: //' "$tmp/err")); using a free port instead"
        start 0 || { cat "$tmp/err" >&2; exit 1; }
    else
        cat "$tmp/err" >&2
        exit 1
    fi
fi
cat "$tmp/out"
echo "demo: a flash crowd of $N visitors arriving over $OVER s at $url, the seed capped at $RATE"
echo

rc=0
interrupted=0
trap 'interrupted=1' INT TERM # Ctrl-C reaches the crowd too: it stops and prints its summary
"$FB" crowd "$url" --n "$N" --over "$OVER" || rc=$?
echo
trap - INT TERM
if [ "$interrupted" = 1 ]; then
    echo "demo: interrupted; stopping flashbackd"
    exit 130
fi

if [ "$interactive" = 0 ]; then
    kill -TERM "$pid"
    frc=0
    wait "$pid" || frc=$?
    pid=""
    echo "demo: flashbackd stopped (exit $frc); crowd exit $rc"
    [ "$frc" = 0 ] || [ "$rc" != 0 ] || rc=1
    exit "$rc"
fi

echo "demo: flashbackd is still serving $url (seed capped at $RATE). Browse the site through"
echo "demo: the swarm with a local server of your own; it prints the address to open:"
echo
echo "    $FB open $url"
echo
echo "demo: Ctrl-C here stops flashbackd."
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
frc=0
wait "$pid" || frc=$?
wait "$pid" 2>/dev/null || true
pid=""
echo "demo: flashbackd stopped"
exit "$rc"

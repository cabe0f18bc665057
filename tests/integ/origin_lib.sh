# Helpers shared by the tests/integ/origin_*.sh scripts (sourced, not run by itself).
# Gives: a temp dir $T removed on exit (servers killed too), TAP helpers, a demo root, and
# start_server/stop_server around the sanitized flashbackd on 127.0.0.1:0.
set -u
FB_BUILD=${FB_BUILD:-$PWD/build/asan}
FB_ROOT=${FB_ROOT:-$PWD}
. "$(dirname "${BASH_SOURCE[0]}")/../lib/integ.sh"
FBHTTP=$FB_BUILD/tools/fbhttp
fb_tmpdir origin
fail() { notok "$@"; }

# Status codes of every response in a raw byte stream on stdin, space-separated.
statuses() { grep -a -o $'^HTTP/1\\.1 [0-9][0-9][0-9]' | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//'; }
# The value of header $1 in the first response on stdin (case-insensitive name).
header() { tr -d '\r' | sed -n '1,/^$/p' | grep -i -m1 "^$1:" | sed 's/^[^:]*: *//'; }

# A root with one file per content type, a directory with an index, one without, a 1 MiB file
# (larger than the memory cache's file limit: served with sendfile), and a secret outside the root.
make_root() {
    R=$T/root
    mkdir -p "$R/dir" "$R/empty" "$R/sub dir"
    echo '<!doctype html><title>index</title>' >"$R/index.html"
    echo 'dir index' >"$R/dir/index.html"
    echo 'spaced' >"$R/sub dir/file.txt"
    for e in css js mjs json svg png jpg jpeg gif webp avif ico woff2 wasm txt xml pdf mp4 webm bin; do
        echo "content of $e" >"$R/file.$e"
    done
    echo 'no extension' >"$R/noext"
    echo 'hidden' >"$R/.hidden"
    head -c 1048576 /dev/urandom >"$R/big.bin"
    echo one >"$R/one.txt"
    echo two >"$R/two.txt"
    echo three >"$R/three.txt"
    SECRET=TOPSECRET-$$-$RANDOM
    echo "$SECRET" >"$T/secret.txt"
}

# start_server ARGS...: runs flashbackd on 127.0.0.1:0 (unless ARGS has --listen) and waits for
# its start line. Sets PID, ADDR (host:port), PORT, SERVER_OUT and SERVER_ERR.
start_server() {
    local n=server.$RANDOM$RANDOM
    SERVER_OUT=$T/$n.out
    SERVER_ERR=$T/$n.err
    fbd_start "$n" "$@"
    PID=$FBD_PID
    ADDR=$FBD_ADDR
    PORT=${ADDR##*:}
    [ -n "$ADDR" ] || { echo "not ok - flashbackd did not start: $(cat "$SERVER_ERR")"; exit 1; }
}

# stop_server: SIGTERM, wait; returns flashbackd's exit status (sanitizer reports make it fail).
stop_server() {
    kill -TERM "$PID" 2>/dev/null
    local rc=0
    wait "$PID" || rc=$?
    return $rc
}

# raw ARGS...: fbhttp against the current server; output in $OUT, exit code in $RC.
raw() {
    OUT=$T/raw.out
    RC=0
    "$FBHTTP" "$@" "$ADDR" >"$OUT" 2>"$T/raw.err" || RC=$?
}

finish() {
    [ "$failed" -eq 0 ]
    exit $?
}

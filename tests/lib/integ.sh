# integ.sh: what the integration tests share (bash; source it). Sourcing sets the paths and the
# TAP helpers and starts nothing; a test then calls for the rest.
#
#   FB_ROOT, FB_BUILD     the checkout and the build holding the binaries (tests/run.sh sets
#                         both; by default this checkout and its build/)
#   FB, FBD, SC           flashback, flashbackd and tools/sitecheck in FB_BUILD
#   ok DESC, notok DESC   print a TAP line; notok also sets failed=1. Lines are numbered
#                         ("ok 3 - ...") when TAP_NUMBERED is set before sourcing; TAP_N counts
#                         them either way
#   check DESC CMD...     ok when CMD succeeds, notok when it fails
#   eq DESC GOT WANT      ok when GOT = WANT, else notok showing both
#   fb_need_built FILE...  notok and exit 1 unless every FILE is executable
#   fb_need_cmds CMD...   notok and exit 1 unless every CMD is installed
#   fb_need_root          notok and exit 1 unless running as root
#   fb_tmpdir NAME        T=/tmp/fbNAME.<pid>.XXXXXX, and a trap that at exit stops every
#                         tracked process (TERM, KILL 0.2 s later), waits, and removes T. Not
#                         for tests in namespaces: tests/lib/netns.sh owns their exit trap
#   fb_track PID...       stop PID at exit; fb_forget PID: not any more (it was stopped)
#   fb_demo_site DIR      a copy of site/ in R=DIR/root; page_objs the paths its index.html
#                         embeds (as tools/sitecheck lists them), page_bytes the page and those
#   fb_free_port          print a random port in 20000-59999 (the caller retries if it is taken)
#   fbd_start NAME ARGS...  flashbackd ARGS (on 127.0.0.1:0 unless ARGS has --listen), output
#                         in $T/NAME.out and $T/NAME.err, tracked; waits up to 10 s for its
#                         start line. Sets FBD_PID, FBD_ADDR (host:port) and FBD_URL
#                         (http://host:port). Returns 1 when it exited or did not start
#   fbd_serve_site NAME RATE  fbd_start NAME serving $R with its seed capped at RATE; sets O to
#                         its URL (no trailing slash). Returns 1 unless both its HTTP and its
#                         seed's start lines came
#   fbd_stop PID ERRFILE  SIGTERM and wait: checks that flashbackd exited 0 with no sanitizer
#                         report in ERRFILE (one TAP line)
#   fb_same_site DIR      true when DIR holds every file of the demo page (index.html and
#                         page_objs), each identical to R's
#   fb_ns_workdir NAME    work=/tmp/fbNAME.<pid>.XXXXXX, removed at namespace teardown (after
#                         tests/lib/netns.sh's ns_init; that library must be sourced at the top
#                         level of the test, as it declares its tables)
#   fbd_ns_start HOST RATE ARGS...  flashbackd inside namespace HOST, on its address, port 8080
#                         (TCP and UDP), serving R with its seed capped at RATE; output in
#                         $work/fbd.out and .err. Waits for both ports. Sets FBD_PID and O
#   fbseed_start NAME ARGS...  tools/fbseed ARGS, output in $T/NAME.out and .err, tracked; waits
#                         up to 5 s for the UDP port it prints. Sets SEED_PID and SEED_PORT;
#                         returns 1 when no port came
#   fb_nginx_start CONF_FN   Debian's nginx on a free loopback port (up to 10 tries): CONF_FN
#                         PORT prints what goes in its http block after the shared lines (an
#                         access_log and the server), pid, logs and temp files are under $T.
#                         Waits until /index.html answers. Sets NGINX_PID (tracked) and
#                         NGINX_PORT; returns 1 when no port worked (see $T/logs/start.log)

FB_ROOT=${FB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FB_BUILD=${FB_BUILD:-$FB_ROOT/build}
FB=$FB_BUILD/flashback
FBD=$FB_BUILD/flashbackd
SC=$FB_BUILD/tools/sitecheck
TAP_N=0
failed=0
FB_PIDS=()

ok() {
    TAP_N=$((TAP_N + 1))
    echo "ok${TAP_NUMBERED:+ $TAP_N} - $*"
}
notok() {
    TAP_N=$((TAP_N + 1))
    echo "not ok${TAP_NUMBERED:+ $TAP_N} - $*"
    failed=1
}
check() { # description command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1"; else notok "$1 (got '$2', want '$3')"; fi
}

fb_need_built() {
    local b
    for b in "$@"; do
        [ -x "$b" ] || { notok "$b is built"; exit 1; }
    done
}
fb_need_cmds() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || { notok "prerequisite $c is missing (scripts/deps.sh test)"; exit 1; }
    done
}
fb_need_root() {
    [ "$(id -u)" -eq 0 ] || { notok "network namespaces need root"; exit 1; }
}

fb_cleanup() {
    local p
    if [ ${#FB_PIDS[@]} -gt 0 ]; then
        for p in "${FB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
        sleep 0.2
        for p in "${FB_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    fi
    wait 2>/dev/null
    rm -rf "$T"
}
fb_tmpdir() {
    T=$(mktemp -d "/tmp/fb$1.$$.XXXXXX")
    trap fb_cleanup EXIT
}
fb_track() { FB_PIDS+=("$@"); }
fb_forget() {
    local p keep=()
    for p in "${FB_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    FB_PIDS=("${keep[@]}")
}

fb_demo_site() {
    local p
    R=$1/root
    mkdir -p "$R"
    cp -r "$FB_ROOT/site/." "$R/"
    rm -f "$R/img/.stamp"
    page_objs=$("$SC" links "$R/index.html" /) || { notok "sitecheck lists the demo page"; exit 1; }
    page_bytes=0
    for p in /index.html $page_objs; do page_bytes=$((page_bytes + $(stat -c %s "$R$p"))); done
}

fb_same_site() {
    local p
    for p in /index.html $page_objs; do cmp -s "$1$p" "$R$p" || return 1; done
}

fb_free_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000)); }

fbd_start() {
    local name=$1 listen=(--listen 127.0.0.1:0) i
    shift
    case " $* " in *" --listen "*) listen=() ;; esac
    "$FBD" "${listen[@]}" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    FBD_PID=$!
    fb_track "$FBD_PID"
    FBD_ADDR=
    for i in $(seq 200); do
        FBD_ADDR=$(sed -n 's|^flashbackd: serving .* on http://\(.*\)/$|\1|p' "$T/$name.out" | head -n1)
        [ -n "$FBD_ADDR" ] && break
        kill -0 "$FBD_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    FBD_URL=http://$FBD_ADDR
    [ -n "$FBD_ADDR" ]
}
fbd_serve_site() {
    fbd_start "$1" --root "$R" --seed-rate "$2" || return 1
    O=$FBD_URL
    grep -q '^flashbackd: seeding on udp://' "$T/$1.out"
}
fbd_stop() {
    local rc=0
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null || rc=$?
    fb_forget "$1"
    check "flashbackd stopped cleanly (exit $rc, no sanitizer report)" \
        test "$rc" -eq 0 -a -z "$(grep -l Sanitizer "$2")"
}

fb_ns_workdir() {
    work=$(mktemp -d "/tmp/fb$1.$$.XXXXXX")
    ns_at_exit "rm -rf '$work'"
}
fbd_ns_start() {
    local host=$1 rate=$2 addr
    shift 2
    addr=$(ns_addr "$host")
    ns_bg "$host" "$FBD" --root "$R" --listen "$addr:8080" --seed-rate "$rate" "$@" \
        >"$work/fbd.out" 2>"$work/fbd.err"
    FBD_PID=$NS_LAST_PID
    O=http://$addr:8080
    ns_wait_port "$host" tcp 8080 && ns_wait_port "$host" udp 8080
}

fbseed_start() {
    local name=$1 i
    shift
    "$FB_BUILD/tools/fbseed" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SEED_PID=$!
    fb_track "$SEED_PID"
    SEED_PORT=
    for i in $(seq 50); do
        SEED_PORT=$(awk '/^port /{print $2}' "$T/$name.out")
        [ -n "$SEED_PORT" ] && return 0
        sleep 0.1
    done
    return 1
}

fb_nginx_start() {
    local attempt i port
    mkdir -p "$T/logs" "$T/tmp"
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$(fb_free_port)
        {
            echo "daemon off; master_process off; worker_processes 1;"
            echo "pid $T/nginx.pid; error_log $T/logs/error.log;"
            echo "events { worker_connections 1024; }"
            echo "http {"
            echo "  client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;"
            echo "  uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;"
            "$1" "$port"
            echo "}"
        } >"$T/nginx.conf"
        nginx -p "$T" -c "$T/nginx.conf" 2>>"$T/logs/start.log" &
        NGINX_PID=$!
        for i in $(seq 50); do
            if curl -s -o /dev/null "http://127.0.0.1:$port/index.html"; then
                NGINX_PORT=$port
                fb_track "$NGINX_PID"
                return 0
            fi
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
        NGINX_PID=
    done
    return 1
}

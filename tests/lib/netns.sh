# netns.sh: network-namespace topologies for tests and benchmarks (bash; source it, as root).
#
# A run builds a small internet: a "public" namespace holding a bridge on 192.0.2.0/24
# (documentation range), public hosts attached to it (the origin, a tracker, a crowd), and
# routers that put private hosts (10.0.X.0/24) behind a NAT of a chosen kind:
#   cone       port-restricted cone NAT: masquerade, and the WAN side drops every packet that
#              would start a new connection (`ct state new drop`), as home routers do. Without
#              that drop an early punch packet from the other side creates a conntrack entry and
#              masquerade then remaps the port, which real routers do not do.
#   symmetric  masquerade with fully random ports: a new external port per destination
#              (and the same inbound drop).
#   none       plain routing: hosts keep their 10.0.X.Y address; every public host gets a route.
# Every namespace name starts with NS_TAG (fb<pid>x<random>), so concurrent runs never clash;
# interfaces are created directly inside their namespaces, so their names are local.
# ns_init installs a trap that tears everything down on exit, error or signal. Bash runs a trap
# only after the foreground command ends: wait for long commands with `cmd & wait $!`.
#
#   ns_init                      check prerequisites, pick NS_TAG, install the teardown trap
#   ns_public                    the public namespace with bridge br0 = 192.0.2.1/24
#   ns_public_host NAME [IP]     a host on the bridge (eth0); IP defaults to the next free one
#   ns_router NAME KIND N        a router (wan on the bridge, lan 10.0.X.1/24) with N hosts
#                                behind it, named NAME-h1 .. NAME-hN (eth0 = 10.0.X.(1+i))
#   ns_name NAME                 print the namespace's real name
#   ns_addr NAME                 print a host's address (a router's: its WAN address)
#   ns_exec NAME CMD...          run CMD inside NAME
#   ns_bg NAME CMD...            start CMD inside NAME in the background; pid in NS_LAST_PID,
#                                killed at teardown
#   ns_stop PID                  stop a process started with ns_bg (TERM, then KILL after 5 s)
#   ns_killall NAME              send TERM to every process inside NAME (all were started by
#                                this run: the namespace is ours)
#   ns_port NAME                 print the bridge port (in the public namespace) of a public
#                                host or router: its rx counts what NAME sent, its tx what NAME
#                                received
#   ns_cap NAME DEV RATE [tbf|htb]   cap DEV's egress (RATE as tc takes it: 10mbit). The queue
#                                is then in NAME's own stack: when it is full, Linux TCP sees
#                                its packets refused locally and soon aborts connections
#                                (seen with 200 flows through one 10 Mbit/s cap: TCPRetransFail
#                                and TCPAbortOnTimeout, first resets after 11 s). For many flows
#                                use ns_cap_uplink.
#   ns_uncap NAME DEV            remove the cap
#   ns_cap_uplink NAME RATE [tbf|htb]   cap what public host NAME sends into the bridge, in the
#                                network rather than in NAME's stack: its bridge port's ingress
#                                is redirected to an ifb device in the public namespace, shaped
#                                there. Drops then look like a congested link.
#   ns_uncap_uplink NAME         remove it
#   ns_loss NAME DEV PCT [udp|tcp|all]   drop PCT% of packets arriving on DEV (nft numgen)
#   ns_unloss NAME               remove the loss rules
#   ns_flush_conntrack NAME      forget every connection (and NAT mapping) NAME tracks
#   ns_counter NAME DEV rx|tx    print DEV's byte counter in NAME
#   ns_nginx NAME ROOT PORT DIR  start Debian's nginx in NAME (one worker, sendfile) serving ROOT
#                                on PORT, its files under DIR; waits until it answers
#   ns_wait_port NAME PROTO PORT [SECONDS]   wait until something listens on PORT in NAME
#   ns_pin_neighbours            write permanent ARP entries for every pair of hosts on the
#                                bridge. The kernel's neighbour table is shared by all
#                                namespaces and holds 1024 dynamic entries (gc_thresh3) for the
#                                whole machine: a crowd of 100 hosts that talk to each other
#                                overflows it ("neighbor table overflow"), connections stall,
#                                and other runs on the machine suffer too. Permanent entries
#                                are exempt from that limit. Call it after the last host.
#   ns_at_exit CMD               run CMD (a string) at teardown, before namespaces go away
#   ns_teardown                  kill what runs in our namespaces and delete them (idempotent)

NS_PUBNET=192.0.2
declare -a NS_LIST=() NS_PIDS=() NS_EXIT_HOOKS=()
declare -A NS_IP=() NS_KIND=() NS_PORT=() NS_DEV=()
NS_TAG=""
NS_PUB=""
NS_NEXT_IP=2
NS_NEXT_LAN=1
NS_PORT_SEQ=0
NS_LAST_PID=""
declare -a NS_ROUTES=() # "10.0.X.0/24 via WAN" for routers of kind none

_ns_die() {
    echo "netns: $*" >&2
    return 1
}

# Runs a command, printing it when it fails; returns its status.
_ns_do() {
    "$@" || {
        local rc=$?
        echo "netns: failed ($rc): $*" >&2
        return $rc
    }
}

ns_init() {
    [ "$(id -u)" -eq 0 ] || { _ns_die "must run as root"; return 1; }
    local t
    for t in ip tc nft conntrack sysctl; do
        command -v "$t" >/dev/null || { _ns_die "missing tool: $t"; return 1; }
    done
    NS_TAG="fb$$x$(printf '%04x' $((RANDOM % 65536)))"
    trap 'ns_teardown' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

ns_name() { printf '%s-%s\n' "$NS_TAG" "$1"; }

ns_addr() {
    [ -n "${NS_IP[$1]:-}" ] || { _ns_die "no address known for '$1'"; return 1; }
    printf '%s\n' "${NS_IP[$1]}"
}

ns_exec() {
    local n=$1
    shift
    ip netns exec "$NS_TAG-$n" "$@"
}

ns_bg() {
    local n=$1
    shift
    ip netns exec "$NS_TAG-$n" "$@" &
    NS_LAST_PID=$!
    NS_PIDS+=("$NS_LAST_PID")
}

ns_at_exit() { NS_EXIT_HOOKS+=("$1"); }

ns_stop() {
    local p=$1 i
    kill "$p" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for i in "${!NS_PIDS[@]}"; do
        [ "${NS_PIDS[$i]}" = "$p" ] && unset 'NS_PIDS[i]'
    done
    return 0
}

ns_port() {
    [ -n "${NS_PORT[$1]:-}" ] || { _ns_die "'$1' is not plugged into the public bridge"; return 1; }
    printf '%s\n' "${NS_PORT[$1]}"
}

ns_killall() {
    local p
    for p in $(ip netns pids "$NS_TAG-$1" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
}

# Creates namespace NAME (loopback up) and records it for teardown.
_ns_add() {
    local ns="$NS_TAG-$1"
    [ -n "$NS_TAG" ] || { _ns_die "call ns_init first"; return 1; }
    _ns_do ip netns add "$ns" || return 1
    NS_LIST+=("$ns")
    _ns_do ip -n "$ns" link set lo up
}

# Sets _NS_IP to the next free public address.
_ns_alloc_ip() {
    [ "$NS_NEXT_IP" -le 254 ] || { _ns_die "public range $NS_PUBNET.0/24 exhausted"; return 1; }
    _NS_IP="$NS_PUBNET.$NS_NEXT_IP"
    NS_NEXT_IP=$((NS_NEXT_IP + 1))
}

# The MAC address of public address 192.0.2.X: locally administered, derived from X, so that
# neighbour entries can be written without asking each namespace.
_ns_mac() { printf '02:fb:c0:00:02:%02x\n' "${1##*.}"; }

# Plugs interface DEV of namespace NAME into the public bridge with address IP/24.
_ns_plug() {
    local ns="$NS_TAG-$1" dev=$2 ip=$3
    NS_PORT_SEQ=$((NS_PORT_SEQ + 1))
    local port="v$NS_PORT_SEQ"
    _ns_do ip link add "$dev" netns "$ns" address "$(_ns_mac "$ip")" type veth \
        peer name "$port" netns "$NS_PUB" || return 1
    _ns_do ip -n "$NS_PUB" link set "$port" master br0 up || return 1
    NS_PORT[$1]=$port
    NS_DEV[$1]=$dev
    _ns_do ip -n "$ns" addr add "$ip/24" dev "$dev" || return 1
    _ns_do ip -n "$ns" link set "$dev" up
}

ns_public() {
    _ns_add pub || return 1
    NS_PUB="$NS_TAG-pub"
    _ns_do ip -n "$NS_PUB" link add br0 type bridge || return 1
    _ns_do ip -n "$NS_PUB" link set br0 address "$(_ns_mac "$NS_PUBNET.1")" up || return 1
    _ns_do ip -n "$NS_PUB" addr add "$NS_PUBNET.1/24" dev br0 || return 1
    NS_IP[pub]=$NS_PUBNET.1
    NS_DEV[pub]=br0
}

ns_pin_neighbours() {
    local n m lines=""
    for n in "${!NS_DEV[@]}"; do
        lines+="${NS_IP[$n]} $(_ns_mac "${NS_IP[$n]}")"$'\n'
    done
    for n in "${!NS_DEV[@]}"; do
        printf '%s' "$lines" | awk -v self="${NS_IP[$n]}" -v dev="${NS_DEV[$n]}" \
            'NF == 2 && $1 != self { print "neigh replace " $1 " lladdr " $2 " dev " dev " nud permanent" }' |
            ip -n "$NS_TAG-$n" -batch - || { _ns_die "cannot pin the neighbours of $n"; return 1; }
    done
}

ns_public_host() {
    local name=$1 ip=${2:-}
    [ -n "$NS_PUB" ] || { _ns_die "call ns_public first"; return 1; }
    if [ -z "$ip" ]; then
        _ns_alloc_ip || return 1
        ip=$_NS_IP
    fi
    _ns_add "$name" || return 1
    _ns_plug "$name" eth0 "$ip" || return 1
    NS_IP[$name]=$ip
    local r
    for r in "${NS_ROUTES[@]}"; do
        _ns_do ip -n "$NS_TAG-$name" route add $r || return 1
    done
}

ns_router() {
    local name=$1 kind=$2 nhosts=$3
    case "$kind" in cone | symmetric | none) ;; *)
        _ns_die "router kind must be cone, symmetric or none, not '$kind'"
        return 1
        ;;
    esac
    [ "$nhosts" -ge 1 ] && [ "$nhosts" -le 250 ] || { _ns_die "1..250 hosts per router"; return 1; }
    [ "$NS_NEXT_LAN" -le 254 ] || { _ns_die "too many routers"; return 1; }
    local x=$NS_NEXT_LAN wan r="$NS_TAG-$name"
    NS_NEXT_LAN=$((NS_NEXT_LAN + 1))
    _ns_alloc_ip || return 1
    wan=$_NS_IP
    _ns_add "$name" || return 1
    _ns_plug "$name" wan "$wan" || return 1
    NS_IP[$name]=$wan
    NS_KIND[$name]=$kind
    _ns_do ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 || return 1
    _ns_do ip -n "$r" link add lan type bridge || return 1
    _ns_do ip -n "$r" addr add "10.0.$x.1/24" dev lan || return 1
    _ns_do ip -n "$r" link set lan up || return 1
    local i h
    for ((i = 1; i <= nhosts; i++)); do
        h="$name-h$i"
        _ns_add "$h" || return 1
        _ns_do ip link add eth0 netns "$NS_TAG-$h" type veth peer name "l$i" netns "$r" || return 1
        _ns_do ip -n "$r" link set "l$i" master lan up || return 1
        _ns_do ip -n "$NS_TAG-$h" addr add "10.0.$x.$((1 + i))/24" dev eth0 || return 1
        _ns_do ip -n "$NS_TAG-$h" link set eth0 up || return 1
        _ns_do ip -n "$NS_TAG-$h" route add default via "10.0.$x.1" || return 1
        NS_IP[$h]=10.0.$x.$((1 + i))
    done
    local masq
    case "$kind" in
    cone) masq="masquerade" ;;
    symmetric) masq="masquerade fully-random" ;;
    none)
        # No NAT: the public side needs a route back to the LAN.
        NS_ROUTES+=("10.0.$x.0/24 via $wan")
        local n
        for n in "${!NS_IP[@]}"; do
            case "${NS_IP[$n]}" in "$NS_PUBNET".*) ;; *) continue ;; esac
            [ "$n" = "$name" ] || [ -n "${NS_KIND[$n]:-}" ] && continue # routers need none
            _ns_do ip -n "$NS_TAG-$n" route add "10.0.$x.0/24" via "$wan" || return 1
        done
        return 0
        ;;
    esac
    # Home-router firewall: nothing from the WAN may open a connection, neither to the router
    # itself (where a punch would otherwise create a conntrack entry) nor through it.
    _ns_do ip netns exec "$r" nft -f - <<EOF || return 1
table ip fbnat {
    chain post { type nat hook postrouting priority srcnat; oifname "wan" $masq; }
}
table inet fbfw {
    chain input { type filter hook input priority filter; iifname "wan" ct state new drop; }
    chain forward { type filter hook forward priority filter; iifname "wan" ct state new drop; }
}
EOF
}

# Shapes the egress of DEV in namespace NS (full name) to RATE with tbf or htb.
_ns_shape() {
    local ns=$1 dev=$2 rate=$3 how=${4:-tbf}
    tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
    case "$how" in
    tbf)
        # A burst of ~20 ms at the rate (at least 32 KB): a tiny bucket starves TCP well below
        # the rate (RECIPES.md measured 4.8 of 5 Mbit/s with 4 KB).
        local bits
        bits=$(_ns_rate_bits "$rate") || return 1
        local burst=$((bits / 8 / 50))
        [ "$burst" -ge 32768 ] || burst=32768
        _ns_do tc -n "$ns" qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 200ms
        ;;
    htb)
        _ns_do tc -n "$ns" qdisc add dev "$dev" root handle 1: htb default 10 || return 1
        _ns_do tc -n "$ns" class add dev "$dev" parent 1: classid 1:10 htb rate "$rate" ceil "$rate" \
            quantum 60000
        ;;
    *) _ns_die "cap kind must be tbf or htb" ;;
    esac
}

ns_cap() { _ns_shape "$NS_TAG-$1" "$2" "$3" "${4:-tbf}"; }

ns_cap_uplink() {
    local n=$1 rate=$2 how=${3:-tbf} port ifb
    port=$(ns_port "$n") || return 1
    ifb="i${port#v}"
    ns_uncap_uplink "$n"
    _ns_do ip -n "$NS_PUB" link add "$ifb" type ifb || return 1
    _ns_do ip -n "$NS_PUB" link set "$ifb" up || return 1
    _ns_do tc -n "$NS_PUB" qdisc add dev "$port" handle ffff: ingress || return 1
    _ns_do tc -n "$NS_PUB" filter add dev "$port" parent ffff: protocol all u32 match u32 0 0 \
        action mirred egress redirect dev "$ifb" >/dev/null || return 1
    _ns_shape "$NS_PUB" "$ifb" "$rate" "$how"
}

ns_uncap_uplink() {
    local port
    port=$(ns_port "$1") || return 1
    tc -n "$NS_PUB" qdisc del dev "$port" handle ffff: ingress 2>/dev/null || true
    ip -n "$NS_PUB" link del "i${port#v}" 2>/dev/null || true
}

ns_uncap() { tc -n "$NS_TAG-$1" qdisc del dev "$2" root 2>/dev/null || true; }

# Prints a tc rate ("10mbit", "500kbit", "1gbit", "8000bit") in bits per second.
_ns_rate_bits() {
    local r=${1,,} m
    case "$r" in
    *gbit) m=1000000000 r=${r%gbit} ;;
    *mbit) m=1000000 r=${r%mbit} ;;
    *kbit) m=1000 r=${r%kbit} ;;
    *bit) m=1 r=${r%bit} ;;
    *) _ns_die "rate '$1' must end in bit, kbit, mbit or gbit"; return 1 ;;
    esac
    [[ "$r" =~ ^[0-9]+$ ]] || { _ns_die "bad rate '$1'"; return 1; }
    echo $((r * m))
}

ns_loss() {
    local n=$1 dev=$2 pct=$3 proto=${4:-udp} match=""
    [[ "$pct" =~ ^[0-9]+$ ]] && [ "$pct" -le 100 ] || { _ns_die "loss must be 0..100"; return 1; }
    case "$proto" in
    udp | tcp) match="meta l4proto $proto" ;;
    all) ;;
    *) _ns_die "loss protocol must be udp, tcp or all"; return 1 ;;
    esac
    ns_unloss "$n"
    _ns_do ip netns exec "$NS_TAG-$n" nft -f - <<EOF
table inet fbloss {
    chain pre {
        type filter hook prerouting priority -300;
        iifname "$dev" $match numgen random mod 100 < $pct drop;
    }
}
EOF
}

ns_unloss() { ip netns exec "$NS_TAG-$1" nft delete table inet fbloss 2>/dev/null || true; }

ns_flush_conntrack() { ip netns exec "$NS_TAG-$1" conntrack -F >/dev/null 2>&1 || true; }

ns_counter() {
    local f=/sys/class/net/$2/statistics/${3}_bytes
    ip netns exec "$NS_TAG-$1" cat "$f"
}

ns_wait_port() {
    local n=$1 proto=$2 port=$3 secs=${4:-10} i flag=-t
    [ "$proto" = udp ] && flag=-u
    for ((i = 0; i < secs * 20; i++)); do
        ip netns exec "$NS_TAG-$n" ss -Hln $flag "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    _ns_die "nothing listens on $proto port $port in $n after ${secs}s"
}

ns_nginx() {
    local n=$1 root=$2 port=$3 dir=$4
    command -v nginx >/dev/null || { _ns_die "nginx is not installed"; return 1; }
    root=$(cd "$root" && pwd) || return 1
    mkdir -p "$dir/tmp" || return 1
    cat >"$dir/nginx.conf" <<EOF
# One worker, sendfile on: the plain web server the benchmarks compare against.
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 10000;
    # Long timers: under a crowd a response can take minutes to drain from the socket buffer,
    # and with the default 65 s nginx closes the idle keep-alive connection meanwhile; the
    # client's next request then meets a reset (seen: 118 of 200 curl clients failed).
    keepalive_timeout 1200s;
    send_timeout 1200s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen $port reuseport;
        root $root;
    }
}
EOF
    ns_bg "$n" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
    ns_wait_port "$n" tcp "$port" 10 || { cat "$dir/error.log" >&2; return 1; }
}

ns_teardown() {
    local h p ns i
    for h in "${NS_EXIT_HOOKS[@]}"; do eval "$h" || true; done
    NS_EXIT_HOOKS=()
    for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    # Anything still running inside our namespaces was started by this run: end it by pid.
    for ns in "${NS_LIST[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    done
    for ((i = 0; i < 40; i++)); do
        local alive=0
        for ns in "${NS_LIST[@]}"; do
            [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && alive=1 && break
        done
        [ $alive -eq 0 ] && break
        sleep 0.05
    done
    for ns in "${NS_LIST[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    for p in "${NS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    NS_PIDS=()
    for ((i = ${#NS_LIST[@]} - 1; i >= 0; i--)); do
        ip netns del "${NS_LIST[$i]}" 2>/dev/null || true
    done
    NS_LIST=()
    NS_PUB=""
    NS_IP=()
    NS_KIND=()
    NS_PORT=()
    NS_DEV=()
    NS_ROUTES=()
}

# Helpers for the simulator tests (sourced, not run): run `flashback sim --json` and check
# fields of its one-line JSON object. Each check prints a TAP line.
sim_json() { # flags... -> prints the JSON line; fails the test when the simulator fails
    local out
    if ! out=$(timeout 300 "$FB_BUILD/flashback" sim --json "$@"); then
        echo "not ok - flashback sim $* exited with an error"
        exit 1
    fi
    echo "$out"
}
field() { # json key -> value
    echo "$1" | grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'
}
check() { # description awk-condition json keys... : the condition sees the keys as variables
    local desc=$1 cond=$2 json=$3
    shift 3
    local vars=()
    for k in "$@"; do vars+=(-v "$k=$(field "$json" "$k")"); done
    if awk "${vars[@]}" "BEGIN { exit !($cond) }"; then
        echo "ok - $desc"
    else
        echo "not ok - $desc"
        for k in "$@"; do echo "#   $k = $(field "$json" "$k")"; done
    fi
}

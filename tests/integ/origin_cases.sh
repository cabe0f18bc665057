#!/usr/bin/env bash
# Strictness and request-smuggling cases, written as data in origin_cases/*.case: each file gives
# the raw request (escaped text), the status flashbackd must answer with, and whether it must
# then close the connection. Every case runs on a fresh connection to one server.
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
make_root
start_server --root "$R" --max-head 1024 --max-headers 8 --max-body 4096 --linger-timeout 200ms

for f in tests/integ/origin_cases/*.case; do
    name=$(basename "$f" .case)
    want=$(sed -n 's/^status: //p' "$f")
    closed=$(sed -n 's/^closed: //p' "$f")
    sed -n '/^request:$/,$p' "$f" | tail -n +2 >"$T/req"
    if [ "$closed" = yes ]; then raw -f "$T/req" -t 3000; else raw -f "$T/req" -t 600; fi
    got=$(statuses <"$OUT")
    if [ "$got" != "$want" ]; then
        fail "$name: status '$got', want '$want' ($(head -n1 "$f" | cut -c3-))"
    elif [ "$closed" = yes ] && [ "$RC" -ne 0 ] && [ "$RC" -ne 4 ]; then
        fail "$name: answered $got but the connection stayed open (fbhttp exit $RC)"
    elif [ "$closed" = no ] && [ "$RC" -ne 3 ]; then
        fail "$name: answered $got but the connection was closed (fbhttp exit $RC)"
    else
        ok "$name: $got$([ "$closed" = yes ] && echo ', closed')"
    fi
done

# The server survived all of it and still answers.
raw -r 'GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
eq "server still answers after every case" "$(statuses <"$OUT")" 200
check "flashbackd exits 0 on SIGTERM (no sanitizer report)" stop_server
finish

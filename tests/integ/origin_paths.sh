#!/usr/bin/env bash
# No request may read a byte from outside the served root: encoded dots and slashes, NUL bytes,
# absolute-form targets, symlinks (relative, absolute, to a directory) that leave the root, and a
# symlink swapped after its target was cached. A secret file sits next to the root; its content
# must never appear in any response. Symlinks that stay inside the root keep working.
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
make_root
ln -s ../secret.txt "$R/rel-link.txt"
ln -s "$T/secret.txt" "$R/abs-link.txt"
ln -s .. "$R/up"
ln -s "$T" "$R/abs-up"
ln -s dir "$R/dir-link"
ln -s index.html "$R/same.html"
ln -s ../../../../../../../../etc/passwd "$R/passwd"
start_server --root "$R"

leaks=0
attempt() { # target
    raw -r "GET $1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" -t 3000
    local st
    st=$(statuses <"$OUT")
    if grep -a -q "$SECRET" "$OUT" || grep -a -q '^root:' "$OUT"; then
        fail "$1 leaked a file outside the root"
        leaks=$((leaks + 1))
    elif [ "$st" != 404 ] && [ "$st" != 400 ] && [ "$st" != 301 ]; then
        fail "$1 answered '$st', want 404 or 400"
    else
        ok "$1 refused with $st"
    fi
}
for t in \
    /../secret.txt /../../secret.txt /%2e%2e/secret.txt /%2E%2E/secret.txt /.%2e/secret.txt \
    /%2e%2e%2fsecret.txt /..%2fsecret.txt /dir/..%2f..%2fsecret.txt /dir/%2e%2e/%2e%2e/secret.txt \
    //../secret.txt /%2f..%2fsecret.txt '/..\\secret.txt' /%5c..%5csecret.txt \
    /secret.txt%00.html /index.html%00 /%00../secret.txt \
    http://a/../secret.txt http://a/%2e%2e/secret.txt \
    /rel-link.txt /abs-link.txt /up/secret.txt /up/ /abs-up/secret.txt /abs-up \
    /dir-link/../../secret.txt /passwd /up/root/index.html; do
    attempt "$t"
done
eq "no response leaked the secret" "$leaks" 0

# Links that stay inside the root are followed.
eq "symlink to a file inside the root" "$(curl -sS "http://$ADDR/same.html")" \
    '<!doctype html><title>index</title>'
eq "symlink to a directory inside the root" "$(curl -sS "http://$ADDR/dir-link/index.html")" \
    "dir index"
eq "dot segments that stay inside: /dir/../one.txt" \
    "$(curl -sS --path-as-is "http://$ADDR/dir/../one.txt")" one

# A link that pointed inside and is then swapped to point outside: once the cache rechecks the
# file's identity (at most a second later), the new target is resolved safely and refused.
ln -s one.txt "$R/swap.txt"
eq "swappable link, first target" "$(curl -sS "http://$ADDR/swap.txt")" one
rm "$R/swap.txt"
ln -s ../secret.txt "$R/swap.txt"
sleep 1.2
body=$(curl -sS "http://$ADDR/swap.txt")
check "swapped link to outside the root is refused" test "$body" = "404 Not Found"
# A file replaced in place is served fresh after the recheck.
echo "ONE v2" >"$R/one.txt.new"
mv "$R/one.txt.new" "$R/one.txt"
sleep 1.2
eq "replaced file is served fresh" "$(curl -sS "http://$ADDR/one.txt")" "ONE v2"

check "flashbackd exits 0 on SIGTERM (no sanitizer report)" stop_server
finish

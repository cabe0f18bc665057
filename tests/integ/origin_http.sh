#!/usr/bin/env bash
# flashbackd's HTTP semantics against a temp root: content types, bodies from memory and from
# sendfile, HEAD, conditional requests (304, 412), ranges (206, 416, multi-range 200), directory
# redirects and index files, 404/405, keep-alive, pipelining (including a large response in the
# middle) and request bodies that are read and discarded.
cd "$(dirname "$0")/../.."
. tests/integ/origin_lib.sh
make_root
start_server --root "$R" --cache-file-max 64k
URL=http://$ADDR

# Content-Type by extension.
while read -r ext want; do
    got=$(curl -sS -o /dev/null -w '%{content_type}' "$URL/file.$ext")
    eq "Content-Type of .$ext" "$got" "$want"
done <<'TYPES'
css text/css; charset=utf-8
js text/javascript; charset=utf-8
mjs text/javascript; charset=utf-8
json application/json
svg image/svg+xml
png image/png
jpg image/jpeg
jpeg image/jpeg
gif image/gif
webp image/webp
avif image/avif
ico image/vnd.microsoft.icon
woff2 font/woff2
wasm application/wasm
txt text/plain; charset=utf-8
xml text/xml; charset=utf-8
pdf application/pdf
mp4 video/mp4
webm video/webm
bin application/octet-stream
TYPES
eq "Content-Type of index.html" "$(curl -sS -o /dev/null -w '%{content_type}' "$URL/")" \
    "text/html; charset=utf-8"
eq "Content-Type without extension" "$(curl -sS -o /dev/null -w '%{content_type}' "$URL/noext")" \
    "application/octet-stream"

# Bodies: small (memory cache) and 1 MiB (sendfile), byte for byte.
check "small file body is the file" cmp -s <(curl -sS "$URL/file.css") "$R/file.css"
check "1 MiB file body is the file (sendfile)" cmp -s <(curl -sS "$URL/big.bin") "$R/big.bin"
check "path with an encoded space" cmp -s <(curl -sS "$URL/sub%20dir/file.txt") "$R/sub dir/file.txt"

# Headers of a 200.
curl -sS -D "$T/h" -o /dev/null "$URL/big.bin"
eq "Content-Length of the 1 MiB file" "$(header content-length <"$T/h")" 1048576
eq "Accept-Ranges" "$(header accept-ranges <"$T/h")" bytes
ETAG=$(header etag <"$T/h")
LM=$(header last-modified <"$T/h")
check "ETag is strong and quoted" grep -qE '^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$' <<<"$ETAG"
check "Last-Modified is an IMF-fixdate" \
    grep -qE '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' <<<"$LM"
check "Date header is an IMF-fixdate" grep -qE ' GMT$' <<<"$(header date <"$T/h")"

# HEAD: same head as GET, no body.
raw -r 'HEAD /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
eq "HEAD status" "$(statuses <"$OUT")" 200
eq "HEAD Content-Length is the GET length" "$(header content-length <"$OUT")" 1048576
hlen=$(grep -a -b -m1 -o $'^\r$' "$OUT" | cut -d: -f1)
eq "HEAD sends no body" "$(stat -c %s "$OUT")" $((hlen + 2))

# Conditional requests.
code() { curl -sS -o "$T/body" -w '%{http_code}' "$@"; }
rm -f "$T/body"
eq "If-None-Match with the ETag: 304" "$(code -H "If-None-Match: $ETAG" "$URL/big.bin")" 304
check "304 has no body" test ! -s "$T/body"
eq "If-None-Match weak form: 304" "$(code -H "If-None-Match: W/$ETAG" "$URL/big.bin")" 304
eq "If-None-Match in a list: 304" "$(code -H "If-None-Match: \"x\", $ETAG" "$URL/big.bin")" 304
eq "If-None-Match other tag: 200" "$(code -H 'If-None-Match: "nope"' "$URL/big.bin")" 200
eq "If-Modified-Since = Last-Modified: 304" "$(code -H "If-Modified-Since: $LM" "$URL/big.bin")" 304
eq "If-Modified-Since in 1994: 200" \
    "$(code -H 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT' "$URL/big.bin")" 200
eq "If-Modified-Since, asctime form: 304" \
    "$(code -H "If-Modified-Since: $(date -u -d "$LM" '+%a %b %e %H:%M:%S %Y')" "$URL/big.bin")" 304
eq "If-Match other tag: 412" "$(code -H 'If-Match: "nope"' "$URL/big.bin")" 412
curl -sS -D "$T/h" -o /dev/null -H "If-None-Match: $ETAG" "$URL/big.bin"
eq "304 repeats the ETag" "$(header etag <"$T/h")" "$ETAG"

# Ranges.
eq "Range 0-99: 206" "$(code -r 0-99 "$URL/big.bin")" 206
check "Range 0-99 body" cmp -s "$T/body" <(head -c 100 "$R/big.bin")
curl -sS -D "$T/h" -o "$T/body" -r 1000-1999 "$URL/big.bin"
eq "Content-Range of 1000-1999" "$(header content-range <"$T/h")" "bytes 1000-1999/1048576"
check "Range 1000-1999 body" cmp -s "$T/body" <(tail -c +1001 "$R/big.bin" | head -c 1000)
eq "suffix range -100: 206" "$(code -r -100 "$URL/big.bin")" 206
check "suffix range body" cmp -s "$T/body" <(tail -c 100 "$R/big.bin")
eq "open range 1048000-: 206" "$(code -r 1048000- "$URL/big.bin")" 206
eq "open range length" "$(stat -c %s "$T/body")" 576
eq "small file range 2-5: 206" "$(code -r 2-5 "$URL/file.css")" 206
eq "small file range body" "$(cat "$T/body")" "nten"
curl -sS -D "$T/h" -o "$T/body" -r 2000000- "$URL/big.bin"
eq "unsatisfiable range: 416" "$(head -n1 "$T/h" | cut -d' ' -f2)" 416
eq "416 Content-Range" "$(header content-range <"$T/h")" "bytes */1048576"
eq "multi-range: whole file with 200" "$(code -r 0-1,5-6 "$URL/big.bin")" 200
eq "If-Range with the ETag: 206" "$(code -r 0-9 -H "If-Range: $ETAG" "$URL/big.bin")" 206
eq "If-Range with another ETag: 200" "$(code -r 0-9 -H 'If-Range: "x"' "$URL/big.bin")" 200
eq "bad Range syntax is ignored: 200" "$(code -H 'Range: bytes=9-1' "$URL/big.bin")" 200

# Directories, 404, 405.
curl -sS -D "$T/h" -o /dev/null "$URL/dir"
eq "directory without slash: 301" "$(head -n1 "$T/h" | cut -d' ' -f2)" 301
eq "301 Location" "$(header location <"$T/h")" /dir/
curl -sS -D "$T/h" -o /dev/null "$URL/dir?a=1"
eq "301 keeps the query" "$(header location <"$T/h")" "/dir/?a=1"
curl -sS -D "$T/h" -o /dev/null "$URL/sub%20dir"
eq "301 Location is percent-encoded" "$(header location <"$T/h")" "/sub%20dir/"
raw -r 'GET //dir HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
eq "no open redirect from //dir" "$(header location <"$OUT")" /dir/
eq "directory index" "$(curl -sS "$URL/dir/")" "dir index"
eq "root index" "$(curl -sS "$URL/")" '<!doctype html><title>index</title>'
eq "directory without index: 404" "$(code "$URL/empty/")" 404
eq "missing file: 404" "$(code "$URL/nope.html")" 404
eq "file with a trailing slash: 404" "$(code "$URL/file.css/")" 404
eq "hidden file: 404" "$(code "$URL/.hidden")" 404
eq "/.flashback/ is reserved: 404" "$(code "$URL/.flashback/x")" 404
for m in POST PUT DELETE OPTIONS PATCH; do
    curl -sS -D "$T/h" -o /dev/null -X "$m" "$URL/index.html"
    eq "$m: 405" "$(head -n1 "$T/h" | cut -d' ' -f2)" 405
    eq "$m: Allow" "$(header allow <"$T/h")" "GET, HEAD"
done

# Keep-alive: curl reuses the connection for two URLs.
curl -sS -v -o /dev/null -o /dev/null "$URL/one.txt" "$URL/two.txt" 2>"$T/v"
check "keep-alive: the second request reuses the connection" grep -q 'Re-using existing connection' "$T/v"

# Pipelining: three requests in one write; responses in order, connection kept open.
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /two.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /three.txt HTTP/1.1\r\nHost: a\r\n\r\n' -t 700
eq "pipelined: three 200s" "$(statuses <"$OUT")" "200 200 200"
eq "pipelined: bodies in order" "$(grep -a -E '^(one|two|three)$' "$OUT" | tr '\n' ' ')" "one two three "
eq "pipelined: connection stays open" "$RC" 3

# Pipelining around a large response that cannot be written at once.
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: a\r\n\r\nHEAD /big.bin HTTP/1.1\r\nHost: a\r\n\r\nGET /three.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' -t 5000
eq "pipelined with 1 MiB in the middle: four responses" \
    "$(grep -a -o 'HTTP/1\.1 [0-9][0-9][0-9] [A-Z]' "$OUT" | cut -c10-12 | tr '\n' ' ')" "200 200 200 200 "
eq "pipelined with 1 MiB: the last body is last" "$(tail -c 6 "$OUT")" "three"
eq "pipelined with 1 MiB: closed after Connection: close" "$RC" 0
# one.txt (4) + big (1048576) + three.txt (6) body bytes, plus four heads
# The big body starts after the blank line that follows its Content-Length.
at=$(grep -a -b -o -m1 'Content-Length: 1048576' "$OUT" | cut -d: -f1)
blank=$(tail -c +$((at + 1)) "$OUT" | grep -a -b -m1 $'^\r$' | cut -d: -f1)
check "pipelined with 1 MiB: the big body arrived whole" \
    cmp -s <(tail -c +$((at + blank + 3)) "$OUT" | head -c 1048576) "$R/big.bin"

# Request bodies are read and discarded, the next request on the connection is still served.
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET /two.txt HTTP/1.1\r\nHost: a\r\n\r\n' -t 700
eq "GET with a Content-Length body, then another GET" "$(statuses <"$OUT")" "200 200"
eq "bodies after a discarded body" "$(grep -a -E '^(one|two)$' "$OUT" | tr '\n' ' ')" "one two "
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /two.txt HTTP/1.1\r\nHost: a\r\n\r\n' -t 700
eq "GET with a chunked body, then another GET" "$(statuses <"$OUT")" "200 200"
# The same, one byte at a time: the body arrives over many reads.
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\nGET /two.txt HTTP/1.1\r\nHost: a\r\n\r\n' -c 1 -d 2 -t 2000
eq "chunked body trickled byte by byte, then another GET" "$(statuses <"$OUT")" "200 200"
raw -r 'POST /one.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /two.txt HTTP/1.1\r\nHost: a\r\n\r\n' -c 7 -d 5 -t 1500
eq "POST body discarded, 405, then GET" "$(statuses <"$OUT")" "405 200"
raw -r 'GET /one.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nxyz\r\n' -t 3000
eq "invalid chunk size: 400" "$(statuses <"$OUT")" 400
check "invalid chunk size closes the connection" test "$RC" -eq 0 -o "$RC" -eq 4

# 40 pipelined requests (some with bodies, some large) sent in 13-byte fragments: every response,
# in order.
req="" want=""
for i in $(seq 40); do
    case $((i % 4)) in
    0) req+='GET /one.txt HTTP/1.1\r\nHost: a\r\n\r\n'; want+="one " ;;
    1) req+='GET /two.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz'; want+="two " ;;
    2) req+='GET /three.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'; want+="three " ;;
    3) req+='GET /big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9\r\n\r\n' ;;
    esac
done
raw -r "$req" -c 13 -t 3000
eq "40 pipelined requests in fragments: 40 responses" \
    "$(grep -a -o 'HTTP/1\.1 [0-9][0-9][0-9] [A-Z]' "$OUT" | wc -l)" 40
eq "40 pipelined requests in fragments: bodies in order" \
    "$(grep -a -E '^(one|two|three)$' "$OUT" | tr '\n' ' ')" "$want"

# HTTP/1.0 keep-alive is honoured when asked for.
raw -r 'GET /one.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' -t 600
eq "HTTP/1.0 keep-alive: Connection header" "$(header connection <"$OUT")" keep-alive
eq "HTTP/1.0 keep-alive: stays open" "$RC" 3

check "flashbackd exits 0 on SIGTERM (no sanitizer report)" stop_server
finish

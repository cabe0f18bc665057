#!/usr/bin/env bash
# The demo site matches DESIGN.md's standard page: every object that site/index.html embeds
# (as core/html_links lists them) exists, the page and its objects weigh 1.6-2.6 MB in 15-30
# objects, the generated images are valid (checked by tools/sitecheck's own PNG decoder, not by
# the encoder that wrote them), mksite is deterministic, and the checker rejects corrupt files.
set -u
root=${FB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FB_BUILD:-$root/build}
site=$root/site
check=$build/tools/sitecheck
mksite=$build/tools/mksite
tmp=$(mktemp -d /tmp/fbsite.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
t() { # description command...
    local d=$1; shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}

for b in "$check" "$mksite"; do
    [ -x "$b" ] || { notok "tool $b is built"; exit 1; }
done

# The objects of each page, as the manifest will see them.
for page in index about; do
    if ! "$check" links "$site/$page.html" "/$page.html" >"$tmp/$page.links" 2>"$tmp/err"; then
        notok "sitecheck lists the objects of $page.html: $(cat "$tmp/err")"
        exit 1
    fi
    missing=()
    while read -r path; do
        [ -f "$site$path" ] || missing+=("$path")
    done <"$tmp/$page.links"
    t "every object embedded by $page.html exists (missing: ${missing[*]:-none})" [ ${#missing[@]} -eq 0 ]
done

count=$(wc -l <"$tmp/index.links")
total=$(stat -c %s "$site/index.html")
while read -r path; do
    [ -f "$site$path" ] && total=$((total + $(stat -c %s "$site$path")))
done <"$tmp/index.links"
echo "# index.html: $(stat -c %s "$site/index.html") bytes, $count objects, $total bytes in total"
t "index.html embeds 15-30 objects ($count)" [ "$count" -ge 15 -a "$count" -le 30 ]
t "index.html and its objects weigh 1.6-2.6 MB ($total bytes)" \
    [ "$total" -ge 1600000 -a "$total" -le 2600000 ]
html=$(stat -c %s "$site/index.html")
t "index.html itself is about 30 KB ($html bytes)" [ "$html" -ge 20000 -a "$html" -le 40000 ]
t "about.html embeds an image of its own (team.png)" grep -qx /img/team.png "$tmp/about.links"

# Every image either page embeds decodes: signature, chunk CRCs, zlib, Adler-32, row count.
mapfile -t images < <(sort -u "$tmp/index.links" "$tmp/about.links" | grep -E '\.(png|ico|svg)$' |
    sed "s|^|$site|")
if "$check" verify "${images[@]}" >"$tmp/verify" 2>&1; then
    ok "sitecheck verifies all ${#images[@]} images"
else
    notok "sitecheck verifies all ${#images[@]} images"
    sed 's/^/# /' "$tmp/verify"
fi
pngs=$(grep -c '\.png: ok' "$tmp/verify")
t "the pages embed at least 12 decodable PNGs ($pngs)" [ "$pngs" -ge 12 ]
t "favicon.ico wraps a valid 32x32 PNG" grep -q 'favicon.ico: ok 32x32' "$tmp/verify"

# mksite is deterministic: a second run elsewhere writes the same bytes.
mkdir -p "$tmp/again"
"$mksite" "$tmp/again" >/dev/null || notok "mksite runs into a scratch directory"
same=1
for f in "$tmp/again/img"/*; do
    cmp -s "$f" "$site/img/$(basename "$f")" || { same=0; echo "# differs: $(basename "$f")"; }
done
t "mksite writes the same bytes on a second run" [ "$same" -eq 1 ]
t "mksite without arguments fails with usage" bash -c "! '$mksite' 2>/dev/null"

# The checker is not a rubber stamp: damaged copies are rejected, each for its reason.
cp "$site/img/photo-01.png" "$tmp/flip.png"
printf '\x55\xaa\x55\xaa' | dd of="$tmp/flip.png" bs=1 seek=5000 conv=notrunc status=none
"$check" verify "$tmp/flip.png" >"$tmp/out" 2>&1
t "a flipped byte in IDAT is caught by the chunk CRC" grep -q 'CRC mismatch in chunk IDAT' "$tmp/out"
head -c 70000 "$site/img/photo-02.png" >"$tmp/short.png"
t "a truncated PNG is rejected" bash -c "! '$check' verify '$tmp/short.png' >/dev/null"
cp "$site/img/hero.png" "$tmp/sig.png"
printf 'X' | dd of="$tmp/sig.png" bs=1 seek=1 conv=notrunc status=none
"$check" verify "$tmp/sig.png" >"$tmp/out" 2>&1
t "a PNG with a wrong signature is rejected" grep -q 'no PNG signature' "$tmp/out"
cp "$site/img/favicon.ico" "$tmp/bad.ico"
printf '\xff\xfe\xfd' | dd of="$tmp/bad.ico" bs=1 seek=100 conv=notrunc status=none
t "an ICO whose PNG is damaged is rejected" bash -c "! '$check' verify '$tmp/bad.ico' >/dev/null"
head -c 300 "$site/img/logo.svg" >"$tmp/cut.svg"
t "an SVG cut short is rejected" bash -c "! '$check' verify '$tmp/cut.svg' >/dev/null"
exit 0

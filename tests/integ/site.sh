#!/usr/bin/env bash
# The demo site matches DESIGN.md's standard page: every object that site/index.html embeds
# (as core/html_links lists them) exists, the page and its objects weigh 1.6-2.6 MB in 15-30
# objects, the generated images are valid (checked by tools/sitecheck's own PNG decoder, not by
# the encoder that wrote them), mksite is deterministic, and the checker rejects corrupt files.
set -u
. "$(dirname "$0")/../lib/integ.sh"
site=$FB_ROOT/site
mksite=$FB_BUILD/tools/mksite
fb_tmpdir site
fb_need_built "$SC" "$mksite"

# The objects of each page, as the manifest will see them.
for page in index about; do
    if ! "$SC" links "$site/$page.html" "/$page.html" >"$T/$page.links" 2>"$T/err"; then
        notok "sitecheck lists the objects of $page.html: $(cat "$T/err")"
        exit 1
    fi
    missing=()
    while read -r path; do
        [ -f "$site$path" ] || missing+=("$path")
    done <"$T/$page.links"
    check "every object embedded by $page.html exists (missing: ${missing[*]:-none})" [ ${#missing[@]} -eq 0 ]
done

count=$(wc -l <"$T/index.links")
total=$(stat -c %s "$site/index.html")
while read -r path; do
    [ -f "$site$path" ] && total=$((total + $(stat -c %s "$site$path")))
done <"$T/index.links"
echo "# index.html: $(stat -c %s "$site/index.html") bytes, $count objects, $total bytes in total"
check "index.html embeds 15-30 objects ($count)" [ "$count" -ge 15 -a "$count" -le 30 ]
check "index.html and its objects weigh 1.6-2.6 MB ($total bytes)" \
    [ "$total" -ge 1600000 -a "$total" -le 2600000 ]
html=$(stat -c %s "$site/index.html")
check "index.html itself is about 30 KB ($html bytes)" [ "$html" -ge 20000 -a "$html" -le 40000 ]
check "about.html embeds an image of its own (team.png)" grep -qx /img/team.png "$T/about.links"

# Every image either page embeds decodes: signature, chunk CRCs, zlib, Adler-32, row count.
mapfile -t images < <(sort -u "$T/index.links" "$T/about.links" | grep -E '\.(png|ico|svg)$' |
    sed "s|^|$site|")
if "$SC" verify "${images[@]}" >"$T/verify" 2>&1; then
    ok "sitecheck verifies all ${#images[@]} images"
else
    notok "sitecheck verifies all ${#images[@]} images"
    sed 's/^/# /' "$T/verify"
fi
pngs=$(grep -c '\.png: ok' "$T/verify")
check "the pages embed at least 12 decodable PNGs ($pngs)" [ "$pngs" -ge 12 ]
check "favicon.ico wraps a valid 32x32 PNG" grep -q 'favicon.ico: ok 32x32' "$T/verify"

# mksite is deterministic: a second run elsewhere writes the same bytes.
mkdir -p "$T/again"
"$mksite" "$T/again" >/dev/null || notok "mksite runs into a scratch directory"
same=1
for f in "$T/again/img"/*; do
    cmp -s "$f" "$site/img/$(basename "$f")" || { same=0; echo "# differs: $(basename "$f")"; }
done
check "mksite writes the same bytes on a second run" [ "$same" -eq 1 ]
check "mksite without arguments fails with usage" bash -c "! '$mksite' 2>/dev/null"

# The checker is not a rubber stamp: damaged copies are rejected, each for its reason.
cp "$site/img/photo-01.png" "$T/flip.png"
printf '\x55\xaa\x55\xaa' | dd of="$T/flip.png" bs=1 seek=5000 conv=notrunc status=none
"$SC" verify "$T/flip.png" >"$T/out" 2>&1
check "a flipped byte in IDAT is caught by the chunk CRC" grep -q 'CRC mismatch in chunk IDAT' "$T/out"
head -c 70000 "$site/img/photo-02.png" >"$T/short.png"
check "a truncated PNG is rejected" bash -c "! '$SC' verify '$T/short.png' >/dev/null"
cp "$site/img/hero.png" "$T/sig.png"
printf 'X' | dd of="$T/sig.png" bs=1 seek=1 conv=notrunc status=none
"$SC" verify "$T/sig.png" >"$T/out" 2>&1
check "a PNG with a wrong signature is rejected" grep -q 'no PNG signature' "$T/out"
cp "$site/img/favicon.ico" "$T/bad.ico"
printf '\xff\xfe\xfd' | dd of="$T/bad.ico" bs=1 seek=100 conv=notrunc status=none
check "an ICO whose PNG is damaged is rejected" bash -c "! '$SC' verify '$T/bad.ico' >/dev/null"
head -c 300 "$site/img/logo.svg" >"$T/cut.svg"
check "an SVG cut short is rejected" bash -c "! '$SC' verify '$T/cut.svg' >/dev/null"
exit 0

#!/usr/bin/env bash
# How long flashbackd's event loop is held while it builds a manifest (docs/SEED.md, "Cost"):
# a page embedding N_IMG objects of IMG_KB each (about 60 MB with the defaults, under the
# 64 MiB --manifest-bytes cap), built cold (every chunk hashed, in 1 MiB slices), rebuilt after
# one object changed (the others' hashes come from the hash cache), and a second page sharing
# the objects. Prints, for each, the request's time (it waits for the build) and the loop time
# the build took in all, then the longest the loop was held at once, from /.flashback/metrics.
# Usage: bench/manifest.sh [BUILD]
set -eu
build=${1:-build}
N_IMG=${N_IMG:-200}
IMG_KB=${IMG_KB:-300}
T=$(mktemp -d /tmp/fbbenchman.XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/root/img"
{
    echo '<!doctype html><title>big</title>'
    for i in $(seq "$N_IMG"); do
        head -c $((IMG_KB * 1024)) /dev/urandom >"$T/root/img/$i.bin"
        echo "<img src=\"img/$i.bin\">"
    done
} >"$T/root/index.html"
cp "$T/root/index.html" "$T/root/other.html"
cat "$T"/root/img/* >/dev/null # in the page cache, as a served site is
"$build/flashbackd" --root "$T/root" --listen 127.0.0.1:0 >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q serving "$T/out" && break; sleep 0.1; done
O=$(sed -n 's|^flashbackd: serving .* on \(http://[0-9.:]*\)/$|\1|p' "$T/out")
max() { curl -s "$O/.flashback/metrics" | awk '$1 == "flashback_manifest_build_seconds_max" {print $2}'; }
total() { curl -s "$O/.flashback/metrics" | awk '$1 == "flashback_manifest_build_seconds_total" {print $2}'; }
# step NAME URL: one manifest request; prints its time and the loop time it cost.
step() {
    local t0 t1 w0 w1
    t0=$(total)
    w0=$(date +%s%N)
    curl -s -o /dev/null "$2"
    w1=$(date +%s%N)
    t1=$(total)
    echo "$1: request $(((w1 - w0) / 1000000)) ms, loop held $(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", (a - b) * 1000}') ms in all"
}
step "cold build, $N_IMG objects, $((N_IMG * IMG_KB / 1024)) MiB" "$O/.flashback/manifest/"
sleep 1.1
touch "$T/root/img/1.bin"
step "rebuild after one object changed" "$O/.flashback/manifest/"
step "another page sharing every object" "$O/.flashback/manifest/other.html"
step "cached manifest" "$O/.flashback/manifest/"
curl -s "$O/.flashback/metrics" | awk '$1 == "flashback_manifest_build_seconds_max" {printf "longest hold of the loop: %.1f ms\n", $2 * 1000}
    $1 == "flashback_manifest_build_slices_total" {print "slices: " $2}
    $1 == "flashback_manifest_deferred_total" {print "requests that waited: " $2}'

#!/usr/bin/env bash
# How long flashbackd's event loop waits while it builds a manifest (docs/SEED.md, "Cost"):
# a page embedding N_IMG objects of IMG_KB each (about 60 MB with the defaults, under the
# 64 MiB --manifest-bytes cap), built cold (every chunk hashed), rebuilt after one object
# changed (the others' hashes come from the hash cache), and a second page sharing the objects.
# Prints the build times flashbackd reports in /.flashback/metrics. Usage: bench/manifest.sh [BUILD]
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
t0=$(total)
curl -s -o /dev/null "$O/.flashback/manifest/"
t1=$(total)
echo "cold build, $N_IMG objects, $((N_IMG * IMG_KB / 1024)) MiB: $(awk -v a=$t1 -v b=$t0 "BEGIN {printf \"%.3f\", a - b}") s"
sleep 1.1
touch "$T/root/img/1.bin"
curl -s -o /dev/null "$O/.flashback/manifest/"
t2=$(total)
echo "rebuild after one object changed: $(awk -v a=$t2 -v b=$t1 "BEGIN {printf \"%.3f\", a - b}") s"
curl -s -o /dev/null "$O/.flashback/manifest/other.html"
t3=$(total)
echo "another page sharing every object: $(awk -v a=$t3 -v b=$t2 "BEGIN {printf \"%.3f\", a - b}") s"
t4=$(date +%s%N)
curl -s -o /dev/null "$O/.flashback/manifest/"
echo "cached manifest request, end to end: $((($(date +%s%N) - t4) / 1000)) us"
echo "longest single build: $(max) s"

#!/usr/bin/env bash
# Installs what a step needs on Debian 12, idempotently: only missing packages are installed,
# and `apt-get update` runs once, only when something is missing.
# Usage: scripts/deps.sh GROUP...   groups: build test bench browser
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
for group in "$@"; do
    case "$group" in
    build) pkgs+=(make clang libclang-rt-14-dev pkg-config libuv1-dev libcurl4-openssl-dev
                  libssl-dev libcmocka-dev zlib1g-dev ca-certificates) ;;
    test) pkgs+=(curl iproute2 iptables nftables conntrack procps psmisc nginx-light) ;;
    bench) pkgs+=(wrk nginx-light aria2 opentracker mktorrent iproute2 curl procps) ;;
    browser) pkgs+=(chromium nodejs npm) ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    # nodejs/npm may come from outside Debian; a working `node` and `npm` is enough.
    if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
    # Any nginx flavour will do.
    if [ "$p" = nginx-light ] && command -v nginx >/dev/null; then continue; fi
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
missing=($(printf '%s\n' "${missing[@]}" | sort -u))

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser tests drive Debian's chromium with playwright-core (no browser download).
for group in "$@"; do
    if [ "$group" = browser ] && [ ! -d node_modules/playwright-core ]; then
        echo "deps: npm install playwright-core" >&2
        npm ci --no-audit --no-fund --silent >/dev/null
    fi
done
exit 0

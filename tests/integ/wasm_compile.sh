#!/usr/bin/env bash
# Compiles every pure module (src/core/*.c) and the engine (src/engine/*.c) for wasm32,
# freestanding, as the browser peer will, and links them into one module with wasm-ld.
# Prints one TAP line per file and one for the link.
set -u
root=${FB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
out=$(mktemp -d /tmp/fbwasm.XXXXXX)
trap 'rm -rf "$out"' EXIT
if ! clang --target=wasm32 -print-targets >/dev/null 2>&1 ||
   ! echo 'int x;' | clang --target=wasm32 -ffreestanding -nostdlib -c -x c - -o "$out/probe.o" 2>/dev/null; then
    echo "not ok - clang cannot target wasm32"
    exit 1
fi
rc=0
objs=()
for f in src/core/*.c src/engine/*.c; do
    o="$out/$(echo "$f" | tr '/' '_').o"
    if clang --target=wasm32 -ffreestanding -nostdlib -DFB_FREESTANDING -std=c11 -O2 \
        -Wall -Wextra -Werror -Isrc -c "$f" -o "$o" 2>"$out/err"; then
        echo "ok - wasm32 compile $f"
        objs+=("$o")
    else
        echo "not ok - wasm32 compile $f"
        sed 's/^/# /' "$out/err"
        rc=1
    fi
done
if ! command -v wasm-ld >/dev/null; then
    echo "not ok - wasm-ld not found"
    exit 1
fi
# The embedder supplies memcpy/malloc and friends (core/fbstd.h): leave them undefined.
if wasm-ld --no-entry --allow-undefined --export-dynamic --export=fb_engine_new \
    --export=fb_engine_input --export=fb_engine_tick --export=fb_manifest_parse \
    --export=fb_wire_decode -o "$out/flashback.wasm" "${objs[@]}" 2>"$out/err"; then
    size=$(stat -c %s "$out/flashback.wasm")
    echo "ok - wasm-ld links core + engine into one module ($size bytes)"
    # Only the fbstd.h subset may be left for the embedder to supply.
    allowed='^(memcpy|memmove|memset|memcmp|strlen|malloc|calloc|realloc|free)$'
    nm=$(command -v llvm-nm || command -v llvm-nm-14)
    undef=$("$nm" -u "${objs[@]}" 2>/dev/null | awk 'NF {print $NF}' | grep -v ':$' | sort -u)
    defined=$("$nm" --defined-only "${objs[@]}" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u)
    extra=$(comm -23 <(echo "$undef") <(echo "$defined") | grep -Ev "$allowed" | grep -v '^__stack_pointer$' | tr '\n' ' ')
    if [ -z "$extra" ]; then
        echo "ok - only the core/fbstd.h subset is imported"
    else
        echo "not ok - symbols outside core/fbstd.h are needed: $extra"
        rc=1
    fi
else
    echo "not ok - wasm-ld link"
    sed 's/^/# /' "$out/err"
    rc=1
fi
exit $rc

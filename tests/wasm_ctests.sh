#!/bin/sh
# wasm_ctests.sh — build every tests/c/test_*.c with the core sources as a
# standalone WASI .wasm (SIMD128 on, like the product) and run it under Node.
# Usage: tests/wasm_ctests.sh [test_name ...]   (default: all)
# Needs emcc (apt-get install emscripten) and node >= 20.
# tests/wasi_shim.c gives the tests fopen() through WASI path_open (imported
# by hand, hence ERROR_ON_UNDEFINED_SYMBOLS=0; the runner supplies only WASI
# imports, so any other undefined symbol still fails at instantiation).
set -u
cd "$(dirname "$0")/.."
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
OUT=build-wasm-tests
mkdir -p "$OUT"
CORE=$(ls src/*.c src/kernels/*.c src/models/*.c src/tokenizer/*.c src/train/*.c 2>/dev/null)
if [ $# -gt 0 ]; then TESTS=""; for t in "$@"; do TESTS="$TESTS tests/c/$t.c"; done
else TESTS=$(ls tests/c/test_*.c); fi
CFLAGS="-O2 -msimd128 -std=c11 -Isrc -Wno-unused-parameter"
fail=0
# The core and the shim are compiled once per run (two at a time), then each
# test is compiled and linked against those objects.
OBJ="$OUT/obj"
rm -rf "$OBJ"
mkdir -p "$OBJ"
export OBJ CFLAGS
if ! printf '%s\n' $CORE tests/wasi_shim.c | xargs -P 2 -I{} sh -c \
     'o="$OBJ/$(echo "$1" | tr / _).o"; emcc $CFLAGS -c "$1" -o "$o" 2> "$o.log" || { cat "$o.log"; exit 255; }' _ {}; then
  echo "FAIL: the core does not compile to WebAssembly"
  exit 1
fi
OBJS=$(ls "$OBJ"/*.o)
for src in $TESTS; do
  name=$(basename "$src" .c)
  echo "== $name (wasm)"
  # extra linker flags from a "/* link: FLAGS */" line (as CMakeLists.txt)
  link=$(sed -n 's|^/\* link: \(.*\) \*/$|\1|p' "$src")
  if ! emcc $CFLAGS -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 \
       -sINITIAL_MEMORY=536870912 $link \
       $OBJS "$src" -o "$OUT/$name.wasm" 2> "$OUT/$name.build.log"; then
    grep -v "path_open" "$OUT/$name.build.log"
    echo "FAIL $name: build failed"; fail=1; continue
  fi
  if node --no-warnings tests/run_wasi.mjs "$OUT/$name.wasm" > "$OUT/$name.log" 2>&1; then
    tail -n 1 "$OUT/$name.log"
  else
    cat "$OUT/$name.log" | tail -n 30
    echo "FAIL $name (wasm)"; fail=1
  fi
done
exit $fail

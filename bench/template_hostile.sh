#!/bin/sh
# template_hostile.sh — time the hostile chat templates of bench/template_hostile.c
# natively (gcc -O2) and in WebAssembly (emcc, WASI under Node), the way the
# C tests are built (tests/wasm_ctests.sh). Each must end with its error well
# under a second. Wall-clock: on a shared machine, run it when it is idle.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build-bench
gcc -O2 -std=c11 -Isrc bench/template_hostile.c src/chat_template.c -lm -o build-bench/template_hostile
echo "== native"
build-bench/template_hostile
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
emcc -O2 -msimd128 -std=c11 -Isrc -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 -sINITIAL_MEMORY=536870912 \
  -Wno-unused-parameter src/chat_template.c tests/wasi_shim.c bench/template_hostile.c \
  -o build-bench/template_hostile.wasm 2>&1 | grep -v path_open || true
echo "== wasm"
node --no-warnings tests/run_wasi.mjs build-bench/template_hostile.wasm

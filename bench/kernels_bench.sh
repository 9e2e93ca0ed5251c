#!/bin/sh
# kernels_bench.sh — build bench/kernels_bench.c natively and as WASM (SIMD128,
# single thread) and run both. Args are passed to the bench:
#   [types=q8_0,q4_0,q4_K,q6_K] [prefill_tokens=128] [decode_tokens=8]
set -eu
cd "$(dirname "$0")/.."
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
OUT=build-bench
mkdir -p "$OUT"
KCORE="src/quant.c src/tensor.c src/error.c src/kernels/scalar.c src/kernels/simd128.c src/kernels/dispatch.c src/threads.c"
gcc -std=c11 -D_GNU_SOURCE -O2 -march=native -Isrc bench/kernels_bench.c $KCORE -lm -o "$OUT/kernels_bench"
emcc -std=c11 -O3 -msimd128 -Isrc -sSTANDALONE_WASM -sINITIAL_MEMORY=1073741824 \
  bench/kernels_bench.c $KCORE -o "$OUT/kernels_bench.wasm"
echo "== native ($(uname -m), gcc -O2 -march=native)"
"$OUT/kernels_bench" "$@"
echo "== wasm (node $(node --version), SIMD128, 1 thread)"
node --no-warnings tests/run_wasi.mjs "$OUT/kernels_bench.wasm" "$@"

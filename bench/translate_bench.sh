#!/bin/sh
# translate_bench.sh — translation speed, native and WebAssembly (one thread).
#
#   bench/translate_bench.sh [MODEL=models/translate-en-es.gguf] [n_sentences=500] [beams=1,4]
#
# Builds bench/translate_bench.c natively (against build-bench/native's core,
# see bench/run.sh) and as a WASI module with the core sources compiled with
# build.sh's flags (-O3 -msimd128 ...), run by Node (tests/run_wasi.mjs), and
# runs both over the Tatoeba test split (models/train/split/test.tsv).
set -eu
cd "$(dirname "$0")/.."
M="${1:-models/translate-en-es.gguf}"
N="${2:-500}"
B="${3:-1,4}"
TSV=models/train/split/test.tsv
NB=build-bench/native
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
mkdir -p build-bench build/bench
cmake -S . -B "$NB" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g >/dev/null
cmake --build "$NB" -j2 --target atento_core >/dev/null
gcc -std=c11 -O2 -march=native -g -Isrc bench/translate_bench.c "$NB/libatento_core.a" -lm -o "$NB/translate_bench"
CORE=$(ls src/*.c src/kernels/*.c src/models/*.c src/tokenizer/*.c)
# shellcheck disable=SC2086
emcc -std=c11 -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint -DNDEBUG -Isrc -Wno-unused-parameter \
  -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 -sINITIAL_MEMORY=512MB \
  $CORE tests/wasi_shim.c bench/translate_bench.c -o build-bench/translate_bench.wasm 2>build-bench/translate_bench.wasm.log \
  || { cat build-bench/translate_bench.wasm.log >&2; exit 1; }
echo "== native"
"$NB/translate_bench" "$M" "$TSV" "$N" "$B" | tee build/bench/translate-native.jsonl
echo "== wasm (node $(node --version), SIMD128, 1 thread)"
node --no-warnings tests/run_wasi.mjs build-bench/translate_bench.wasm "$M" "$TSV" "$N" "$B" | tee build/bench/translate-wasm.jsonl

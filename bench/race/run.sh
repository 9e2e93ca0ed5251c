#!/bin/sh
# run.sh — the race: atento against llama.cpp's WebAssembly build (wllama) in
# headless Chromium. Makes the bench models and the WebAssembly modules if
# they are missing, then runs bench/race/race.mjs (arguments passed on).
#   bench/race/run.sh [--types q8_0,q4_0] [--threads 1,2] [--reps 3] [--prompt 128] [--gen 128] [--simd auto|simd128]
set -eu
cd "$(dirname "$0")/../.."
for t in q8_0 q4_0; do
  [ -f "build/bench/smollm2-135m-shape-$t.gguf" ] || /usr/bin/python3 bench/make_bench_models.py --out build/bench "$t"
done
[ -f dist/atento.wasm ] && [ -f dist/atento-mt.wasm ] || ./build.sh wasm
[ -d node_modules/@wllama/wllama ] || npm install
exec node bench/race/race.mjs "$@"

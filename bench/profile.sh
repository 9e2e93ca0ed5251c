#!/bin/sh
# profile.sh — where the time of a whole forward pass goes, natively and in WASM.
#
#   bench/profile.sh [MODEL=build/bench/smollm2-135m-shape-q8_0.gguf] [prompt=128] [gen=128]
#
# native: perf record (cpu-clock) on build-bench/native/model_bench (built by
#         bench/run.sh, -O2 -march=native -g), perf report by symbol.
# wasm:   relinks build-wasm/obj (./build.sh wasm) with --profiling-funcs into
#         build-bench/atento-prof.wasm and runs node --cpu-prof bin/atento.js
#         bench with ATENTO_WASM pointing at it; self time per function.
# Output also in build/bench/profile-*.txt.
set -eu
cd "$(dirname "$0")/.."
M="${1:-build/bench/smollm2-135m-shape-q8_0.gguf}"
P="${2:-128}"
G="${3:-128}"
OUT=build/bench
NB=build-bench/native
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
mkdir -p "$OUT" build-bench
tag=$(basename "$M" .gguf)

echo "== native: perf record $NB/model_bench $M $P $G"
perf record -q -F 4000 -o "$OUT/perf-$tag.data" "$NB/model_bench" "$M" "$P" "$G" 1 >/dev/null 2>&1
perf report -i "$OUT/perf-$tag.data" --stdio --no-children --sort symbol 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -40 | tee "$OUT/profile-native-$tag.txt"

echo "== wasm: node --cpu-prof bin/atento.js bench (--profiling-funcs build)"
exports=$(node -e '
  const m = new WebAssembly.Module(require("fs").readFileSync("dist/atento.wasm"));
  console.log(WebAssembly.Module.exports(m).filter(e => e.kind === "function" && e.name.startsWith("atn_")).map(e => "_" + e.name).join(","));')
emcc -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint --no-entry -sSTANDALONE_WASM \
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16MB -sMAXIMUM_MEMORY=4GB -sTOTAL_STACK=1MB \
  --profiling-funcs -sEXPORTED_FUNCTIONS="$exports" build-wasm/obj/*.o -o build-bench/atento-prof.wasm
rm -rf "$OUT/cpuprof"
ATENTO_WASM=build-bench/atento-prof.wasm node --cpu-prof --cpu-prof-dir="$OUT/cpuprof" --cpu-prof-interval 200 \
  bin/atento.js bench --model "$M" --prompt-tokens "$P" --gen-tokens "$G"
node bench/cpuprofile_top.mjs "$OUT"/cpuprof/*.cpuprofile 30 | tee "$OUT/profile-wasm-$tag.txt"

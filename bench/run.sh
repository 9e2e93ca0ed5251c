#!/bin/sh
# run.sh — whole-model benchmark of atento, native and WebAssembly, one thread.
#
#   bench/run.sh [--shape smollm2-135m|qwen2.5-0.5b|llama3.2-1b] [--types q8_0,q4_0,q4_k_m]
#                [--prompt-tokens 128] [--gen-tokens 128]
#                [--reps 3] [--no-build] [--no-native] [--no-wasm]
#
# 1. Writes random-weight models of the shape (default SmolLM2-135M's) into
#    build/bench/ (bench/make_bench_models.py; kept between runs, not committed).
# 2. Builds the native CLI + bench/model_bench.c in build-bench/native
#    (Release, -O2 -march=native, -g for profilers) and dist/atento.wasm
#    (./build.sh wasm) unless --no-build.
# 3. For each model runs (best of --reps runs inside one process)
#      build-bench/native/atento bench --model M --prompt-tokens P --gen-tokens G --reps R --json
#      node bin/atento.js bench --model M --prompt-tokens P --gen-tokens G --reps R --json
#    under /usr/bin/time (process peak RSS), and bench/model_bench.c natively
#    (heap accounting through the C API: bytes the load allocates beyond the
#    file, bytes of the session) and as WASI under Node (wasm_wasi); these two
#    also give tokens/s by process CPU time, which is what to compare on a
#    loaded shared machine (wall-clock figures there depend on the load).
# 4. bench/report.py prints the table (tokens/s, memory, ratios to the targets
#    and to wllama's figures) and the memory checks. Raw results:
#    build/bench/results.jsonl.
set -eu
cd "$(dirname "$0")/.."

SHAPE=smollm2-135m
TYPES=q8_0,q4_0,q4_k_m
P=128
G=128
REPS=3
BUILD=1
NATIVE=1
WASM=1
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) SHAPE="$2"; shift 2 ;;
    --types) TYPES="$2"; shift 2 ;;
    --prompt-tokens) P="$2"; shift 2 ;;
    --gen-tokens) G="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-native) NATIVE=0; shift ;;
    --no-wasm) WASM=0; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

PY=/usr/bin/python3
OUT=build/bench
NB=build-bench/native
RES="$OUT/results.jsonl"
mkdir -p "$OUT"
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"

# shellcheck disable=SC2086
$PY bench/make_bench_models.py --out "$OUT" --shape "$SHAPE" $(echo "$TYPES" | tr ',' ' ')

if [ "$BUILD" = 1 ]; then
  if [ "$NATIVE" = 1 ]; then
    cmake -S . -B "$NB" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g >/dev/null
    cmake --build "$NB" -j2 --target atento_core >/dev/null
    cmake --build "$NB" -j2 --target atento >/dev/null 2>&1 || echo "run.sh: no native CLI (src/cli) yet" >&2
    gcc -std=c11 -O2 -march=native -g -Isrc bench/model_bench.c "$NB/libatento_core.a" -lm -o "$NB/model_bench"
  fi
  if [ "$WASM" = 1 ]; then
    ./build.sh wasm >/dev/null
    # shellcheck disable=SC2046
    emcc -std=c11 -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint -DNDEBUG -Isrc -Wno-unused-parameter \
      -sSTANDALONE_WASM -sERROR_ON_UNDEFINED_SYMBOLS=0 -sINITIAL_MEMORY=2000MB \
      $(ls src/*.c src/kernels/*.c src/models/*.c src/tokenizer/*.c) tests/wasi_shim.c bench/model_bench.c \
      -o build-bench/model_bench.wasm 2>/dev/null
  fi
fi

# peak RSS (KiB) of a command: runs it under /usr/bin/time, output to $1.out
timed() {
  tag="$1"; shift
  /usr/bin/time -f '%M' -o "$OUT/$tag.rss" "$@" >"$OUT/$tag.out" 2>"$OUT/$tag.err" || {
    echo "run.sh: failed: $*" >&2; sed 's/^/  /' "$OUT/$tag.err" >&2; return 1; }
}

: >"$RES"
node_base=$(/usr/bin/time -f '%M' node -e 0 2>&1 >/dev/null | tail -1)
echo "{\"engine\":\"node-baseline\",\"peak_rss_bytes\":$((node_base * 1024))}" >>"$RES"
for t in $(echo "$TYPES" | tr ',' ' '); do
  M="$OUT/$SHAPE-shape-$t.gguf"
  if [ "$NATIVE" = 1 ]; then
    if [ -x "$NB/atento" ] && timed "native-$t" "$NB/atento" bench --model "$M" --prompt-tokens "$P" --gen-tokens "$G" --reps "$REPS" --json; then
      $PY bench/report.py --wrap native "$t" "$OUT/native-$t.out" "$OUT/native-$t.rss" >>"$RES"
    fi
    if [ -x "$NB/model_bench" ] && timed "model_bench-$t" "$NB/model_bench" "$M" "$P" "$G" "$REPS"; then
      $PY bench/report.py --wrap model_bench "$t" "$OUT/model_bench-$t.out" "$OUT/model_bench-$t.rss" >>"$RES"
    fi
  fi
  if [ "$WASM" = 1 ] && timed "wasm-$t" node bin/atento.js bench --model "$M" --prompt-tokens "$P" --gen-tokens "$G" --reps "$REPS" --json; then
    $PY bench/report.py --wrap wasm "$t" "$OUT/wasm-$t.out" "$OUT/wasm-$t.rss" >>"$RES"
  fi
  if [ "$WASM" = 1 ] && [ -f build-bench/model_bench.wasm ] &&
     timed "wasm_wasi-$t" node --no-warnings tests/run_wasi.mjs build-bench/model_bench.wasm "$M" "$P" "$G" "$REPS"; then
    $PY bench/report.py --wrap wasm_wasi "$t" "$OUT/wasm_wasi-$t.out" "$OUT/wasm_wasi-$t.rss" >>"$RES"
  fi
done
$PY bench/report.py "$RES" --shape "$SHAPE"

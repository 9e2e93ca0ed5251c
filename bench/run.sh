#!/bin/sh
# run.sh — whole-model benchmark of atento, native and WebAssembly, one thread.
#
#   bench/run.sh [--types q8_0,q4_0,q4_k_m] [--prompt-tokens 128] [--gen-tokens 128]
#                [--reps 3] [--no-build] [--no-native] [--no-wasm]
#
# 1. Writes random-weight models of SmolLM2-135M's shape into build/bench/
#    (bench/make_bench_models.py; kept between runs, not committed).
# 2. Builds the native CLI + bench/model_bench.c in build-bench/native
#    (Release, -O2 -march=native, -g for profilers) and dist/atento.wasm
#    (./build.sh wasm) unless --no-build.
# 3. For each model runs
#      build-bench/native/atento bench --model M --prompt-tokens P --gen-tokens G
#      node bin/atento.js bench --model M --prompt-tokens P --gen-tokens G --json
#    under /usr/bin/time (process peak RSS), and build-bench/native/model_bench
#    (heap accounting through the C API: bytes the load allocates beyond the
#    file, bytes of the session).
# 4. bench/report.py prints the table (tokens/s, memory, ratios to the targets
#    and to wllama's figures) and the memory checks. Raw results:
#    build/bench/results.jsonl.
set -eu
cd "$(dirname "$0")/.."

TYPES=q8_0,q4_0,q4_k_m
P=128
G=128
REPS=3
BUILD=1
NATIVE=1
WASM=1
while [ $# -gt 0 ]; do
  case "$1" in
    --types) TYPES="$2"; shift 2 ;;
    --prompt-tokens) P="$2"; shift 2 ;;
    --gen-tokens) G="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-native) NATIVE=0; shift ;;
    --no-wasm) WASM=0; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
$PY bench/make_bench_models.py --out "$OUT" $(echo "$TYPES" | tr ',' ' ')

if [ "$BUILD" = 1 ]; then
  if [ "$NATIVE" = 1 ]; then
    cmake -S . -B "$NB" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g >/dev/null
    cmake --build "$NB" -j2 --target atento_core >/dev/null
    cmake --build "$NB" -j2 --target atento >/dev/null 2>&1 || echo "run.sh: no native CLI (src/cli) yet" >&2
    gcc -std=c11 -O2 -march=native -g -Isrc bench/model_bench.c "$NB/libatento_core.a" -lm -o "$NB/model_bench"
  fi
  [ "$WASM" = 1 ] && ./build.sh wasm >/dev/null
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
  M="$OUT/smollm2-135m-shape-$t.gguf"
  if [ "$NATIVE" = 1 ]; then
    if [ -x "$NB/atento" ]; then
      for r in $(seq "$REPS"); do
        if timed "native-$t-$r" "$NB/atento" bench --model "$M" --prompt-tokens "$P" --gen-tokens "$G"; then
          $PY bench/report.py --wrap native "$t" "$OUT/native-$t-$r.out" "$OUT/native-$t-$r.rss" >>"$RES"
        fi
      done
    fi
    if [ -x "$NB/model_bench" ] && timed "model_bench-$t" "$NB/model_bench" "$M" "$P" "$G" "$REPS"; then
      $PY bench/report.py --wrap model_bench "$t" "$OUT/model_bench-$t.out" "$OUT/model_bench-$t.rss" >>"$RES"
    fi
  fi
  if [ "$WASM" = 1 ]; then
    for r in $(seq "$REPS"); do
      if timed "wasm-$t-$r" node bin/atento.js bench --model "$M" --prompt-tokens "$P" --gen-tokens "$G" --json; then
        $PY bench/report.py --wrap wasm "$t" "$OUT/wasm-$t-$r.out" "$OUT/wasm-$t-$r.rss" >>"$RES"
      fi
    done
  fi
done
$PY bench/report.py "$RES"

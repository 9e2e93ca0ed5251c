#!/usr/bin/env bash
# model_ab.sh — prefill / decode A/B of WebAssembly builds on one model,
# alternating so that each build sees the same machine: R rounds, each running
# `node bin/atento.js bench` once per dist directory (a copy of dist/ from
# another build). Prints, per directory, the sorted tok/s of each phase.
#
#   bench/model_ab.sh R MODEL THREADS DIST [DIST...]
#   environment: P, G (prompt / generated tokens, default 128 / 64);
#   MOD (the one-thread module, default atento-relaxed.wasm; the threaded
#   one is atento-mt-relaxed.wasm, or atento-mt.wasm when MOD=atento.wasm)
set -eu
[ $# -ge 4 ] || { echo "usage: bench/model_ab.sh ROUNDS MODEL THREADS DIST [DIST...]" >&2; exit 2; }
R=$1; M=$2; TH=$3; shift 3
MOD=${MOD:-atento-relaxed.wasm}
MT=atento-mt-relaxed.wasm; [ "$MOD" = atento.wasm ] && MT=atento-mt.wasm
cd "$(dirname "$0")/.."
for _ in $(seq 1 "$R"); do
  for d in "$@"; do
    if [ "$TH" = 1 ]; then export ATENTO_WASM=$d/$MOD; unset ATENTO_WASM_MT; else unset ATENTO_WASM; export ATENTO_WASM_MT=$d/$MT; fi
    j=$(node bin/atento.js bench --model "$M" --prompt-tokens "${P:-128}" --gen-tokens "${G:-64}" --threads "$TH" --json 2>&1 | tail -1)
    echo "$d prefill $(echo "$j" | sed 's/.*"prefill_tokens_per_s":\([0-9.]*\).*/\1/')"
    echo "$d decode $(echo "$j" | sed 's/.*"decode_tokens_per_s":\([0-9.]*\).*/\1/')"
  done
done | sort -k1,2 -k3,3n | awk '{k = $1 " " $2; a[k] = a[k] " " $3} END {for (k in a) print k, a[k]}' | sort

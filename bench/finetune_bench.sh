#!/bin/sh
# finetune_bench.sh — memory and CPU time of a training step, full f32
# training vs LoRA on the decoder (docs/training.md), native, one thread.
#
#   bench/finetune_bench.sh [MODEL=models/translate-en-es.gguf] [PAIRS=models/train/finetune/pairs-es-mx.tsv]
#
# Builds bench/finetune_bench.c against build/'s core (./build.sh native
# first) and prints one JSON line per mode into build/bench/finetune.jsonl.
set -eu
cd "$(dirname "$0")/.."
M="${1:-models/translate-en-es.gguf}"
P="${2:-models/train/finetune/pairs-es-mx.tsv}"
mkdir -p build/bench
gcc -std=c11 -O2 -march=native -Isrc bench/finetune_bench.c build/libatento_core.a -lm -o build/bench/finetune_bench
for mode in lora full; do build/bench/finetune_bench "$M" "$P" "$mode" 3; done | tee build/bench/finetune.jsonl

#!/bin/bash
# The one GPU run that trained the shipped models: both models at once on one
# GPU (two processes), then evaluation, then everything needed afterwards
# packed into $OUT (split into pieces of at most 15 MiB).
#
#   bash models/train/run_gpu.sh            # on a machine with a CUDA GPU
#
# Data: .devdata/en-es.tsv (a copy of ../shared/data/tatoeba-en-es/en-es.tsv)
# or the shared path (common.default_data_path). Locally afterwards:
#   bash models/train/unpack.sh DIR_WITH_PIECES
set -u
cd "$(dirname "$0")/../.."
R=models/train/out
OUT=${OUT:-$R/pack}
TS=${TRAIN_SECONDS:-400}
mkdir -p "$OUT" $R
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch, sentencepiece, sacrebleu; print('torch', torch.__version__, 'spm', sentencepiece.__version__, 'sacrebleu', sacrebleu.__version__)"; } > $R/env.txt 2>&1
cat $R/env.txt
python3 models/train/translate.py --device cuda --out $R/translate --train-seconds "$TS" --save-dtype f16 > $R/translate.stdout 2>&1 &
P1=$!
python3 models/train/chat.py --device cuda --out $R/chat --train-seconds "$TS" > $R/chat.stdout 2>&1 &
P2=$!
wait $P1; echo "translate rc=$?"
wait $P2; echo "chat rc=$?"
grep -v "^\[.*step [0-9]*[1-9]00 " $R/translate.stdout | tail -25
tail -22 $R/chat.stdout
# pack: small results first, big artifacts split
tar -cf - -C $R env.txt translate.stdout chat.stdout \
    --exclude='*.pt' --exclude='model.safetensors' --exclude='*.gguf' translate chat | gzip > "$OUT/results.tar.gz"
tar -cf - -C $R translate/marian/model.safetensors | split -b 15M -d - "$OUT/marian.tar."
tar -cf - -C $R --wildcards 'chat/*.gguf' | split -b 15M -d - "$OUT/chat.tar."
ls -la "$OUT"

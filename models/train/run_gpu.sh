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
MODELS=${MODELS:-"translate chat"}
CHAT_ARGS=${CHAT_ARGS:-}
mkdir -p "$OUT" $R
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch, sentencepiece, sacrebleu; print('torch', torch.__version__, 'spm', sentencepiece.__version__, 'sacrebleu', sacrebleu.__version__)"; } > $R/env.txt 2>&1
cat $R/env.txt
for m in $MODELS; do
  case $m in
    translate) python3 models/train/translate.py --device cuda --out $R/translate --train-seconds "$TS" --save-dtype f16 > $R/translate.stdout 2>&1 & ;;
    chat) python3 models/train/chat.py --device cuda --out $R/chat --train-seconds "$TS" $CHAT_ARGS > $R/chat.stdout 2>&1 & ;;
  esac
done
wait
for m in $MODELS; do grep -v "^\[.*step [0-9]*[1-9]00 " $R/$m.stdout | tail -25; done
# pack: small results first, big artifacts split (pieces of 15 MiB)
cd $R
tar -cf - env.txt --exclude='*.pt' --exclude='model.safetensors' --exclude='*.gguf' $(for m in $MODELS; do echo $m.stdout $m; done) | gzip > "$OUT/results.tar.gz"
case " $MODELS " in *" translate "*) tar -cf - translate/marian/model.safetensors | split -b 15M -d - "$OUT/marian.tar." ;; esac
case " $MODELS " in *" chat "*) tar -cf - chat/tutor-en-es.q8_0.gguf | split -b 15M -d - "$OUT/chat.tar." ;; esac
ls -la "$OUT"

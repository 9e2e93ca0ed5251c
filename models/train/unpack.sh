#!/bin/bash
# Unpack what run_gpu.sh packed into $OUT (DIR) into models/train/out/.
set -eu
D=$1
R=$(dirname "$0")/out
mkdir -p "$R"
tar -xzf "$D/results.tar.gz" -C "$R"
cat "$D"/marian.tar.* | tar -xf - -C "$R"
cat "$D"/chat.tar.* | tar -xf - -C "$R"
ls -la "$R" "$R/translate/marian" "$R/chat"

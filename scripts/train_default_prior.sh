#!/usr/bin/env bash
# Reproduces nncomp/models/default.nncm: the level 2-9 transformer (2 layers, d=128) and mixer, trained
# from seeded random weights with the codec's exact arithmetic on ../shared/corpus/train (the wiki/
# folder, CC-BY-SA, is left out). Chunks of 256 KiB in path order; every 20th is held back, the rest
# shuffled with seed 0 and read until the byte budget is spent; each chunk starts with empty
# context statistics. The model is rewritten at every held-out measurement (4 MB), so
# a run stopped early still leaves one. Curves: bench/results/prior_train.tsv (bytes seen, train bpb, held-out bpb).
set -euo pipefail
cd "$(dirname "$0")/.."
train=../shared/corpus/train
budget=${BUDGET:-20000000}
mkdir -p bench/results
${VENV:-.venv}/bin/nncomp train "$train/prose_en" "$train/prose_intl" "$train/code" "$train/markup" "$train/other" \
    -l 5 --model none --budget "$budget" --seed 0 --chunk 262144 --checkpoints \
    --log bench/results/prior_train.tsv -o nncomp/models/default.nncm -f "$@"

#!/usr/bin/env bash
# GPU pretraining trial (not shipped; see README): run on a GPU machine from the repository root with
# .gpu/ holding the constriction wheel and train.tar.xz (tar of ../shared/corpus/train/{prose_en,prose_intl,code,markup,other}
# made from ../shared, so paths read corpus/train/...). Curves: bench/results/prior_pretrain_gpu_{a,b}.tsv.
# Device run: stage-1 pretraining of the default prior's network on the GPU, two learning-rate/batch
# variants side by side; the better held-out one is kept. Results to $OUT.
set -u
PY=${PY:-python3}
BUDGET=${BUDGET:-400}
if [ -n "${WHEELS:-1}" ] && [ "$PY" = python3 ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
mkdir -p /tmp/data && tar xJf .gpu/train.tar.xz -C /tmp/data || exit 1
T=/tmp/data/corpus/train
IN="$T/prose_en $T/prose_intl $T/code $T/markup $T/other"
export PYTHONUNBUFFERED=1
(nvidia-smi -L; $PY -c "import torch, constriction, nncomp; print(torch.__version__, torch.cuda.is_available())") > $OUT/env.txt 2>&1
cat $OUT/env.txt
$PY -m nncomp.pretrain $IN -o $OUT/a.nncm --time-budget $BUDGET --batch ${BA:-256} --seq 256 --lr 2e-3 --seed 0 --log $OUT/a.tsv > $OUT/a.out 2>&1 &
$PY -m nncomp.pretrain $IN -o $OUT/b.nncm --time-budget $BUDGET --batch ${BB:-512} --seq 256 --lr 3e-3 --seed 0 --log $OUT/b.tsv > $OUT/b.out 2>&1 &
wait
tail -n 4 $OUT/a.out $OUT/b.out
ls -la $OUT

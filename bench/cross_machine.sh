#!/usr/bin/env bash
# Run on another machine from the repository root, with .gpu/ holding the constriction wheel for its
# Python and .gpu/port/ holding inputs (obj1, paper5, progc) and their .nnc files made here
# (nncomp compress -q -c -l L -T 2 INPUT > .gpu/port/INPUT.lL.nnc). Results: bench/results/portability_device.md.
# Device check of the numerics contract on another machine (its CPU, torch 2.11, 16 threads):
# decode the .nnc files made here, and compress the same inputs there for byte comparison here.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/*.whl || exit 1
export PYTHONPATH=/tmp/site
{
  lscpu | grep -m1 "Model name"; grep -o -m1 -w 'avx512f' /proc/cpuinfo || echo "no avx512f"
  python3 -c "import torch, constriction; print('torch', torch.__version__, torch.backends.cpu.get_cpu_capability(), 'threads', torch.get_num_threads())"
  for f in .gpu/port/*.nnc; do
    src=.gpu/port/$(basename "$f" | sed 's/\.l[0-9]\.nnc$//')
    if python3 -m nncomp decompress -q -c -T 16 "$f" | cmp -s - "$src"; then echo "decode-there OK $f"; else echo "decode-there FAILED $f"; fi
  done
  for src in .gpu/port/obj1 .gpu/port/paper5 .gpu/port/progc; do
    for l in 1 5; do
      s=$SECONDS
      python3 -m nncomp compress -q -c -l $l -T 16 "$src" > $OUT/$(basename $src).l$l.nnc || echo "compress FAILED $src $l"
      echo "compressed $src -l $l: $(stat -c %s $OUT/$(basename $src).l$l.nnc) bytes, $((SECONDS - s)) s"
    done
  done
} 2>&1 | tee $OUT/port.log

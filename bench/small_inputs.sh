#!/bin/bash
# Time and peak memory of the command line on a 1-byte and a 4 KB file, two checkouts interleaved.
#
#   git worktree add /tmp/old COMMIT
#   bash bench/small_inputs.sh /tmp/old . 3
#
# Each round runs `python -c 'import torch'` (the start-up every process pays before nncomp), then
# `nncomp compress -q` and `nncomp decompress -q -c` of each file with PYTHONPATH on one checkout, the
# checkouts in alternating order. Prints one line per run (checkout, what, seconds, peak KB from
# /usr/bin/time) and then the medians; subtract the torch line's median to get nncomp's own time.
set -euo pipefail
A=$(realpath "$1"); B=$(realpath "$2"); ROUNDS=${3:-3}
ROOT=$(realpath "$(dirname "$0")/..")
PY=${PYTHON:-$ROOT/.venv/bin/python}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"  # so that `python -m nncomp` finds the checkout on PYTHONPATH, not one in the working folder
printf 'a' > one.txt
head -c 4096 "$ROOT/samples/sample.txt" > four.txt
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for side in $order; do
    /usr/bin/time -f "$side torch %e %M" "$PY" -c 'import torch' 2>&1
    for f in one four; do
      rm -f $f.txt.nnc
      PYTHONPATH=$side /usr/bin/time -f "$side $f.compress %e %M" "$PY" -m nncomp compress -q $f.txt 2>&1
      PYTHONPATH=$side /usr/bin/time -f "$side $f.decompress %e %M" "$PY" -m nncomp decompress -q -c $f.txt.nnc 2>&1 >/dev/null
    done
  done
done | tee runs.txt
"$PY" - runs.txt <<'PYEOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    side, what, secs, kb = line.split()
    runs[(what, side)].append((float(secs), int(kb)))
for (what, side), v in sorted(runs.items()):
    print(f"median {what:16} {side}: {statistics.median(s for s, _ in v):.2f} s, peak {max(k for _, k in v) // 1024} MB")
PYEOF

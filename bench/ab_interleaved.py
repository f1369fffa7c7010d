"""Speed of two checkouts' code in one process, interleaved: the fairest comparison on a noisy machine.

    git worktree add /tmp/old COMMIT
    python bench/ab_interleaved.py /tmp/old . 5 262144 ../shared/corpus/eval/calgary/book1 --rounds 4

Copies each checkout's `nncomp` package under its own name into a temporary folder, imports both
into this process, and codes the first N bytes of each FILE (concatenated) with each, alternating
A, B, B, A, ... for the given rounds, so that the drift of a shared machine (a third between
runs an hour apart on the two-core VM these figures come from) falls on both alike. Prints each
round's KB/s and the medians both ways, and whether the two outputs are the same bytes (each
side's output is decoded by the other side, too, when they are).

With --each, every FILE is coded as an input of its own (as a user compresses files one by one;
small files run with other lane layouts than a concatenation), alternating A and B file by file,
and a round's speed is the total of bytes over the total of seconds.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def load(checkout: str, name: str, into: Path):
    shutil.copytree(Path(checkout) / "nncomp", into / name, ignore=shutil.ignore_patterns("__pycache__"))
    return importlib.import_module(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="checkout A (e.g. a worktree of the older commit)")
    ap.add_argument("b", help="checkout B")
    ap.add_argument("level", type=int)
    ap.add_argument("n", type=int, help="bytes taken from the start of each file (0: all)")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--each", action="store_true", help="code each file as an input of its own")
    args = ap.parse_args()

    parts = [Path(f).read_bytes()[: args.n or None] for f in args.files]
    inputs = parts if args.each else [b"".join(parts)]
    tmp = Path(tempfile.mkdtemp(prefix="nncomp-ab-"))
    sys.path.insert(0, str(tmp))
    try:
        mods = {"A": load(args.a, "nncomp_ab_a", tmp), "B": load(args.b, "nncomp_ab_b", tmp)}
        importlib.import_module("nncomp_ab_a.heap").keep_freed_memory()  # process-wide, as the command line does
        packed = {k: [m.compress(x, args.level, threads=args.threads) for x in inputs] for k, m in mods.items()}
        same = packed["A"] == packed["B"]
        for k, m in mods.items():  # first calls out of the timed rounds (compiled loops load or compile then)
            m.decompress(packed[k][0], threads=args.threads)
        total = sum(map(len, inputs))
        print(f"{total} bytes in {len(inputs)} input(s), level {args.level}: A {sum(map(len, packed['A']))} bytes, "
              f"B {sum(map(len, packed['B']))} bytes, {'same bytes' if same else 'DIFFERENT bytes'}", flush=True)
        speed = {k: {"c": [], "d": []} for k in mods}
        for r in range(args.rounds):
            seconds = {k: [0.0, 0.0] for k in mods}
            for i, x in enumerate(inputs):
                for k in ("AB" if (r + i) % 2 == 0 else "BA"):
                    m = mods[k]
                    t = time.perf_counter()
                    out = m.compress(x, args.level, threads=args.threads)
                    seconds[k][0] += time.perf_counter() - t
                    src = packed["B" if k == "A" else "A"][i] if same else out  # cross-decode when the bytes agree
                    t = time.perf_counter()
                    back = m.decompress(src, threads=args.threads)
                    seconds[k][1] += time.perf_counter() - t
                    assert out == packed[k][i] and back == x, f"round trip failed for {k}"
            for k in "AB":
                speed[k]["c"].append(total / seconds[k][0] / 1e3)
                speed[k]["d"].append(total / seconds[k][1] / 1e3)
                print(f"round {r + 1} {k}: compress {speed[k]['c'][-1]:.2f} KB/s, decompress {speed[k]['d'][-1]:.2f} KB/s",
                      flush=True)
        for k in mods:
            print(f"{k} ({getattr(args, k.lower())}): median compress {statistics.median(speed[k]['c']):.2f} KB/s, "
                  f"decompress {statistics.median(speed[k]['d']):.2f} KB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

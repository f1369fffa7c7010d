"""Speed of two checkouts' code in one process, interleaved: the fairest comparison on a noisy machine.

    git worktree add /tmp/old COMMIT
    python bench/ab_interleaved.py /tmp/old . 5 262144 ../shared/corpus/eval/calgary/book1 --rounds 4

Copies each checkout's `nncomp` package under its own name into a temporary folder, imports both
into this process, and codes the first N bytes of each FILE (concatenated) with each, alternating
A, B, B, A, ... for the given rounds, so that the drift of a shared machine (a third between
runs an hour apart on the two-core VM these figures come from) falls on both alike. Prints each
round's KB/s and the medians both ways, and whether the two outputs are the same bytes (each
side's output is decoded by the other side, too, when they are).
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
    ap.add_argument("n", type=int, help="bytes taken from the start of each file")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    data = b"".join(Path(f).read_bytes()[: args.n] for f in args.files)
    tmp = Path(tempfile.mkdtemp(prefix="nncomp-ab-"))
    sys.path.insert(0, str(tmp))
    try:
        mods = {"A": load(args.a, "nncomp_ab_a", tmp), "B": load(args.b, "nncomp_ab_b", tmp)}
        importlib.import_module("nncomp_ab_a.heap").keep_freed_memory()  # process-wide, as the command line does
        packed = {k: m.compress(data, args.level, threads=args.threads) for k, m in mods.items()}
        same = packed["A"] == packed["B"]
        print(f"{len(data)} bytes, level {args.level}: A {len(packed['A'])} bytes, B {len(packed['B'])} bytes, "
              f"{'same bytes' if same else 'DIFFERENT bytes'}", flush=True)
        speed = {k: {"c": [], "d": []} for k in mods}
        for r in range(args.rounds):
            for k in ("AB" if r % 2 == 0 else "BA"):
                m = mods[k]
                t = time.perf_counter()
                out = m.compress(data, args.level, threads=args.threads)
                tc = time.perf_counter() - t
                src = packed["B" if k == "A" else "A"] if same else out  # cross-decode when the bytes agree
                t = time.perf_counter()
                back = m.decompress(src, threads=args.threads)
                td = time.perf_counter() - t
                assert out == packed[k] and back == data, f"round trip failed for {k}"
                speed[k]["c"].append(len(data) / tc / 1e3)
                speed[k]["d"].append(len(data) / td / 1e3)
                print(f"round {r + 1} {k}: compress {speed[k]['c'][-1]:.2f} KB/s, decompress {speed[k]['d'][-1]:.2f} KB/s",
                      flush=True)
        for k in mods:
            print(f"{k} ({getattr(args, k.lower())}): median compress {statistics.median(speed[k]['c']):.2f} KB/s, "
                  f"decompress {statistics.median(speed[k]['d']):.2f} KB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What cutting into segments costs: a file compressed whole and as independent parts of each size.

    python bench/segment_cost.py FILE [--level 5] [--limit BYTES] [--sizes 4194304,2097152,1048576]

Each part is compressed alone, as a segment is coded, and the headers the parts would share are
subtracted, so the totals compare what segments of that size cost inside one stream.
"""

from __future__ import annotations

import argparse
import os
import time

import nncomp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="use the file's first BYTES bytes")
    ap.add_argument("--sizes", default="4194304,2097152,1048576", help="part sizes, largest first")
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        data = f.read(a.limit) if a.limit else f.read()
    shared = len(nncomp.compress(b"", a.level, threads=1))  # a header and an end record
    print(f"# {os.path.basename(a.file)} ({len(data):,} bytes), level {a.level}")
    print("part_size\tparts\ttotal_bytes\tseconds")
    for size in (int(s) for s in a.sizes.split(",")):
        t = time.perf_counter()
        parts = [data[i : i + size] for i in range(0, len(data), size)]
        total = sum(len(nncomp.compress(p, a.level, threads=1, segment=0)) for p in parts) - (len(parts) - 1) * shared
        print(f"{size}\t{len(parts)}\t{total}\t{time.perf_counter() - t:.0f}", flush=True)


if __name__ == "__main__":
    main()

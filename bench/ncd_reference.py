"""The NCD matrix of bench/joint_bench.py computed with classical compressors, for reference.

    python bench/ncd_reference.py                 # 32 KiB prefixes, like joint_bench.py
    python bench/ncd_reference.py --prefix 0      # whole files

Writes bench/results/ncd_reference.md: for xz -9e, bzip2 -9 and zlib -9 (Python's lzma, bz2, zlib),
each Calgary file's nearest neighbour by NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y)),
beside nncomp's from bench/results/ncd.json when present. It shows which neighbours the data itself
suggests, whatever the compressor.
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import zlib

from joint_bench import CALGARY, HERE, NCD_FILES

COMPRESSORS = {
    "xz -9e": lambda b: len(lzma.compress(b, preset=9 | lzma.PRESET_EXTREME)),
    "bzip2 -9": lambda b: len(bz2.compress(b, 9)),
    "zlib -9": lambda b: len(zlib.compress(b, 9)),
}


def nearest(data: dict[str, bytes], size) -> dict[str, tuple[str, float]]:
    single = {n: size(d) for n, d in data.items()}
    out = {}
    for x in data:
        out[x] = min(((size(data[x] + data[y]) - min(single[x], single[y])) / max(single[x], single[y]), y)
                     for y in data if y != x)[::-1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", type=int, default=32768, help="bytes of each file (0: all)")
    args = ap.parse_args()
    data = {n: (CALGARY / n).read_bytes()[: args.prefix or None] for n in NCD_FILES}
    cols = {name: nearest(data, size) for name, size in COMPRESSORS.items()}
    ours = HERE / "results" / "ncd.json"
    if ours.exists():
        m = json.loads(ours.read_text())
        if m.get("prefix_bytes") == args.prefix:
            cols[f"nncomp -l {m['level']}"] = {n: (m["nearest"][n], min(v for v in row if v > 0))
                                               for n, row in zip(m["names"], m["ncd"])}
    md = [f"Nearest neighbour by NCD on the first {args.prefix or 'all'} bytes of each Calgary file.\n",
          "| file | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for n in NCD_FILES:
        md.append(f"| {n} | " + " | ".join(f"{c[n][0]} ({c[n][1]:.3f})" for c in cols.values()) + " |")
    suffix = "" if args.prefix == 32768 else f"_{args.prefix or 'all'}"
    (HERE / "results" / f"ncd_reference{suffix}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

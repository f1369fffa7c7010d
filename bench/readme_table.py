"""The README's results tables from bench/compare.py runs: bits per byte per file and tool, totals,
and each tool's speed over all the files.

    python bench/readme_table.py bench/results/compare.tsv [MORE.tsv ...] --tools "nncomp -l 1,nncomp -l 5,xz -9e"

Where several runs measured the same file and tool, the last one given counts, for speeds the last
that decompressed too (a --sizes-only run gives sizes alone). paq8px -8 comes from
../shared/baselines.tsv (measured on some of the files only). Speeds are total bytes over total time.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from compare import CALGARY_CANTERBURY, read_tsv

BASELINES = Path(__file__).resolve().parent.parent.parent / "shared" / "baselines.tsv"


def paq8px() -> dict[str, int]:
    """file: paq8px -8's compressed bytes, where baselines.tsv has them."""
    if not BASELINES.exists():
        return {}
    with open(BASELINES) as f:
        rows = csv.DictReader((ln for ln in f if not ln.startswith("#")), delimiter="\t")
        return {r["file"]: int(r["comp_bytes"]) for r in rows
                if r["compressor"] == "paq8px" and r["settings"] == "-8"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tsv", nargs="+")
    ap.add_argument("--tools", required=True, help="columns, comma-separated, as compare.py names them")
    a = ap.parse_args()
    tools = a.tools.split(",")
    rows, timed = {}, {}
    for tsv in a.tsv:
        for r in read_tsv(Path(tsv)):
            rows[(r["file"], r["tool"])] = r
            if math.isfinite(r["d_kbs"]):
                timed[(r["file"], r["tool"])] = r
    files = [f for f in CALGARY_CANTERBURY.split(",") if all((f, t) in rows for t in tools)]
    paq = paq8px()
    print("| file | bytes | " + " | ".join(tools) + " | paq8px -8 |")
    print("|---|---:|" + "---:|" * (len(tools) + 1))
    for f in files:
        n = rows[(f, tools[0])]["bytes"]
        cells = [f"{8 * rows[(f, t)]['packed'] / n:.3f}" for t in tools]
        cells.append(f"{8 * paq[f] / n:.3f}" if f in paq else "")
        print(f"| {f} | {n:,} | " + " | ".join(cells) + " |")
    raw = sum(rows[(f, tools[0])]["bytes"] for f in files)
    packed = [sum(rows[(f, t)]["packed"] for f in files) for t in tools]
    print(f"| **total** (bytes) | {raw:,} | " + " | ".join(f"{p:,}" for p in packed) + " | |")
    print("| **total** (bits/byte) | | " + " | ".join(f"{8 * p / raw:.3f}" for p in packed) + " | |")
    print()
    print("| | " + " | ".join(tools) + " |")
    print("|---|" + "---:|" * len(tools))
    for key, what in (("c_kbs", "compress KB/s"), ("d_kbs", "decompress KB/s")):
        speeds = []
        for t in tools:
            secs = sum(timed[(f, t)]["bytes"] / (timed[(f, t)][key] * 1e3) if (f, t) in timed else math.nan for f in files)
            speeds.append(raw / secs / 1e3 if math.isfinite(secs) and secs > 0 else float("nan"))
        print(f"| {what} | " + " | ".join(f"{s:,.1f}" if math.isfinite(s) else "" for s in speeds) + " |")


if __name__ == "__main__":
    main()

"""Plot bits per byte against compression speed: nncomp levels and classical tools from one
bench/compare.py run, and slower peers from ../shared/baselines.tsv on the same files.

    python bench/plot_tradeoff.py bench/results/compare.tsv      # -> bench/results/tradeoff.png

Needs matplotlib (pip install matplotlib; not a dependency of nncomp itself).
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
BASELINES = HERE.parent.parent / "shared" / "baselines.tsv"
PEERS = ("paq8px", "cmix", "nncp", "lstm-compress", "7z-ppmd")
ALIASES = {"input.txt": "tinyshakespeare.txt"}


def totals(rows, key, size, packed, speed):
    """Per tool: (files, total bits per byte, aggregate KB/s)."""
    acc = defaultdict(lambda: [set(), 0, 0, 0.0])
    for r in rows:
        a = acc[r[key]]
        a[0].add(ALIASES.get(r["file"], r["file"]))
        a[1] += int(r[size])
        a[2] += int(r[packed])
        a[3] += int(r[size]) / (float(r[speed]) * 1e3)
    return {k: (v[0], 8 * v[2] / v[1], v[1] / v[3] / 1e3) for k, v in acc.items()}


def _panel(ax, ours: dict, theirs: dict, files: set) -> None:
    placed = []  # (log10 speed, bits per byte) of points labelled above them
    for name, (_, bpb, kbs) in sorted(ours.items()):
        color = "tab:red" if name.startswith("nncomp") else "tab:blue"
        ax.scatter(kbs, bpb, color=color)
        # a point close to one already labelled above it takes its label below, so the two stay apart
        near = any(abs(math.log10(kbs) - x) < 0.4 and abs(bpb - y) < 0.05 for x, y in placed)
        ax.annotate(name, (kbs, bpb), textcoords="offset points", xytext=(4, -10 if near else 4), fontsize=8)
        if not near:
            placed.append((math.log10(kbs), bpb))
    for name, (_, bpb, kbs) in sorted(theirs.items()):
        ax.scatter(kbs, bpb, color="tab:gray", marker="s")
        ax.annotate(f"{name} (baselines.tsv)", (kbs, bpb), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("compression speed, KB/s (log scale)")
    ax.set_ylabel("bits per byte (total over the files)")
    names = ", ".join(sorted(files)) if len(files) <= 8 else f"{len(files)} eval files"
    ax.set_title(f"{len(files)} files: {names}" if len(files) <= 8 else names, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "results" / "compare.tsv")
    with open(src) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    ours = totals(rows, "tool", "bytes", "packed", "c_kbs")
    files = next(iter(ours.values()))[0]
    with open(BASELINES) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    peers = [r for r in csv.DictReader(lines, delimiter="\t") if r["compressor"] in PEERS and r["file"] in files]
    # the slower peers were measured on some of the files only: a second panel compares on those
    common = {r["file"] for r in peers if r["compressor"] == "paq8px"} or files
    theirs = {k: v for k, v in totals([r for r in peers if r["file"] in common], "compressor", "orig_bytes",
                                      "comp_bytes", "compress_KBps").items() if v[0] == common}
    ours_common = totals([r for r in rows if ALIASES.get(r["file"], r["file"]) in common], "tool", "bytes", "packed", "c_kbs")
    panels = [(ours, {}, files)] if common != files else []
    panels.append((ours_common, theirs, common))
    fig, axes = plt.subplots(1, len(panels), figsize=(8 * len(panels), 5), squeeze=False)
    for ax, (o, t, fs) in zip(axes[0], panels):
        _panel(ax, o, t, fs)
    out = src.with_name("tradeoff.png")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

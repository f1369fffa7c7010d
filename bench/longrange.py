"""Long-range repeats (longrange.py): what references save on repeated data, and what they cost elsewhere.

    python bench/longrange.py --levels 1,5,9            # repeated data: one copy against four, xz and zpaq beside
    python bench/longrange.py --corpus --levels 5       # Calgary+Canterbury with and without the stage
    python bench/longrange.py --joint --levels 5        # joint of a directory and its copy with a few edits
    python bench/longrange.py --corpus --levels 5 FILE...  # the same comparison on other files

The corpus run compresses, with the stage on and off, only the files in which the stage finds a
reference at the level's settings: a file with none is coded to the same bytes either way (the same
literals, no frame flagged), so its difference is zero by construction. Sizes count the frames and
the end record, not the header, whose length does not depend on the stage.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nncomp  # noqa: E402
from nncomp import api, container, longrange  # noqa: E402
from nncomp.config import level_config  # noqa: E402
from nncomp.contexts.record import find_period  # noqa: E402

EVAL = ROOT.parent / "shared" / "corpus" / "eval"


def body(packed: bytes) -> int:
    return len(packed) - container.header_length(packed[: container.HEADER_FIXED])


def classical(data: bytes) -> dict[str, int]:
    sizes = {"xz -9e": len(subprocess.run(["xz", "-9e", "-c"], input=data, capture_output=True, check=True).stdout)}
    if shutil.which("zpaq"):
        with tempfile.TemporaryDirectory() as tmp:
            src, arc = Path(tmp) / "in", Path(tmp) / "out.zpaq"
            src.write_bytes(data)
            subprocess.run(["zpaq", "a", str(arc), str(src), "-m5"], capture_output=True, check=True)
            sizes["zpaq -m5"] = arc.stat().st_size
    return sizes


def repeated(levels: list[int], verify: bool) -> None:
    book1 = (EVAL / "calgary" / "book1").read_bytes()[:102400]
    noise = random.Random(0).randbytes(51200)
    inputs = [("book1[:102400]", book1), ("four copies of it", book1 * 4), ("four copies of 51,200 random bytes", noise * 4)]
    print("| input | bytes | " + " | ".join(f"nncomp -l {lv}" for lv in levels) + " | xz -9e | zpaq -m5 |")
    print("|---|---:|" + "---:|" * (len(levels) + 2))
    for name, data in inputs:
        row = []
        for lv in levels:
            t = time.perf_counter()
            packed = nncomp.compress(data, lv)
            secs = time.perf_counter() - t
            if verify:
                assert nncomp.decompress(packed) == data, (name, lv)
            row.append(f"{len(packed):,} ({secs:.0f} s)")
        c = classical(data)
        print(f"| {name} | {len(data):,} | " + " | ".join(row) + f" | {c['xz -9e']:,} | {c.get('zpaq -m5', 'n/a'):,} |",
              flush=True)


def corpus(levels: list[int], files: list[Path]) -> None:
    files = files or sorted(p for d in ("calgary", "canterbury") for p in (EVAL / d).iterdir())
    for lv in levels:
        cfg = level_config(lv)
        on_total = off_total = 0
        print(f"level {lv}: stage on against off (bytes after the header)")
        for f in files:
            data = f.read_bytes()
            finder = longrange.Finder(cfg.long_window, cfg.long_min)
            refs = [r for s in range(0, len(data), cfg.frame_size)
                    for r in finder.split(data[s : s + cfg.frame_size], find_period(data[s : s + cfg.frame_size]))[0]]
            if not refs:
                continue
            on = body(nncomp.compress(data, lv))
            off = body(nncomp.compress(data, lv, config=replace(cfg, long_window=0), model=api.level_model(lv)))
            on_total, off_total = on_total + on, off_total + off
            print(f"  {f.name:14} {len(refs):4} references  {off:9,} -> {on:9,}  ({on - off:+,})", flush=True)
        print(f"  files with references: {off_total:,} -> {on_total:,} ({on_total - off_total:+,} bytes); every other file unchanged")


def joint_copy(levels: list[int]) -> None:
    """`nncomp joint` of Calgary's papers and a copy of them with three files edited: the copy should cost
    about what its edits are worth."""
    from nncomp.tools.joint import joint_report, load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "papers", Path(tmp) / "papers-edited"
        a.mkdir()
        for f in sorted((EVAL / "calgary").glob("paper*")):
            (a / f.name).write_bytes(f.read_bytes())
        shutil.copytree(a, b)
        for i, name in enumerate(("paper1", "paper3", "paper5")):  # an insertion, a deletion, a replacement
            data = (b / name).read_bytes()
            mid = len(data) // 2
            edit = [data[:mid] + b"An inserted sentence of the edited copy.\n" + data[mid:],
                    data[:mid] + data[mid + 500 :], data[:mid] + data[mid : mid + 200].upper() + data[mid + 200 :]][i]
            (b / name).write_bytes(edit)
        for lv in levels:
            t = time.perf_counter()
            rep = joint_report([load_dataset(a), load_dataset(b)], lv)
            first, second = rep.datasets
            print(f"level {lv}: {first.name} {first.size:,} bytes alone {first.alone:,}; {second.name} {second.size:,} bytes "
                  f"alone {second.alone:,}, in the joint stream {second.joint:,}; joint total {rep.joint_total:,} against "
                  f"{rep.separate_total:,} apart: saving {rep.saving:,} bytes ({rep.saving_pct:.2f} %), "
                  f"{time.perf_counter() - t:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,5,9")
    ap.add_argument("--corpus", action="store_true", help="Calgary+Canterbury with and without the stage")
    ap.add_argument("--joint", action="store_true", help="joint of a directory and its edited copy")
    ap.add_argument("--verify", action="store_true", help="decode every output of the repeated-data table")
    ap.add_argument("files", nargs="*", type=Path, help="with --corpus: these files instead of Calgary+Canterbury")
    args = ap.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    if args.corpus:
        corpus(levels, args.files)
    elif args.joint:
        joint_copy(levels)
    else:
        repeated(levels, args.verify)


if __name__ == "__main__":
    main()

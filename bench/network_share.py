"""What the transformer buys: each file's size at a level as it is, and with the network's mixing weight
held at zero (its logits then add nothing; the context statistics, match model and mixer do all the work).

    python bench/network_share.py                                # level 5, Calgary + Canterbury
    python bench/network_share.py --files bench/devcorpus --out bench/results/network_share_devcorpus
    python bench/network_share.py --jobs 2                       # files in two processes, one thread each

Files are grouped as text, code and markup, or binary (Calgary + Canterbury by name; other files by the
codec's own rule, codec.looks_binary). Writes a markdown table (--out, .md added).
Every size comes from this run; the network-less streams are not a format anyone decodes, only a measurement.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import multiprocessing
import sys
import time
from pathlib import Path

from compare import CALGARY_CANTERBURY, find

import nncomp
from nncomp import mixer
from nncomp.codec import looks_binary

CODE = {"progc", "progl", "progp", "fields.c", "grammar.lsp", "cp.html", "xargs.1", "trans"}
BINARY = {"geo", "obj1", "obj2", "pic", "ptt5", "kennedy.xls", "sum"}
CLASSES = ("text", "code and markup", "binary")


def kind(path: Path, data: bytes) -> str:
    if path.name in CODE:
        return "code and markup"
    if path.name in BINARY:
        return "binary"
    return "binary" if looks_binary(data) else "text"


@contextlib.contextmanager
def network_at_zero():
    """Every weight set starts the transformer at 0 and never moves it (mixer.py reads these at set-up)."""
    saved = mixer.GAMMA_INIT, mixer.PRIOR_GAMMA, mixer.GAMMA_LR_SCALE
    mixer.GAMMA_INIT, mixer.PRIOR_GAMMA, mixer.GAMMA_LR_SCALE = (0.0,) * mixer.N_MIX, 0.0, 0.0
    try:
        yield
    finally:
        mixer.GAMMA_INIT, mixer.PRIOR_GAMMA, mixer.GAMMA_LR_SCALE = saved


def measure(path: Path, level: int) -> tuple[str, str, int, int, int]:
    """One file's row: name, kind, bytes, size as coded, size with the network at zero."""
    data = path.read_bytes()
    with_net = len(nncomp.compress(data, level, threads=1))
    with network_at_zero():
        without = len(nncomp.compress(data, level, threads=1))
    row = (path.name, kind(path, data), len(data), with_net, without)
    print("\t".join(map(str, row)), file=sys.stderr, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--files", default=CALGARY_CANTERBURY, help="comma-separated eval names, paths or folders")
    ap.add_argument("--jobs", type=int, default=1, help="files coded in this many processes at once")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "network_share"))
    a = ap.parse_args()
    paths = [p for name in a.files.split(",") for p in find(name)]
    t0 = time.perf_counter()
    if a.jobs > 1:  # spawned, not forked: a fork of a process that has started torch's threads can hang
        with concurrent.futures.ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            big_first = sorted(paths, key=lambda p: -p.stat().st_size)  # so that no large file starts last
            done = dict(zip(big_first, pool.map(measure, big_first, [a.level] * len(paths))))
        rows = [done[p] for p in paths]
    else:
        rows = [measure(path, a.level) for path in paths]
    lines = [f"# What the network buys, level {a.level}",
             "",
             f"`python bench/network_share.py --level {a.level}"
             + (f" --files {a.files}" if a.files != CALGARY_CANTERBURY else "")
             + (f" --jobs {a.jobs}" if a.jobs > 1 else "")
             + f"` (nncomp format {nncomp.container.VERSION}, {time.perf_counter() - t0:.0f} s). Bytes as coded, and",
             "with the transformer's mixing weight held at zero; \"saves\" is the share of the network-less size",
             "that the network takes off.",
             "",
             "| file | kind | bytes | level | network at zero | saves |",
             "|---|---|---:|---:|---:|---:|"]
    for name, k, n, w, wo in rows:
        lines.append(f"| {name} | {k} | {n:,} | {w:,} | {wo:,} | {100 * (wo - w) / wo:.1f} % |")
    for k in CLASSES + ("all",):
        sel = [r for r in rows if k in ("all", r[1])]
        if sel:
            n, w, wo = (sum(r[i] for r in sel) for i in (2, 3, 4))
            lines.append(f"| **{k}** ({len(sel)} files) | | {n:,} | {w:,} | {wo:,} | {100 * (wo - w) / wo:.1f} % |")
    out = Path(a.out).with_suffix(".md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

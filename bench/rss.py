"""Peak memory of streaming compression and decompression through pipes, by input size.

    python bench/rss.py --sizes 1,4,16 --level 1 --threads 1

Each input (MiB) is text from ../shared/corpus/eval (or samples/ when absent), repeated to size.
`nncomp compress - ` reads it on stdin and writes stdout; `nncomp decompress -` reads that back;
each process's peak resident set size comes from wait4(). Output must round-trip. Writes
bench/results/rss.md. The bound nncomp states: frames of at most 1 MiB are buffered, so peak memory
is set by the settings (tables, weights, one frame), not by the input's length.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVAL = ROOT.parent / "shared" / "corpus" / "eval"


def make_input(size: int, path: Path) -> None:
    sources = sorted(EVAL.glob("*/*.txt")) or [ROOT / "samples" / "sample.txt"]
    blob = b"".join(p.read_bytes() for p in sources)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(blob[:left])
            left -= min(left, len(blob))


def run(argv: list[str], stdin: Path, stdout: Path) -> tuple[int, float, int]:
    """(exit status, seconds, peak RSS in bytes) of one process reading stdin and writing stdout."""
    with open(stdin, "rb") as fi, open(stdout, "wb") as fo:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fi, stdout=fo)
        _, status, usage = os.wait4(p.pid, 0)
        return os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,4,16", help="input sizes in MiB")
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "rss.md"))
    args = ap.parse_args()
    nn = [sys.executable, "-m", "nncomp"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mib in map(int, args.sizes.split(",")):
            src, packed, back = Path(tmp) / "in", Path(tmp) / "in.nnc", Path(tmp) / "back"
            make_input(mib << 20, src)
            rc1, t1, rss1 = run(nn + ["compress", "-q", "-l", str(args.level), "-T", str(args.threads), "-"], src, packed)
            rc2, t2, rss2 = run(nn + ["decompress", "-q", "-T", str(args.threads), "-"], packed, back)
            ok = rc1 == rc2 == 0 and hashlib.sha256(src.read_bytes()).digest() == hashlib.sha256(back.read_bytes()).digest()
            row = (mib, packed.stat().st_size, rss1 / 2**20, rss2 / 2**20, (mib << 20) / t1 / 1e3, (mib << 20) / t2 / 1e3, ok)
            rows.append(row)
            print("%3d MiB -> %9d bytes; peak RSS compress %.0f MiB, decompress %.0f MiB; %.1f / %.1f KB/s; %s"
                  % (*row[:6], "ok" if ok else "FAILED"), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        f.write(f"Level {args.level}, -T {args.threads}, piped stdin to stdout.\n\n")
        f.write("| input MiB | compressed bytes | peak RSS compress MiB | peak RSS decompress MiB | compress KB/s | decompress KB/s | round trip |\n")
        f.write("|---:|---:|---:|---:|---:|---:|---|\n")
        for r in rows:
            f.write("| %d | %d | %.0f | %.0f | %.1f | %.1f | %s |\n" % (*r[:6], "ok" if r[6] else "FAILED"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

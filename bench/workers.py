"""Throughput against worker processes (-T): compress and decompress one file through the command line
with each worker count, check that every count writes the same bytes, and print a table.

    python bench/workers.py FILE [--level 5] [--segment 4M] [--workers 1,2] [--rounds 1] [--dask 2]
                                 [--only-compress] [--keep DIR]

Worker counts alternate within each round, so drift of the machine spreads over all of them. With
--dask N, each round also codes the file on a Dask LocalCluster of N worker processes (a row "dN").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time

NNCOMP = [sys.executable, "-m", "nncomp"]


def _timed(args: list[str], out: str) -> float:
    t = time.perf_counter()
    with open(out, "wb") as f:
        subprocess.run(NNCOMP + args, stdout=f, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--segment", default=None, help="segment size (default: the level's)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--dask", type=int, default=0, help="also code on a Dask LocalCluster of this many workers")
    ap.add_argument("--only-compress", action="store_true", help="skip decompression (to compare bytes only)")
    ap.add_argument("--keep", metavar="DIR", help="keep the .nnc files here (WORKERS.nnc)")
    a = ap.parse_args()
    counts = [int(w) for w in a.workers.split(",") if w] + ([f"d{a.dask}"] if a.dask else [])
    size = os.path.getsize(a.file)
    seg = ["--segment", a.segment] if a.segment else []
    with open(a.file, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    print(f"# {os.path.basename(a.file)} ({size:,} bytes), level {a.level}, segment {a.segment or 'default'}, "
          f"{os.cpu_count()} cores")
    print("round\tworkers\tcompressed\tcompress_s\tcompress_KB/s\tdecompress_s\tdecompress_KB/s\tsha256")
    digests = set()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = a.keep or tmp
        for r in range(a.rounds):
            for w in counts:
                packed, back = os.path.join(tmp, f"{w}.nnc"), os.path.join(tmp, f"{w}.out")
                if isinstance(w, str):
                    tc, td = _on_dask(a, packed, back)
                else:
                    tc = _timed(["compress", "-q", "-c", "-l", str(a.level), "-T", str(w), *seg, a.file], packed)
                    td = 0.0 if a.only_compress else _timed(["decompress", "-q", "-c", "-T", str(w), packed], back)
                with open(packed, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                digests.add(digest)
                if td:
                    with open(back, "rb") as f:
                        if hashlib.sha256(f.read()).hexdigest() != want:
                            raise SystemExit(f"round trip failed with -T {w}")
                print(f"{r + 1}\t{w}\t{os.path.getsize(packed)}\t{tc:.1f}\t{size / tc / 1e3:.1f}\t{td:.1f}\t"
                      f"{size / td / 1e3 if td else 0:.1f}\t{digest[:16]}", flush=True)
    print(f"# the same bytes for every worker count: {len(digests) == 1}")


def _on_dask(a, packed: str, back: str) -> tuple[float, float]:
    """(compress, decompress) seconds on a LocalCluster of a.dask worker processes, started beforehand."""
    from distributed import Client, LocalCluster

    from nncomp import distributed
    from nncomp.cli import _segment_size

    seg = _segment_size(a.segment) if a.segment else None
    with LocalCluster(n_workers=a.dask, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        t = time.perf_counter()
        with open(packed, "wb") as f:
            distributed.compress_file(client, a.file, f, level=a.level, segment=seg)
        tc = time.perf_counter() - t
        if a.only_compress:
            return tc, 0.0
        t = time.perf_counter()
        with open(back, "wb") as f:
            distributed.decompress_file(client, packed, f)
        return tc, time.perf_counter() - t


if __name__ == "__main__":
    main()

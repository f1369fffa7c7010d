"""A large input through a pipe, both directions at once, with the peak memory of each side's process
tree (the nncomp process and its workers) sampled from /proc, against the bound the workers promise:
resident (RSS, summed) and proportional (PSS: a page shared by several processes counted once in all).

    python bench/pipe.py INPUT [--level 1] [--workers 2] [--interval 0.5]

Runs `nncomp compress -l L -T N - < INPUT | nncomp decompress -T N -` and checks that what comes out
is the input (SHA-256); prints one TSV line per run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import threading
import time

from nncomp import workers
from nncomp.config import DEFAULT_SEGMENT, level_config

NNCOMP = [sys.executable, "-m", "nncomp"]


def _pss(pid: int) -> int:
    """Proportional set size of a process: its private pages, and its share of pages it shares."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _tree_memory(root: int) -> tuple[int, int]:
    """(resident, proportional) bytes of a process and all its descendants (0 once it is gone).

    Resident sizes summed count a page that several processes map, such as torch's library code,
    once per process; proportional sizes count it once in all, which is what the machine holds."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid = int(name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        pss += _pss(pid) if pid in rss else 0
        todo += children.get(pid, [])
    return total, pss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.5)
    a = ap.parse_args()
    size = os.path.getsize(a.input)
    with open(a.input, "rb") as f:
        want = hashlib.file_digest(f, "sha256").hexdigest()
    # what a side may hold: each worker its tables and activations plus BASE; the main process BASE and
    # the segments in flight (2 per worker, as input and as result, and the one being read)
    per_worker = level_config(a.level).memory_estimate() + workers.BASE
    bound = a.workers * per_worker + workers.BASE + (4 * a.workers + 1) * DEFAULT_SEGMENT
    with open(a.input, "rb") as fin:
        t0 = time.perf_counter()
        comp = subprocess.Popen(NNCOMP + ["compress", "-q", "-l", str(a.level), "-T", str(a.workers), "-"],
                                stdin=fin, stdout=subprocess.PIPE)
        decomp = subprocess.Popen(NNCOMP + ["decompress", "-q", "-T", str(a.workers), "-"], stdin=comp.stdout,
                                  stdout=subprocess.PIPE)
        comp.stdout.close()
        peak = {k: 0 for k in ("compress", "decompress", "both", "compress_pss", "decompress_pss", "both_pss")}
        done = threading.Event()

        def sample():
            while not done.is_set():
                (c, cp), (d, dp) = _tree_memory(comp.pid), _tree_memory(decomp.pid)
                for k, v in (("compress", c), ("decompress", d), ("both", c + d), ("compress_pss", cp),
                             ("decompress_pss", dp), ("both_pss", cp + dp)):
                    peak[k] = max(peak[k], v)
                done.wait(a.interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        h, n_out = hashlib.sha256(), 0
        for chunk in iter(lambda: decomp.stdout.read(1 << 20), b""):
            h.update(chunk)
            n_out += len(chunk)
        rc = (comp.wait(), decomp.wait())
        secs = time.perf_counter() - t0
        done.set()
        sampler.join()
    mib = lambda n: f"{n / 2**20:.0f}"
    sides = ("compress", "decompress", "both")
    print("input_bytes\tlevel\tworkers\tseconds\tround_trip\t" + "\t".join(f"peak_{k}_MiB" for k in sides) + "\t"
          + "\t".join(f"peak_{k}_pss_MiB" for k in sides) + "\tbound_per_side_MiB")
    print(f"{size}\t{a.level}\t{a.workers}\t{secs:.0f}\t{rc == (0, 0) and h.hexdigest() == want and n_out == size}\t"
          + "\t".join(mib(peak[k]) for k in sides) + "\t" + "\t".join(mib(peak[k + "_pss"]) for k in sides)
          + f"\t{mib(bound)}")


if __name__ == "__main__":
    main()

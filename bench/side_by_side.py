"""Processes side by side: the wall time of one `nncomp compress`/`decompress` alone against N started
at once, for each thread setting, interleaved in rounds (this machine drifts).

    python bench/side_by_side.py FILE [--level 5] [--procs 2] [--rounds 2] [--threads default,1,2]
    python bench/side_by_side.py FILE --api --threads PYTHONPATH=/tmp/old,PYTHONPATH=.

'default' runs the command line without -T; a setting of the form ENV=VALUE runs it with that
environment variable instead (for example GOMP_SPINCOUNT=0 or OMP_NUM_THREADS=1). With --api each
process is a Python program calling nncomp.compress / nncomp.decompress with their defaults
(PYTHONPATH=CHECKOUT settings compare two checkouts' defaults).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

NNCOMP = [sys.executable, "-m", "nncomp"]


API = "import sys, nncomp; sys.stdout.buffer.write(nncomp.{}(open(sys.argv[1], 'rb').read(){}))"


def _command(direction: str, setting: str, src: str, level: int, api: bool) -> tuple[list[str], dict]:
    env = dict(os.environ)
    if api:
        cmd = [sys.executable, "-c", API.format(direction, f", {level}" if direction == "compress" else ""), src]
    else:
        cmd = NNCOMP + [direction, "-q", "-f", "-c", src] + (["-l", str(level)] if direction == "compress" else [])
    if "=" in setting:
        k, v = setting.split("=", 1)
        env[k] = v
    elif setting != "default":
        cmd += ["-T", setting]
    return cmd, env


def _wall(cmd: list[str], env: dict, procs: int) -> float:
    t = time.perf_counter()
    running = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) for _ in range(procs)]
    if any(p.wait() for p in running):
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", default="default,1", help="comma-separated settings")
    ap.add_argument("--api", action="store_true", help="Python programs calling the API instead of the command line")
    a = ap.parse_args()
    settings = a.threads.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        packed = os.path.join(tmp, "in.nnc")
        with open(packed, "wb") as f:
            subprocess.run(NNCOMP + ["compress", "-q", "-c", "-l", str(a.level), a.file], stdout=f, check=True)
        print(f"# {os.path.basename(a.file)}, level {a.level}, {a.procs} processes side by side, {os.cpu_count()} cores")
        print("direction\tsetting\tround\talone_s\tside_by_side_s\tratio")
        for r in range(a.rounds):
            for direction, src in (("compress", a.file), ("decompress", packed)):
                for s in settings:
                    cmd, env = _command(direction, s, src, a.level, a.api)
                    alone, pair = _wall(cmd, env, 1), _wall(cmd, env, a.procs)
                    print(f"{direction}\t{s}\t{r + 1}\t{alone:.2f}\t{pair:.2f}\t{pair / alone:.2f}", flush=True)


if __name__ == "__main__":
    main()

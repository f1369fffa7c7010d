"""Processes side by side: the wall time of one `nncomp compress`/`decompress` alone against N started
at once, for each thread setting, interleaved in rounds (this machine drifts).

    python bench/side_by_side.py FILE [--level 5] [--procs 2] [--rounds 2] [--threads default,1,2]

'default' runs the command line without -T; a setting of the form ENV=VALUE runs it with that
environment variable instead (for example GOMP_SPINCOUNT=0 or OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

NNCOMP = [sys.executable, "-m", "nncomp"]


def _command(direction: str, setting: str, src: str) -> tuple[list[str], dict]:
    env = dict(os.environ)
    cmd = NNCOMP + [direction, "-q", "-f", "-c", src]
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
                    cmd, env = _command(direction, s, src)
                    if direction == "compress":
                        cmd[len(NNCOMP) + 1 : len(NNCOMP) + 1] = ["-l", str(a.level)]
                    alone, pair = _wall(cmd, env, 1), _wall(cmd, env, a.procs)
                    print(f"{direction}\t{s}\t{r + 1}\t{alone:.2f}\t{pair:.2f}\t{pair / alone:.2f}", flush=True)


if __name__ == "__main__":
    main()

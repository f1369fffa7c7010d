"""Interrupt compressions and decompressions at random points; nothing may be lost or left half-written.

    python -m tests.harness.kill --runs 20          # 20 kills of each direction, SIGINT and SIGTERM alternating

Each trial starts `nncomp compress --rm` (or `decompress --rm`) on a ~200 KB input at level 1, sends a
signal a random delay after the output file is opened, and checks: the input is intact, no output and no temporary file remain
(or, if the run finished before the signal, the output is complete and correct).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SAMPLE = (ROOT / "samples" / "sample.txt").read_bytes()
_FLIP = random.Random(0)
# Eight copies with letters' case flipped at random: text without long repeats, which the long-range
# stage would take out, so that a run lasts seconds, not a fraction of one.
DATA = b"".join(bytes(c ^ 0x20 if 65 <= c & 0xDF <= 90 and _FLIP.random() < 0.5 else c for c in _SAMPLE) for _ in range(8))
NN = [sys.executable, "-m", "nncomp"]


def packed_input(tmp: Path) -> bytes:
    (tmp / "seed.txt").write_bytes(DATA)
    subprocess.run(NN + ["compress", "-q", "-l", "1", "seed.txt"], cwd=tmp, check=True)
    return (tmp / "seed.txt.nnc").read_bytes()


def trial(direction: str, sig: int, delay: float, tmp: Path, packed: bytes) -> str | None:
    """One interrupted run in the empty folder tmp; None if all is well, else what went wrong."""
    if direction == "compress":
        src, out, args = tmp / "big.txt", tmp / "big.txt.nnc", ["compress", "-l", "1", "--rm", "big.txt"]
        src.write_bytes(DATA)
        expect = DATA
    else:
        src, out, args = tmp / "big.txt.nnc", tmp / "big.txt", ["decompress", "--rm", "big.txt.nnc"]
        src.write_bytes(packed)
        expect = DATA
    before = src.read_bytes()
    p = subprocess.Popen(NN + args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while p.poll() is None and not list(tmp.glob(".*.tmp")) and time.time() < deadline:
        time.sleep(0.02)  # start-up (importing torch) is over once the output file is open
    time.sleep(delay)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    temps = list(tmp.glob(".*.tmp"))
    if temps:
        return f"temporary files left: {temps}"
    if b"Traceback" in err:
        return "traceback: " + err.decode(errors="replace")[-300:]
    if p.returncode == 0:  # finished before the signal: the output must be complete
        if src.exists():
            return "finished, but --rm left the input"
        if not out.exists():
            return "finished, but no output"
        back = _restored(direction, out)
        return None if back == expect else f"finished, but the output is wrong ({back[-200:]!r})"
    # interrupted: nothing may be lost, so the input is intact, or the output complete (the signal came
    # after the output was renamed into place, and perhaps after --rm)
    if out.exists() and _restored(direction, out) != expect:
        return "partial output left"
    if (not src.exists() or src.read_bytes() != before) and not out.exists():
        return "input lost or changed"
    return None


def _restored(direction: str, out: Path) -> bytes:
    if direction == "decompress":
        return out.read_bytes()
    r = subprocess.run(NN + ["decompress", "-c", str(out)], capture_output=True)
    return r.stdout if r.returncode == 0 else r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay", type=float, default=6.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as base:
        packed = packed_input(Path(base))
        for direction in ("compress", "decompress"):
            for i in range(args.runs):
                sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
                delay = rng.uniform(0.2, args.max_delay)
                with tempfile.TemporaryDirectory() as t:
                    problem = trial(direction, sig, delay, Path(t), packed)
                failures += problem is not None
                print(f"{direction:10} {signal.Signals(sig).name:7} after {delay:4.1f}s: {problem or 'ok'}", flush=True)
    print(f"{2 * args.runs} kills, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

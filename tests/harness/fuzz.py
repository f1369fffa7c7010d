"""Mutation fuzzing of the .nnc decoder.

    python -m tests.harness.fuzz --mutants 10000 --seed 1      # the long run (README)
    python -m tests.harness.fuzz --mutants 300 --cli 10        # short, plus a few through the CLI

Takes valid streams (text, binary, empty, and a solid archive, small originals with a small, fast configuration;
a table at level 1, whose header names the level's preset and whose frame has a record length) and
mutates them: bit flips, byte changes, truncation in every region of the format, appended
garbage, and header or frame fields set to extreme values (with the header checksum recomputed so
the parser goes past it). For each mutant, decompression must reproduce the original exactly or
raise nncomp.NNCError; anything else (another exception, wrong output accepted, a timeout) is a
failure. A few mutants also go through the CLI, which must exit 1 with one line on stderr, no
traceback, and no output file. Prints a summary and exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import nncomp  # noqa: E402
from nncomp import container, varint  # noqa: E402
from nncomp.config import CodecConfig  # noqa: E402
from nncomp.model import ModelConfig  # noqa: E402
from tests.harness.x86 import x86_like  # noqa: E402

FUZZ_CONFIG = CodecConfig(
    model=ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16),
    orders=(1, 2, 3), hash_bits=10, lanes=8, min_lane=64, frame_size=1024,
)
TIMEOUT_S = 30
EXTREMES = [0, 1, 2**8 - 1, 2**16 - 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, -1, 10**30]


def originals(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    text = (ROOT / "samples" / "sample.txt").read_bytes()
    noise = bytes(rng.randrange(256) for _ in range(1500))
    # noise repeated: frames with long-range references; x86-like code: frames through the x86 filter
    return [text[:3000], noise, b"", b"z", noise[:600] * 4, x86_like(2000, seed)]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def _regions(packed: bytes) -> list[tuple[int, int, str]]:
    """(start, end, name) of each region of a valid stream."""
    n = container.header_length(packed[: container.HEADER_FIXED])
    _, b = varint.get(packed, 5, "header")  # the body starts after its varint length
    regions = [(0, 4, "magic"), (4, 5, "version"), (5, b, "header length"), (b, b + 1, "level"), (b + 1, b + 5, "tag"),
               (b + 5, n - 4, "header json"), (n - 4, n, "header crc")]
    pos = n
    for start, head in container.frame_heads(packed):
        pos = start + container.FRAME_HEAD.size + head.pay_len
        regions.append((start, start + container.FRAME_HEAD.size, "frame head"))
        regions.append((start + container.FRAME_HEAD.size, pos, "payload"))
    regions.append((pos, len(packed), "end record"))
    return [r for r in regions if r[1] > r[0]]


def _with_header_field(packed: bytes, rng: random.Random) -> bytes:
    """Set one header field to an extreme value and re-checksum, so the fields themselves are checked."""
    n = container.header_length(packed[: container.HEADER_FIXED])
    level, tag, d = container.unpack_header(packed[:n])
    top = ["level", "tag", "model"]
    if "codec" in d:  # settings listed in full
        target = d["codec"] if rng.random() < 0.4 else d["codec"]["model"]
        keys = list(target) + top
    else:  # a level's own settings, named by the tag
        target, keys = d, top
    key = rng.choice(keys)
    if key == "level":
        level = rng.choice([0, 1, 4, 9, 10, 255])
    elif key == "tag":
        tag = rng.choice([b"\0\0\0\0", b"\xff\xff\xff\xff", os.urandom(4)])
    else:
        value = rng.choice(EXTREMES + [0.5, "x", None, [], {}, True, "00000000"])
        (d if key in top else target)[key] = value
    return container.pack_header(level, tag, d) + packed[n:]


def _with_frame_field(packed: bytes, rng: random.Random) -> bytes:
    frames = [r for r in _regions(packed) if r[2] == "frame head"]
    if not frames:
        return packed + bytes([rng.randrange(256)])
    start = rng.choice(frames)[0]
    kind, raw, pay, crc, period = container.FRAME_HEAD.unpack_from(packed, start)
    field = rng.randrange(5)
    vals = [kind, raw, pay, crc, period]
    bound = {0: 256, 4: 2**16}.get(field, 2**32)
    vals[field] = rng.choice([0, 1, 2, 13, 0xFF, 4097, raw - 1, raw + 1, pay + 4, 2**31, 2**32 - 1]) % bound
    return packed[:start] + container.FRAME_HEAD.pack(*vals) + packed[start + container.FRAME_HEAD.size :]


def mutate(packed: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["bitflip", "byte", "truncate", "append", "header field", "frame field", "multi"])
    b = bytearray(packed)
    if kind == "bitflip":
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif kind == "byte":
        b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == "truncate":
        start, end, name = rng.choice(_regions(packed))
        return f"truncate in {name}", bytes(b[: rng.randrange(start, end)])
    elif kind == "append":
        return kind, packed + os.urandom(rng.randrange(1, 64))
    elif kind == "header field":
        return kind, _with_header_field(packed, rng)
    elif kind == "frame field":
        return kind, _with_frame_field(packed, rng)
    else:
        for _ in range(rng.randrange(2, 10)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    return kind, bytes(b)


def archive(members: list[tuple[str, bytes]]) -> bytes:
    c = nncomp.compressor(config=FUZZ_CONFIG, members=[(p, len(d)) for p, d in members])
    return b"".join(c.compress(d) for _, d in members) + c.flush()


def run(mutants: int, seed: int, verbose: bool = False) -> dict:
    rng = random.Random(seed)
    streams = [(o, nncomp.compress(o, config=FUZZ_CONFIG)) for o in originals(seed)]
    text = originals(seed)[0]
    members = [("docs/a.txt", text[:1200]), ("docs/sub/b.txt", text[1200:2000]), ("empty", b"")]
    streams.append((b"".join(d for _, d in members), archive(members)))  # decoded archives give the concatenation
    table = b"".join(bytes([i % 256, 7, 0, 1, (3 * i) % 256, 0, 0, 9, 4, i // 256, 2, 2, 0]) for i in range(150))
    streams.append((table, nncomp.compress(table, level=1)))  # a level's preset header; a frame with a record length
    counts = {"mutants": 0, "clean errors": 0, "correct outputs": 0, "failures": 0}
    failures = []
    old = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    try:
        for i in range(mutants):
            original, packed = streams[i % len(streams)]
            kind, m = mutate(packed, rng)
            counts["mutants"] += 1
            signal.alarm(TIMEOUT_S)
            try:
                out = nncomp.decompress(m)
                ok = out == original
                counts["correct outputs" if ok else "failures"] += 1
                if not ok:
                    failures.append((i, kind, "wrong output accepted"))
            except nncomp.NNCError:
                counts["clean errors"] += 1
            except Timeout:
                counts["failures"] += 1
                failures.append((i, kind, f"no answer within {TIMEOUT_S}s"))
            except Exception as e:  # noqa: BLE001 - any other exception is what we are looking for
                counts["failures"] += 1
                failures.append((i, kind, f"{type(e).__name__}: {e}"))
            finally:
                signal.alarm(0)
            if verbose and (i + 1) % 500 == 0:
                print(f"{i + 1} mutants, {counts['failures']} failures, {time.perf_counter() - t0:.0f}s", flush=True)
    finally:
        signal.signal(signal.SIGALRM, old)
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    counts["failure details"] = failures[:20]
    return counts


def run_cli(n: int, seed: int) -> dict:
    """Mutants through `python -m nncomp decompress`: exit 1, one stderr line, no traceback, no output."""
    rng = random.Random(seed + 1)
    original = originals(seed)[0]
    packed = nncomp.compress(original, config=FUZZ_CONFIG)
    res = {"cli mutants": 0, "cli clean": 0, "cli failures": 0, "cli failure details": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            kind, m = mutate(packed, rng)
            path = Path(tmp) / f"m{i}.nnc"
            path.write_bytes(m)
            r = subprocess.run([sys.executable, "-m", "nncomp", "decompress", "-q", str(path)], capture_output=True,
                               timeout=300)
            res["cli mutants"] += 1
            out = Path(tmp) / f"m{i}"
            err = r.stderr.decode(errors="replace").strip().splitlines()
            if r.returncode == 0 and out.exists() and out.read_bytes() == original:
                res["cli clean"] += 1
            elif r.returncode == 1 and len(err) == 1 and "Traceback" not in r.stderr.decode(errors="replace") \
                    and not out.exists() and not list(Path(tmp).glob(".*.tmp")):
                res["cli clean"] += 1
            else:
                res["cli failures"] += 1
                res["cli failure details"].append((i, kind, r.returncode, err[-3:]))
            out.unlink(missing_ok=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mutants", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cli", type=int, default=0, help="also send this many mutants through the CLI")
    args = ap.parse_args()
    summary = run(args.mutants, args.seed, verbose=True)
    if args.cli:
        summary.update(run_cli(args.cli, args.seed))
    print(json.dumps(summary, indent=2))
    sys.exit(1 if summary["failures"] or summary.get("cli failures") else 0)


if __name__ == "__main__":
    main()

"""What secondary estimation (an APM, as in lpaq and paq8) would save after level 5's mixer, measured
offline: no format change, nothing in the codec.

    python bench/sse_offline.py ../shared/corpus/eval/calgary/paper2 ../shared/corpus/eval/calgary/geo

Compresses each FILE at level 5, keeping every block's coded distributions, then replays them
through an APM over the byte's binary decomposition: each of the 8 binary decisions on the way to
the byte has a probability (the distribution's mass below that node), which the APM refines from a
table of 33 interpolated buckets of its stretch, per context (the node; or the node and the previous
byte), and averages with the input. Its tables learn once per block, from the block's summed errors,
as the codec's mixer does; float arithmetic, which the codec could not use as is (exact.py). Prints
the bytes the distributions cost as coded and after the APM, per variant.

With --steps, the tables learn after every step of the lanes (and, for comparison, once per 32
steps), each entry at the rate 1/(updates + 1.5) down to a floor, as lpaq's APM does:

    python bench/sse_offline.py --steps calgary/paper2 calgary/geo calgary/obj2:120000 canterbury/kennedy.xls:200000

(names under ../shared/corpus/eval; ":N" takes the first N bytes instead of --limit). With --top,
an APM of one event instead: whether the byte is the most probable one (replay_top).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nncomp  # noqa: E402
from nncomp import predictor  # noqa: E402

BUCKETS = 33
EVAL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "eval"


def coded_blocks(data: bytes, level: int) -> list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Per block, per step: (probabilities (N,256), bytes (N,), previous bytes (N,)) of its valid positions."""
    blocks, predict = [], predictor.Predictor.predict_block

    def keep(self, x, valid):
        prev = torch.cat([self.prev.unsqueeze(1), x[:, :-1]], 1)
        freq = predict(self, x, valid)
        p = freq / freq.sum(-1, keepdim=True)
        blocks.append([(p[:, t][v].numpy(), x[:, t][v].numpy().astype(np.int64), prev[:, t][v].numpy().astype(np.int64))
                       for t in range(x.shape[1]) if (v := valid[:, t]).any()])
        return freq

    predictor.Predictor.predict_block = keep
    try:
        nncomp.compress(data, level, threads=1)
    finally:
        predictor.Predictor.predict_block = predict
    return blocks


def replay(blocks, by_previous: bool, rate: float, weight: float, every: int = 0, counted: bool = False) -> tuple[float, float]:
    """(bytes as coded, bytes after the APM). The tables learn after every `every` steps and at the end
    of each block (every 0: at the end only); `counted`: each entry at rate 1/(its updates + 1.5),
    at least `rate`."""
    centers = np.linspace(-8, 8, BUCKETS)
    rows = 256 * 256 if by_previous else 256
    table = np.tile(1 / (1 + np.exp(-centers)), (rows, 1))
    count = np.zeros((rows, BUCKETS))
    before = after = 0.0
    for block in blocks:
        updates = []
        for i, (p, x, prev) in enumerate(block):
            n = len(x)
            cum = np.concatenate([np.zeros((n, 1)), np.cumsum(p, 1)], 1)
            r = np.arange(n)
            for d in range(8):
                prefix = x >> (8 - d)
                lo, half = prefix << (8 - d), 1 << (7 - d)
                p0, p1 = cum[r, lo + half] - cum[r, lo], cum[r, lo + 2 * half] - cum[r, lo + half]
                q = np.clip(p1 / (p0 + p1), 1e-6, 1 - 1e-6)
                bit = (x >> (7 - d)) & 1
                pos = (np.clip(np.log(q / (1 - q)), -8, 8 - 1e-9) + 8) / 16 * (BUCKETS - 1)
                j = np.floor(pos).astype(np.int64)
                w = pos - j
                ctx = (prefix | 1 << d) + (prev * 256 if by_previous else 0)
                refined = (1 - w) * table[ctx, j] + w * table[ctx, j + 1]
                mixed = (1 - weight) * q + weight * refined
                before -= np.log2(np.where(bit == 1, q, 1 - q)).sum()
                after -= np.log2(np.clip(np.where(bit == 1, mixed, 1 - mixed), 1e-9, 1)).sum()
                updates.append((ctx, j, w, bit - refined))
            if (every and (i + 1) % every == 0) or i == len(block) - 1:  # these steps' errors, once they are coded
                for ctx, j, w, err in updates:
                    for jj, share in ((j, 1 - w), (j + 1, w)):
                        step = np.maximum(1.0 / (count[ctx, jj] + 1.5), rate) if counted else rate
                        np.add.at(table, (ctx, jj), step * err * share)
                        if counted:
                            np.add.at(count, (ctx, jj), share)
                updates = []
                np.clip(table, 1e-4, 1 - 1e-4, out=table)
    return before / 8, after / 8


def replay_top(blocks, by_previous: bool, rate: float, weight: float) -> tuple[float, float]:
    """(bytes as coded, bytes after the APM) for an APM of one event only, "the byte is the most
    probable one", learned after every step at counted rates: the top byte takes the refined
    probability and the others share the rest in their proportions."""
    centers = np.linspace(-8, 8, BUCKETS)
    rows = 256 if by_previous else 1
    table = np.tile(1 / (1 + np.exp(-centers)), (rows, 1))
    count = np.zeros((rows, BUCKETS))
    before = after = 0.0
    for block in blocks:
        for p, x, prev in block:
            r = np.arange(len(x))
            top = p.argmax(1)
            q = np.clip(p[r, top], 1e-6, 1 - 1e-6)
            hit = x == top
            pos = (np.clip(np.log(q / (1 - q)), -8, 8 - 1e-9) + 8) / 16 * (BUCKETS - 1)
            j = np.floor(pos).astype(np.int64)
            w = pos - j
            ctx = prev if by_previous else np.zeros_like(prev)
            refined = (1 - w) * table[ctx, j] + w * table[ctx, j + 1]
            mixed = np.clip((1 - weight) * q + weight * refined, 1e-6, 1 - 1e-6)
            px = p[r, x]
            before -= np.log2(px).sum()
            after -= np.where(hit, np.log2(mixed), np.log2((1 - mixed) * px / (1 - q))).sum()
            for jj, share in ((j, 1 - w), (j + 1, w)):
                np.add.at(table, (ctx, jj), np.maximum(1.0 / (count[ctx, jj] + 1.5), rate) * (hit - refined) * share)
                np.add.at(count, (ctx, jj), share)
            np.clip(table, 1e-4, 1 - 1e-4, out=table)
    return before / 8, after / 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--limit", type=int, default=200000, help="bytes from the start of each file")
    ap.add_argument("--steps", action="store_true", help="learn after every step, at counted rates (see above)")
    ap.add_argument("--top", action="store_true", help="an APM of the most probable byte only (replay_top)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("file\tcontext\tlearns\trate\tweight\tcoded\tafter_apm\tchange")
    for f in args.files:
        name, _, limit = f.partition(":")
        path = Path(name) if Path(name).exists() else EVAL / name
        blocks = coded_blocks(path.read_bytes()[: int(limit or args.limit)], args.level)
        if args.top:
            for by_previous in (False, True):
                for rate in (0.02, 0.005):
                    for weight in (0.5, 1.0):
                        b, a = replay_top(blocks, by_previous, rate, weight)
                        print(f"{path.name}\t{'top+previous' if by_previous else 'top'}\tevery step\t{rate}\t{weight}\t{b:.0f}\t"
                              f"{a:.0f}\t{100 * (a - b) / b:+.2f}%", flush=True)
            continue
        for by_previous in (False, True):
            for every in ((1, 32) if args.steps else (0,)):
                for rate in (0.02, 0.005):
                    for weight in (0.5, 0.75):
                        b, a = replay(blocks, by_previous, rate, weight, every, counted=args.steps)
                        learns = f"every {every} steps" if every else "per block"
                        print(f"{path.name}\t{'node+previous' if by_previous else 'node'}\t{learns}\t{rate}\t{weight}\t{b:.0f}\t"
                              f"{a:.0f}\t{100 * (a - b) / b:+.2f}%", flush=True)


if __name__ == "__main__":
    main()

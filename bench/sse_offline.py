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


def coded_blocks(data: bytes, level: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(probabilities (N,256), bytes (N,), previous bytes (N,)) of each block's valid positions."""
    blocks, predict = [], predictor.Predictor.predict_block

    def keep(self, x, valid):
        prev = torch.cat([self.prev.unsqueeze(1), x[:, :-1]], 1)
        freq = predict(self, x, valid)
        v = valid.numpy()
        blocks.append(((freq / freq.sum(-1, keepdim=True)).numpy()[v], x.numpy()[v], prev.numpy()[v]))
        return freq

    predictor.Predictor.predict_block = keep
    try:
        nncomp.compress(data, level, threads=1)
    finally:
        predictor.Predictor.predict_block = predict
    return blocks


def replay(blocks, by_previous: bool, rate: float, weight: float) -> tuple[float, float]:
    """(bytes as coded, bytes after the APM)."""
    centers = np.linspace(-8, 8, BUCKETS)
    table = np.tile(1 / (1 + np.exp(-centers)), ((256 * 256 if by_previous else 256), 1))
    before = after = 0.0
    for p, x, prev in blocks:
        n, x, prev = len(x), x.astype(np.int64), prev.astype(np.int64)
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(p, 1)], 1)
        r = np.arange(n)
        updates = []
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
            err = bit - refined
            updates.append((ctx, j, err * (1 - w), err * w))
        for ctx, j, e0, e1 in updates:  # the block's errors, applied once it is coded
            np.add.at(table, (ctx, j), rate * e0)
            np.add.at(table, (ctx, j + 1), rate * e1)
        np.clip(table, 1e-4, 1 - 1e-4, out=table)
    return before / 8, after / 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--limit", type=int, default=200000, help="bytes from the start of each file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("file\tcontext\trate\tweight\tcoded\tafter_apm\tchange")
    for f in args.files:
        blocks = coded_blocks(Path(f).read_bytes()[: args.limit], args.level)
        for by_previous in (False, True):
            for rate in (0.02, 0.005):
                for weight in (0.5, 0.75):
                    b, a = replay(blocks, by_previous, rate, weight)
                    print(f"{Path(f).name}\t{'node+previous' if by_previous else 'node'}\t{rate}\t{weight}\t{b:.0f}\t{a:.0f}\t"
                          f"{100 * (a - b) / b:+.2f}%", flush=True)


if __name__ == "__main__":
    main()

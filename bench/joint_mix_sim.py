"""How should a joint stream mix the stream's model with a fresh one? Simulated from code lengths.

    python bench/joint_mix_sim.py paper1+paper2,progc+progp       # level 5, Calgary files
    python bench/joint_mix_sim.py paper1+paper2 --keep-moments    # B after A as format 21 met it

For each pair A+B: B's per-byte code lengths from the prior's fresh state (alone) and after A (the
stream's model going on, unmixed), with each position's total frequency, both encoder-side at level 5
without long-range references. Then, replayed in the decoder's order (step by step, lanes side by
side), the cost of B under linear mixtures p = w p_after + (1 - w) p_alone whose weight learns by
gradient steps on the lanes' mean (rate 1/64, w in [1/64, 63/64]): one weight, one per lane, and one
per bucket of how sure the two models are (the ratio of their totals, as nncomp/mixture.py). A
mixture of two models needs only each one's probability of the byte that came, so no model runs
twice. Prints bytes per variant.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nncomp import api, codec  # noqa: E402
from nncomp.codec import Engine, looks_binary  # noqa: E402
from nncomp.config import level_config  # noqa: E402
from nncomp.contexts import Frame  # noqa: E402
from nncomp.contexts.record import find_period  # noqa: E402

CALGARY = HERE.parent.parent / "shared" / "corpus" / "eval" / "calgary"
RATIOS = [-4, -2, -1, -0.5, 0.5, 1, 2, 4]  # log2 of fresh total / stream total at the buckets' bounds


def costs(engine: Engine, data: bytes, new: bool) -> tuple[np.ndarray, np.ndarray]:
    """(bits per byte, log2 of the total frequency per byte) of one frame, in the frame's byte order."""
    totals = []
    lengths = codec._code_lengths

    def record(freq, x):
        totals.append(torch.log2(freq.sum(-1)))
        return lengths(freq, x)

    codec._code_lengths = record
    try:
        bits = engine.encode_frame(data, Frame(new, find_period(data), looks_binary(data)), code=False,
                                   with_costs=True)[1]
    finally:
        codec._code_lengths = lengths
    return bits, torch.cat(totals, 1).reshape(-1)[: len(data)].numpy()


def mixed_cost(p_after, p_alone, context, steps) -> float:
    """Bytes of the mixture whose weight per context value learns after every step."""
    w = np.full(context.max() + 1, 0.5)
    total = 0.0
    for s0, s1 in zip(steps[:-1], steps[1:]):
        c, pa, pf = context[s0:s1], p_after[s0:s1], p_alone[s0:s1]
        p = w[c] * pa + (1 - w[c]) * pf
        total -= np.log2(p).sum()
        lanes = np.bincount(c, minlength=len(w))
        np.add.at(w, c, (pa - pf) / p / 64 / lanes[c])
        w = np.clip(w, 1 / 64, 63 / 64)
    return total / 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", help="A+B,C+D,... (Calgary file names)")
    ap.add_argument("--keep-moments", action="store_true",
                    help="B goes on from A's optimizer moments (a frame of A's dataset: format 21's boundary)")
    args = ap.parse_args()
    cfg, prior = level_config(5), api.load_model("default")
    for pair in args.pairs.split(","):
        a, b = pair.split("+")
        A, B = (CALGARY / a).read_bytes(), (CALGARY / b).read_bytes()
        with torch.inference_mode():
            alone, alone_total = costs(Engine(cfg, prior), B, False)
            engine = Engine(cfg, prior)
            costs(engine, A, False)
            after, after_total = costs(engine, B, not args.keep_moments)
        _, length = cfg.lane_layout(len(B))
        i = np.arange(len(B))
        order = np.lexsort((i // length, i % length))  # step by step, lanes side by side
        steps = np.searchsorted((i % length)[order], np.arange(length + 1))
        p_after, p_alone = 2.0 ** -after[order], 2.0 ** -alone[order]
        contexts = {"one weight": np.zeros(len(B), dtype=np.int64), "a weight per lane": (i // length)[order],
                    "per confidence bucket": np.digitize((alone_total - after_total)[order], RATIOS)}
        out = [f"alone {alone.sum() / 8:,.0f}", f"after A {after.sum() / 8:,.0f}"]
        out += [f"{name} {mixed_cost(p_after, p_alone, c, steps):,.0f}" for name, c in contexts.items()]
        print(f"{pair}: " + "; ".join(out), flush=True)


if __name__ == "__main__":
    main()

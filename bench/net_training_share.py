"""What training the network on less of each block would buy at level 5, and what it would cost.

    python bench/net_training_share.py                 # sizes on ten eval files, then speed rounds
    python bench/net_training_share.py --variants all-layers,level-5 --no-sizes --rounds 4

The network's training step (its backward pass: float64 products, as 16-bit gradients over 2,048
positions do not fit float32's exact range) was a third of level 5's decoding time. Ways to do
less of it, all format changes, are compared here with level 5 as it is ('level-5': from a prior,
the embedding and layer 0 keep the prior's weights, predictor.PRIOR_LOWEST):

* 'all-layers': every layer and the embedding learn (format 10);
* 'head-only': layer 1 keeps the prior's weights too, only the head learns;
* 'half-lanes': the network learns from half of the lanes of each block, the first half on even
  blocks and the second on odd ones (lanes are independent sequences, so a lane slice of the
  block's forward cache is that slice's whole forward pass); the mixer still learns from all;
* 'every-2': the network learns on every other block (ModelConfig.learn_every = 2), all lanes.

Sizes are encoder-side, without the stream's header (which lists 'every-2's settings in full but
names level 5's preset in a few bytes): each variant's compress() of each file, the default prior;
speed is whole round trips of one input, the variants interleaved in one process (this machine's
drift falls on all alike), each output decoded and checked. Nothing here is used by the codec.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nncomp  # noqa: E402
from nncomp import container  # noqa: E402
from nncomp.config import LEVELS  # noqa: E402
from nncomp.heap import keep_freed_memory  # noqa: E402
from nncomp import predictor  # noqa: E402
from nncomp.predictor import Predictor  # noqa: E402

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "eval"
# (file, bytes taken from its start; None: all): text, source, a table and object code
FILES = [("calgary/paper2", None), ("calgary/progl", None), ("calgary/paper1", None), ("calgary/progc", None),
         ("calgary/news", 100000), ("calgary/book2", 150000), ("canterbury/alice29.txt", 100000),
         ("calgary/book1", 300000), ("calgary/obj2", None), ("canterbury/kennedy.xls", 300000)]


def lanes_of(x, sel: slice):
    """Every tensor of a (nested) forward cache, sliced along its first axis: the lanes."""
    if isinstance(x, torch.Tensor):
        return x[sel]
    if isinstance(x, dict):
        return {k: lanes_of(v, sel) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(lanes_of(v, sel) for v in x)
    return x


VARIANTS = ("all-layers", "level-5", "head-only", "half-lanes", "every-2")
_learn_net = Predictor._learn_net


def _learn_half(self: Predictor, cache: dict, gq: torch.Tensor, sc: float) -> None:
    lanes = gq.shape[0]
    if lanes >= 2:
        half = lanes // 2
        sel = slice(0, half) if self.blocks_seen % 2 == 0 else slice(half, lanes)
        cache, gq = lanes_of(cache, sel), gq[sel]
    _learn_net(self, cache, gq, sc)


@contextlib.contextmanager
def variant(name: str):
    """The level-5 settings of a variant, with the predictor patched for as long as it is in use."""
    base, lowest = LEVELS[5], predictor.PRIOR_LOWEST
    if name == "every-2":
        yield replace(base, model=replace(base.model, learn_every=2))
        return
    if name == "half-lanes":
        Predictor._learn_net = _learn_half
    if name in ("all-layers", "head-only"):
        predictor.PRIOR_LOWEST = 0 if name == "all-layers" else LEVELS[5].model.n_layer
    try:
        yield base
    finally:
        Predictor._learn_net, predictor.PRIOR_LOWEST = _learn_net, lowest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--no-sizes", action="store_true", help="skip the sizes, time only")
    ap.add_argument("--speed-file", default=str(EVAL / "calgary" / "book1"))
    ap.add_argument("--speed-bytes", type=int, default=131072, help="from the start of --speed-file (64 lanes at 131072)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    names = args.variants.split(",")
    if not set(names) <= set(VARIANTS):
        raise SystemExit(f"variants are {', '.join(VARIANTS)}")
    keep_freed_memory()  # as the command line does

    if not args.no_sizes:
        inputs = [(f.split("/")[-1], (EVAL / f).read_bytes()[:n]) for f, n in FILES]
        totals = {}
        for name in names:
            sizes = []
            with variant(name) as cfg:
                for _, data in inputs:
                    packed = nncomp.compress(data, config=cfg, model="default", threads=args.threads)
                    sizes.append(len(packed) - container.header_length(packed[: container.HEADER_FIXED]))
            totals[name] = sum(sizes)
            rel = f" ({100 * (totals[name] / totals[names[0]] - 1):+.2f} % against {names[0]})" if name != names[0] else ""
            print(f"{name:10} {totals[name]:>9,} bytes after the header{rel}: "
                  + ", ".join(f"{f} {s:,}" for (f, _), s in zip(inputs, sizes)), flush=True)

    data = Path(args.speed_file).read_bytes()[: args.speed_bytes]
    speed = {name: {"c": [], "d": []} for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # each round starts with another
            with variant(name) as cfg:
                t = time.perf_counter()
                packed = nncomp.compress(data, config=cfg, model="default", threads=args.threads)
                tc = time.perf_counter() - t
                t = time.perf_counter()
                ok = nncomp.decompress(packed, threads=args.threads) == data
                td = time.perf_counter() - t
            if not ok:
                raise SystemExit(f"{name}: round trip FAILED")
            speed[name]["c"].append(len(data) / tc / 1e3)
            speed[name]["d"].append(len(data) / td / 1e3)
            print(f"round {r + 1} {name:10} {len(packed):>8,} bytes  compress {speed[name]['c'][-1]:6.2f} KB/s  "
                  f"decompress {speed[name]['d'][-1]:6.2f} KB/s", flush=True)
    for name in names:
        print(f"median {name:10} compress {statistics.median(speed[name]['c']):6.2f} KB/s  "
              f"decompress {statistics.median(speed[name]['d']):6.2f} KB/s")


if __name__ == "__main__":
    main()

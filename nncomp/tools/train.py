"""Train a prior offline with the codec's own exact arithmetic, so that what was trained is what decodes.

Training is compression without the coder: chunks of the input (shuffled, each starting with empty
context statistics, as a new file would) go through the same predict-then-learn steps as
`nncomp compress`. A deterministic share of the chunks is held back and measured by real
compression before and after training.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..codec import Engine
from ..config import CodecConfig
from ..errors import NNCError
from ..fileio import regular_files
from ..predictor import Policy
from ..prior import SHAPE_FIELDS, Prior


@dataclass
class TrainResult:
    prior: Prior
    bytes_seen: int
    holdout_bytes: int
    holdout_bpb_before: float
    holdout_bpb_after: float
    curve: list[tuple[int, float, float | None]] = field(default_factory=list)  # (bytes, train bpb, held-out bpb)


def collect(paths: list[str | Path]) -> list[tuple[str, bytes]]:
    """Files under the given files and directories, in sorted path order (symlinks skipped)."""
    out = []
    for p in map(Path, paths):
        if p.is_file():
            out.append((str(p), p.read_bytes()))
        elif p.is_dir():
            out.extend((str(f), f.read_bytes()) for f in regular_files(p))
        else:
            raise NNCError(f"{p}: no such file or directory")
    if not out:
        raise NNCError("no training data")
    return out


def split_chunks(files: list[tuple[str, bytes]], chunk: int, holdout_every: int) -> tuple[list[bytes], list[bytes]]:
    """Cut each file into chunks; every holdout_every-th chunk (in path order) is held back."""
    train, held = [], []
    i = 0
    for _, data in files:
        for start in range(0, len(data), chunk):
            (held if holdout_every and i % holdout_every == holdout_every - 1 else train).append(data[start : start + chunk])
            i += 1
    return train, held


def holdout_bpb(chunks: list[bytes], cfg: CodecConfig, prior: Prior | None) -> float:
    """Bits per byte of coding each held-out chunk as its own file, with online adaptation."""
    bits = 0.0
    for c in chunks:
        _, costs = Engine(cfg, prior).encode_frame(c, code=False, with_costs=True)
        bits += float(costs.sum())
    n = sum(len(c) for c in chunks)
    return bits / n if n else 0.0


def train_prior(paths: list[str | Path], cfg: CodecConfig, init: Prior | None, *, budget: int | None = None,
                chunk: int = 1 << 16, holdout_every: int = 20, holdout_max: int = 1 << 18, eval_every: int = 1 << 22,
                seed: int = 0, threads: int | None = None, progress: Callable[[int], None] | None = None,
                log: Callable[[str], None] | None = None, info: dict | None = None,
                checkpoint: Callable[[Prior], None] | None = None, mixer_only: bool = False) -> TrainResult:
    """Train from `init` (None: seeded random weights) on chunks of the files under `paths`.

    Every `eval_every` bytes the held-out cost is measured, logged, and the prior so far passed to
    `checkpoint` (so a long run can be stopped and still leave a model). `mixer_only` keeps the
    network's weights and trains the mixing weights alone (after float pretraining, pretrain.py).
    """
    files = collect(paths)
    train, held = split_chunks(files, chunk, holdout_every)
    if not held and train:  # fewer chunks than holdout_every: the last one is held back
        held = [train.pop()]
    held = held[: max(1, holdout_max // chunk)]
    if not train:
        raise NNCError(f"too little training data: its only chunk (up to {chunk:,} bytes) is held back to measure "
                       "the result; use more input or a smaller --chunk")
    rng = random.Random(seed)
    order = list(range(len(train)))
    rng.shuffle(order)
    budget = budget or sum(len(c) for c in train)
    before = holdout_bpb(held, cfg, init)
    if log:
        log(f"0\t{before:.4f}\t{before:.4f}")
    # Short chunks are learned from in lanes of min_lane, not in the shorter lanes that make their
    # coding faster (short_lane): training wants the steps. The transformer's mixing weight stays where
    # the mixer puts it at the start of every file: learned, the network co-adapts to a smaller weight
    # and starts files overconfident. A prior learns in every layer; coding with it adapts the upper ones.
    # It learns with the model's own momentum (ModelConfig.beta1), the one the built-in prior had, not
    # the smaller one coding uses to follow a file (CodecConfig.momentum).
    policy = Policy(net=not mixer_only, gamma=False, lowest=0)
    eng = Engine(replace(cfg, short_lane=0, momentum=0.0), init, threads, policy)
    eng.progress = progress
    seen, window, curve, next_eval = 0, [], [(0, before, before)], eval_every
    t0 = time.perf_counter()
    for k in range(len(order) * 1000):
        if seen >= budget:
            break
        data = train[order[k % len(order)]]
        eng.clear_counts()  # every chunk starts like a new file
        _, costs = eng.encode_frame(data, code=False, with_costs=True)
        seen += len(data)
        window.append(float(costs.mean()))
        if seen >= next_eval or seen >= budget:
            snap = _snapshot(eng, cfg, dict(info or {}, bytes_seen=seen, seed=seed, chunk=chunk))
            now = holdout_bpb(held, cfg, snap)
            curve.append((seen, float(np.mean(window)), now))
            if log:
                log(f"{seen}\t{np.mean(window):.4f}\t{now:.4f}\t{time.perf_counter() - t0:.0f}s")
            if checkpoint:
                snap.info.update(holdout_bpb_before=round(before, 4), holdout_bpb_after=round(now, 4))
                checkpoint(snap)
            window, next_eval = [], seen + eval_every
    prior = _snapshot(eng, cfg, dict(info or {}, bytes_seen=seen, seed=seed, chunk=chunk,
                                      holdout_bpb_before=round(before, 4), holdout_bpb_after=round(curve[-1][2], 4)))
    return TrainResult(prior, seen, sum(len(c) for c in held), before, curve[-1][2], curve)


def _snapshot(eng: Engine, cfg: CodecConfig, info: dict) -> Prior:
    shape = {k: getattr(cfg.model, k) for k in SHAPE_FIELDS}
    params = {k: v.clone() for k, v in eng.pred.net.params.items()}
    return Prior(shape, tuple(cfg.orders), params, eng.pred.plain_alpha().clone(), info)

"""A joint stream's later dataset coded by a mixture: the model that went on through the datasets
before it, and one started afresh on this dataset alone.

What one dataset teaches helps the next in places and misleads it in others (two papers of one
author share words; a novel's statistics mislead a technical book). The mixture
p = w * p_stream + (1 - w) * p_fresh, with w learned online by gradient steps on the code length,
takes from each model where it predicts better, and both models learn from every byte as they would
alone. w is chosen per position by how sure each model is (a bucket of the ratio of their totals).
Every quantity here is an integer, so encoder and decoder agree on every machine: each distribution
is scaled to NORM_BITS, w is WEIGHT_BITS fixed point, and its update is a floor division.

`Mixture` speaks the predictor's protocol (codec.Engine drives it as it drives a Predictor).
"""

from __future__ import annotations

import torch

NORM_BITS = 24  # each model's distribution is scaled to a total of about 2**NORM_BITS
WEIGHT_BITS = 16  # w = weight / 2**WEIGHT_BITS
ONE = 1 << WEIGHT_BITS
W_MIN = ONE >> 6  # neither model's share falls below 1/64: it may be needed again
RATE_SHIFT = 6  # a step of w is 1/64 of the lanes' mean gradient

# Bounds of the weight's buckets, as ratios p / q of the fresh model's total frequency to the stream's
# (the larger total, the less sure a model is): each lane mixes by how sure the two models are.
RATIOS = ((1, 16), (1, 4), (1, 2), (70, 99), (99, 70), (2, 1), (4, 1), (16, 1))
BUCKETS = len(RATIOS) + 1
_P, _Q = (torch.tensor(c, dtype=torch.int64) for c in zip(*RATIOS))


def scaled(freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(floor(freq * 2**NORM_BITS / total), total) in int64 for integer-valued frequencies (..., 256)
    float64: both models' distributions on one scale before mixing."""
    f = freq.long()
    total = f.sum(-1, keepdim=True)
    return torch.div(f << NORM_BITS, total, rounding_mode="floor"), total.squeeze(-1)


def bucket(stream_total: torch.Tensor, fresh_total: torch.Tensor) -> torch.Tensor:
    """The weight bucket of each position: how many RATIOS the fresh-to-stream total ratio exceeds."""
    return (fresh_total.unsqueeze(-1) * _Q > stream_total.unsqueeze(-1) * _P).sum(-1)


def mix(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The frequencies coded with, from scaled distributions (..., 256) and the weight of each
    position (...): float64 holding integers below 2**41, never zero."""
    w = w.unsqueeze(-1)
    return (w * a + (ONE - w) * b + 1).double()


def step(weights: torch.Tensor, k: torch.Tensor, mixed: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
         sym: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The weights (BUCKETS,) after lanes in buckets k (L,) coded sym (L,) under mixed = w * a +
    (ONE - w) * b + 1: per bucket a gradient step on the code length, d(-log p)/dw = -(a - b) / p,
    averaged over its valid lanes."""
    idx = sym.unsqueeze(-1)
    pa, pb, pm = a.gather(-1, idx).squeeze(-1), b.gather(-1, idx).squeeze(-1), mixed.gather(-1, idx).squeeze(-1).long()
    # pm is ONE * p on a's scale, so this is (a - b) / p in units of 2**-WEIGHT_BITS (below 2**57)
    g = torch.div((pa - pb) << (2 * WEIGHT_BITS), pm, rounding_mode="floor")
    k, g = k[valid], g[valid]
    sums = torch.zeros(BUCKETS, dtype=torch.int64).index_add_(0, k, g)
    lanes = torch.bincount(k, minlength=BUCKETS)
    return (weights + torch.div(sums, (lanes << RATE_SHIFT).clamp(min=1), rounding_mode="floor")).clamp(W_MIN, ONE - W_MIN)


class Mixture:
    """Two predictors coding one dataset together (see the module): `stream` went on through the
    datasets before it, `fresh` started from the prior's fresh state at this dataset."""

    def __init__(self, stream, fresh):
        self.stream, self.fresh = stream, fresh
        self.weights = torch.full((BUCKETS,), ONE // 2, dtype=torch.int64)
        self._last: tuple | None = None  # decoder: (bucket, mixed, a, b) of the step predicted

    def start_frame(self, lanes: int, length: int, frame) -> None:
        self.stream.start_frame(lanes, length, frame)
        self.fresh.start_frame(lanes, length, frame)

    def predict_block(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Mixed frequencies (L,T,256) of a block whose symbols are known; the weight moves step by
        step as the decoder's does."""
        (a, sa), (b, sb) = scaled(self.stream.predict_block(x, valid)), scaled(self.fresh.predict_block(x, valid))
        k = bucket(sa, sb)
        mixed = torch.empty(a.shape, dtype=torch.float64)
        for t in range(x.shape[1]):
            mixed[:, t] = mix(a[:, t], b[:, t], self.weights[k[:, t]])
            self.weights = step(self.weights, k[:, t], mixed[:, t], a[:, t], b[:, t], x[:, t], valid[:, t])
        return mixed

    def learn(self) -> None:
        self.stream.learn()
        self.fresh.learn()

    def begin_block(self, steps: int) -> None:
        self.stream.begin_block(steps)
        self.fresh.begin_block(steps)

    def predict_step(self) -> torch.Tensor:
        (a, sa), (b, sb) = scaled(self.stream.predict_step()), scaled(self.fresh.predict_step())
        k = bucket(sa, sb)
        self._last = (k, mix(a, b, self.weights[k]), a, b)
        return self._last[1]

    def push(self, sym: torch.Tensor, valid: torch.Tensor) -> None:
        self.weights = step(self.weights, *self._last, sym, valid)
        self.stream.push(sym, valid)
        self.fresh.push(sym, valid)

    def finish_block(self) -> None:
        self.stream.finish_block()
        self.fresh.finish_block()

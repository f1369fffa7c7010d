"""The mixer: learned weights that add the transformer's logits and the context statistics together.

The logit of each next byte is a weighted sum (a log-linear mix) of
  * the transformer's logits, times a weight gamma[set];
  * each context row k's log-count scores, times alpha[set, k, bucket_k] + delta[pair, k, bucket_k]
    + byte_delta[last byte, k], where bucket_k is the bit length of that context's total count, and
    whether it has seen one symbol only (pixel rows, bitmap.py, whose scores are log-probabilities:
    the bit length of their first bit's context count);
and of the bonuses the predictor adds for guessed symbols (match model, record column, the count
rows' runs).

The weights are chosen per position by small contexts, all known to encoder and decoder:
  * `set`: how many of the context orders have seen their context before (0..7) and the state of the
    match model (none, a match verified for < 4, < 16 or more bytes): where the long orders or a long
    match know the answer, the short orders and the transformer should count for less;
  * `pair`: the classes (letter, digit, space, punctuation, ...) of the last two bytes, whose weights
    delta start at 0 and are added to alpha;
  * with `byte_weights`, the last byte itself: a weight byte_delta[byte, k] per row, starting at 0,
    added too. The byte before (an opcode, a field's type, a letter) decides which contexts know the
    next one more finely than its class; one weight per row and byte, not per bucket too, is few
    enough to learn within a file.

Every weight is used as an integer (2**-ALPHA_BITS units) and learned from exact integer gradient
sums with element-wise Adam, so both sides hold the same weights after every block. Four kinds of
frame keep their own weights: with or without record contexts (a plain file after a table would
otherwise start with order weights tuned to share the work with the record rows), text or binary
(more than 1/8 control bytes, decided by the encoder and flagged in the frame head; see N_MIX).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .contexts import zeros
from .contexts.counts import N_BUCKETS, TOTAL_BUCKETS
from .contexts.layout import RowLayout
from .exact import LOGIT_FRAC, lookup
from .model import ModelConfig, adam_step

ALPHA_BITS = 8  # weights are integers at 2**-8
ALPHA_LR_SCALE = 5.0  # the mixer has few weights and must move faster than the network
GAMMA_LR_SCALE = 50.0  # ... the transformer's weight faster still: a frame has only a few hundred blocks
# Weight sets per kind of frame (Predictor.mix): 2 * binary + records. Text frames start from the
# prior: its network at weight PRIOR_GAMMA and its context weights, learned beside that network.
# Binary frames start without the network (weight 0; it grows where the network helps) and with every
# context row at its layout's start (contexts/layout.py): a prior trained on text is confidently
# wrong on object code, and beside a good network its low orders have weight near 0.
N_MIX = 4
TEXT_MIXES = 2  # sets 0 and 1 (binary = 0) start from the prior
GAMMA_INIT = (1.0, 1.0, 0.0, 0.0)  # the transformer's weight at the start of each kind of frame
# A prior's network starts text frames below 1 and its weight moves at half the step: learned from
# the prior's start, it settles well below 1, and a fixed 1 makes every file start
# overconfident in the network. Without a prior (level 1) the network starts at 1 with full steps.
PRIOR_GAMMA = 0.7
PRIOR_GAMMA_LR = 0.5
ALPHA_MAX = 2**14
GAMMA_MAX = 2**10
LN2 = 0.6931471805599453

N_SEEN = 8  # orders whose context was seen before: 0..7
N_MATCH = 4  # match model: none, verified length < 4, < 16, >= 16
N_SETS = N_SEEN * N_MATCH
_MATCH_EDGES = torch.tensor([0, 4, 16])  # match states' lower bounds of the verified length
_NO_CELLS = torch.zeros(0, 0, dtype=torch.int64)  # kernels' stand-ins for cells and lengths a frame lacks
_NO_LENGTHS = torch.zeros(0, dtype=torch.int64)
N_CLASSES = 16
N_PAIRS = N_CLASSES * N_CLASSES


def _byte_classes() -> torch.Tensor:
    c = torch.zeros(256, dtype=torch.int64)  # 0: unused
    spans = [(0, 31, 1), (10, 10, 2), (32, 32, 3), (33, 47, 4), (48, 57, 5), (58, 64, 6), (65, 90, 7), (91, 96, 8),
             (97, 122, 9), (123, 127, 10), (128, 191, 11), (192, 255, 12)]  # control, newline, space, ..., UTF-8
    for lo, hi, k in spans:
        c[lo : hi + 1] = k
    for ch, k in ((".", 13), (",", 14), ("'", 15), ('"', 15)):
        c[ord(ch)] = k
    return c


BYTE_CLASS = _byte_classes()
_x = torch.arange(1 << 16)
PAIR = BYTE_CLASS[_x & 255] * N_CLASSES + BYTE_CLASS[_x >> 8]  # pair of classes of the last two bytes
_TABLES_NP = (_MATCH_EDGES.numpy(), PAIR.numpy())


class Cells(NamedTuple):
    """Where a position's weights come from: flat indices into alpha and delta per context row (K, L),
    and the set (L,) (with a time axis after L once stacked over a block)."""

    alpha: torch.Tensor
    delta: torch.Tensor
    set: torch.Tensor
    byte: torch.Tensor | None = None  # (K, L) flat indices into byte_delta, with byte weights only

    @staticmethod
    def stack(steps: list["Cells"]) -> "Cells":
        a, d, s, b = zip(*steps)
        return Cells(torch.stack(a, 2), torch.stack(d, 2), torch.stack(s, 1), None if b[0] is None else torch.stack(b, 2))


class Mixer:
    def __init__(self, layout: RowLayout, prior_alpha: torch.Tensor | None = None, learn_gamma: bool = True,
                 byte_weights: bool = False, kernels=None, ieee_sqrt: bool = True, lazy_pairs: bool = False):
        """`kernels`: kernels.load()'s compiled loops, for the context logits' sum (same results).
        `ieee_sqrt`: as for model.Transformer. `lazy_pairs`: a step moves only the pair weights its
        positions met (_pair_step), as the settings with several steps per block do."""
        self.kernels, self.ieee_sqrt, self.lazy_pairs = kernels, ieee_sqrt, lazy_pairs
        self.rows, self.n_orders = rows, n_orders = layout.rows, layout.orders
        start = [layout.start_weights(binary=mix >= 2, records=mix % 2 == 1) for mix in range(N_MIX)]
        self.alpha = torch.stack(start).view(N_MIX, 1, rows, 1).repeat(1, N_SETS, 1, N_BUCKETS)
        # delta and the moments are mostly of weight sets a file never uses: zero pages until written
        self.delta = zeros(N_MIX, N_PAIRS, rows, N_BUCKETS, dtype=torch.float64)
        self.byte_delta = zeros(N_MIX, 256, rows, dtype=torch.float64) if byte_weights else None
        self.gamma = torch.tensor(GAMMA_INIT, dtype=torch.float64).view(-1, 1).repeat(1, N_SETS)
        self.gamma_lr = [GAMMA_LR_SCALE] * N_MIX
        if prior_alpha is not None:
            if prior_alpha.shape != (n_orders, TOTAL_BUCKETS):
                raise ValueError("mixer weights do not match the context orders")
            # a prior has order rows only, one weight per total-count bucket: contexts that have seen
            # one symbol only start from the same weights (see prior_alpha)
            self.alpha[:TEXT_MIXES, :, :n_orders] = prior_alpha.double().repeat(1, N_BUCKETS // TOTAL_BUCKETS)
            self.gamma[:TEXT_MIXES] = PRIOR_GAMMA
            self.gamma_lr[:TEXT_MIXES] = [GAMMA_LR_SCALE * PRIOR_GAMMA_LR] * TEXT_MIXES
        self.adam = {k: (zeros(*w.shape, dtype=w.dtype), zeros(*w.shape, dtype=w.dtype)) for k, w in self.weights().items()}
        self.uses = torch.zeros(N_SETS, dtype=torch.int64)  # positions per set in frames without records
        self.row_ids = torch.arange(rows).view(-1, 1)
        self.row_offset = self.row_ids * N_BUCKETS
        self.learn_gamma = learn_gamma  # training a prior holds it at its start (train.py)
        self._acc = {}  # _step_compiled's gradient sums per kind of weight, zeros between steps
        self._quantize()

    def weights(self) -> dict[str, torch.Tensor]:
        w = {"alpha": self.alpha, "delta": self.delta, "gamma": self.gamma}
        return w if self.byte_delta is None else {**w, "byte_delta": self.byte_delta}

    def _quantize(self) -> None:
        # the transformer's weight in steps of 2**-ALPHA_BITS, in its own units (a power-of-two scale:
        # exact); alpha and delta are rounded where they are looked up (context_logits), a few cells per
        # position instead of every weight after every block
        self.gamma_q = torch.clamp(torch.round(self.gamma * 2.0**ALPHA_BITS), 0, GAMMA_MAX) * 2.0**-ALPHA_BITS

    def prior_alpha(self) -> torch.Tensor:
        """Order rows of the weights of frames without records, averaged over the sets by use, in the
        buckets of contexts that have seen more than one symbol (what a prior stores; it initializes
        every set, both kinds of bucket: storing both kinds did worse, docs/decisions.md)."""
        w = self.uses.double() / max(1, int(self.uses.sum()))
        return (self.alpha[0, :, : self.n_orders, :TOTAL_BUCKETS] * w.view(-1, 1, 1)).sum(0)

    # -- per position ------------------------------------------------------------------------
    def cells(self, buckets: torch.Tensor, hist: torch.Tensor, match_len: torch.Tensor | None) -> Cells:
        """Weight cells for context rows with confidence buckets (K, L), lane histories hist (L,) and
        the match model's verified lengths (L,) (-1: no match; None: no match model)."""
        if self.kernels:
            return self._cells_compiled(buckets, hist, match_len)
        seen = (buckets[: self.n_orders] > 0).sum(0).clamp(max=N_SEEN - 1)
        if match_len is None:
            state = torch.zeros_like(seen)
        else:
            state = torch.bucketize(match_len, _MATCH_EDGES, right=True)  # how many of 0, 4, 16 it reaches
        s = seen * N_MATCH + state
        cell = self.row_offset[: len(buckets)] + buckets  # (K, L): row and bucket within a set
        size = self.rows * N_BUCKETS
        byte = self.row_ids[: len(buckets)] + (hist & 255) * self.rows if self.byte_delta is not None else None
        return Cells(cell + s * size, cell + lookup(PAIR, hist & 0xFFFF) * size, s, byte)

    def context_logits(self, mix: int, cells: Cells, f: torch.Tensor) -> torch.Tensor:
        """(L,256) logits in 1/LOGIT_FRAC bit from the rows' scores f (K,L,256) (integers below 2**11)."""
        ca, cd, _, cb = cells
        if self.kernels:
            return self._context_logits_compiled(mix, cells, f)

        def units(weights: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
            return lookup(weights[mix].view(-1), cell).mul_(2.0**ALPHA_BITS).round_()  # integers, as float64

        a = units(self.alpha, ca)
        if cb is not None:
            a.add_(units(self.byte_delta, cb))
        w = a.add_(units(self.delta, cd)).clamp_(0, ALPHA_MAX)  # (K,L)
        # products below 2**25, summed over <= 16 rows: exact integers; floor of a power-of-two scale
        return torch.floor((w.unsqueeze(-1) * f).sum(0) * 2.0**-ALPHA_BITS)

    def _cells_compiled(self, buckets: torch.Tensor, hist: torch.Tensor, match_len: torch.Tensor | None) -> Cells:
        K, L = buckets.shape
        ca, cd = torch.empty((K, L), dtype=torch.int64), torch.empty((K, L), dtype=torch.int64)
        s = torch.empty(L, dtype=torch.int64)
        cb = torch.empty((K, L), dtype=torch.int64) if self.byte_delta is not None else _NO_CELLS
        self.kernels.mixer_cells(buckets.numpy(), hist.numpy(), (_NO_LENGTHS if match_len is None else match_len).numpy(),
                                 self.n_orders, self.rows, N_BUCKETS, N_SEEN, N_MATCH, *_TABLES_NP, ca.numpy(), cd.numpy(),
                                 s.numpy(), cb.numpy())
        return Cells(ca, cd, s, cb if self.byte_delta is not None else None)

    def _context_logits_compiled(self, mix: int, cells: Cells, f: torch.Tensor) -> torch.Tensor:
        ca, cd, _, cb = cells
        out = torch.empty(f.shape[1:], dtype=torch.float64)
        byte = self.byte_delta if cb is not None else self.alpha  # (not read without byte weights)
        weights = (w[mix].view(-1).numpy() for w in (self.alpha, self.delta, byte))  # per call: see counts._counts
        self.kernels.context_logits(*weights, ca.numpy(), cd.numpy(), (_NO_CELLS if cb is None else cb).numpy(),
                                    f.numpy(), 2.0**ALPHA_BITS, float(ALPHA_MAX), out.numpy())
        return out

    def net_logits(self, mix: int, s: torch.Tensor, zh: torch.Tensor) -> torch.Tensor:
        """The transformer's logits zh (..., 256) weighted by its set's gamma (s: set per position)."""
        # the product is an integer below 2**29 times 2**-ALPHA_BITS: exact in float64
        return torch.floor(lookup(self.gamma_q[mix], s).unsqueeze(-1) * zh)

    # -- learning ----------------------------------------------------------------------------
    def learn(self, mix: int, gq: torch.Tensor, sc: float, f: torch.Tensor, cells: Cells, zh: torch.Tensor,
              cfg: ModelConfig, lr_scale: float = 1.0) -> None:
        """One Adam step from a block's integer gradients gq (L,T,256) (scale sc, in nats per natural
        logit), scores f (T,K,L,256), cells stacked over the block ((K,L,T), (K,L,T), (L,T), and
        (K,L,T) or None) and the
        transformer's logits zh (L,T,256) (integers, float64). Every sum is over integers below 2**53, so exact in any order:
        per position the |gq| sum to at most ~2**17 (g = (p - onehot) / n, scaled so its largest entry
        is below 2**16) and |zh| < 2**19 (d_model <= 512), over at most 2**16 positions of a block.
        `lr_scale` multiplies every step size (a part of a block learning: Predictor._learn_part)."""
        ca, cd, s, cb = cells
        # d loss / d weight of each row at each position, one position at a time (f is time first, so
        # that each step wrote its scores in place; as one product this layout costs ten times more)
        dots = torch.empty(f.shape[:3], dtype=torch.float64)
        if self.kernels:
            self.kernels.mixer_dots(f.numpy(), gq.numpy(), dots.numpy())
        else:
            for t in range(len(f)):
                dots[t] = torch.einsum("kls,ls->kl", f[t].double(), gq[:, t])
        scale = sc * LN2 / LOGIT_FRAC  # scores and logits are in 1/LOGIT_FRAC bit
        if self.kernels and self.ieee_sqrt:
            self._step_compiled(mix, gq, scale, dots, cells, zh, cfg, lr_scale)
            return
        dots = dots.permute(1, 2, 0)
        grads = {}
        for name, cell in (("alpha", ca), ("delta", cd), ("byte_delta", cb)):
            if cell is None:
                continue
            w = getattr(self, name)[mix]
            g = torch.zeros(w.numel(), dtype=torch.float64)  # rows of contexts this frame lacks: 0
            g.index_add_(0, cell.reshape(-1), dots.reshape(-1))
            grads[name] = g.view(w.shape) * scale
        lr = dict.fromkeys(grads, ALPHA_LR_SCALE * lr_scale)
        if self.learn_gamma:
            g = torch.zeros(N_SETS, dtype=torch.float64)
            g.index_add_(0, s.reshape(-1), torch.einsum("lts,lts->lt", gq, zh).reshape(-1))
            grads["gamma"], lr["gamma"] = g * scale, self.gamma_lr[mix] * lr_scale
        for name in grads:
            if name == "delta" and self.lazy_pairs:
                self._pair_step(mix, cd, grads[name], cfg, lr[name])
                continue
            m, v = self.adam[name]
            adam_step(getattr(self, name)[mix], (m[mix], v[mix]), grads[name], cfg, lr[name], self.ieee_sqrt, self.kernels)
        self._count_uses(mix, s)

    def _count_uses(self, mix: int, s: torch.Tensor) -> None:
        if mix == 0:
            self.uses += torch.bincount(s.reshape(-1), minlength=N_SETS)
        self._quantize()

    def _step_compiled(self, mix: int, gq: torch.Tensor, scale: float, dots: torch.Tensor, cells: Cells, zh: torch.Tensor,
                       cfg: ModelConfig, lr_scale: float) -> None:
        """learn()'s step after the dots (T, K, L), in a compiled loop per kind of weight: the same
        sums and Adam's operations, without a gradient the size of every weight (kernels.py)."""
        ca, cd, s, cb = cells
        lr = cfg.lr * (ALPHA_LR_SCALE * lr_scale)
        for name, cell in (("alpha", ca), ("delta", cd), ("byte_delta", cb)):
            if cell is None:
                continue
            w, (m, v) = getattr(self, name)[mix], self.adam[name]
            if name not in self._acc:
                self._acc[name] = torch.zeros(w.numel(), dtype=torch.float64).numpy()
            block = self.rows * N_BUCKETS if name == "delta" and self.lazy_pairs else 0
            self.kernels.weight_step(w.view(-1).numpy(), m[mix].view(-1).numpy(), v[mix].view(-1).numpy(), self._acc[name],
                                     cell.numpy(), dots.numpy(), scale, block, cfg.beta1, cfg.beta2, lr)
        if self.learn_gamma:
            g = torch.zeros(N_SETS, dtype=torch.float64)
            self.kernels.set_sums(gq.numpy(), zh.numpy(), s.numpy(), g.numpy())
            m, v = self.adam["gamma"]
            adam_step(self.gamma[mix], (m[mix], v[mix]), g * scale, cfg, self.gamma_lr[mix] * lr_scale, True, self.kernels)
        self._count_uses(mix, s)

    def _pair_step(self, mix: int, cd: torch.Tensor, g: torch.Tensor, cfg: ModelConfig, lr: float) -> None:
        """Adam on the pair weights of the pairs these positions met (cells cd), the others keeping
        their weights and moments: a part of a block meets a few of the 256 pairs, and stepping all of
        them four times as often cost more than the rest of its step (docs/decisions.md)."""
        size = self.rows * N_BUCKETS
        pairs = torch.unique(cd.reshape(-1) // size)
        views = [t[mix].view(N_PAIRS, size) for t in (self.delta, *self.adam["delta"])]
        w, m, v = (t.index_select(0, pairs) for t in views)
        adam_step(w, (m, v), g.view(N_PAIRS, size).index_select(0, pairs), cfg, lr, self.ieee_sqrt, self.kernels)
        for t, new in zip(views, (w, m, v)):
            t.index_copy_(0, pairs, new)

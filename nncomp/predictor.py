"""Next-byte predictor: the transformer's logits mixed with the context sources, learning online.

The encoder asks for a whole block of distributions at once (`predict_block`); the decoder asks one
position at a time (`predict_step` then `push`). Both end the block with `learn()`, the same training
step on the same integers, so the two sides stay in lock-step. Distributions are integer
frequencies (never zero) for the range coder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from . import kernels
from .config import CodecConfig
from .contexts import Frame, Guess
from .contexts.bitmap import BitmapContext
from .contexts.columns import ColumnContext
from .contexts.counts import RUN_BONUSES, SCORE_DTYPE, ContextModel
from .contexts.lanes import LaneContext
from .contexts.layout import GROUPS, RowLayout
from .contexts.match import BONUS_INIT as MATCH_BONUS, MatchModel
from .contexts.record import BONUS_INIT as RECORD_BONUS, RecordContext
from .contexts.words import WordContext
from .exact import EXP_BITS, LOGIT_FRAC, exp2_table, lookup, quantize_grad
from .mixer import LN2, Cells, Mixer
from .model import ACT_BITS, GRAD_BITS, W_BITS, Cache, Transformer, adam_step
from .prior import Prior

OUT_RANGE = LOGIT_FRAC * EXP_BITS  # symbols more than EXP_BITS bits below the best get frequency 1
BONUS_INIT = MATCH_BONUS + RECORD_BONUS  # one bonus vector: the match model's buckets, then the record guess's
BONUS_LR_SCALE = 150.0  # the bonus is in bits: Adam steps of ~0.15 bit at lr 0.001
# The count rows' run bonuses (counts.run_guess) start at 0 and move in smaller steps: there are many,
# each row's adds to the others', and in text the counts mostly know already what a run says.
RUN_LR_SCALE = (9.375, 37.5)  # in text and binary frames
BONUS_MIN, BONUS_MAX = -8.0, 24.0
# The network's step size, times the level's lr, in text and binary frames when it starts from a
# prior (from random weights: 1.0): a pretrained prior knows text and loses from large steps; on
# binary data it has to learn.
NET_LR_SCALE = (0.3, 1.0)
# From a prior, the online step trains the layers from PRIOR_LOWEST up and the head: what the corpus
# taught the embedding and the lowest layer serves every file, and the backward pass stops above them.
PRIOR_LOWEST = 1


@dataclass(frozen=True)
class Policy:
    """What the online training step changes. Coding uses the default; training a prior another."""

    net: bool = True  # the network's weights learn (False: a prior's mixer is trained alone)
    gamma: bool = True  # the transformer's mixing weight learns (training a prior holds it at its start)
    lowest: int | None = None  # lowest layer the network's step trains; None: PRIOR_LOWEST from a prior, else 0


@dataclass
class Position:
    """What the context step of one position produced."""

    zc: torch.Tensor  # (L, 256) the context rows' logits, bonuses included
    f: torch.Tensor  # (K, L, 256) each row's scores
    cells: Cells  # where each row's weights come from
    guesses: list[Guess]  # the guessing sources' guesses
    rows: torch.Tensor  # (count rows, L) the count table rows the coded byte is counted in
    buckets: torch.Tensor  # (count rows, L) their confidence buckets
    check: torch.Tensor | None  # (count rows, L) their contexts' check bytes, and what the position may
    owner: torch.Tensor | None  # do with each row (contexts/counts.py), with checks only
    runs: torch.Tensor | None = None  # (count rows, L) their runs as run_guess read them (None: not asked)


@dataclass
class Block:
    """A coded block as learn() needs it: the same integers on both sides. Tensors are (L, T, ...)."""

    x: torch.Tensor
    valid: torch.Tensor
    freq: torch.Tensor  # the distributions coded with
    zh: torch.Tensor  # the transformer's logits
    f: torch.Tensor  # (T, K, L, 256) row scores, time first
    cells: Cells  # of the mixer's last part (positions `part` to T)
    guesses: list[Guess]  # per guessing source, (L, T - part) each
    mem: list  # the attention memory the next block starts from
    cache: Callable[[], Cache]  # the network's forward cache, made only if the network learns on this block
    part: int = 0  # the first position of the mixer's last part (CodecConfig.mix_every), which learn() learns from


@dataclass
class Steps:
    """The decoder's block under way, position by position."""

    total: int
    x: list[torch.Tensor] = field(default_factory=list)
    valid: list[torch.Tensor] = field(default_factory=list)
    cells: list[Cells] = field(default_factory=list)
    guesses: list[list[Guess]] = field(default_factory=list)
    last: Position | None = None  # the position predicted last, whose byte push() counts


class BlockBuffers:
    """Per-position tensors of a block, written into buffers reused from block to block: stacking
    a block's positions into fresh tensors costs page faults on every block. A buffer's contents are
    read by learn() before the next block writes. learn() also takes its largest scratch tensors
    from here (`like`)."""

    def __init__(self):
        self.bufs: dict[str, torch.Tensor] = {}

    def put(self, name: str, dim: int, t: int, steps: int, x: torch.Tensor) -> None:
        """Write x as position t (along a new axis `dim`) of the block's `steps` positions."""
        b = self.like(name, x.shape[:dim] + (steps,) + x.shape[dim:], x.dtype)
        b.select(dim, t).copy_(x)

    def slot(self, name: str, t: int, steps: int, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """Position t of the block's `steps` positions of `name`, time first: a contiguous tensor of
        this shape for a source to write into, where put() would copy a finished one."""
        b = self.like(name, (steps, *shape), dtype)
        return b[t]

    def like(self, name: str, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """The buffer `name`, (re)made if it is not of this shape and type; its contents are stale."""
        b = self.bufs.get(name)
        if b is None or b.shape != shape or b.dtype != dtype:
            b = self.bufs[name] = torch.empty(shape, dtype=dtype)
        return b

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.bufs[name]


class Predictor:
    """Transformer + context sources + guessed-symbol bonuses, mixed (mixer.py), over L lanes in lock-step."""

    def __init__(self, cfg: CodecConfig, prior: Prior | None = None, policy: Policy = Policy(), huge: bool = False,
                 compiled: bool = False):
        """`huge`: the input will fill the count table (contexts.zeros). `compiled`: the context
        work and the network's decoding step run in compiled kernels (kernels.py; the same results),
        where they load."""
        self.kernels = compiled_loops = kernels.load() if compiled else None
        # every online Adam step (the network's, the mixer's, the bonuses') takes its momentum from here
        model = replace(cfg.model, beta1=cfg.momentum) if cfg.momentum else cfg.model
        self.net = Transformer(model, prior.params if prior else None, compiled_loops, cfg.ieee_sqrt)
        self.net_lr = NET_LR_SCALE if prior else (1.0, 1.0)
        lowest = policy.lowest if policy.lowest is not None else (PRIOR_LOWEST if prior else 0)
        self.net_lowest = min(lowest, cfg.model.n_layer)
        self.policy = policy
        self.mix_every = cfg.mix_every
        # the mixer's steps, several per block, each scaled by the square root of its share of the block
        # (measured best at both 4 and 8 of 32 steps at 64 lanes) or as the settings say (docs/decisions.md)
        share = math.sqrt(cfg.mix_every / cfg.model.block)
        self.part_lr = (cfg.mix_lr or share) if cfg.mix_every else 1.0
        self.layout = RowLayout.of(cfg)
        self.ctx = ContextModel(cfg.orders, cfg.hash_bits, extra=self.layout.hashed_bits(cfg.hash_bits), sparse=cfg.sparse, halve=cfg.halve,
                                checks=cfg.checks, runs=cfg.runs, huge=huge, kernels=compiled_loops)
        self.match = MatchModel(cfg.match_bits, compiled_loops) if self.layout.match else None
        self.rec = RecordContext() if self.layout.record else None
        self.bitmap = BitmapContext() if self.layout.bitmap else None
        by_group = {"words": WordContext(compiled_loops) if self.layout.words else None,
                    "lane": LaneContext() if self.layout.lane else None,
                    "column": ColumnContext(compiled_loops) if self.layout.column else None, "match": self.match, "record": self.rec}
        self.sources = [by_group[g] for g in GROUPS if by_group.get(g)]  # in the layout's order of rows
        self.guessers = [s for s in (self.match, self.rec) if s]  # in the bonus vector's order
        runs = RUN_BONUSES if cfg.runs else 0  # after the guessing sources' bonuses
        self.beta = torch.tensor(BONUS_INIT + [0.0] * runs, dtype=torch.float64)
        self.beta_lr = torch.tensor([BONUS_LR_SCALE] * len(BONUS_INIT) + [RUN_LR_SCALE[0]] * (runs // 2)
                                    + [RUN_LR_SCALE[1]] * (runs // 2), dtype=torch.float64) * (cfg.bonus_lr or 1.0)
        self.beta_adam = (torch.zeros_like(self.beta), torch.zeros_like(self.beta))
        self.mixer = Mixer(self.layout, prior.alpha if prior else None, learn_gamma=policy.gamma,
                           byte_weights=cfg.byte_weights, kernels=compiled_loops, ieee_sqrt=cfg.ieee_sqrt,
                           lazy_pairs=bool(cfg.mix_every))
        self.blocks_seen = 0  # blocks learned from, over the whole stream
        self.out_table = exp2_table(LOGIT_FRAC, OUT_RANGE + 1, EXP_BITS).double()
        self.buffers = BlockBuffers()
        self._refresh_beta()

    @property
    def mix(self) -> int:
        """Which set of mixing weights this frame uses: 2 * binary + records (mixer.py)."""
        return 2 * self.frame.binary + bool(self.frame.period)

    def plain_alpha(self) -> torch.Tensor:
        """Order rows of the mixing weights of frames without records (what a prior stores)."""
        return self.mixer.prior_alpha()

    def _refresh_beta(self) -> None:
        self.beta_q = torch.round(torch.clamp(self.beta, BONUS_MIN, BONUS_MAX) * LOGIT_FRAC)  # logit units

    # -- lanes ----------------------------------------------------------------------------
    def start_frame(self, lanes: int, length: int, frame: Frame = Frame()) -> None:
        """New lanes: empty histories and no attention memory. Learned weights and counts carry on,
        into a new dataset too (new_dataset)."""
        if frame.period and not self.rec:
            raise ValueError("record contexts are off in these settings")
        if frame.new_dataset:
            self.new_dataset()
        self.lanes, self.frame = lanes, frame
        self.pixels = bool(self.bitmap) and frame.pixels
        self.hist = torch.zeros(lanes, dtype=torch.int64)
        self.prev = torch.zeros(lanes, dtype=torch.int64)
        self.mem = None
        for s in self.sources:
            s.start_frame(frame, lanes, length)

    def new_dataset(self) -> None:
        """What a joint stream's next dataset keeps of what the stream learned before it: every weight
        and count (a model started afresh is mixed in beside it where that misleads it: mixture.py).
        The network's optimizer restarts (Adam's moments), as at the start of a stream: the new data's
        first steps follow its own gradients, not the momentum and scale of the dataset before."""
        for m, v in self.net.adam.values():
            m.zero_()
            v.zero_()

    def restart_learning(self, fresh: "Predictor") -> None:
        """Take fresh's network, mixer and bonuses (the prior's fresh state) in place of what this
        model learned, keeping its count statistics and the match model's history: what the data
        taught about itself, without what it taught about data of its kind (tools/joint.ncd_matrix)."""
        self.net, self.mixer = fresh.net, fresh.mixer
        self.beta, self.beta_adam = fresh.beta, fresh.beta_adam
        self._refresh_beta()

    def _context_step(self, t: int, steps: int, sym: torch.Tensor | None = None,
                      valid: torch.Tensor | None = None) -> Position:
        """The context rows' logits for position t of a block of `steps`, their scores written into the
        block's buffer; then count `sym` and advance, if given."""
        guesses = [g for s in self.guessers if (g := s.guess()) is not None]
        extra = [c for s in self.sources if (c := s.contexts(self.hist)) is not None]  # after guess(): see match.py
        rows, check = self.ctx.rows(self.hist, torch.cat(extra) if extra else None, self.frame.binary and self.ctx.n_sparse > 0)
        if self.pixels:
            fc, counted, owner, top = self.ctx.features(rows, check)
            fp, bp = self.bitmap.features(self.hist, *self.rec.neighbours())
            f = self.buffers.slot("f", t, steps, (len(fc) + len(fp), *fc.shape[1:]), SCORE_DTYPE)
            torch.cat([fc, fp], out=f)
            b = torch.cat([counted, bp])
        else:
            f = self.buffers.slot("f", t, steps, (len(rows), self.lanes, 256), SCORE_DTYPE)
            _, counted, owner, top = self.ctx.features(rows, check, out=f)
            b = counted
        runs = None
        if self.ctx.runs is not None and not self.pixels:  # in images the pixel rows know better (docs/decisions.md)
            run, runs = self.ctx.run_guess(rows, counted, owner, top, self.frame.binary, base=len(BONUS_INIT))
            guesses.append(run)
        cells = self.mixer.cells(b, self.hist, self.match.verified() if self.match else None)
        zc = self.mixer.context_logits(self.mix, cells, f)
        for g in guesses:  # (L,) or (rows, L) each
            bonus = lookup(self.beta_q, g.bucket) * g.active
            zc.scatter_add_(1, g.symbol.view(-1, self.lanes).T, bonus.view(-1, self.lanes).T)
        pos = Position(zc, f, cells, guesses, rows, counted, check, owner, runs)
        if sym is not None:
            self._advance(pos, sym, valid)
        return pos

    def _advance(self, pos: Position, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """Count sym (L,) in the contexts of position pos and move every history on."""
        self.ctx.update(pos.rows, pos.buckets, sym, valid, pos.check, pos.owner, pos.runs)
        if self.pixels:
            self.bitmap.update(sym, valid)
        before, self.hist = self.hist, ContextModel.push(self.hist, sym)
        for s in self.sources:
            s.push(before, self.hist, sym, valid)

    def _freq(self, z: torch.Tensor) -> torch.Tensor:
        """Integer frequencies (>= 1, at most 2**EXP_BITS) from logits in 1/LOGIT_FRAC bit."""
        idx = torch.clamp(z.amax(-1, keepdim=True) - z, 0, OUT_RANGE).long()
        return lookup(self.out_table, idx)

    def _parts(self, steps: int) -> list[tuple[int, int]]:
        """The mixer's parts (first position, end) of a block of `steps` (one part: the block)."""
        every = self.mix_every or steps
        return [(t0, min(steps, t0 + every)) for t0 in range(0, steps, every)]

    # -- encoder side ---------------------------------------------------------------------
    def predict_block(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Frequencies (L,T,256) float64 for a block x (L,T) whose symbols are all known."""
        tok = torch.cat([self.prev.unsqueeze(1), x[:, :-1]], 1)
        zh, cache = self.net.forward(tok, self.mem)
        T = x.shape[1]
        parts = self._parts(T)
        freq = self.buffers.like("freq", zh.shape, torch.float64) if len(parts) > 1 else None
        for t0, t1 in parts:
            cells, guesses = [], []
            for t in range(t0, t1):
                p = self._context_step(t, T, x[:, t], valid[:, t])
                self.buffers.put("zc", 1, t, T, p.zc)
                cells.append(p.cells)
                guesses.append(p.guesses)
            cells, guesses = Cells.stack(cells), _stack_guesses(guesses)
            fp = self._freq(self.mixer.net_logits(self.mix, cells.set, zh[:, t0:t1]) + self.buffers["zc"][:, t0:t1])
            if freq is None:
                freq = fp
            else:
                freq[:, t0:t1] = fp
            if t1 < T:  # the last part learns in learn(), beside the network
                self._learn_part(fp, x[:, t0:t1], valid[:, t0:t1], zh[:, t0:t1], t0, t1, cells, guesses)
        self._block = Block(x, valid, freq, zh, self.buffers["f"], cells, guesses, cache.mem, lambda: cache, t0)
        return freq

    # -- decoder side ---------------------------------------------------------------------
    def begin_block(self, steps: int) -> None:
        self._state = self.net.start_steps(self.mem, self.lanes, steps, self.net_lowest)
        self._steps = Steps(steps)

    def predict_step(self) -> torch.Tensor:
        """Frequencies (L,256) for the next position of every lane."""
        s, buf = self._steps, self.buffers
        zh = self.net.step(s.x[-1] if s.x else self.prev, self._state)
        p = self._context_step(len(s.cells), s.total)
        freq = self._freq(self.mixer.net_logits(self.mix, p.cells.set, zh) + p.zc)
        for name, v in (("freq", freq), ("zh", zh)):
            buf.put(name, 1, len(s.cells), s.total, v)
        s.cells.append(p.cells)
        s.guesses.append(p.guesses)
        s.last = p
        return freq

    def push(self, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """The decoded bytes sym (L,) of the position last predicted (0 in lanes that have ended)."""
        s = self._steps
        self._advance(s.last, sym, valid)
        s.x.append(sym)
        s.valid.append(valid)
        t1, every = len(s.x), self.mix_every
        if every and t1 % every == 0 and t1 < s.total:  # a part ends before the block: the mixer learns
            t0, buf = t1 - every, self.buffers
            self._learn_part(buf["freq"][:, t0:t1], torch.stack(s.x[t0:], 1), torch.stack(s.valid[t0:], 1),
                             buf["zh"][:, t0:t1], t0, t1, Cells.stack(s.cells[t0:]), _stack_guesses(s.guesses[t0:]))

    def finish_block(self) -> None:
        """Decoder: assemble the block's forward pass from the steps (the encoder's integers) for learn()."""
        s, state, buf = self._steps, self._state, self.buffers
        t0 = self._parts(s.total)[-1][0]
        self._block = Block(torch.stack(s.x, 1), torch.stack(s.valid, 1), buf["freq"], buf["zh"], buf["f"],
                            Cells.stack(s.cells[t0:]), _stack_guesses(s.guesses[t0:]), self.net.steps_mem(state),
                            lambda: self.net.finish_steps(state, self.net_lowest), t0)

    # -- both sides -----------------------------------------------------------------------
    def learn(self) -> None:
        """One training step on the block just coded: cross-entropy through network and mixer (the
        mixer's last part of the block, with mix_every; its earlier parts learned as they ended)."""
        blk = self._block
        T, t0 = blk.x.shape[1], blk.part
        net = self.policy.net and self.blocks_seen % self.net.cfg.learn_every == 0
        # the whole block's gradient, for the network and, where the part is the block, the mixer
        gq, sc = self._grad(blk.freq, blk.x, blk.valid, "g") if net or not t0 else (None, 0.0)
        if gq is not None and net:
            self._learn_net(blk.cache(), gq, sc)
        if t0:
            self._learn_part(blk.freq[:, t0:], blk.x[:, t0:], blk.valid[:, t0:], blk.zh[:, t0:], t0, T, blk.cells, blk.guesses)
        elif gq is not None:  # the network's integers serve the mixer too
            self._learn_mixer(gq, sc, blk.f, blk.zh, blk.cells, blk.guesses)
        self.blocks_seen += 1
        self.mem = blk.mem
        self.prev = blk.x[:, -1]
        self._block = None

    def _grad(self, freq: torch.Tensor, x: torch.Tensor, valid: torch.Tensor, buf: str) -> tuple:
        """The integer gradient (gq, scale) of the mean loss at the logits of positions x (L,S) coded
        with freq (L,S,256), in the buffer `buf`; (None, 0) where none is valid."""
        if self.kernels:
            g = self.buffers.like(buf, freq.shape, torch.float64)
            sc = self.kernels.coding_grad(freq.numpy(), x.numpy(), valid.numpy(), GRAD_BITS, g.numpy())
            return (g, sc) if sc else (None, 0.0)
        n = int(valid.sum())
        if not n:
            return None, 0.0
        # d(mean loss in nats)/d(natural logit) = (p - onehot(x)) / n in valid cells; in place, as
        # these (L,T,256) tensors are the largest of a block (the same IEEE operations as unfused)
        g = torch.div(freq, freq.sum(-1, keepdim=True), out=self.buffers.like(buf, freq.shape, torch.float64))
        g.scatter_add_(-1, x.unsqueeze(-1), torch.full(x.shape + (1,), -1.0, dtype=torch.float64))
        g *= valid.unsqueeze(-1).double() * (1.0 / n)
        # rounded to integers once (in g's place): sums of them are exact in any order
        return quantize_grad(g, GRAD_BITS, out=g)

    def _learn_part(self, freq: torch.Tensor, x: torch.Tensor, valid: torch.Tensor, zh: torch.Tensor, t0: int, t1: int,
                    cells: Cells, guesses: list[Guess]) -> None:
        """The mixer's and bonuses' step on positions t0..t1 of the block (mix_every), from their own
        gradient: a part's steps follow the data faster than one per block does (docs/decisions.md)."""
        gq, sc = self._grad(freq, x, valid, "g_part")
        if gq is not None:
            self._learn_mixer(gq, sc, self.buffers["f"][t0:t1], zh, cells, guesses)

    def _learn_net(self, cache: Cache, gq: torch.Tensor, sc: float) -> None:
        """The network's training step on a block, from its forward cache and the integer gradient gq
        (L,T,256) (scale sc) at the mixed logits."""
        grads = self.net.backward(cache, gq, sc * 2.0 ** -(ACT_BITS + W_BITS), self.net_lowest)
        self.net.apply_grads(grads, self.net_lr[self.frame.binary])

    def _learn_mixer(self, gq: torch.Tensor, sc: float, f: torch.Tensor, zh: torch.Tensor, cells: Cells,
                     guesses: list[Guess]) -> None:
        """Mixing weights (mixer.py) and the bonus per bucket of guessed symbols (the sum of the
        gradient at the guessed symbol), from the integer gradient gq (L,S,256) (scale sc) of S
        positions, their scores f (S,K,L,256), transformer logits zh, cells and guesses."""
        if guesses:
            grad_b = torch.zeros(len(self.beta), dtype=torch.float64)
            if self.kernels:
                for g in guesses:  # (L,S) or (rows,L,S) each
                    self.kernels.guess_sums(gq.numpy(), *(t.reshape(-1, *gq.shape[:2]).numpy() for t in g), grad_b.numpy())
            else:
                start = torch.arange(gq.shape[0] * gq.shape[1]).view(gq.shape[:2]) * 256  # (L,S): each position in gq
                for g in guesses:
                    gm = gq.view(-1).take(start + g.symbol) * g.active
                    grad_b.index_add_(0, g.bucket.reshape(-1), gm.reshape(-1))
            adam_step(self.beta, self.beta_adam, grad_b * (sc * LN2), self.net.cfg, self.beta_lr, self.net.ieee_sqrt)
            self._refresh_beta()
        self.mixer.learn(self.mix, gq, sc, f, cells, zh, self.net.cfg, self.part_lr)


def _stack_guesses(steps: list[list[Guess]]) -> list[Guess]:
    """Per-step guesses (a list per step, one Guess per source) as one Guess per source of (L,T) tensors
    ((rows, L, T) for the count rows' runs)."""
    return [Guess(*(torch.stack(parts, -1) for parts in zip(*per_source))) for per_source in zip(*steps)]

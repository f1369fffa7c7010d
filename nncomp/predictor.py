"""Next-byte predictor: the transformer's logits mixed with order-n statistics, learning online.

The encoder asks for a whole block of distributions at once (`predict_block`); the decoder asks one
position at a time (`predict_step` then `push`). Both end the block with `learn()`, the same training
step on the same integers, so the two sides stay in lock-step. Distributions are integer
frequencies (never zero) for the range coder.
"""

from __future__ import annotations

import torch

from .context import N_LANE, ContextModel
from .exact import EXP_BITS, LOGIT_FRAC, exp2_table, lookup, quantize_grad
from .match import N_LEN, N_MATCH_CTX, MatchModel
from .mixer import LN2, Cells, Mixer
from .model import ACT_BITS, GRAD_BITS, W_BITS, ModelConfig, Transformer, adam_step
from .record import DELTA_INIT, N_RECORD, RecordContext
from .words import N_WORD, WordContext
from .bitmap import MIN_ROW, N_BITMAP, BitmapContext

OUT_RANGE = LOGIT_FRAC * EXP_BITS  # symbols more than EXP_BITS bits below the best get frequency 1
MATCH_INIT = [min(float(b), 12.0) for b in range(N_LEN)]  # bits of bonus per match-length bucket
BONUS_INIT = MATCH_INIT + DELTA_INIT  # one bonus vector: match buckets, then the record guess's (from N_LEN)
MATCH_LR_SCALE = 150.0  # the bonus is in bits: Adam steps of ~0.15 bit at lr 0.001
MATCH_MIN, MATCH_MAX = -8.0, 24.0
# The network's step size, times the level's lr, in text and binary frames when it starts from a prior
# (from random weights: 1.0). A pretrained prior knows text and loses from large steps; on binary data
# it has to learn (level 5, encoder-side code lengths,
# same run: paper2 / progl / obj2 at 1.0: 20,424 / 12,447 / 71,153 bytes; at 0.3: 19,585 / 12,250 /
# 71,718; at 0.1: 19,531 / 12,471 / 72,273).
NET_LR_SCALE = (0.3, 1.0)
# From a prior, the online step trains the layers from PRIOR_LOWEST up and the head: the embedding and
# the layers below keep the prior's weights and the backward pass (a third of level 5's decoding time
# when it went through every layer) stops above them. What the corpus taught the lowest layer serves
# every file: adapting it online helps long text a little and hurts short text a little. Level 5,
# encoder-side code lengths without headers (bench/net_training_share.py's ten inputs): 290,240 bytes
# training every layer, 290,396 from layer 1 (text 219,996 -> 219,900, obj2 and kennedy.xls 70,244 ->
# 70,496).
PRIOR_LOWEST = 1


class BlockBuffers:
    """Per-position tensors of a block, written into buffers reused from block to block.

    Stacking a block's positions into a fresh tensor costs page faults on every block: level 1's count
    scores, (4, 256, 32, 256) float64, take 18.8 ms to stack and 3.1 ms to copy into a buffer already
    touched (one run, two threads). A buffer's contents are read by learn() before the next block writes.
    learn() also takes its largest scratch tensors from here (`like`).
    """

    def __init__(self):
        self.bufs: dict[str, torch.Tensor] = {}

    def put(self, name: str, dim: int, t: int, steps: int, x: torch.Tensor) -> None:
        """Write x as position t (along a new axis `dim`) of the block's `steps` positions."""
        b = self.like(name, x.shape[:dim] + (steps,) + x.shape[dim:], x.dtype)
        b.select(dim, t).copy_(x)

    def like(self, name: str, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """The buffer `name`, (re)made if it is not of this shape and type; its contents are stale."""
        b = self.bufs.get(name)
        if b is None or b.shape != shape or b.dtype != dtype:
            b = self.bufs[name] = torch.empty(shape, dtype=dtype)
        return b

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.bufs[name]


class Predictor:
    """Transformer + context statistics + guessed-symbol bonuses, mixed (mixer.py), over L lanes in lock-step."""

    def __init__(self, cfg: ModelConfig, orders: tuple[int, ...], hash_bits: int, params=None, alpha=None,
                 match_bits: int = 0, record: bool = False, words: bool = False, sparse: bool = False,
                 halve: bool = False, bitmap: bool = False, lane_ctx: bool = False):
        self.net = Transformer(cfg, params)
        self.net_lr = NET_LR_SCALE if params is not None else (1.0, 1.0)
        self.net_lowest = min(PRIOR_LOWEST, cfg.n_layer) if params is not None else 0  # train.py trains all
        # rows: orders, words, lane contexts, match, records (frames with records), sparse contexts
        # (binary frames), pixel contexts (bitmaps)
        extra = N_WORD * words + N_LANE * lane_ctx + N_MATCH_CTX * bool(match_bits) + N_RECORD * record
        self.ctx = ContextModel(orders, hash_bits, extra=extra, sparse=sparse, halve=halve)
        self.words = WordContext() if words else None
        self.lane_ctx = lane_ctx
        self.rec = RecordContext() if record else None
        self.match = MatchModel(match_bits) if match_bits else None
        self.bitmap = BitmapContext() if bitmap and record else None
        self.beta = torch.tensor(BONUS_INIT, dtype=torch.float64)
        self.beta_adam = (torch.zeros_like(self.beta), torch.zeros_like(self.beta))
        n_bitmap = N_BITMAP * bool(self.bitmap)
        lane_rows = slice(len(orders) + N_WORD * words, len(orders) + N_WORD * words + N_LANE * lane_ctx)
        self.mixer = Mixer(len(self.ctx.offsets) + n_bitmap, len(orders), alpha, self.ctx.n_sparse, n_bitmap, lane_rows)
        self.blocks_seen = 0  # blocks learned from, over the whole stream
        self.learn_net = True  # False: the network's weights stay fixed (training a prior's mixer alone)
        self.out_table = exp2_table(LOGIT_FRAC, OUT_RANGE + 1, EXP_BITS).double()
        self.buffers = BlockBuffers()
        self._refresh_beta()

    @property
    def mix(self) -> int:
        """Which set of mixing weights this frame uses: 2 * binary + records (mixer.py)."""
        return 2 * self.binary + bool(self.rec and self.rec.period)

    def plain_alpha(self) -> torch.Tensor:
        """Order rows of the mixing weights of frames without records (what a prior stores)."""
        return self.mixer.prior_alpha()

    def _refresh_beta(self) -> None:
        self.beta_q = torch.round(torch.clamp(self.beta, MATCH_MIN, MATCH_MAX) * LOGIT_FRAC)  # logit units

    # -- lanes ----------------------------------------------------------------------------
    def start_frame(self, lanes: int, length: int, new_dataset: bool = False, period: int = 0,
                    binary: bool = False) -> None:
        """New lanes: empty histories and no attention memory. Learned weights and counts carry on;
        at the start of a new dataset the counts are aged first (ContextModel.new_dataset). A frame
        of records `period` bytes long (0: none) adds the record contexts; a `binary` frame uses the
        mixing weights of binary data."""
        if period and not self.rec:
            raise ValueError("record contexts are off in these settings")
        if new_dataset:
            self.ctx.new_dataset()
        self.lanes, self.binary = lanes, binary
        self.pixels = bool(self.bitmap and binary and period >= MIN_ROW)  # pixel contexts: see bitmap.py
        self.hist = torch.zeros(lanes, dtype=torch.int64)
        self.lane_ids = torch.arange(lanes, dtype=torch.int64)
        self.prev = torch.zeros(lanes, dtype=torch.int64)
        self.mem = None
        if self.match:
            self.match.start_frame(lanes, length, own_first=not binary)
        if self.rec:
            self.rec.start_frame(lanes, length, period)
        if self.words:
            self.words.start_frame(lanes)

    def _context_step(self, sym: torch.Tensor | None, valid: torch.Tensor | None):
        """Count and match features for the current position; then count `sym` and advance, if given."""
        m = []  # guesses (symbol, bonus bucket, active) of the match model and the record column
        if self.match:
            m.append(self.match.predict())
        if self.rec and self.rec.period:
            sym_r, bucket_r, active_r = self.rec.predict()
            m.append((sym_r, bucket_r + N_LEN, active_r))
        extra = [self.words.contexts(self.hist)] if self.words else []
        if self.lane_ctx:
            extra.append(ContextModel.lane_contexts(self.hist, self.lane_ids))
        if self.match:
            extra.append(self.match.contexts())  # after predict(): the guess is its context
        if self.rec and self.rec.period:  # record contexts only in frames with records
            extra.append(self.rec.contexts(self.hist))
        rows = self.ctx.rows(self.hist, torch.cat(extra) if extra else None, self.binary and self.ctx.n_sparse > 0)
        f, b = self.ctx.features(rows)
        where = (rows, b)
        if self.pixels:
            fp, bp = self.bitmap.features(self.hist, *self.rec.neighbours())
            f, b = torch.cat([f, fp]), torch.cat([b, bp])
        cells = self.mixer.cells(b, self.hist, self.match.verified() if self.match else None)
        zc = self.mixer.context_logits(self.mix, cells, f)
        for sym_g, bucket, active in m:
            zc.scatter_add_(1, sym_g.unsqueeze(1), (lookup(self.beta_q, bucket) * active).unsqueeze(1))
        if sym is not None:
            self._advance(where, sym, valid)
        return zc, f, cells, m, where

    def _advance(self, where, sym, valid):
        """Count sym (L,) in the contexts where = (rows, buckets) of this position and move every history on."""
        self.ctx.update(*where, sym, valid)
        if self.pixels:
            self.bitmap.update(sym, valid)
        before, self.hist = self.hist, ContextModel.push(self.hist, sym)
        if self.rec:
            self.rec.push(sym)
        if self.words:
            self.words.push(sym)
        if self.match:
            self.match.update(before, self.hist, sym, valid)

    def _freq(self, z: torch.Tensor) -> torch.Tensor:
        """Integer frequencies (>= 1, at most 2**EXP_BITS) from logits in 1/LOGIT_FRAC bit."""
        idx = torch.clamp(z.amax(-1, keepdim=True) - z, 0, OUT_RANGE).long()
        return lookup(self.out_table, idx)

    # -- encoder side ---------------------------------------------------------------------
    def predict_block(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Frequencies (L,T,256) float64 for a block x (L,T) whose symbols are all known."""
        tok = torch.cat([self.prev.unsqueeze(1), x[:, :-1]], 1)
        zh, cache = self.net.forward(tok, self.mem)
        cells, guesses = [], []
        T = x.shape[1]
        for t in range(T):
            zc, f, c, m, _ = self._context_step(x[:, t], valid[:, t])
            self.buffers.put("zc", 1, t, T, zc)
            self.buffers.put("f", 2, t, T, f)
            cells.append(c)
            guesses.append(m)
        cells = Cells.stack(cells)
        freq = self._freq(self.mixer.net_logits(self.mix, cells.set, zh) + self.buffers["zc"])
        self._block = dict(x=x, valid=valid, cache=lambda: cache, mem=cache["mem"], freq=freq, zh=zh,
                           f=self.buffers["f"], cells=cells, m=_stack_guesses(guesses))
        return freq

    # -- decoder side ---------------------------------------------------------------------
    def begin_block(self, steps: int) -> None:
        self._state = self.net.start_steps(self.mem, self.lanes, steps)
        self._steps = dict(x=[], valid=[], cells=[], m=[], where=None, t=0, T=steps)

    def predict_step(self) -> torch.Tensor:
        """Frequencies (L,256) for the next position of every lane."""
        tok = self._steps["x"][-1] if self._steps["x"] else self.prev
        zh = self.net.step(tok, self._state)
        zc, f, c, m, where = self._context_step(None, None)
        freq = self._freq(self.mixer.net_logits(self.mix, c.set, zh) + zc)
        s, buf = self._steps, self.buffers
        for name, dim, v in (("freq", 1, freq), ("zh", 1, zh), ("f", 2, f)):
            buf.put(name, dim, s["t"], s["T"], v)
        s["t"] += 1
        s["cells"].append(c)
        s["m"].append(m)
        s["where"] = where
        return freq

    def push(self, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """The decoded bytes sym (L,) of the position last predicted (0 in lanes that have ended)."""
        self._advance(self._steps["where"], sym, valid)
        self._steps["x"].append(sym)
        self._steps["valid"].append(valid)

    def finish_block(self) -> None:
        """Decoder: assemble the block's forward pass from the steps (the encoder's integers) for learn().
        The network's cache is assembled only if learn() trains the network on this block."""
        s, state = self._steps, self._state
        self._block = dict(
            x=torch.stack(s["x"], 1), valid=torch.stack(s["valid"], 1), cache=lambda: self.net.finish_steps(state, self.net_lowest),
            mem=self.net.steps_mem(state),
            freq=self.buffers["freq"], zh=self.buffers["zh"], f=self.buffers["f"],
            cells=Cells.stack(s["cells"]),
            m=_stack_guesses(s["m"]),
        )

    # -- both sides -----------------------------------------------------------------------
    def learn(self) -> None:
        """One training step on the block just coded: cross-entropy through network and mixer."""
        blk = self._block
        x, valid, freq = blk["x"], blk["valid"], blk["freq"]
        n = int(valid.sum())
        if n:
            # d(mean loss in nats)/d(natural logit) = (p - onehot(x)) / n in valid cells; in place, as
            # these (L,T,256) tensors are the largest of a block (the same IEEE operations as unfused)
            g = torch.div(freq, freq.sum(-1, keepdim=True), out=self.buffers.like("g", freq.shape, torch.float64))
            g.scatter_add_(-1, x.unsqueeze(-1), torch.full(x.shape + (1,), -1.0, dtype=torch.float64))
            g *= valid.unsqueeze(-1).double() * (1.0 / n)
            # rounded to integers once (in g's place): network and mixer learn from the same ones, and
            # sums of them are exact in any order
            gq, sc = quantize_grad(g, GRAD_BITS, out=g)
            if self.learn_net and self.blocks_seen % self.net.cfg.learn_every == 0:
                self._learn_net(blk["cache"](), gq, sc)
            self._learn_mixer(gq, sc, blk)
        self.blocks_seen += 1
        self.mem = blk["mem"]
        self.prev = x[:, -1]
        self._block = None

    def _learn_net(self, cache: dict, gq: torch.Tensor, sc: float) -> None:
        """The network's training step on a block, from its forward cache and the integer gradient gq
        (L,T,256) (scale sc) at the mixed logits (bench/net_training_share.py swaps it for variants)."""
        grads = self.net.backward(cache, gq, sc * 2.0 ** -(ACT_BITS + W_BITS), self.net_lowest)
        self.net.apply_grads(grads, self.net_lr[self.binary])

    def _learn_mixer(self, gq: torch.Tensor, sc: float, blk: dict) -> None:
        """Mixing weights (mixer.py) and the bonus per bucket of guessed symbols (the sum of the
        gradient at the guessed symbol), from the block's integer gradient gq (scale sc)."""
        if blk["m"]:
            grad_b = torch.zeros(len(self.beta), dtype=torch.float64)
            for sym, bucket, active in blk["m"]:  # (L,T) each
                gm = gq.gather(-1, sym.unsqueeze(-1)).squeeze(-1) * active
                grad_b.index_add_(0, bucket.reshape(-1), gm.reshape(-1))
            adam_step(self.beta, self.beta_adam, grad_b * (sc * LN2), self.net.cfg, MATCH_LR_SCALE)
            self._refresh_beta()
        self.mixer.learn(self.mix, gq, sc, blk["f"], blk["cells"], blk["zh"], self.net.cfg)


def _stack_guesses(steps: list) -> list[tuple[torch.Tensor, ...]]:
    """Per-step guesses, a list per step of (symbol, bucket, active) per source, as (L,T) tensors per source."""
    return [tuple(torch.stack(parts, 1) for parts in zip(*per_source)) for per_source in zip(*steps)]

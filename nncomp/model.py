"""A byte-level causal transformer in exact integer arithmetic, with its own backward pass.

Master weights are float64; every forward product uses their integer-valued quantization
(`round(w * 2**W_BITS)`) and integer-valued activations, so `exact.exact_mm` gives the same bits on
any machine. The batched forward (a whole block of positions) and the one-position-at-a-time step
(with a key/value cache) run the same row-wise integer operations, hence give identical logits.
The backward pass rounds each gradient to integers before every product and reduction, and the
optimizer uses element-wise IEEE operations only, so the online training step is exact too.

Scales (fixed point): residual stream and small activations are integers at 2**-ACT_BITS; weights
at 2**-W_BITS; attention logits at 1/ATT_FRAC of a bit; output logits at 1/LOGIT_FRAC of a bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

import torch

from .contexts import zeros
from .exact import (LOG2E, LOGIT_FRAC, exact_dtype, exact_mm, exp2_table, f32_parts, lookup, quantize_grad, requant,
                    splitmix_uniform, sqrt)

ACT_BITS = 5  # activations: real value = int / 32
ACT_MAX = 127.0  # bound of every small activation (norm output, q, k, v, attention output, MLP hidden)
RES_MAX = 2.0**14  # bound of the residual stream
W_BITS = 9  # weights: real value = int / 512
W_MAX = 1023.0  # bound of every quantized weight
ATT_FRAC = 16  # attention logits in 1/16 bit
ATT_TOP = 10  # attention weights are integers up to 2**10
ATT_RANGE = ATT_FRAC * (ATT_TOP + 1)  # weights this far below the maximum are zero
GRAD_BITS = 16  # gradients are rounded to 16-bit integers before each product
NEG = -(2**40)  # logit of a masked key


@dataclass(frozen=True)
class ModelConfig:
    """Transformer shape and training settings; all of it is recorded in every .nnc header."""

    d_model: int = 128  # width: 128 keeps every forward product exact in float32
    n_layer: int = 2
    n_head: int = 4
    d_mlp: int = 256
    block: int = 32  # positions per lane between training steps; attention sees this block and the last
    learn_every: int = 1  # the network trains on every n-th block only (the mixer on all): speed for ratio
    lr: float = 0.002  # Adam step size of the online training
    beta1: float = 0.9
    beta2: float = 0.99
    seed: int = 0  # weights of a model without prior come from splitmix64(seed)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        fields = cls.__dataclass_fields__
        if not isinstance(d, dict) or set(d) != set(fields):
            raise ValueError("model settings do not match this version")
        vals = {}
        for k, f in fields.items():
            v = d[k]
            want = float if f.type in ("float", float) else int
            if want is int and (not isinstance(v, int) or isinstance(v, bool)):
                raise ValueError(f"model setting {k} is not an integer")
            if want is float and not isinstance(v, (int, float)):
                raise ValueError(f"model setting {k} is not a number")
            vals[k] = want(v)
        cfg = cls(**vals)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        ok = (
            8 <= self.d_model <= 512
            and 1 <= self.n_layer <= 12
            and 1 <= self.n_head <= 16
            and self.d_model % self.n_head == 0
            and 8 <= self.d_mlp <= 2048
            and 1 <= self.block <= 256
            and 1 <= self.learn_every <= 64
            and 0.0 <= self.lr <= 1.0
            and 0.0 <= self.beta1 < 1.0
            and 0.0 <= self.beta2 < 1.0
            and 0 <= self.seed < 2**63
        )
        if not ok:
            raise ValueError("model settings out of range")


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    d, m = cfg.d_model, cfg.d_mlp
    shapes = {"emb": (256, d)}
    for i in range(cfg.n_layer):
        shapes[f"l{i}.qkv"] = (3 * d, d)
        shapes[f"l{i}.proj"] = (d, d)
        shapes[f"l{i}.fc1"] = (m, d)
        shapes[f"l{i}.fc2"] = (d, m)
    shapes["head"] = (256, d)
    return shapes


def init_params(cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Seeded uniform initialisation from an integer generator (identical on every machine)."""
    params = {}
    for j, (name, shape) in enumerate(param_shapes(cfg).items()):
        n = math.prod(shape)
        u = torch.from_numpy(splitmix_uniform((cfg.seed * 1000 + j) % 2**64, n)).view(shape)
        if name == "emb":
            scale = 1.0
        elif name == "head":
            scale = 0.0  # start from the context statistics alone
        else:
            scale = math.sqrt(3.0 / shape[1])
            if name.endswith((".proj", ".fc2")):
                scale = scale / math.sqrt(2 * cfg.n_layer)
        params[name] = u * scale
    return params


@dataclass
class LayerCache:
    """One layer's activations over a block, as backward() needs them: (L, T, ...), or (L, H, T, ...)
    for the attention weights p and their sums tot."""

    y1: torch.Tensor  # attention's input, normed, and the norm's factor r1
    r1: torch.Tensor
    qkv: torch.Tensor
    p: torch.Tensor
    tot: torch.Tensor
    o: torch.Tensor  # attention's output, before the projection
    y2: torch.Tensor  # the MLP's input, normed, and the norm's factor r2
    r2: torch.Tensor
    h: torch.Tensor  # the MLP's hidden layer

    @staticmethod
    def cat(steps: list["LayerCache"]) -> "LayerCache":
        """The block's cache from its steps' caches, one position each, along the time axis."""
        return LayerCache(**{f.name: torch.cat([getattr(s, f.name) for s in steps], 2 if f.name in ("p", "tot") else 1)
                             for f in fields(LayerCache)})


@dataclass
class Cache:
    """The forward pass over a block: what backward() needs, and the next block's attention memory."""

    tok: torch.Tensor  # (L, T) inputs
    layers: list[LayerCache | None]  # None for layers below the lowest that learns (decoder only)
    yf: torch.Tensor  # the head's input, normed, and the norm's factor rf
    rf: torch.Tensor
    kv: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # per layer: keys, values seen
    mem: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # per layer: this block's own


@dataclass
class StepState:
    """The decoder's key and value buffers while it steps through a block, and each step's cache
    (with compiled loops, the block's cache itself, filled one position at a time)."""

    steps: int
    tm: int  # memory positions before the block
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys (L, H, hd, tm + steps), values (L, H, tm + steps, hd)
    # (empty with compiled loops: StepBuffers.kv8 holds them)
    t: int = 0
    caches: list[Cache] = field(default_factory=list)
    block: "StepBuffers | None" = None


@dataclass
class StepBuffers:
    """The compiled step's buffers: the block's forward cache (the layers below `lowest` hold no
    positions), the residual stream x (L, d) and the float32 inputs and products of its matrix products."""

    lowest: int
    cache: Cache
    x: torch.Tensor
    y: torch.Tensor  # a norm's output (L, d)
    o: torch.Tensor  # attention's output (L, d)
    h: torch.Tensor  # the MLP's hidden layer (L, d_mlp)
    raw: dict[str, torch.Tensor]  # per product (qkv, proj, fc1, fc2, head): (parts, L, out)
    parts: dict[str, list[tuple[slice, torch.Tensor]]]  # per product: each part's terms and its out
    # per layer: keys and values (L, H, tm + steps, hd) in int8 (|k|, |v| <= ACT_MAX), a quarter of the
    # memory that attention reads at every step, one cache line where each step writes
    kv8: list[tuple[torch.Tensor, torch.Tensor]]


class Transformer:
    """Byte transformer: embed -> n_layer x (norm, attention, norm, MLP) -> norm -> head."""

    def __init__(self, cfg: ModelConfig, params: dict[str, torch.Tensor] | None = None, kernels=None,
                 ieee_sqrt: bool = True):
        """`kernels`: compiled loops (kernels.py) for the decoding step, where every forward product
        runs in float32 parts; else the step runs torch operations (the same integers). `ieee_sqrt`:
        as config.CodecConfig.ieee_sqrt (False: torch's square roots, exact.sqrt's legacy)."""
        cfg.validate()
        self.cfg = cfg
        self.ieee_sqrt = ieee_sqrt
        self.params = {k: v.double().clone() for k, v in (params or init_params(cfg)).items()}
        shapes = param_shapes(cfg)
        if set(self.params) != set(shapes) or any(tuple(self.params[k].shape) != s for k, s in shapes.items()):
            raise ValueError("weights do not match the model shape")
        # zero pages until written: layers a prior holds fixed never touch theirs (predictor.PRIOR_LOWEST)
        self.adam = {k: (zeros(*v.shape, dtype=v.dtype), zeros(*v.shape, dtype=v.dtype)) for k, v in self.params.items()}
        hd = cfg.d_model // cfg.n_head
        self.hd = hd
        # int score -> z, a one-element float64 tensor for the reason given for out_scale below
        self.att_scale = torch.tensor([ATT_FRAC * LOG2E / (2.0 ** (2 * ACT_BITS) * math.sqrt(hd))], dtype=torch.float64)
        self.score_grad = 1.0 / (2.0 ** (2 * ACT_BITS) * math.sqrt(hd))  # d(natural logit)/d(int score)
        # int head output -> z, as a one-element float64 tensor (not zero-dimensional, which would leave
        # the product in float32): multiplying the head's float32 product by it converts that product
        # exactly and multiplies in float64, in one operation
        self.out_scale = torch.tensor([LOGIT_FRAC * LOG2E / 2.0 ** (ACT_BITS + W_BITS)], dtype=torch.float64)
        self._norm_top = torch.tensor(2.0**ACT_BITS, dtype=torch.float64)  # _norm's numerator
        # ALiBi: head h loses slope[h]/ATT_FRAC bits of attention per position of distance.
        self.slopes = torch.tensor([float(ATT_FRAC >> (2 * h)) for h in range(cfg.n_head)]).view(-1, 1, 1)
        table = exp2_table(ATT_FRAC, ATT_RANGE, ATT_TOP)
        table[-1] = 0
        self.att_table = table.float()  # integers up to 2**ATT_TOP: exact, and the type p @ v runs in
        # for the compiled step: the table, slopes and scales as numpy and floats
        self._att_table, self._slopes = self.att_table.numpy(), self.slopes.view(-1).long().numpy()
        self._att_scale, self._out_scale = float(self.att_scale), float(self.out_scale)
        # each layer's weight names (param_shapes' keys), built once for forward, steps and backward
        self.names = [{k: f"l{i}.{k}" for k in ("qkv", "proj", "fc1", "fc2")} for i in range(cfg.n_layer)]
        self._biases: dict[tuple, torch.Tensor] = {}  # ALiBi + mask per (query range, memory, keys)
        # float32 parts of the products with d_model and d_mlp terms (0: float64, which the loops skip)
        self.parts = {k: f32_parts(ACT_MAX, W_MAX, k) for k in (cfg.d_model, cfg.d_mlp)}
        self.loops = kernels if kernels is not None and ieee_sqrt and all(self.parts.values()) else None
        self.refresh()

    # -- weights -----------------------------------------------------------------------------
    def refresh(self, names: Iterable[str] | None = None) -> None:
        """Quantize the master weights `names` (default: all); keep each transposed in the float type
        its forward product needs."""
        if names is None:
            self.q, self.qt = {}, {}
        for k in self.params if names is None else names:
            w = self.params[k]
            if k == "emb":
                self.q[k] = torch.clamp(torch.round(w * 2.0**ACT_BITS), -ACT_MAX, ACT_MAX)
            else:
                self.q[k] = torch.clamp(torch.round(w * 2.0**W_BITS), -W_MAX, W_MAX)
                self.qt[k] = self.q[k].T.contiguous().to(exact_dtype(ACT_MAX, W_MAX, w.shape[1]))

    # -- building blocks ---------------------------------------------------------------------
    def _norm(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RMS norm to integers in [-127, 127] (RMS 32); returns (y, r) with y ~= x * r."""
        ss = x.square().sum(-1, keepdim=True)  # integers below 2**53: exact in any order
        # 32/den, a power-of-two numerator (as one division: the same bits as 32 * (1/den))
        r = torch.div(self._norm_top, sqrt(ss.div_(float(self.cfg.d_model)).add_(1.0), legacy=not self.ieee_sqrt))
        return torch.mul(x, r).round_().clamp_(-ACT_MAX, ACT_MAX), r

    def _linear(self, x: torch.Tensor, name: str, lo: float, hi: float) -> torch.Tensor:
        """Integers in [lo, hi], in float32 where the product ran in float32 (saves converting them
        back and forth between products; the residual stream adds them in float64)."""
        return requant(exact_mm(x, self.qt[name], ACT_MAX, W_MAX, keep=True), W_BITS, lo, hi)

    def _attend(self, q, kt_all, v_all, bias):
        """q (L,H,T,hd), kt_all (L,H,hd,Tk) the keys transposed, v_all (L,H,Tk,hd), bias (H,T,Tk) in z
        units -> (out, p, tot): the attention weights p (integers, float32) and their sums tot (float64).

        One new tensor per chain of operations, the others in place. The scores and p @ v stay in the
        float32 their products ran in; multiplying by the float64 scale and dividing by the float64
        total promote them exactly and compute in float64, as converting them first would."""
        s = exact_mm(q, kt_all, ACT_MAX, ACT_MAX, keep=True)
        z = torch.mul(s, self.att_scale).floor_().add_(bias)
        idx = torch.sub(z.amax(-1, keepdim=True), z, out=z).clamp_(0, ATT_RANGE - 1).long()
        p = lookup(self.att_table, idx)  # float32: integers up to 2**ATT_TOP
        tot = p.sum(-1, keepdim=True, dtype=torch.float64)
        out = torch.div(exact_mm(p, v_all, 2.0**ATT_TOP, ACT_MAX, keep=True), tot).round_()
        return out, p, tot

    def _bias(self, t_from: int, t_to: int, tm: int, tk: int) -> torch.Tensor:
        """ALiBi and causal mask (H, t_to - t_from, tk) for query positions [t_from, t_to) after tm memory keys."""
        key = (t_from, t_to, tm, tk)
        if key not in self._biases:
            qpos = torch.arange(t_from, t_to, dtype=torch.float64).view(-1, 1) + tm
            dist = qpos - torch.arange(tk, dtype=torch.float64).view(1, -1)
            self._biases[key] = torch.where(dist >= 0, -self.slopes * dist, torch.full_like(dist, float(NEG)))
        return self._biases[key]

    def _split(self, qkv: torch.Tensor):
        L, T, _ = qkv.shape
        return qkv.view(L, T, 3, self.cfg.n_head, self.hd).permute(2, 0, 3, 1, 4)

    def _merge(self, o: torch.Tensor) -> torch.Tensor:
        L, H, T, hd = o.shape
        return o.permute(0, 2, 1, 3).reshape(L, T, H * hd)

    def _head(self, x: torch.Tensor):
        """(logits, y, r): logits are integers in 1/LOGIT_FRAC bit, as float64 (the type they are mixed in)."""
        y, r = self._norm(x)
        o = exact_mm(y, self.qt["head"], ACT_MAX, W_MAX, keep=True)
        return torch.mul(o, self.out_scale).floor_(), y, r

    # -- forward -----------------------------------------------------------------------------
    def _layers(self, tok: torch.Tensor, keys) -> tuple[torch.Tensor, Cache]:
        """The layer stack on inputs tok (L,T); keys(i, k, v) -> (kt_all, v_all, bias) supplies attention
        keys (transposed: see start_steps).

        Returns (z, cache): z (L,T,256) integer logits in 1/LOGIT_FRAC bit (float64), cache the activations backward() needs.
        """
        x = lookup(self.q["emb"], tok)
        layers = []
        for i, names in enumerate(self.names):
            y1, r1 = self._norm(x)
            qkv = self._linear(y1, names["qkv"], -ACT_MAX, ACT_MAX)
            q, k, v = self._split(qkv)
            kt_all, v_all, bias = keys(i, k, v)
            o, p, tot = self._attend(q, kt_all, v_all, bias)
            o = self._merge(o)
            x = torch.add(x, self._linear(o, names["proj"], -RES_MAX, RES_MAX)).clamp_(-RES_MAX, RES_MAX)
            y2, r2 = self._norm(x)
            h = self._linear(y2, names["fc1"], 0.0, ACT_MAX)
            x = torch.add(x, self._linear(h, names["fc2"], -RES_MAX, RES_MAX)).clamp_(-RES_MAX, RES_MAX)
            layers.append(LayerCache(y1, r1, qkv, p, tot, o, y2, r2, h))
        z, yf, rf = self._head(x)
        return z, Cache(tok, layers, yf, rf)

    def forward(self, tok: torch.Tensor, mem: list | None):
        """Batched forward of a block. tok (L,T) int64 inputs; mem: per layer (k, v) of the last block.

        Returns (z, cache); cache also holds every layer's keys and values, and this block's (mem).
        """
        kv, new_mem = [], []

        def keys(i, k, v):
            k, v = k.float(), v.float()  # keys and values are kept as float32 (see start_steps; no-op
            # where _linear's product ran in float32)
            mk, mv = mem[i] if mem else (k[:, :, :0], v[:, :, :0])
            kv.append((torch.cat([mk, k], 2), torch.cat([mv, v], 2)))
            new_mem.append((k, v))
            return kv[-1][0].transpose(-1, -2), kv[-1][1], self._bias(0, k.shape[2], mk.shape[2], mk.shape[2] + k.shape[2])

        z, cache = self._layers(tok, keys)
        cache.kv, cache.mem = kv, new_mem
        return z, cache

    def start_steps(self, mem: list | None, lanes: int, steps: int, lowest: int = 0) -> StepState:
        """Key/value buffers for decoding `steps` positions one at a time after memory `mem`; finish_steps
        will be asked for the cache of the layers from `lowest` up."""
        c = self.cfg
        tm = mem[0][0].shape[2] if mem else 0
        state = StepState(steps, tm, [])
        if self.loops is not None:
            state.block = self._step_buffers(lanes, steps, tm, lowest, mem)
            return state
        for i in range(c.n_layer):
            # float32 holds these integers (|k|, |v| <= ACT_MAX) exactly and is the type attention's
            # products run in, so no step converts the whole buffer again; keys are kept transposed, the
            # layout a step's product with one query wants (half the time of a transposed view)
            kb = torch.zeros(lanes, c.n_head, self.hd, tm + steps, dtype=torch.float32)
            vb = torch.zeros(lanes, c.n_head, tm + steps, self.hd, dtype=torch.float32)
            if tm:
                kb[..., :tm] = mem[i][0].transpose(-1, -2)
                vb[:, :, :tm] = mem[i][1]
            state.kv.append((kb, vb))
        return state

    def step(self, tok: torch.Tensor, state: StepState) -> torch.Tensor:
        """Logits (L,256) for the next position, given its input byte tok (L,). Same integers as forward().

        Attends over the whole key buffer with the causal mask, so each step's activations are the
        corresponding rows of forward()'s; finish_steps() stacks them into forward()'s cache.
        """
        if state.block is not None:
            return self._step_compiled(tok, state)
        t, tm = state.t, state.tm
        bias = self._bias(t, t + 1, tm, tm + state.steps)

        def keys(i, k, v):
            kb, vb = state.kv[i]
            kb.narrow(3, tm + t, 1).copy_(k.transpose(-1, -2))
            vb.narrow(2, tm + t, 1).copy_(v)
            return kb, vb, bias

        z, cache = self._layers(tok.unsqueeze(1), keys)
        state.t = t + 1
        state.caches.append(cache)
        return z[:, 0]

    @staticmethod
    def steps_mem(state: StepState) -> list:
        """The keys and values of the block decoded by step(): the next block's memory (forward()'s mem)."""
        if state.t != state.steps:
            raise ValueError("block not fully decoded")
        if state.block is not None:
            return [(k8[:, :, state.tm :].float(), v8[:, :, state.tm :].float()) for k8, v8 in state.block.kv8]
        return [(kb[..., state.tm :].transpose(-1, -2), vb[:, :, state.tm :]) for kb, vb in state.kv]

    def finish_steps(self, state: StepState, lowest: int = 0) -> Cache:
        """forward()'s cache for the block decoded by step(), from the steps' own activations (None for
        the layers below `lowest`, which backward() does not reach)."""
        if state.block is not None:
            if lowest < state.block.lowest or state.t != state.steps:
                raise ValueError("the compiled step kept no cache of these layers")
            c = state.block.cache
            layers = [None] * lowest + c.layers[lowest:]
            return Cache(c.tok, layers, c.yf, c.rf, [(k8.float(), v8.float()) for k8, v8 in state.block.kv8], self.steps_mem(state))
        cs = state.caches
        layers = [None] * lowest + [LayerCache.cat([c.layers[i] for c in cs]) for i in range(lowest, self.cfg.n_layer)]
        return Cache(torch.cat([c.tok for c in cs], 1), layers, torch.cat([c.yf for c in cs], 1),
                     torch.cat([c.rf for c in cs], 1), [(kb.transpose(-1, -2), vb) for kb, vb in state.kv],
                     self.steps_mem(state))

    # -- the decoding step in compiled loops ------------------------------------------------
    def _step_buffers(self, lanes: int, steps: int, tm: int, lowest: int, mem: list | None) -> StepBuffers:
        """The buffers of a block's compiled steps; the cache in the dtypes forward() gives."""
        c = self.cfg
        L, S, d, m, H, tk = lanes, steps, c.d_model, c.d_mlp, c.n_head, tm + steps
        f64, f32 = torch.float64, torch.float32
        lin = f32 if self.parts[d] == 1 else f64  # a requantized product of d terms: float32 where it ran as one
        layers = [LayerCache(
            y1=torch.empty(L, n, d, dtype=f64), r1=torch.empty(L, n, 1, dtype=f64), qkv=torch.empty(L, n, 3 * d, dtype=lin),
            p=torch.empty(L, H, n, tk, dtype=f32), tot=torch.empty(L, H, n, 1, dtype=f64), o=torch.empty(L, n, d, dtype=f64),
            y2=torch.empty(L, n, d, dtype=f64), r2=torch.empty(L, n, 1, dtype=f64), h=torch.empty(L, n, m, dtype=lin))
            for n in (0 if i < lowest else S for i in range(c.n_layer))]
        cache = Cache(torch.empty(L, S, dtype=torch.int64), layers, torch.empty(L, S, d, dtype=f64), torch.empty(L, S, 1, dtype=f64))
        pd, pm = self.parts[d], self.parts[m]
        shapes = {"qkv": (pd, d, 3 * d), "proj": (pd, d, d), "fc1": (pd, d, m), "fc2": (pm, m, d), "head": (pd, d, 256)}
        raw = {k: torch.empty(p, L, n, dtype=f32) for k, (p, _, n) in shapes.items()}
        # consecutive terms per part, as exact_mm splits them (any split of exact parts gives the same sum)
        parts = {k: [(slice(j * -(-kk // p), (j + 1) * -(-kk // p)), raw[k][j]) for j in range(p)]
                 for k, (p, kk, _) in shapes.items()}
        return StepBuffers(lowest, cache, torch.empty(L, d, dtype=f64), torch.empty(L, d, dtype=f32), torch.empty(L, d, dtype=f32),
                           torch.empty(L, m, dtype=f32), raw, parts,
                           [(self._int8_keys(mem, i, L, tk, 0), self._int8_keys(mem, i, L, tk, 1)) for i in range(c.n_layer)])

    def _int8_keys(self, mem: list | None, layer: int, lanes: int, tk: int, which: int) -> torch.Tensor:
        """A layer's keys (which = 0) or values (1) for a block's compiled steps: memory, then room."""
        buf = torch.zeros(lanes, self.cfg.n_head, tk, self.hd, dtype=torch.int8)
        if mem:
            buf[:, :, : mem[layer][which].shape[2]] = mem[layer][which]
        return buf

    def _mm(self, a: torch.Tensor, name: str, B: StepBuffers, product: str):
        """The product a @ (name's weights) as its float32 parts, each exact, into B.raw[product]
        (parts, L, n); returned as numpy for the loops, which add the parts in float64."""
        b, parts = self.qt[name], B.parts[product]
        if len(parts) == 1:
            torch.mm(a, b, out=parts[0][1])
        else:
            for terms, out in parts:
                torch.mm(a[:, terms], b[terms], out=out)
        return B.raw[product].numpy()

    def _step_compiled(self, tok: torch.Tensor, state: StepState) -> torch.Tensor:
        """step() in compiled loops between the matrix products: the same integers, written into the
        block's cache (StepBuffers) at position t."""
        K, B, t = self.loops, state.block, state.t
        c = B.cache
        x, y, o, h = B.x.numpy(), B.y.numpy(), B.o.numpy(), B.h.numpy()
        w = 2.0**-W_BITS

        def keeps(i: int, *names: str) -> list:
            return [getattr(c.layers[i], k).numpy() for k in names]

        K.net_embed(self.q["emb"].numpy(), tok.numpy(), x, ACT_MAX, y, *keeps(0, "y1", "r1"), c.tok.numpy(), t, B.lowest == 0)
        for i, names in enumerate(self.names):
            keep = i >= B.lowest
            k8, v8 = B.kv8[i]
            K.net_attend(self._mm(B.y, names["qkv"], B, "qkv"), w, ACT_MAX, k8.numpy(), v8.numpy(), state.tm + t,
                         self._slopes, self._att_scale, self._att_table, o, *keeps(i, "qkv", "p", "tot", "o"), t, keep)
            K.net_residual(x, self._mm(B.o, names["proj"], B, "proj"), w, RES_MAX, ACT_MAX, y, *keeps(i, "y2", "r2"), t, keep)
            K.net_requant(self._mm(B.y, names["fc1"], B, "fc1"), w, 0.0, ACT_MAX, h, *keeps(i, "h"), t, keep)
            last = i + 1 == len(self.names)
            after = [c.yf.numpy(), c.rf.numpy()] if last else keeps(i + 1, "y1", "r1")
            K.net_residual(x, self._mm(B.h, names["fc2"], B, "fc2"), w, RES_MAX, ACT_MAX, y, *after, t, last or i + 1 >= B.lowest)
        z = torch.empty(tok.shape[0], 256, dtype=torch.float64)
        K.net_head(self._mm(B.y, "head", B, "head"), self._out_scale, z.numpy())
        state.t = t + 1
        return z

    # -- backward and update -----------------------------------------------------------------
    @staticmethod
    def _gmm(g: torch.Tensor, b: torch.Tensor, bmax: float) -> torch.Tensor:
        """g @ b for a float gradient g and an integer-valued b, exact after rounding g."""
        gq, sc = quantize_grad(g, GRAD_BITS)
        return exact_mm(gq, b, 2.0**GRAD_BITS, bmax).mul_(sc)

    def _through(self, g: torch.Tensor, x: torch.Tensor, xmax: float, name: str, sc: float | None = None,
                 inputs: bool = True):
        """Back through the linear layer `name` with input x (..., in), given g (..., out) = dLoss/d(output):
        (weight gradient g^T @ x over all positions, g @ weight or None where `inputs` is False, as
        nothing below learns), g rounded to integers once for both. With `sc`, g is already integers
        of at most GRAD_BITS bits at scale sc."""
        if sc is None:
            g, sc = quantize_grad(g, GRAD_BITS)
        # (products are fresh float64 tensors, scaled in place: the same bits as a scaled copy)
        wg = exact_mm(g.reshape(-1, g.shape[-1]).T, x.reshape(-1, x.shape[-1]), 2.0**GRAD_BITS, xmax).mul_(sc)
        return wg, exact_mm(g, self.q[name], 2.0**GRAD_BITS, W_MAX).mul_(sc) if inputs else None

    def backward(self, cache: Cache, gq_out: torch.Tensor, sc_out: float, lowest: int = 0) -> dict[str, torch.Tensor]:
        """Gradients of the master weights, given dLoss/d(head output) = gq_out * sc_out: gq_out (L,T,256)
        integers of at most GRAD_BITS bits (quantize_grad's output; the mixer learns from the same).
        Layers below `lowest`, and then the embedding, get none: the pass stops at layer `lowest`'s input."""
        grads = {}
        wg, gx = self._through(gq_out, cache.yf, ACT_MAX, "head", sc_out, inputs=lowest < self.cfg.n_layer)
        grads["head"] = wg.mul_(2.0**W_BITS)
        if gx is None:  # the head alone learns
            return grads
        gx = gx.mul_(cache.rf)
        for i in reversed(range(lowest, self.cfg.n_layer)):
            lc, names = cache.layers[i], self.names[i]
            # MLP: x += fc2(relu(fc1(norm(x))))
            grads[names["fc2"]], gh = self._through(gx, lc.h, ACT_MAX, names["fc2"])
            # in place, in the order of the written-out expression: IEEE results are the same bits
            gh = gh.mul_(2.0**-W_BITS).mul_((lc.h > 0) & (lc.h < ACT_MAX))
            grads[names["fc1"]], gy = self._through(gh, lc.y2, ACT_MAX, names["fc1"])
            gx = gy.mul_(2.0**-W_BITS).mul_(lc.r2).add_(gx)
            # attention: x += proj(attend(qkv(norm(x))))
            grads[names["proj"]], go = self._through(gx, lc.o, ACT_MAX, names["proj"])
            gqkv = self._attend_backward(self._split_heads(go * 2.0**-W_BITS), lc, *cache.kv[i])
            gqkv = gqkv.mul_(lc.qkv.abs() < ACT_MAX)
            below_learns = i > lowest or lowest == 0  # a lower layer, or the embedding
            grads[names["qkv"]], gy = self._through(gqkv, lc.y1, ACT_MAX, names["qkv"], inputs=below_learns)
            if not below_learns:
                return grads
            gx = gy.mul_(2.0**-W_BITS).mul_(lc.r1).add_(gx)
        gq, sc = quantize_grad(gx.reshape(-1, gx.shape[-1]), GRAD_BITS)
        gemb = torch.zeros_like(self.params["emb"])
        gemb.index_add_(0, cache.tok.reshape(-1), gq)  # integers: exact in any order
        grads["emb"] = gemb * (sc * 2.0**ACT_BITS)
        return grads

    def _split_heads(self, g: torch.Tensor) -> torch.Tensor:
        L, T, _ = g.shape
        return g.view(L, T, self.cfg.n_head, self.hd).permute(0, 2, 1, 3)

    def _attend_backward(self, go: torch.Tensor, lc: LayerCache, k_all: torch.Tensor, v_all: torch.Tensor) -> torch.Tensor:
        """go (L,H,T,hd) = dLoss/d(attention output) -> dLoss/d(qkv) for this block (L,T,3d)."""
        p, tot = lc.p.double(), lc.tot  # p in float64 once: each product below would convert it
        T = go.shape[2]
        tm = k_all.shape[2] - T
        q, _, _ = self._split(lc.qkv)
        # out = (p @ v) / tot: values get p^T @ (go / tot); keys and queries go through the softmax.
        gt = go / tot
        gt_int, sct = quantize_grad(gt, GRAD_BITS, out=gt)
        gv = exact_mm(p[..., tm:].transpose(-1, -2), gt_int, 2.0**ATT_TOP, 2.0**GRAD_BITS).mul_(sct)
        gq_int, sc = quantize_grad(go, GRAD_BITS, out=go)  # go is a scaled copy, read no more
        ga = exact_mm(gq_int, v_all.transpose(-1, -2), 2.0**GRAD_BITS, ACT_MAX)  # integers
        rs = (p * ga).sum(-1, keepdim=True)  # integers below 2**53: exact
        gs = torch.mul(ga, tot).sub_(rs).mul_(p).div_(tot * tot).mul_(sc * self.score_grad)  # p * (ga * tot - rs) / ...
        gq = self._gmm(gs, k_all, ACT_MAX)
        gk = self._gmm(gs[..., tm:].transpose(-1, -2).contiguous(), q, ACT_MAX)
        L, H, hd = go.shape[0], go.shape[1], go.shape[3]
        g = torch.empty(L, T, 3, H, hd, dtype=torch.float64)  # qkv's layout (_split)
        for j, part in enumerate((gq, gk, gv)):
            g[:, :, j].copy_(part.transpose(1, 2))
        return g.view(L, T, 3 * H * hd)

    def apply_grads(self, grads: dict[str, torch.Tensor], lr_scale: float = 1.0) -> None:
        """One Adam step (no bias correction) in element-wise IEEE operations only, on the weights
        that have gradients (a frozen layer's quantized weights stay as they are)."""
        for k, g in grads.items():
            adam_step(self.params[k], self.adam[k], g, self.cfg, lr_scale, self.ieee_sqrt, self.loops)
        self.refresh(grads)


def adam_step(w: torch.Tensor, state: tuple, g: torch.Tensor, cfg: ModelConfig, lr_scale: float | torch.Tensor = 1.0,
              ieee_sqrt: bool = True, kernels=None) -> None:
    """Adam without bias correction, in separate element-wise IEEE operations (no fused kernels);
    `ieee_sqrt` as for Transformer. `kernels`: kernels.load()'s loops, which make the same operations
    in one pass, for contiguous tensors and a scalar step."""
    m, v = state
    if kernels is not None and ieee_sqrt and not isinstance(lr_scale, torch.Tensor) and g.dtype == torch.float64 and all(
            t.is_contiguous() for t in (w, m, v)):
        kernels.adam(w.view(-1).numpy(), m.view(-1).numpy(), v.view(-1).numpy(), g.reshape(-1).numpy(),
                     cfg.beta1, cfg.beta2, cfg.lr * lr_scale)
        return
    m.mul_(cfg.beta1).add_(g * (1.0 - cfg.beta1))
    v.mul_(cfg.beta2).add_(g * g * (1.0 - cfg.beta2))
    w.sub_(m * (cfg.lr * lr_scale) / (sqrt(v, legacy=not ieee_sqrt) + 1e-12))

"""Fast float pretraining of the transformer, before the exact fine-tuning of `nncomp train`.

The codec's exact integer training step (model.py, with the context statistics around it) is too
slow to show the network much of the training corpus. This module trains a float32 mirror of the
same network with autograd on large batches, several times faster (a GPU is used where there is one):

  * the same parameters, shapes and initialisation (model.init_params);
  * the integer model's quantisation as straight-through rounding: weights to 2**-W_BITS, clamped to
    W_MAX; embeddings and activations to 2**-ACT_BITS, clamped to ACT_MAX as the codec clamps them;
  * the same RMS norm, ALiBi slopes and attention window: a position sees its own block of
    `block` positions up to itself and the whole block before.

The mixing weights are then learned with the codec's own arithmetic (`nncomp train --mixer-only`),
keeping these network weights: further exact steps on the network undid the pretraining
(scripts/train_default_prior.sh). The weights are stored already on the integer model's grid
(clamped; rounded when used), so what was trained is what decodes. Nothing here is on the coding
path, so it may use any float operation.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..exact import LOGIT_FRAC
from ..mixer import LN2
from ..model import ACT_BITS, ACT_MAX, ATT_FRAC, RES_MAX, W_BITS, W_MAX, ModelConfig, init_params

A_MAX = ACT_MAX / 2**ACT_BITS  # bound of activations in real units
WQ_MAX = W_MAX / 2**W_BITS  # bound of weights in real units


def _ste_round(x: torch.Tensor, bits: int, bound: float) -> torch.Tensor:
    """x clamped to +-bound and rounded to 2**-bits in the forward pass; gradient of the clamp only."""
    x = torch.clamp(x, -bound, bound)
    return x + (torch.round(x * 2**bits) / 2**bits - x).detach()


class FloatTransformer(torch.nn.Module):
    """Float32 mirror of model.Transformer; logits in natural units."""

    def __init__(self, cfg: ModelConfig, params: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.cfg = cfg
        src = params or init_params(cfg)
        self.w = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(v.float().clone()) for k, v in src.items()})
        slopes = [float(ATT_FRAC >> (2 * h)) / ATT_FRAC * LN2 for h in range(cfg.n_head)]  # natural units per position
        self.register_buffer("slopes", torch.tensor(slopes).view(-1, 1, 1))

    def params(self) -> dict[str, torch.Tensor]:
        return {k.replace("_", "."): v.detach().double().cpu().clone() for k, v in self.w.items()}

    def _wq(self, name: str) -> torch.Tensor:
        return _ste_round(self.w[name], W_BITS, WQ_MAX)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        # model._norm in real units: x * 32 / sqrt(mean((32 x)^2) + 1)
        y = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 2.0 ** (-2 * ACT_BITS))
        return _ste_round(y, ACT_BITS, A_MAX)

    def _bias(self, T: int, device) -> torch.Tensor:
        """ALiBi + the codec's window: query i sees keys j <= i in its block and the block before."""
        i = torch.arange(T, device=device).view(-1, 1)
        j = torch.arange(T, device=device).view(1, -1)
        ok = (j <= i) & (j // self.cfg.block >= i // self.cfg.block - 1)
        dist = (i - j).float()
        return torch.where(ok, -self.slopes * dist, torch.tensor(float("-inf"), device=device))

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        """Logits (B,T,256) for next bytes after inputs tok (B,T)."""
        c = self.cfg
        B, T = tok.shape
        hd = c.d_model // c.n_head
        x = _ste_round(self.w["emb"], ACT_BITS, A_MAX)[tok]
        bias = self._bias(T, tok.device)
        for i in range(c.n_layer):
            y = self._norm(x)
            qkv = _ste_round(y @ self._wq(f"l{i}_qkv").T, ACT_BITS, A_MAX)
            q, k, v = qkv.view(B, T, 3, c.n_head, hd).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            o = _ste_round(o, ACT_BITS, A_MAX).transpose(1, 2).reshape(B, T, c.d_model)
            x = torch.clamp(x + o @ self._wq(f"l{i}_proj").T, -RES_MAX / 2**ACT_BITS, RES_MAX / 2**ACT_BITS)
            h = self._norm(x) @ self._wq(f"l{i}_fc1").T
            h = _ste_round(torch.clamp(h, 0.0, A_MAX), ACT_BITS, A_MAX)
            x = torch.clamp(x + h @ self._wq(f"l{i}_fc2").T, -RES_MAX / 2**ACT_BITS, RES_MAX / 2**ACT_BITS)
        return self._norm(x) @ self._wq("head").T


def exact_logits_natural(z: torch.Tensor) -> torch.Tensor:
    """The integer model's logits (1/LOGIT_FRAC bit) in natural units, to compare with the mirror's."""
    return z.double() / LOGIT_FRAC * LN2


# -- training --------------------------------------------------------------------------------------


def load_corpus(paths: list[str], chunk: int, holdout_every: int) -> tuple[np.ndarray, np.ndarray]:
    """All files under paths in sorted order, cut into chunks; every holdout_every-th chunk held back
    (the split of `nncomp train`, train.split_chunks). Returns (train bytes, held-out bytes)."""
    from .train import collect, split_chunks

    train, held = split_chunks(collect(paths), chunk, holdout_every)
    return (np.frombuffer(bytearray(b"".join(train)), dtype=np.uint8),
            np.frombuffer(bytearray(b"".join(held)), dtype=np.uint8))


def _on_device(data: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.require(data, requirements="W")).to(device)  # copied only if read-only


def _batch(data: torch.Tensor, rng: np.random.Generator, batch: int, T: int) -> torch.Tensor:
    """batch random windows of T + 1 bytes, gathered where data lives (the GPU's memory if used)."""
    starts = torch.from_numpy(rng.integers(0, len(data) - T - 1, size=batch)).to(data.device)
    return data[starts[:, None] + torch.arange(T + 1, device=data.device)].long()


def _optimizer(model: FloatTransformer, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.0)


def _step(model: FloatTransformer, opt: torch.optim.Optimizer, x: torch.Tensor) -> torch.Tensor:
    """One training step on windows x (B, T+1); returns the loss (natural units) without syncing."""
    loss = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with torch.no_grad():  # keep master weights inside what the integer model can represent
        for k, w in model.w.items():
            w.clamp_(-A_MAX, A_MAX) if k == "emb" else w.clamp_(-WQ_MAX, WQ_MAX)
    return loss.detach()


def steps_for(seconds: float, train: np.ndarray, cfg: ModelConfig, *, batch: int, seq: int, device: str,
              trial: int = 40) -> int:
    """How many steps fit in `seconds` on this machine, from a timed trial on a scratch model."""
    data = _on_device(train, device)
    model = FloatTransformer(cfg).to(device)
    opt, rng = _optimizer(model, 1e-3), np.random.default_rng(12345)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for i in range(trial + 5):
        if i == 5:
            sync()
            t0 = time.perf_counter()
        _step(model, opt, _batch(data, rng, batch, seq))
    sync()
    return max(1, int(seconds * trial / (time.perf_counter() - t0)))


@torch.no_grad()
def evaluate(model: FloatTransformer, data: np.ndarray, T: int, batch: int, device, limit: int = 1 << 20) -> float:
    """Bits per byte of the network alone on the first `limit` bytes of data, in windows of T."""
    n = min(len(data) - 1, limit) // T * T
    x = torch.from_numpy(data[: n + 1].astype(np.int64))
    tot = 0.0
    for s in range(0, n, T * batch):
        e = min(n, s + T * batch)
        inp = x[s:e].view(-1, T).to(device)
        tgt = x[s + 1 : e + 1].view(-1, T).to(device)
        tot += F.cross_entropy(model(inp).flatten(0, 1), tgt.flatten(), reduction="sum").item()
    return tot / n / LN2


def pretrain(train: np.ndarray, held: np.ndarray, cfg: ModelConfig, *, steps: int, batch: int, seq: int,
             lr: float, seed: int, device: str, log=print, params=None, checkpoint=None) -> tuple[dict, list]:
    """Train the mirror for `steps` steps; log() gets a TSV line at 21 points, checkpoint(params) too."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = _on_device(train, device)
    model = FloatTransformer(cfg, params).to(device)
    opt = _optimizer(model, lr)
    warm = max(1, steps // 50)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    curve, t0, window = [], time.perf_counter(), []
    before = evaluate(model, held, seq, batch, device)
    curve.append((0, before, before))
    log(f"0\t{before:.4f}\t{before:.4f}\t0s")
    for step in range(1, steps + 1):
        window.append(_step(model, opt, _batch(data, rng, batch, seq)))
        sched.step()
        if step % max(1, steps // 20) == 0 or step == steps:
            h = evaluate(model, held, seq, batch, device)
            mean = torch.stack(window).mean().item() / LN2
            curve.append((step * batch * seq, mean, h))
            log(f"{step * batch * seq}\t{mean:.4f}\t{h:.4f}\t{time.perf_counter() - t0:.0f}s")
            window = []
            if checkpoint:
                checkpoint(model.params(), curve)
    return model.params(), curve


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--output", required=True, help="model file (.nncm) to write")
    ap.add_argument("--init", help="model file whose mixing weights (and, with --resume, network) to start from")
    ap.add_argument("--resume", action="store_true", help="start the network from --init's weights too")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--time-budget", type=float, help="seconds: choose --steps to fit, from a timed trial (logged)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=256, help="window length (a multiple of the block)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=1 << 18)
    ap.add_argument("--log", help="TSV of bytes seen, train and held-out bits/byte of the network alone")
    ap.add_argument("--level", type=int, default=5, help="level whose network shape to train")
    a = ap.parse_args(argv)

    from ..config import level_config
    from ..prior import SHAPE_FIELDS, Prior

    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = level_config(a.level)
    init = Prior.load(a.init) if a.init else None
    train, held = load_corpus(a.inputs, a.chunk, 20)
    if min(len(train), len(held)) <= a.seq:
        ap.error(f"too little data: every 20th chunk of {a.chunk} bytes is held back; use more input or a smaller --chunk")
    lines = ["bytes_seen\ttrain_bpb\tholdout_bpb\telapsed"]

    def log(s: str) -> None:
        print(s, flush=True)
        lines.append(s)
        if a.log:
            Path(a.log).write_text("\n".join(lines) + "\n")

    from ..contexts.counts import TOTAL_BUCKETS
    from ..contexts.layout import ALPHA_INIT

    if a.time_budget:
        a.steps = steps_for(a.time_budget, train, cfg.model, batch=a.batch, seq=a.seq, device=device)
        print(f"# {device}: {a.steps} steps fit in {a.time_budget:.0f} s", flush=True)
    alpha = init.alpha if init else torch.full((len(cfg.orders), TOTAL_BUCKETS), ALPHA_INIT, dtype=torch.float64)

    def write(params: dict, curve: list) -> str:
        info = {"pretrain": {"steps": a.steps, "batch": a.batch, "seq": a.seq, "lr": a.lr, "seed": a.seed, "device": device,
                             "train_bytes": int(len(train)), "holdout_bpb_net": [round(curve[0][2], 4), round(curve[-1][2], 4)]}}
        prior = Prior({k: getattr(cfg.model, k) for k in SHAPE_FIELDS}, tuple(cfg.orders), params, alpha, info)
        Path(a.output).write_bytes(prior.to_bytes())
        return json.dumps({"output": a.output, "id": prior.id, **info["pretrain"]})

    params, curve = pretrain(train, held, cfg.model, steps=a.steps, batch=a.batch, seq=a.seq, lr=a.lr, seed=a.seed,
                             device=device, log=log, params=init.params if (init and a.resume) else None, checkpoint=write)
    print(write(params, curve), flush=True)


if __name__ == "__main__":
    main()

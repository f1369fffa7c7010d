"""Float pretraining: its mirror computes what the integer network computes, and what it learns helps."""

import pytest
import math

import numpy as np
import torch
import torch.nn.functional as F

import nncomp
from nncomp.config import level_config
from nncomp.model import Transformer, init_params
from nncomp.tools.pretrain import FloatTransformer, evaluate, exact_logits_natural, pretrain
from nncomp.prior import Prior

from .conftest import SAMPLE, TINY

TEXT = SAMPLE.read_bytes()


def _exact_logits(cfg, params, tok):
    """Integer network over lanes tok (L, 2*block): two blocks, the second attending to the first."""
    net = Transformer(cfg, params)
    b = cfg.block
    z0, cache = net.forward(tok[:, :b], None)
    z1, _ = net.forward(tok[:, b:], cache.mem)
    return exact_logits_natural(torch.cat([z0, z1], 1))


def test_mirror_matches_the_integer_network():
    # the level-5 shape, trained-looking weights: random with a non-zero head
    cfg = level_config(5).model
    params = init_params(cfg)
    g = torch.Generator().manual_seed(1)
    params["head"] = (torch.rand(params["head"].shape, generator=g, dtype=torch.float64) - 0.5) * 0.5
    data = torch.tensor(list(TEXT[: 8 * 2 * cfg.block + 1]), dtype=torch.int64)
    tok, tgt = data[:-1].view(8, -1), data[1:].view(8, -1)
    ze = _exact_logits(cfg, params, tok)
    with torch.no_grad():
        zf = FloatTransformer(cfg, params)(tok).double()
    ce = lambda z: F.cross_entropy(z.flatten(0, 1), tgt.flatten()).item()  # noqa: E731
    assert abs(ce(ze) - ce(zf)) < 0.01 * ce(ze)
    assert (ze - zf).abs().mean() < 0.05 * ze.std()
    # the window: each layer reaches one block further back (the codec's memory holds the last block's
    # keys and values, computed when that block saw the one before), so with 2 layers 3 blocks back is out of reach
    tok2 = tok.clone()
    tok2[:, 0] = (tok2[:, 0] + 1) % 256
    mirror, b = FloatTransformer(cfg, params), cfg.block
    with torch.no_grad():
        changed, same = mirror(torch.cat([tok2, tok], 1)), mirror(torch.cat([tok, tok], 1))
    assert torch.equal(changed[:, 3 * b :], same[:, 3 * b :])
    assert not torch.equal(changed[:, 2 * b : 3 * b], same[:, 2 * b : 3 * b])


@pytest.mark.slow
def test_pretraining_lowers_the_networks_loss_and_writes_a_usable_prior(tmp_path):
    cfg = TINY.model
    data = np.frombuffer(TEXT, dtype=np.uint8)
    train, held = data[:12000], data[12000:16000]
    model = FloatTransformer(cfg)
    before = evaluate(model, held, 4 * cfg.block, 8, "cpu")
    params, curve = pretrain(train, held, cfg, steps=60, batch=16, seq=4 * cfg.block, lr=3e-3, seed=0, device="cpu",
                             log=lambda s: None)
    assert abs(curve[0][2] - before) < 1e-3 and curve[-1][2] < before - 1.0  # bits per byte of the network alone
    for k, v in params.items():  # inside what the integer model represents
        assert v.abs().max() <= (127 / 32 if k == "emb" else 1023 / 512)
    alpha = torch.full((len(TINY.orders), 16), 0.25, dtype=torch.float64)
    prior = Prior({"d_model": 16, "n_layer": 1, "n_head": 2, "d_mlp": 32}, TINY.orders, params, alpha)
    path = tmp_path / "p.nncm"
    path.write_bytes(prior.to_bytes())
    blob = nncomp.compress(TEXT[16000:20000], config=TINY, model=str(path))
    assert nncomp.decompress(blob, models=[Prior.load(path)]) == TEXT[16000:20000]
    assert len(blob) < len(nncomp.compress(TEXT[16000:20000], config=TINY, model="none"))
    assert math.isfinite(curve[-1][1])

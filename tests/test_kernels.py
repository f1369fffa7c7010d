"""The compiled loops (nncomp/kernels.py) give the torch path's results bit for bit.

Each kernel stands in for a group of torch operations on the coding path; any difference would make
a stream written with them undecodable without them (and the other way round). The unit test drives
the count table through its hardest cases (colliding contexts, lanes meeting one row, ended lanes,
halving, runs), and the network's decoding step through blocks with and without memory, for shapes
whose products run as one float32 part and as several; the stream tests run whole inputs of every
kind through both paths.
"""

from __future__ import annotations

import random

import pytest
import torch

from nncomp import kernels

pytest.importorskip("numba")

from nncomp.config import LEVELS  # noqa: E402
from nncomp.contexts.counts import HALVE_BITS, TOTAL_BUCKETS, ContextModel  # noqa: E402
from nncomp.model import LayerCache, ModelConfig, Transformer, adam_step  # noqa: E402

from .conftest import SAMPLE  # noqa: E402


def _models(**settings) -> tuple[ContextModel, ContextModel]:
    return ContextModel(**settings), ContextModel(**settings, kernels=kernels.load())


@pytest.mark.parametrize("checks,runs,sparse", [(True, True, True), (False, False, False), (True, False, True)])
def test_count_table_steps_agree(checks, runs, sparse):
    settings = dict(orders=(1, 2, 3, 4), hash_bits=8, extra=2, sparse=sparse, halve=True, checks=checks, runs=runs)
    plain, compiled = _models(**settings)
    rng = random.Random(7)
    lanes = 16
    alphabet = [rng.randrange(256) for _ in range(6)]  # few symbols: rows fill, halve and collide
    hist = torch.zeros(lanes, dtype=torch.int64)
    halved = False
    for step in range(400):
        # lanes share histories often, so several lanes meet one row (and claim it) in one step
        extra = torch.tensor([[rng.randrange(1 << 20) for _ in range(lanes)] for _ in range(2)])
        valid = torch.tensor([rng.random() > 0.1 for _ in range(lanes)])
        sym = torch.tensor([rng.choice(alphabet) for _ in range(lanes)]) * valid
        out = []
        for m in (plain, compiled):
            rows, check = m.rows(hist, extra, sparse)
            f, bucket, owner, top = m.features(rows, check)
            guess, read = m.run_guess(rows, bucket, owner, top, step % 2 == 1, base=3) if runs else (None, None)
            m.update(rows, bucket, sym, valid, check, owner, read if step % 3 else None)
            out.append((rows, check, f, bucket, owner, top, guess, read))
        halved |= bool((bucket % TOTAL_BUCKETS > HALVE_BITS).any())
        for a, b in zip(*out):
            if a is None or b is None:
                assert a is b
            elif isinstance(a, tuple):
                assert all(torch.equal(x.long(), y.long()) for x, y in zip(a, b))
            else:
                assert torch.equal(a.long() if a.dtype != torch.float64 else a, b.long() if b.dtype != torch.float64 else b)
        hist = torch.where(torch.tensor([rng.random() < 0.5 for _ in range(lanes)]), hist[0], ContextModel.push(hist, sym))
    assert torch.equal(plain.table, compiled.table)
    if checks:
        assert torch.equal(plain.checks, compiled.checks)
    if runs:
        assert torch.equal(plain.runs, compiled.runs)
    assert halved


@pytest.mark.parametrize("cfg,lowest", [(LEVELS[5].model, 1), (LEVELS[5].model, 0), (LEVELS[1].model, 0),
                                        (ModelConfig(d_model=64, n_head=2, d_mlp=512, block=8), 1)])
def test_network_steps_agree(cfg, lowest):
    """Step by step, the compiled decoding step gives the torch step's logits, the forward pass's,
    and the same cache for learning (values and dtypes), keys and values."""
    plain, compiled = Transformer(cfg), Transformer(cfg, kernels=kernels.load())
    assert compiled.loops is not None
    g = torch.Generator().manual_seed(11)
    for k in plain.params:  # weights far from their start, so every activation is busy
        plain.params[k] += torch.randn(plain.params[k].shape, generator=g, dtype=torch.float64) * 0.3
        compiled.params[k] = plain.params[k].clone()
    plain.refresh()
    compiled.refresh()
    lanes, T = 5, cfg.block
    tok = torch.randint(0, 256, (lanes, 2 * T), generator=g)
    mem = None
    for b in range(2):  # the first block without memory, the second after it
        block = tok[:, b * T : (b + 1) * T]
        z, cache = plain.forward(block, mem)
        states = [m.start_steps(mem, lanes, T, lowest) for m in (plain, compiled)]
        for t in range(T):
            za, zb = (m.step(block[:, t], s) for m, s in zip((plain, compiled), states))
            assert zb.dtype == za.dtype and torch.equal(za, zb) and torch.equal(za, z[:, t]), (b, t)
        ca, cb = (m.finish_steps(s, lowest) for m, s in zip((plain, compiled), states))
        for name in ("tok", "yf", "rf"):
            assert torch.equal(getattr(ca, name), getattr(cb, name)), name
        assert [la is None for la in ca.layers] == [lb is None for lb in cb.layers] == [i < lowest for i in range(cfg.n_layer)]
        for la, lb in zip(ca.layers[lowest:], cb.layers[lowest:]):
            for f in LayerCache.__dataclass_fields__:
                x, y = getattr(la, f), getattr(lb, f)
                assert x.dtype == y.dtype and torch.equal(x, y), f
        for pairs in (zip(ca.kv, cb.kv), zip(ca.mem, cb.mem)):
            for (ka, va), (kb, vb) in pairs:
                assert torch.equal(ka, kb) and torch.equal(va, vb)
        mem = cache.mem


def test_mixer_dots_are_exact_at_their_bounds():
    """The mixer's per-row gradient sums (summed in any order by the compiled loop) equal exact integer
    sums, with scores and gradients at the extremes Mixer.learn allows."""
    g = torch.Generator().manual_seed(5)
    T, K, L = 3, 5, 7
    f = torch.randint(-(2**11) + 1, 2**11, (T, K, L, 256), generator=g).float()
    gq = torch.randint(-(2**16), 2**16 + 1, (L, T, 256), generator=g).double()
    f[0, 0, 0], gq[0, 0] = 2**11 - 1, 2**16  # the largest sum, and one that cancels to a small remainder
    f[1, 0, 0], gq[0, 1] = 2**11 - 1, torch.tensor([2**16, -(2**16) + 1] * 128, dtype=torch.float64)
    dots = torch.empty(T, K, L, dtype=torch.float64)
    kernels.load().mixer_dots(f.numpy(), gq.numpy(), dots.numpy())
    exact = (f.long() * gq.long().permute(1, 0, 2).unsqueeze(1)).sum(-1)
    assert torch.equal(dots.long(), exact) and torch.equal(dots, exact.double())
    assert dots[0, 0, 0] == 256 * (2**11 - 1) * 2**16 and dots[1, 0, 0] == 128 * (2**11 - 1)


def test_adam_steps_agree():
    """The compiled Adam step gives the torch path's weights and moments to the bit, over gradients
    and moments of every magnitude, many steps in a row."""
    from nncomp.model import adam_step

    g = torch.Generator().manual_seed(9)
    cfg = ModelConfig()
    w = torch.randn(3000, generator=g, dtype=torch.float64)
    sides = [(w.clone(), (torch.zeros(3000, dtype=torch.float64), torch.zeros(3000, dtype=torch.float64))) for _ in range(2)]
    for step in range(20):
        grad = torch.randn(3000, generator=g, dtype=torch.float64) * 10.0 ** torch.randint(-12, 6, (3000,), generator=g)
        grad[step::7] = 0.0
        for (weights, moments), loops in zip(sides, (None, kernels.load())):
            adam_step(weights, moments, grad, cfg, 0.37, True, loops)
    (wa, (ma, va)), (wb, (mb, vb)) = sides
    assert torch.equal(wa, wb) and torch.equal(ma, mb) and torch.equal(va, vb)
    assert not torch.equal(wa, w)


@pytest.mark.parametrize("lazy,byte_weights,mix", [(True, True, 0), (False, False, 3)])
def test_mixer_steps_agree(lazy, byte_weights, mix):
    """The compiled mixer step gives the torch path's weights, moments and bonuses' gradient to the
    bit, over several steps of random cells, scores and gradients at their bounds, with lazy and dense
    pair steps."""
    from nncomp.contexts.counts import N_BUCKETS
    from nncomp.contexts.layout import RowLayout
    from nncomp.mixer import Cells, Mixer

    g = torch.Generator().manual_seed(3 + mix)
    K, L, T = 5, 6, 4
    sides = [Mixer(RowLayout(orders=K), byte_weights=byte_weights, lazy_pairs=lazy, kernels=loops)
             for loops in (None, kernels.load())]
    for _ in range(5):
        hist = torch.randint(0, 1 << 16, (T, L), generator=g)
        match = torch.randint(-1, 30, (T, L), generator=g)
        buckets = torch.randint(0, N_BUCKETS, (T, K, L), generator=g)
        cells = Cells.stack([sides[0].cells(buckets[t], hist[t], match[t]) for t in range(T)])
        f = torch.randint(-(2**11) + 1, 2**11, (T, K, L, 256), generator=g).float()
        zh = torch.randint(-(2**18), 2**18, (L, T, 256), generator=g).double()
        gq = torch.randint(-(2**16), 2**16 + 1, (L, T, 256), generator=g).double()
        for m in sides:
            m.learn(mix, gq, 2.0**-23, f, cells, zh, ModelConfig(), 0.35)
    a, b = sides
    assert not torch.equal(a.alpha, Mixer(RowLayout(orders=K)).alpha)
    for name in a.weights():
        assert torch.equal(a.weights()[name], b.weights()[name]), name
        assert all(torch.equal(x, y) for x, y in zip(a.adam[name], b.adam[name])), name
    assert torch.equal(a.gamma_q, b.gamma_q) and torch.equal(a.uses, b.uses)


def test_coding_gradients_agree():
    """The compiled gradient at the coded distributions (Predictor._grad) is the torch path's integers
    and scale, with ended lanes, and none where no position is valid."""
    from types import SimpleNamespace

    from nncomp.predictor import BlockBuffers, Predictor

    g = torch.Generator().manual_seed(4)
    L, T = 7, 5
    freq = torch.randint(1, 2**16 + 1, (L, T, 256), generator=g).double()
    x = torch.randint(0, 256, (L, T), generator=g)
    valid = torch.ones(L, T, dtype=torch.bool)
    valid[2, 3:] = valid[5] = False
    for v in (valid, torch.zeros_like(valid)):
        got = [Predictor._grad(SimpleNamespace(kernels=loops, buffers=BlockBuffers()), freq, x, v, "g")
               for loops in (None, kernels.load())]
        (ga, sa), (gb, sb) = got
        assert sa == sb and (ga is None) == (gb is None) == (not v.any())
        assert ga is None or (torch.equal(ga, gb) and ga.abs().max() >= 2**15)


def _inputs() -> dict[str, bytes]:
    rng = random.Random(31)
    text = SAMPLE.read_bytes()[:6000]
    table = b"".join(b"%d,%s;%d\t|x%d\n" % (i, b"ab" * (i % 5), i * i % 97, i % 3) for i in range(400))  # fields
    words = bytes(rng.choice(b"abc def\n") for _ in range(5000))
    binary = bytes(rng.randrange(4) * 60 + (i % 3) for i in range(6000))
    return {"text": text, "table": table, "repeats": words[:2500] * 2, "binary": binary}


@pytest.mark.parametrize("name", list(_inputs()))
@pytest.mark.parametrize("level", [1, 5])
@pytest.mark.slow
def test_streams_agree_and_cross_decode(name, level, monkeypatch):
    import nncomp

    data = _inputs()[name]
    coded = {}
    for setting in ("0", "1"):
        monkeypatch.setenv("NNCOMP_KERNELS", setting)
        coded[setting] = nncomp.compress(data, level)
    assert coded["0"] == coded["1"]
    for setting in ("0", "1"):
        monkeypatch.setenv("NNCOMP_KERNELS", setting)
        assert nncomp.decompress(coded["0"]) == data


def test_joint_stream_agrees(monkeypatch):
    import nncomp

    parts = list(_inputs().values())[:3]
    coded = {}
    for setting in ("0", "1"):
        monkeypatch.setenv("NNCOMP_KERNELS", setting)
        c = nncomp.compressor(1, segment=0)
        coded[setting] = b"".join(c.compress(p) + c.end_frame() for p in parts) + c.flush()
    assert coded["0"] == coded["1"]
    assert nncomp.decompress(coded["1"]) == b"".join(parts)


def test_copied_coders_keep_their_own_tables(monkeypatch):
    """joint --matrix codes every pair from copies of one coder (copy.deepcopy): each copy's kernels
    must write that copy's tables, as its torch operations do."""
    from nncomp.tools.joint import ncd_matrix

    parts = [(name, data[:1500]) for name, data in _inputs().items()][:3]
    result = {}
    for setting in ("0", "1"):
        monkeypatch.setenv("NNCOMP_KERNELS", setting)
        result[setting] = ncd_matrix(parts, 1)
    assert result["0"] == result["1"]


def test_a_cache_compiled_with_other_constants_is_not_used(tmp_path):
    """numba checks only _kernels.py's date and size before it reuses cached machine code, which holds
    the constants it read from contexts/counts.py: a changed constant must make the kernels compile again."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    shutil.copytree(Path(kernels.__file__).parent, tmp_path / "nncomp", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from nncomp import kernels, _kernels; kernels.load(); "
            "print(_kernels.baked()[2], _kernels.CONSTANTS[2])")

    def run() -> str:
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert run() == ["32000", "32000"]  # compiles and caches
    counts = tmp_path / "nncomp" / "contexts" / "counts.py"
    counts.write_text(counts.read_text().replace("COUNT_CAP = 32000", "COUNT_CAP = 31000"))
    assert run() == ["31000", "31000"]  # the stale cache is dropped
    assert run() == ["31000", "31000"]  # and the new one kept


def test_kernels_serve_inputs_large_enough_to_repay_loading(monkeypatch):
    monkeypatch.delenv("NNCOMP_KERNELS", raising=False)
    assert not kernels.wanted(kernels.MIN_BYTES - 1) and kernels.wanted(kernels.MIN_BYTES)
    monkeypatch.setenv("NNCOMP_KERNELS", "0")
    assert not kernels.wanted(1 << 30)
    monkeypatch.setenv("NNCOMP_KERNELS", "1")
    assert kernels.wanted(1)

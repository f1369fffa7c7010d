"""The exact-arithmetic primitives: products, square roots, tables and the integer generator."""

import decimal
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nncomp.exact import exact_dtype, exact_mm, exp2_table, ilog2_fixed, lookup, quantize_grad, splitmix_uniform, sqrt


def test_exact_mm_matches_integer_product():
    rng = np.random.default_rng(1)
    a = rng.integers(-127, 128, size=(64, 200))
    b = rng.integers(-1023, 1024, size=(200, 48))
    want = a.astype(object).dot(b.astype(object))  # arbitrary-precision integers
    got = exact_mm(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), 127, 1023)
    assert got.dtype == torch.float64
    assert (got.numpy().astype(np.int64) == want.astype(np.int64)).all()


def test_exact_mm_rows_equal_batched():
    rng = np.random.default_rng(2)
    a = torch.tensor(rng.integers(-127, 128, size=(32, 128)), dtype=torch.float64)
    b = torch.tensor(rng.integers(-1023, 1024, size=(128, 64)), dtype=torch.float64)
    full = exact_mm(a, b, 127, 1023)
    rows = torch.cat([exact_mm(a[i : i + 1], b, 127, 1023) for i in range(32)])
    assert torch.equal(full, rows)


def test_exact_mm_refuses_inexact_bounds():
    a = torch.ones(2, 4)
    with pytest.raises(ValueError):
        exact_mm(a, a.T, 2.0**30, 2.0**30)


def test_lookup_picks_rows_by_index():
    table = torch.tensor([[10, 11], [20, 21], [30, 31]], dtype=torch.int16)
    idx = torch.tensor([[2, 0, 2], [1, 1, 0]])
    got = lookup(table, idx)
    assert got.shape == (2, 3, 2) and got.dtype == torch.int16
    assert got[0].tolist() == [[30, 31], [10, 11], [30, 31]] and got[1].tolist() == [[20, 21], [20, 21], [10, 11]]
    scores = torch.tensor([0.5, 1.5, 2.5], dtype=torch.float64)
    assert lookup(scores, idx.int()).tolist() == [[2.5, 0.5, 2.5], [1.5, 1.5, 0.5]]  # int32 indices too


def test_lookup_matches_indexing_on_every_path():
    # 1-D and n-D indices, int64 and int32, below and above the size where small tables go through take
    gen = torch.Generator().manual_seed(3)
    tables = [torch.randint(-999, 999, (50,), generator=gen).double(), torch.randint(-99, 99, (50, 4), generator=gen)]
    for table in tables:
        for shape in [(7,), (3, 5), (2, 4, 1, 8), (2000,), (40, 40), (2, 3, 16, 16)]:
            idx = torch.randint(0, 50, shape, generator=gen)
            for ix in (idx, idx.int()):
                got = lookup(table, ix)
                assert got.dtype == table.dtype and torch.equal(got, table[idx]), (tuple(table.shape), shape, ix.dtype)


def test_exp2_table_values():
    t = exp2_table(16, 33, 10)
    assert t[0] == 1024 and t[16] == 512 and t[32] == 256  # exact powers of two
    ref = [round(1024 * 2 ** (-i / 16)) for i in range(33)]
    assert max(abs(int(x) - r) for x, r in zip(t, ref)) <= 1
    assert all(t[i] >= t[i + 1] for i in range(32))


def _exp2_reference(frac: int, size: int, top_bits: int) -> list[int]:
    """The definition, one correctly rounded decimal exponential per entry."""
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    ln2, top = ctx.ln(decimal.Decimal(2)), decimal.Decimal(2**top_bits)
    return [int(ctx.multiply(top, ctx.exp(ctx.divide(ctx.multiply(decimal.Decimal(-i), ln2), frac)))
                .to_integral_value(rounding=decimal.ROUND_HALF_EVEN)) for i in range(size)]


def _log2_mantissa_reference(bits: int, frac: int) -> list[int]:
    """The definition, one correctly rounded decimal logarithm per entry."""
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    ln2, n = ctx.ln(decimal.Decimal(2)), 2**bits
    return [int(ctx.multiply(decimal.Decimal(frac), ctx.divide(ctx.ln(ctx.divide(decimal.Decimal(n + i), n)), ln2))
                .to_integral_value(rounding=decimal.ROUND_HALF_EVEN)) for i in range(n)]


def test_tables_match_their_definition():
    """The coder's tables are built with few transcendentals; every entry is what the definition gives."""
    from nncomp import exact, model, predictor

    for frac, size, top in ((exact.LOGIT_FRAC, predictor.OUT_RANGE + 1, exact.EXP_BITS),
                            (model.ATT_FRAC, model.ATT_RANGE, model.ATT_TOP), (16, 33, 10), (3, 39, 12)):
        assert exp2_table(frac, size, top).tolist() == _exp2_reference(frac, size, top), (frac, size, top)
    for bits, frac in ((exact._MANT_BITS, exact.LOGIT_FRAC), (6, 16)):
        assert list(exact._log2_mantissa(bits, frac)) == _log2_mantissa_reference(bits, frac), (bits, frac)


def test_ilog2_fixed_close_to_log2():
    x = torch.tensor([1, 2, 3, 5, 17, 1000, 65535, 2**40 + 12345])
    got = ilog2_fixed(x, 64)
    assert got[0] == 0 and got[1] == 64
    for xi, gi in zip(x.tolist(), got.tolist()):
        assert abs(gi - 64 * math.log2(xi)) <= 0.6


def test_quantize_grad_power_of_two_scale():
    g = torch.tensor([0.3, -1.7, 2.5e-3])
    q, sc = quantize_grad(g, 8)
    assert q.abs().max() <= 2**8
    assert math.log2(sc).is_integer()
    assert torch.allclose(q * sc, g.double(), atol=sc)
    z, _ = quantize_grad(torch.zeros(3), 8)
    assert not z.any()


def test_splitmix_is_fixed_stream():
    u = splitmix_uniform(5, 1000)
    assert np.array_equal(u, splitmix_uniform(5, 1000))
    assert not np.array_equal(u, splitmix_uniform(6, 1000))
    assert u.min() >= -1 and u.max() < 1 and abs(u.mean()) < 0.1


def test_exact_mm_in_float32_parts_is_exact_at_the_bounds():
    # 127 * 1023 * 256 passes 2**24, so this runs as float32 products over two halves of k; every term
    # at its bound (and batched b, as attention's products are) must still give the integer product
    rng = np.random.default_rng(3)
    a = rng.choice([-127, 127, 126, -1], size=(5, 7, 256))
    b = rng.choice([-1023, 1023, 1022, 1], size=(5, 256, 9))
    a[0, 0], b[0, :, 0] = 127, 1023  # one entry of exactly 127 * 1023 * 256 = 33,259,776 > 2**24
    want = np.einsum("bik,bkj->bij", a.astype(object), b.astype(object))
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    for keep in (False, True):
        got = exact_mm(ta, tb, 127, 1023, keep=keep)
        assert got.dtype == torch.float64
        assert (got.numpy().astype(np.int64) == want.astype(np.int64)).all()
    assert exact_dtype(127, 1023, 256) == torch.float32 and exact_dtype(2.0**16, 127, 2048) == torch.float64


def _sqrt_inputs() -> torch.Tensor:
    """Values of the kinds the coder takes square roots of: a norm's mean square plus one (integers
    over a power of two) and Adam's second moments (small positive floats)."""
    g = torch.Generator().manual_seed(5)
    means = torch.randint(0, 2**36, (30000,), generator=g).double() / 128 + 1.0
    r = torch.rand(30000, generator=g, dtype=torch.float64)
    moments = r * r * r * r * 1e-3  # (products: torch's ** goes through MKL too)
    return torch.cat([means, moments])


def test_sqrt_is_correctly_rounded():
    # math.sqrt is the C library's, correctly rounded as IEEE-754 requires; torch.sqrt with MKL is
    # not (on an AVX-512 Xeon about 0.5 % of these values come out one unit in the last place off)
    x = _sqrt_inputs()
    want = np.array([math.sqrt(v) for v in x.tolist()])
    assert np.array_equal(sqrt(x).numpy(), want)
    assert sqrt(x).dtype == torch.float64 and torch.equal(x, _sqrt_inputs())  # the input is left as it was


def test_sqrt_gives_the_same_bits_under_another_instruction_set():
    # MKL picks its code by the processor (MKL_ENABLE_INSTRUCTIONS caps it), torch by ATEN_CPU_CAPABILITY:
    # with torch.sqrt these two processes disagree on about 1 % of the values
    code = ("import hashlib, sys; sys.path.insert(0, sys.argv[1]); from tests.test_exact import _sqrt_inputs; "
            "from nncomp.exact import sqrt; print(hashlib.sha256(sqrt(_sqrt_inputs()).numpy().tobytes()).hexdigest())")
    here = hashlib.sha256(sqrt(_sqrt_inputs()).numpy().tobytes()).hexdigest()
    root = str(Path(__file__).resolve().parent.parent)
    for env in ({"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "default"}, {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}):
        r = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True, env={**os.environ, **env},
                           timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == here, env

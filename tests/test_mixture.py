"""The mixture of a joint stream's model with a fresh one: integer arithmetic that learns its weight."""

import torch

from nncomp.mixture import NORM_BITS, ONE, W_MIN, mix, scaled, step


def _freq(*rows) -> torch.Tensor:
    """Integer-valued float64 frequencies over 256 symbols: each row gives (symbol, frequency) pairs, 1 elsewhere."""
    f = torch.ones(len(rows), 256, dtype=torch.float64)
    for i, row in enumerate(rows):
        for sym, n in row:
            f[i, sym] = n
    return f


def test_scaled_distributions_keep_their_shape_on_one_scale():
    f = _freq([(65, 3 << 18)], [(65, 1 << 20), (66, 1 << 20)])
    a = scaled(f)
    assert a.dtype == torch.int64
    total = 1 << NORM_BITS
    assert ((total - 256 <= a.sum(-1)) & (a.sum(-1) <= total)).all()  # floors lose less than one per symbol
    assert abs(int(a[1, 65]) - total // 2) < total // 1000 and int(a[1, 65]) == int(a[1, 66])


def test_mixture_is_between_its_models_and_never_zero():
    a = scaled(_freq([(65, 1 << 20)]))
    b = scaled(_freq([(66, 1 << 20)]))
    for w in (W_MIN, ONE // 2, ONE - W_MIN):
        m = mix(a, b, w)
        assert m.dtype == torch.float64 and (m >= 1).all() and (m == m.floor()).all() and m.max() < 2**41
        share = float(m[0, 65] / m.sum())
        assert abs(share - w / ONE * float(a[0, 65]) / float(a.sum())) < 1e-3
    same = mix(a, a, ONE // 3)
    assert torch.equal(same, (a * ONE + 1).double())  # two equal models mix to themselves


def test_weight_moves_towards_the_model_that_predicted_the_symbol_better():
    a = scaled(_freq([(65, 1 << 20)], [(65, 1 << 20)]))  # sure of 'A'
    b = scaled(_freq([(66, 1 << 20)], [(66, 1 << 20)]))  # sure of 'B'
    sym_a, both = torch.tensor([65, 65]), torch.tensor([True, True])
    w = ONE // 2
    up = step(w, mix(a, b, w), a, b, sym_a, both)
    down = step(w, mix(a, b, w), a, b, torch.tensor([66, 66]), both)
    assert down < w < up
    # lanes that hold no byte do not move it, and it never leaves [W_MIN, ONE - W_MIN]
    assert step(w, mix(a, b, w), a, b, sym_a, torch.tensor([False, False])) == w
    for _ in range(500):
        w = step(w, mix(a, b, w), a, b, sym_a, both)
    assert w == ONE - W_MIN
    for _ in range(500):
        w = step(w, mix(a, b, w), a, b, torch.tensor([66, 66]), both)
    assert w == W_MIN

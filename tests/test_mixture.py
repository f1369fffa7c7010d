"""The mixture of a joint stream's model with a fresh one: integer arithmetic that learns its weights."""

import torch

from nncomp.mixture import BUCKETS, NORM_BITS, ONE, W_MIN, bucket, mix, scaled, step


def _freq(*rows) -> torch.Tensor:
    """Integer-valued float64 frequencies over 256 symbols: each row gives (symbol, frequency) pairs, 1 elsewhere."""
    f = torch.ones(len(rows), 256, dtype=torch.float64)
    for i, row in enumerate(rows):
        for sym, n in row:
            f[i, sym] = n
    return f


def test_scaled_distributions_keep_their_shape_on_one_scale():
    f = _freq([(65, 3 << 18)], [(65, 1 << 20), (66, 1 << 20)])
    a, total = scaled(f)
    assert a.dtype == torch.int64 and total.tolist() == [(3 << 18) + 255, (2 << 20) + 254]
    one = 1 << NORM_BITS
    assert ((one - 256 <= a.sum(-1)) & (a.sum(-1) <= one)).all()  # floors lose less than one per symbol
    assert abs(int(a[1, 65]) - one // 2) < one // 1000 and int(a[1, 65]) == int(a[1, 66])


def test_buckets_order_positions_by_which_model_is_surer():
    stream = torch.full((5,), 1 << 22)
    fresh = torch.tensor([1 << 17, 1 << 21, 1 << 22, 1 << 24, 1 << 27])  # fresh far surer ... far less sure
    k = bucket(stream, fresh)
    assert k.tolist() == sorted(k.tolist()) and k[0] == 0 and k[-1] == BUCKETS - 1
    assert k[2] == BUCKETS // 2  # equally sure: the middle bucket


def test_mixture_is_between_its_models_and_never_zero():
    a, _ = scaled(_freq([(65, 1 << 20)]))
    b, _ = scaled(_freq([(66, 1 << 20)]))
    for w in (W_MIN, ONE // 2, ONE - W_MIN):
        m = mix(a, b, torch.tensor([w]))
        assert m.dtype == torch.float64 and (m >= 1).all() and (m == m.floor()).all() and m.max() < 2**41
        share = float(m[0, 65] / m.sum())
        assert abs(share - w / ONE * float(a[0, 65]) / float(a.sum())) < 1e-3
    same = mix(a, a, torch.tensor([ONE // 3]))
    assert torch.equal(same, (a * ONE + 1).double())  # two equal models mix to themselves


def test_weights_move_towards_the_model_that_predicted_the_symbol_better():
    a, _ = scaled(_freq([(65, 1 << 20)], [(65, 1 << 20)]))  # sure of 'A'
    b, _ = scaled(_freq([(66, 1 << 20)], [(66, 1 << 20)]))  # sure of 'B'
    both, k = torch.tensor([True, True]), torch.tensor([3, 3])
    start = torch.full((BUCKETS,), ONE // 2)

    def after(weights, sym, valid=both):
        return step(weights, k, mix(a, b, weights[k]), a, b, torch.tensor([sym, sym]), valid)

    up, down = after(start, 65), after(start, 66)
    assert down[3] < ONE // 2 < up[3]
    assert torch.equal(torch.cat([up[:3], up[4:]]), torch.cat([start[:3], start[4:]]))  # other buckets: as they were
    assert torch.equal(after(start, 65, torch.tensor([False, False])), start)  # lanes without a byte: no step
    w = start
    for _ in range(500):
        w = after(w, 65)
    assert w[3] == ONE - W_MIN  # and never beyond [W_MIN, ONE - W_MIN]
    for _ in range(500):
        w = after(w, 66)
    assert w[3] == W_MIN

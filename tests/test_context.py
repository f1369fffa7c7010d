"""Count statistics: confidence buckets tell contexts that have seen one symbol only from the rest; lane
contexts keep each lane's statistics apart."""

import torch

from nncomp.contexts import Frame, zeros
from nncomp.contexts.counts import HALVE_BITS, TOTAL_BUCKETS, ContextModel
from nncomp.contexts.lanes import LaneContext


def _count(model: ContextModel, hist: int, syms: list[int]) -> None:
    h = torch.tensor([hist])
    for s in syms:
        rows = model.rows(h)
        _, b = model.features(rows)
        model.update(rows, b, torch.tensor([s]), torch.tensor([True]))


def test_buckets_mark_contexts_that_have_seen_one_symbol_only():
    m = ContextModel((1, 2), hash_bits=10, halve=True)
    _count(m, ord("a"), [ord("x")] * 5)  # order 1 'a' and order 2 '\0a': five x
    _count(m, ord("b"), [ord("x")] * 3 + [ord("y")])  # 'b': three x, one y
    _, b = m.features(m.rows(torch.tensor([ord("a"), ord("b"), ord("c")])))
    assert b[0].tolist() == [TOTAL_BUCKETS + 3, 3, 0]  # bit length of 5 and 4; 'c' unseen (no flag)
    assert b[1].tolist() == [TOTAL_BUCKETS + 3, 3, 0]


def test_halving_follows_the_total_count_not_the_flag():
    m = ContextModel((1,), hash_bits=10, halve=True)
    n = 2**HALVE_BITS  # the update that makes the total's bit length pass HALVE_BITS halves the row
    _count(m, ord("a"), [ord("x")] * (n + 1))
    counts = m.table[m.rows(torch.tensor([ord("a")]))[0, 0]]
    assert int(counts[ord("x")]) <= n // 2 + 1 and int(counts.sum()) == int(counts[ord("x")])
    _, b = m.features(m.rows(torch.tensor([ord("a")])))
    assert int(b[0, 0]) >= TOTAL_BUCKETS  # still one symbol only


def test_lane_contexts_name_the_lane_and_its_last_bytes_only():
    lanes = LaneContext()
    lanes.start_frame(Frame(), 2, 10)
    a = lanes.contexts(torch.tensor([0x616263, 0x616263]))  # lanes 0 and 1, same bytes
    b = lanes.contexts(torch.tensor([0x7A6263, 0x00]))  # lane 0: another byte three back
    assert a[0, 0] != a[0, 1]  # same bytes, other lane
    assert a[0, 0] == b[0, 0]  # only the last lanes.ORDERS bytes count


def test_lane_rows_keep_each_lanes_statistics_apart():
    lanes = LaneContext()
    lanes.start_frame(Frame(), 2, 10)
    m = ContextModel((2,), hash_bits=12, extra=LaneContext.rows)
    hist = torch.tensor([0x7879, 0x7879])  # both lanes after "xy"
    rows = m.rows(hist, lanes.contexts(hist))
    for _ in range(6):  # lane 0 always continues with A, lane 1 with B
        m.update(rows, m.features(rows)[1], torch.tensor([ord("A"), ord("B")]), torch.tensor([True, True]))
    f, _ = m.features(rows)
    A, B = ord("A"), ord("B")
    assert f[0, 0, A] == f[0, 0, B] == f[0, 1, A]  # the shared order-2 row saw both equally often
    assert f[1, 0, A] > f[1, 0, B] == 0 and f[1, 1, B] > f[1, 1, A] == 0  # each lane's row saw its own


def test_zeros_gives_independent_zeroed_tables():
    for huge in (False, True):
        a, b = zeros(1000, 256, dtype=torch.int16, huge=huge), zeros(1000, 256, dtype=torch.int16, huge=huge)
        assert a.shape == (1000, 256) and a.dtype == torch.int16 and not a.any()
        a[3, 4] = 7
        assert a[3, 4] == 7 and not b.any()  # no two tables share memory
    assert zeros(0, 256, dtype=torch.int64).shape == (0, 256)

"""Count statistics: confidence buckets tell contexts that have seen one symbol only from the rest; lane
contexts keep each lane's statistics apart."""

import torch

from nncomp.contexts import Frame, zeros
from nncomp.contexts.counts import HALVE_BITS, TOTAL_BUCKETS, ContextModel
from nncomp.contexts.lanes import LaneContext


def _count(model: ContextModel, hist: int, syms: list[int]) -> None:
    h = torch.tensor([hist])
    for s in syms:
        rows, check = model.rows(h)
        _, b, owner = model.features(rows, check)
        model.update(rows, b, torch.tensor([s]), torch.tensor([True]), check, owner)


def test_buckets_mark_contexts_that_have_seen_one_symbol_only():
    m = ContextModel((1, 2), hash_bits=10, halve=True)
    _count(m, ord("a"), [ord("x")] * 5)  # order 1 'a' and order 2 '\0a': five x
    _count(m, ord("b"), [ord("x")] * 3 + [ord("y")])  # 'b': three x, one y
    _, b, _ = m.features(m.rows(torch.tensor([ord("a"), ord("b"), ord("c")]))[0])
    assert b[0].tolist() == [TOTAL_BUCKETS + 3, 3, 0]  # bit length of 5 and 4; 'c' unseen (no flag)
    assert b[1].tolist() == [TOTAL_BUCKETS + 3, 3, 0]


def test_halving_follows_the_total_count_not_the_flag():
    m = ContextModel((1,), hash_bits=10, halve=True)
    n = 2**HALVE_BITS  # the update that makes the total's bit length pass HALVE_BITS halves the row
    _count(m, ord("a"), [ord("x")] * (n + 1))
    counts = m.table[m.rows(torch.tensor([ord("a")]))[0][0, 0]]
    assert int(counts[ord("x")]) <= n // 2 + 1 and int(counts.sum()) == int(counts[ord("x")])
    _, b, _ = m.features(m.rows(torch.tensor([ord("a")]))[0])
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
    rows, _ = m.rows(hist, lanes.contexts(hist))
    for _ in range(6):  # lane 0 always continues with A, lane 1 with B
        m.update(rows, m.features(rows)[1], torch.tensor([ord("A"), ord("B")]), torch.tensor([True, True]))
    f, _, _ = m.features(rows)
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


def _colliding(m: ContextModel) -> tuple[int, int]:
    """Two order-3 contexts whose hashes share a row but not a check byte."""
    seen = {}
    for c in range(1, 1 << 16):
        rows, check = m.rows(torch.tensor([c]))
        row, chk = int(rows[0, 0]), int(check[0, 0])
        if row in seen and seen[row][1] != chk:
            return seen[row][0], c
        seen.setdefault(row, (c, chk))
    raise AssertionError("no collision found")


def test_a_context_that_hashes_to_anothers_row_reads_it_as_unseen_and_takes_it_only_while_nearly_empty():
    from nncomp.contexts.counts import CLAIM, CLAIM_BELOW, OWN

    m = ContextModel((3,), hash_bits=8, checks=True)  # 256 rows for 2**24 contexts: collisions are easy to find
    a, b = _colliding(m)
    x, y = ord("x"), ord("y")

    def look(c):
        rows, check = m.rows(torch.tensor([c]))
        f, bucket, owner = m.features(rows, check)
        return int(rows[0, 0]), f[0, 0], int(bucket[0, 0]), int(owner[0, 0])

    row = look(a)[0]
    _count(m, a, [x] * (CLAIM_BELOW - 1))  # a claims the empty row and counts below CLAIM_BELOW
    assert int(m.table[row, x]) == CLAIM_BELOW - 1 and look(a)[3] == OWN
    _, f, bucket, owner = look(b)
    assert bucket == 0 and bool((f == f[0]).all()) and owner == CLAIM  # a's counts are not b's
    _count(m, b, [y])  # b takes the row over: a's counts go
    assert int(m.table[row].sum()) == 1 and int(m.table[row, y]) == 1 and look(b)[3] == OWN
    _count(m, a, [x])  # ... and a takes it back, as b's total is 1
    _count(m, a, [x] * CLAIM_BELOW)  # now a's total reaches CLAIM_BELOW and more
    assert look(b)[3] == 0
    _count(m, b, [y] * 3)  # b neither counts nor takes the row
    assert int(m.table[row, x]) == CLAIM_BELOW + 1 and int(m.table[row].sum()) == CLAIM_BELOW + 1


def test_direct_rows_ignore_check_bytes_and_lanes_taking_one_row_agree():
    from nncomp.contexts.counts import OWN

    m = ContextModel((1, 3), hash_bits=8, checks=True)
    a, b = _colliding(ContextModel((3,), hash_bits=8, checks=True))
    hist = torch.tensor([a, b])  # order 1 rows are direct; the order 3 rows collide in one step
    rows, check = m.rows(hist)
    assert check[0].tolist() == [0, 0] and bool((check[1] > 0).all())
    _, bucket, owner = m.features(rows, check)
    assert owner[0].tolist() == [OWN, OWN]
    m.update(rows, bucket, torch.tensor([ord("x"), ord("y")]), torch.tensor([True, True]), check, owner)
    row = int(rows[1, 0])
    assert int(m.table[row, ord("x")]) == int(m.table[row, ord("y")]) == 1  # both lanes counted in the row ...
    assert int(m.checks[row]) == max(check[1].tolist())  # ... which the higher check byte now owns


def test_check_bytes_change_the_stream_and_both_settings_decode():
    from dataclasses import replace
    from pathlib import Path

    import nncomp
    from nncomp import container
    from nncomp.config import level_config

    # 12 KB gets tables of 2**16 rows, where a few hundred of its contexts of each hashed row collide
    text = (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()[:12000]
    on = level_config(5)
    off = replace(on, checks=False)
    assert on.checks and not level_config(1).checks
    a, b = nncomp.compress(text, config=on), nncomp.compress(text, config=off)
    assert nncomp.decompress(a) == text == nncomp.decompress(b)
    frame_a, frame_b = (x[container.header_length(x[: container.HEADER_FIXED]):] for x in (a, b))
    assert frame_a != frame_b

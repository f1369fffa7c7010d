"""Count statistics: confidence buckets tell contexts that have seen one symbol only from the rest; lane
contexts keep each lane's statistics apart; hashed rows know their context by a check byte; each row's
run names its last symbol."""

import pytest
import torch

from nncomp.contexts import Frame, zeros
from nncomp.contexts.counts import HALVE_BITS, TOTAL_BUCKETS, ContextModel
from nncomp.contexts.lanes import LaneContext


def _count(model: ContextModel, hist: int, syms: list[int]) -> None:
    h = torch.tensor([hist])
    for s in syms:
        rows, check = model.rows(h)
        _, b, owner, _ = model.features(rows, check)
        model.update(rows, b, torch.tensor([s]), torch.tensor([True]), check, owner)


def test_buckets_mark_contexts_that_have_seen_one_symbol_only():
    m = ContextModel((1, 2), hash_bits=10, halve=True)
    _count(m, ord("a"), [ord("x")] * 5)  # order 1 'a' and order 2 '\0a': five x
    _count(m, ord("b"), [ord("x")] * 3 + [ord("y")])  # 'b': three x, one y
    _, b, _, _ = m.features(m.rows(torch.tensor([ord("a"), ord("b"), ord("c")]))[0])
    assert b[0].tolist() == [TOTAL_BUCKETS + 3, 3, 0]  # bit length of 5 and 4; 'c' unseen (no flag)
    assert b[1].tolist() == [TOTAL_BUCKETS + 3, 3, 0]


def test_halving_follows_the_total_count_not_the_flag():
    m = ContextModel((1,), hash_bits=10, halve=True)
    n = 2**HALVE_BITS  # the update that makes the total's bit length pass HALVE_BITS halves the row
    _count(m, ord("a"), [ord("x")] * (n + 1))
    counts = m.table[m.rows(torch.tensor([ord("a")]))[0][0, 0]]
    assert int(counts[ord("x")]) <= n // 2 + 1 and int(counts.sum()) == int(counts[ord("x")])
    _, b, _, _ = m.features(m.rows(torch.tensor([ord("a")]))[0])
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
    f, _, _, _ = m.features(rows)
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
        f, bucket, owner, _ = m.features(rows, check)
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
    _, bucket, owner, _ = m.features(rows, check)
    assert owner[0].tolist() == [OWN, OWN]
    m.update(rows, bucket, torch.tensor([ord("x"), ord("y")]), torch.tensor([True, True]), check, owner)
    row = int(rows[1, 0])
    assert int(m.table[row, ord("x")]) == int(m.table[row, ord("y")]) == 1  # both lanes counted in the row ...
    assert int(m.checks[row]) == max(check[1].tolist())  # ... which the higher check byte now owns


def _setting_input(setting: str) -> bytes:
    from pathlib import Path

    if setting == "checks":  # 12 KB gets tables of 2**16 rows, where a few hundred of its contexts of each hashed row collide
        return (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()[:12000]
    return bytes(range(256)) * 8 + bytes((i * 7) % 13 for i in range(4000))  # binary, with drifting contexts


@pytest.mark.parametrize("setting", ["checks", "runs"])
def test_check_bytes_and_runs_change_the_stream_and_both_settings_decode(setting):
    from dataclasses import replace

    import nncomp
    from nncomp import container
    from nncomp.config import level_config

    data = _setting_input(setting)
    on = level_config(5)
    off = replace(on, **{setting: False})
    assert getattr(on, setting) and not getattr(level_config(1), setting)
    a, b = nncomp.compress(data, config=on), nncomp.compress(data, config=off)
    assert nncomp.decompress(a) == data == nncomp.decompress(b)
    frame_a, frame_b = (x[container.header_length(x[: container.HEADER_FIXED]):] for x in (a, b))
    assert frame_a != frame_b


def _run(m: ContextModel, hist: int) -> tuple[int, int, bool]:
    """(symbol, bucket, active) of the run of the first row of context hist."""
    rows, check = m.rows(torch.tensor([hist]))
    _, bucket, owner, top = m.features(rows, check)
    g, _ = m.run_guess(rows, bucket, owner, top, binary=False)
    return int(g.symbol[0, 0]), int(g.bucket[0, 0]), bool(g.active[0, 0])


def test_runs_name_the_last_symbol_of_a_context_and_how_often_it_came_in_a_row():
    from nncomp.contexts.counts import RUN_AGREE, RUN_CLASSES

    m = ContextModel((1,), hash_bits=10, runs=True)
    a, x, y = ord("a"), ord("x"), ord("y")
    assert not _run(m, a)[2]  # nothing seen yet: no guess
    _count(m, a, [x, x])
    assert _run(m, a) == (x, (0 * RUN_AGREE + 0) * RUN_CLASSES + 1, True)  # x twice, the row's only symbol
    _count(m, a, [x] * 5 + [y])
    assert _run(m, a) == (y, (0 * RUN_AGREE + 2) * RUN_CLASSES + 0, True)  # y once: neither only nor most counted
    _count(m, a, [y] * 10)
    assert _run(m, a) == (y, (0 * RUN_AGREE + 1) * RUN_CLASSES + RUN_CLASSES - 1, True)  # now y leads; runs cap
    rows, check = m.rows(torch.tensor([a]))
    _, bucket, owner, top = m.features(rows, check)
    assert int(m.run_guess(rows, bucket, owner, top, binary=True)[0].bucket[0, 0]) > _run(m, a)[1]  # binary frames: own bonuses


def test_runs_of_rows_held_by_another_context_neither_show_nor_change():
    from nncomp.contexts.counts import CLAIM_BELOW

    m = ContextModel((3,), hash_bits=8, checks=True, runs=True)
    a, b = _colliding(m)
    x, y = ord("x"), ord("y")
    _count(m, a, [x] * CLAIM_BELOW)  # a holds the row for good
    assert _run(m, b)[2] is False  # b reads the row as unseen: no run either
    _count(m, b, [y] * 3)
    assert _run(m, a)[:1] == (x,) and _run(m, a)[2]  # a's run is untouched


def test_lanes_that_meet_one_row_in_one_step_leave_the_same_run_in_either_order():
    tables = []
    for order in ((0, 1), (1, 0)):
        m = ContextModel((1,), hash_bits=10, runs=True)
        syms = torch.tensor([ord("x"), ord("y")])[list(order)]
        hist = torch.tensor([ord("a"), ord("a")])
        rows, check = m.rows(hist)
        _, bucket, owner, _ = m.features(rows, check)
        m.update(rows, bucket, syms, torch.tensor([True, True]), check, owner)
        tables.append(m.runs.clone())
    assert torch.equal(tables[0], tables[1]) and tables[0].any()


def test_runs_leave_frames_of_images_alone():
    from dataclasses import replace

    import nncomp
    from nncomp import container
    from nncomp.config import level_config
    from nncomp.codec import _kind
    from tests.test_golden import inputs

    image = inputs()["image"]
    on = level_config(5)
    assert _kind(on, image).pixels  # the pixel rows speak in its frame
    a, b = nncomp.compress(image, config=on), nncomp.compress(image, config=replace(on, runs=False))
    # the frames, between the header and the end record (whose seek table names the header's length)
    frame_a, frame_b = (x[container.header_length(x[: container.HEADER_FIXED]) : -5 - int.from_bytes(x[-4:], "big")]
                        for x in (a, b))
    assert frame_a == frame_b and frame_a[0] == container.CODED | container.BINARY  # pixel rows know better than a run

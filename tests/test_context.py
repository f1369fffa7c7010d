"""Count statistics: confidence buckets tell contexts that have seen one symbol only from the rest."""

import torch

from nncomp.context import HALVE_BITS, TOTAL_BUCKETS, ContextModel


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

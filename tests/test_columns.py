"""Column contexts: the byte above in the lane's previous line, and what it buys on tables."""

from dataclasses import replace

import pytest
import torch

import nncomp
from nncomp import container
from nncomp.config import level_config
from nncomp.contexts import Frame
from nncomp.contexts.columns import NONE, ColumnContext
from nncomp.contexts.counts import ContextModel


def _above(lanes: list[bytes], row: int = 0) -> list[list[int]]:
    """The byte above each position of each lane's text, as a column context sees it (row 0: at the
    same column, row 2: in the same field)."""
    src = ColumnContext()
    src.start_frame(Frame(), len(lanes), len(lanes[0]))
    hist, out = torch.zeros(len(lanes), dtype=torch.int64), []
    for t in range(len(lanes[0])):
        out.append((src.contexts(hist)[row] & 511).tolist())
        sym = torch.tensor([s[t] for s in lanes])
        after = ContextModel.push(hist, sym)
        src.push(hist, after, sym, torch.ones(len(lanes), dtype=torch.bool))
        hist = after
    return [list(col) for col in zip(*out)]


def test_the_byte_above_comes_from_the_lanes_own_previous_line():
    a, b = _above([b"ab;c\nxyz;w\nq", b"12\n345\n67890"])
    assert a[:5] == [NONE] * 5  # no line above yet
    assert a[5:11] == list(b"ab;c\n") + [NONE]  # under each byte of the line before; past its end nothing
    assert a[11] == ord("x")
    assert b[3:7] == list(b"12\n") + [NONE] and b[7:10] == list(b"345")


def test_in_a_field_the_byte_above_is_the_same_fields():
    text = b"1;ab;x\n2;cde;y\n"
    (field,), (column,) = _above([text], row=2), _above([text])
    assert field[7:] == [ord("1"), NONE, ord("a"), ord("b"), NONE, NONE, ord("x"), NONE]
    assert column[13] == ord("\n")  # the column sees the line above's end where the field sees "x"


def test_a_table_codes_smaller_with_column_contexts():
    rows = b"".join(b"%05d|%-9s|%8.2f|%s\n" % (i, b"node%d" % (i % 7), i * 1.25, b"ok" if i % 3 else b"late")
                    for i in range(300))
    cfg = level_config(5)
    assert cfg.columns
    sizes = []
    for c in (cfg, replace(cfg, columns=False)):
        stream = nncomp.compress(rows, config=c)
        assert nncomp.decompress(stream) == rows
        sizes.append(sum(h.pay_len for _, h in container.frame_heads(stream)))  # the frames, not the headers
    assert sizes[0] < 0.95 * sizes[1]


def test_settings_added_later_are_off_in_earlier_formats():
    cfg = level_config(5)
    off = replace(cfg, columns=False)
    assert "columns" not in off.to_dict() and cfg.to_dict()["columns"] is True
    assert type(cfg).from_dict(off.to_dict()) == off and type(cfg).from_dict(cfg.to_dict()) == cfg
    once = replace(cfg, mix_every=0)  # an integer setting: off is 0, and an older stream's dict lacks it
    assert "mix_every" not in once.to_dict() and cfg.to_dict()["mix_every"] == cfg.mix_every > 0
    assert type(cfg).from_dict(once.to_dict()).mix_every == 0
    for bad in (-1, cfg.model.block + 1):
        with pytest.raises(ValueError):
            type(cfg).from_dict({**cfg.to_dict(), "mix_every": bad})
    tuned = replace(cfg, momentum=0.5, bonus_lr=0.6)  # real numbers: off is 0.0
    plain = replace(cfg, momentum=0.0, bonus_lr=0.0)
    assert not {"momentum", "bonus_lr"} & set(plain.to_dict())
    assert type(cfg).from_dict(plain.to_dict()) == plain and type(cfg).from_dict(tuned.to_dict()) == tuned
    for key, bad in (("momentum", 1.0), ("momentum", -0.1), ("momentum", "0.5"), ("bonus_lr", True),
                     ("bonus_lr", float("nan")), ("bonus_lr", 17.0), ("mix_lr", -0.5), ("mix_lr", 17.0)):
        with pytest.raises(ValueError):
            type(cfg).from_dict({**tuned.to_dict(), key: bad})


def test_streams_of_a_format_before_a_level_changed_get_that_level_as_it_was():
    from nncomp.config import BEFORE, LEVELS

    assert level_config(9, 33) == LEVELS[9] == level_config(9)
    before = level_config(9, 32)  # format 33 gave level 9 the mixer's part steps
    assert (before.mix_every, before.bonus_lr, before.mix_lr) == (0, 0.0, 0.0)
    assert LEVELS[9].mix_every > 0 and LEVELS[9].mix_lr > 0
    assert before == replace(LEVELS[9], **BEFORE[33][9])
    assert level_config(5, 32) == replace(LEVELS[5], mix_lr=0.0) == LEVELS[5]  # level 5 unchanged
    assert level_config(9, 30).mix_every == 0 and level_config(5, 30).mix_every == 0  # added in 31: off before
    for level in (6, 7, 8):  # format 34 gave them the part steps too
        assert level_config(level, 34) == LEVELS[level] and LEVELS[level].mix_every > 0
        assert level_config(level, 33) == replace(LEVELS[level], mix_every=0, bonus_lr=0.0, mix_lr=0.0)
    assert level_config(9, 33) == level_config(9, 34)  # a later entry does not reach back to level 9

"""Record contexts: the encoder finds a frame's record length, both sides use it, and tables shrink."""

import os
import random
import struct
from dataclasses import replace

import pytest

import nncomp
from nncomp import container
from nncomp.errors import CorruptError
from nncomp.contexts.record import MAX_PERIOD, find_period

from .conftest import SAMPLE, TINY


def _table(rows: int, seed: int = 0) -> bytes:
    """Fixed 14-byte records: a row counter, a small category, a slowly drifting reading, a flag."""
    rng = random.Random(seed)
    out, level = [], 1000
    for i in range(rows):
        level += rng.randrange(-3, 4)
        out.append(struct.pack("<IHfHH", 5000 + i, rng.randrange(4), level / 8, 0x0203, i % 7 == 0))
    return b"".join(out)


def test_find_period_finds_the_record_length_not_a_multiple():
    assert find_period(_table(3000)) == 14
    rows = [bytes([i % 251, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, (i * 3) % 256]) for i in range(3000)]
    assert find_period(b"".join(rows)) == 24


def _prose(n_words: int) -> bytes:
    rng = random.Random(2)
    words = "the of and a to in is was that he for it with as his on be at by had not are but from or".split()
    return " ".join(rng.choice(words) + ("\n" if rng.random() < 0.08 else "") for _ in range(n_words)).encode()


@pytest.mark.parametrize("data", [b"", b"ab", b"abc" * 3, os.urandom(50000), _prose(12000)],
                         ids=["empty", "two", "tiny", "random", "prose"])
def test_find_period_declines_data_without_records(data):
    assert find_period(data) == 0


def test_find_period_sees_aligned_columns_in_text():
    """The sample's fixed-width table lines are records too; a period there makes it smaller (measured)."""
    assert find_period(SAMPLE.read_bytes()) > 0


def test_find_period_stays_in_range():
    rng = random.Random(1)
    row = bytes(rng.randrange(256) for _ in range(MAX_PERIOD + 500))  # rows longer than searched
    assert 0 <= find_period(row * 6) <= MAX_PERIOD


@pytest.mark.slow
def test_record_contexts_shrink_tables_and_round_trip():
    data = _table(1500)  # 21 KB: several frames of TINY, each measured on its own
    with_rec = nncomp.compress(data, config=TINY)
    without = nncomp.compress(data, config=replace(TINY, record=False))
    assert nncomp.decompress(with_rec) == data
    periods = [head.frame.period for _, head in container.frame_heads(with_rec)]
    assert all(p and p % 14 == 0 for p in periods[:-1])  # 14 or 98 (the flag repeats every 7 rows)
    assert all(head.frame.period == 0 for _, head in container.frame_heads(without))
    assert len(with_rec) < 0.9 * len(without)


def _set_period(stream: bytes, value: int) -> bytes:
    pos, _ = container.frame_heads(stream)[0]
    at = pos + container.FRAME_HEAD.size - 2
    return stream[:at] + struct.pack(">H", value) + stream[at + 2 :]


@pytest.mark.parametrize("value", [0, 1, 7, MAX_PERIOD + 1, 65535])
def test_a_wrong_record_length_is_rejected(value):
    data = _table(120)
    packed = nncomp.compress(data, config=replace(TINY, frame_size=4096))
    assert container.frame_heads(packed)[0][1].frame.period == 14
    with pytest.raises(CorruptError):
        nncomp.decompress(_set_period(packed, value))


def test_record_length_refused_where_settings_have_no_record_contexts():
    data = _table(120)
    packed = nncomp.compress(data, config=replace(TINY, record=False, frame_size=4096))
    with pytest.raises(CorruptError, match="record length"):
        nncomp.decompress(_set_period(packed, 14))

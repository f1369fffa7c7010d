"""The x86 filter: exactly reversible on any bytes, chosen for code and only for code, and worth it."""

from __future__ import annotations

import io
import random
from unittest import mock

import pytest

import nncomp
from nncomp import container, filters
from nncomp.tools import info
from tests.harness.x86 import x86_like

from .conftest import SAMPLE


def _dense(rng: random.Random, n: int) -> bytes:
    """Bytes where opcodes and 00/FF crowd together, so patterns overlap in every way."""
    return bytes(rng.choice((0xE8, 0xE9, 0x00, 0xFF, rng.randrange(256))) for _ in range(n))


def test_decode_inverts_encode_on_any_bytes():
    rng = random.Random(5)
    cases = [b"", b"\xe8", b"\xe8\x00\x00\x00", b"\xe8\x00\x00\x00\x00", b"\xe8\xe8\xe8\xe8\xe8\x00\xff\x00\xff"]
    cases += [_dense(rng, n) for n in range(2, 12) for _ in range(30)] + [_dense(rng, rng.randrange(4000)) for _ in range(50)]
    cases += [rng.randbytes(5000), x86_like(20000, 3)]
    for raw in cases:
        assert filters.x86_decode(filters.x86_encode(raw)) == raw


def test_calls_to_one_function_get_one_operand():
    # three calls to address 0x1000 from before and after it: relative operands differ, absolute ones
    # (the low three bytes; the fourth keeps the sign, which the decoder needs) not
    raw = bytearray(0x2000)
    for at in (0x10, 0x400, 0x1800):
        raw[at] = 0xE8
        raw[at + 1 : at + 5] = ((0x1000 - (at + 5)) & 0xFFFFFFFF).to_bytes(4, "little")
    coded = filters.x86_encode(bytes(raw))
    operands = {coded[at + 1 : at + 4] for at in (0x10, 0x400, 0x1800)}
    assert len({bytes(raw[at + 1 : at + 5]) for at in (0x10, 0x400, 0x1800)}) == 3 and len(operands) == 1


def test_only_code_looks_like_x86():
    rng = random.Random(9)
    assert filters.looks_x86(x86_like(30000, 1))
    assert not filters.looks_x86(SAMPLE.read_bytes())
    assert not filters.looks_x86(rng.randbytes(100000))
    assert not filters.looks_x86(bytes(100000))
    assert not filters.looks_x86(b"\xe8\x00\x00\x00")


@pytest.mark.parametrize("level", [1])
def test_code_round_trips_filtered_and_smaller(level):
    raw = x86_like(24000, 2) + SAMPLE.read_bytes()[:4000]  # code, then text in the same frame
    stream = nncomp.compress(raw, level)
    assert [h.x86 for _, h in container.frame_heads(stream)] == [True]
    assert nncomp.decompress(stream) == raw
    assert info.to_json("code", info.describe(io.BytesIO(stream)))["x86_frames"] == 1
    with mock.patch.object(filters, "looks_x86", lambda _: False):
        plain = nncomp.compress(raw, level)
    assert not any(h.x86 for _, h in container.frame_heads(plain))
    assert len(stream) < 0.97 * len(plain)


def test_a_flipped_flag_is_caught_by_the_checksum():
    raw = x86_like(6000, 4)
    stream = bytearray(nncomp.compress(raw, 1))
    (pos, _), = container.frame_heads(bytes(stream))
    stream[pos] ^= container.X86
    with pytest.raises(nncomp.CorruptError):
        nncomp.decompress(bytes(stream))

"""The x86 and delta filters: exactly reversible on any bytes, each chosen for its kind of data and
only for it, and worth it."""

from __future__ import annotations

import io
import math
import random
import struct
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


def pcm(n: int, channels: int = 1, big: bool = False, seed: int = 0) -> bytes:
    """n samples per channel of 16-bit sound: a few tones with slowly drifting loudness and some noise."""
    rng = random.Random(seed)
    tones = [(rng.uniform(60, 600), rng.uniform(0, 6.3)) for _ in range(3)]
    out = bytearray()
    for i in range(n):
        loud = 6000 + 4000 * math.sin(i / 3000)
        for c in range(channels):
            v = sum(loud * math.sin(2 * math.pi * f * i / 44100 + ph + c) for f, ph in tones) + rng.gauss(0, 40)
            out += struct.pack(">h" if big else "<h", max(-32768, min(32767, round(v))))
    return bytes(out)


def test_delta_decode_inverts_encode_for_every_variant_on_any_bytes():
    rng = random.Random(6)
    codes = [c for c in range(256) if filters.delta_variant(c)]
    assert len(codes) == 24 and 0 not in codes  # 0 means no filter
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 4099):
        raw = rng.randbytes(n)
        for code in codes:
            assert filters.delta_code(*filters.delta_variant(code)) == code
            coded = filters.delta_encode(raw, code)
            assert len(coded) == n and filters.delta_decode(coded, code) == raw


def test_second_differences_of_a_line_are_zero():
    ramp = b"".join(struct.pack("<hh", 7 * i - 500, -3 * i) for i in range(100))  # two channels, each a line
    coded = filters.delta_encode(ramp, filters.delta_code(2, False, 2, 0))
    assert coded[8:] == bytes(len(ramp) - 8)


@pytest.mark.parametrize("channels, big, head", [(1, False, 44), (2, False, 44), (1, True, 17), (2, True, 58)])
def test_sound_gets_the_delta_filter_of_its_layout(channels, big, head):
    raw = bytes(random.Random(1).randbytes(head)) + pcm(12000 // channels, channels, big)
    variant = filters.delta_variant(filters.choose_delta(raw))
    # whole samples (of either channel first)
    assert variant is not None and variant[:2] == (channels, big) and variant[3] % 2 == head % 2


def test_only_samples_get_the_delta_filter():
    rng = random.Random(3)
    text = SAMPLE.read_bytes()
    for raw in (text, text[:5000], rng.randbytes(50000), bytes(50000), x86_like(30000, 5), _dense(rng, 20000),
                pcm(3000)[:4000]):  # (shorter than DELTA_MIN)
        assert filters.choose_delta(raw) == 0


def test_sound_round_trips_filtered_and_smaller():
    raw = b"RIFF" + bytes(40) + pcm(9000, 2)
    stream = nncomp.compress(raw, 1)
    (pos, head), = container.frame_heads(stream)
    variant = filters.delta_variant(stream[pos + container.FRAME_HEAD.size]) if head.delta else None
    assert variant is not None and variant[:2] == (2, False) and variant[3] % 2 == 0
    assert nncomp.decompress(stream) == raw
    assert info.to_json("sound", info.describe(io.BytesIO(stream)))["delta_frames"] == 1
    with mock.patch.object(filters, "choose_delta", lambda _: 0):
        plain = nncomp.compress(raw, 1)
    assert not any(h.delta for _, h in container.frame_heads(plain))
    assert len(stream) < 0.8 * len(plain)


def test_a_damaged_delta_head_is_an_error():
    stream = nncomp.compress(pcm(6000), 1)
    (pos, head), = container.frame_heads(stream)
    assert head.delta
    at = pos + container.FRAME_HEAD.size  # the variant's byte
    for damage in ((at, 0), (at, 0xFF), (pos + container.FRAME_HEAD.size - 2, container.DELTA >> 8),
                   (pos, container.X86)):
        bad = bytearray(stream)
        if damage[1] in (0, 0xFF):
            bad[damage[0]] = damage[1]
        else:
            bad[damage[0]] ^= damage[1]
        with pytest.raises(nncomp.CorruptError):
            nncomp.decompress(bytes(bad))

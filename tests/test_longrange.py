"""Long-range repeats: copies found anywhere in the window cost about nothing, decode exactly at every
level, in frames, joint streams and archives, and hostile references are rejected."""

import io
import random
import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

import nncomp
from nncomp import CorruptError, container, longrange
from nncomp.config import level_config
from nncomp.tools.joint import write_archive

from .conftest import SAMPLE, TINY

RNG = random.Random(27)
NOISE = bytes(RNG.getrandbits(8) for _ in range(4096))
TEXT = SAMPLE.read_bytes()


def split_and_join(chunks, window=1 << 20, min_len=64, align=0):
    finder, joiner = longrange.Finder(window, min_len), longrange.Joiner(window)
    covered = 0
    for chunk in chunks:
        refs, literals = finder.split(chunk, align)
        assert joiner.join(refs, literals, len(chunk)) == chunk
        covered += len(chunk) - len(literals)
    return covered


@pytest.mark.parametrize("distance", [1024, 1000, 4096, 4097, 3 * 4096])  # multiples of the lane length and not
def test_repeat_at_any_distance_is_taken_out(distance):
    gap = bytes(RNG.getrandbits(8) for _ in range(distance - len(NOISE) % distance)) if distance > len(NOISE) else b""
    data = (NOISE + gap)[:distance] * 3
    covered = split_and_join([data])
    assert covered >= len(data) - distance - longrange.STEP  # all but the first period, give or take a step


def test_overlapping_copies_and_sources_in_earlier_chunks():
    period = NOISE[:100]
    data = NOISE[:500] + period * 40 + NOISE[500:1500]
    assert split_and_join([data]) >= 100 * 38  # distance 100, length ~3,900: the decoder repeats the period
    chunks = [NOISE[:2000], TEXT[:1500], NOISE[:2000], TEXT[:1500]]  # sources in the chunk before last
    assert split_and_join(chunks) >= 3000


def test_runs_and_short_repeats_stay_with_the_coder():
    assert split_and_join([NOISE[:300] + bytes(5000) + NOISE[300:600]]) == 0  # zeros cost the coder nothing
    assert split_and_join([NOISE[:40] + TEXT[:500] + NOISE[:40]]) == 0  # 40 bytes: under min_len


def test_references_keep_record_columns():
    rows = [bytes(RNG.getrandbits(8) for _ in range(216)) for _ in range(8)]
    finder = longrange.Finder(1 << 20, 64)
    refs, literals = finder.split(b"".join(rows) + NOISE[:77] + b"".join(rows[2:6]), 216)
    assert refs and all(length % 216 == 0 for _, length, _ in refs)


@pytest.mark.parametrize("level", range(1, 10))
@pytest.mark.slow
def test_four_copies_cost_about_one_at_every_level(level):
    one = nncomp.compress(NOISE, level)
    four = nncomp.compress(NOISE * 4, level)
    assert nncomp.decompress(four) == NOISE * 4
    assert len(four) <= len(one) + 64


def test_repeats_across_frames_and_lanes_decode(tiny):
    data = TEXT[:3000] + NOISE[:1000] + TEXT[:3000] + TEXT[500:2500] + NOISE[:1000]  # frames of 2 KiB
    packed = nncomp.compress(data, config=tiny)
    assert nncomp.decompress(packed) == data
    heads = [head for _, head in container.frame_heads(packed)]
    assert all(h.long and h.pay_len < 24 for h in heads[2:])  # the last three frames are copies: references only
    assert len(packed) < len(nncomp.compress(data, config=replace(tiny, long_window=0)))


def test_progress_counts_the_bytes_references_copy(tiny):
    data = TEXT[:3000] + TEXT[:3000] + TEXT[500:2500]
    ticks, back = [], []
    c = nncomp.compressor(config=tiny, progress=ticks.append)
    packed = c.compress(data) + c.flush()
    assert any(h.long for _, h in container.frame_heads(packed)) and sum(ticks) == len(data)
    d = nncomp.decompressor(progress=back.append)
    assert d.decompress(packed) == data and sum(back) == len(data)


def test_joint_stream_and_archive_share_what_datasets_have_in_common(tiny):
    c = nncomp.compressor(config=tiny, segment=0)
    first = c.compress(NOISE) + c.end_frame()
    second = c.compress(NOISE[:3000] + b"an edit" + NOISE[3000:]) + c.flush()
    assert len(second) < 600 and nncomp.decompress(first + second) == NOISE + NOISE[:3000] + b"an edit" + NOISE[3000:]
    buf = io.BytesIO()
    members = [("a/data.bin", NOISE), ("b/data.bin", NOISE[:2000] + b"x" + NOISE[2001:])]
    write_archive(members, buf, 1)
    alone = len(nncomp.compress(NOISE, 1))
    assert len(buf.getvalue()) < alone + 300
    assert nncomp.decompress(buf.getvalue()) == b"".join(d for _, d in members)


@pytest.mark.slow
def test_window_bounds_how_far_back_a_source_may_be(tiny):
    small = replace(tiny, long_window=4096)
    data = NOISE + TEXT[:6000] + NOISE  # the second copy's source is 10 KB back: outside the window
    packed = nncomp.compress(data, config=small)
    assert nncomp.decompress(packed) == data
    assert not any(head.long for _, head in container.frame_heads(packed)[-2:])


# -- hostile references -----------------------------------------------------------------------------
def stream_with(frame_body: bytes, raw: bytes, kind=container.STORED) -> bytes:
    empty = nncomp.compress(b"", config=TINY)
    header = empty[: container.header_length(empty[: container.HEADER_FIXED])]
    frame = container.build_frame(kind, raw, frame_body, long=True)
    return header + frame + container.build_end(len(raw), zlib.crc32(raw), len(header), [(len(raw), len(frame))])


def test_a_well_formed_reference_decodes():
    raw = NOISE[:300] * 2
    assert nncomp.decompress(stream_with(longrange.pack([(300, 300, 300)]) + NOISE[:300], raw)) == raw


@pytest.mark.parametrize("refs, literals", [
    ([(300, 300, 301)], NOISE[:300]),  # source before the start of the stream
    ([(300, 300, 0)], NOISE[:300]),  # distance 0: the copy would read itself, forwards
    ([(300, 400, 300)], NOISE[:300]),  # longer than the frame
    ([(300, 100, 300)], NOISE[:300]),  # references and literals do not add up
    ([(400, 200, 300)], NOISE[:300]),  # literals before it that are not there
    ([(0, 0, 1)], NOISE[:300]),  # empty reference
])
def test_hostile_references_are_rejected(refs, literals):
    raw = NOISE[:300] * 2
    with pytest.raises(CorruptError):
        nncomp.decompress(stream_with(longrange.pack(refs) + literals, raw))


def test_damaged_reference_lists_are_rejected():
    raw = NOISE[:300] * 2
    good = longrange.pack([(300, 300, 300)])
    for body in (good[:5], b"\xff\xff\xff\xff" + good[4:], good[:4] + b"\xff" * 12):
        with pytest.raises(CorruptError):
            nncomp.decompress(stream_with(body + NOISE[:300], raw))


def test_long_flag_needs_a_window():
    cfg = replace(level_config(1), long_window=0)
    with pytest.raises(CorruptError):
        container.parse_frame_head(container.build_frame(container.STORED, b"abc", b"\0\0\0\0abc", long=True), cfg)


# -- the stage alone, on many random inputs ----------------------------------------------------------------
@st.composite
def repetitive(draw):
    """Bytes made of fresh stretches, copies of earlier stretches (overlapping too) and runs."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    out = bytearray(rng.randbytes(draw(st.integers(0, 400))))
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["fresh", "copy", "run", "overlap"]))
        n = draw(st.integers(1, 3000))
        if kind == "fresh" or not out:
            out += rng.randbytes(n)
        elif kind == "copy":
            src = draw(st.integers(0, len(out) - 1))
            out += out[src : src + n]
        elif kind == "run":
            out += bytes([rng.randrange(256)]) * n
        else:
            period = out[-draw(st.integers(1, min(300, len(out)))) :]
            out += (period * (n // len(period) + 1))[:n]
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(data=repetitive(), cuts=st.lists(st.integers(1, 5000), max_size=6), align=st.sampled_from([0, 0, 12, 216]),
       window=st.sampled_from([1 << 20, 3000]), min_len=st.sampled_from([64, 256]))
def test_any_input_joins_back_exactly(data, cuts, align, window, min_len):
    chunks, pos = [], 0
    for c in cuts + [len(data)]:
        chunks.append(data[pos : pos + c])
        pos += c
    chunks = [c for c in chunks if c]
    finder, joiner = longrange.Finder(window, min_len), longrange.Joiner(window)
    for chunk in chunks:
        refs, literals = finder.split(chunk, align)
        for _, length, distance in refs:
            assert length >= min_len and (not align or length % align == 0) and distance > 0
        packed = longrange.pack(refs)
        assert longrange.unpack(packed, len(chunk)) == (refs, len(packed))
        assert joiner.join(refs, literals, len(chunk)) == chunk

"""Round trips through the Python API, including streams of several frames and stored frames."""

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncomp
from nncomp import container
from nncomp.config import level_config

from .conftest import SAMPLE, TINY, eval_files

OVERHEAD = 400  # header + end record + one frame head; a stored stream may not grow more


def _rt(data: bytes, **kw) -> bytes:
    packed = nncomp.compress(data, **kw)
    assert nncomp.decompress(packed) == data
    return packed


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"x", b"\xff" * 5000, bytes(range(256)) * 20, b"ab" * 3000],
    ids=["empty", "zero", "one", "repeated", "ramp", "alternating"],
)
@pytest.mark.slow
def test_small_inputs_default_level(data):
    packed = _rt(data)
    assert len(packed) <= len(data) + OVERHEAD


@pytest.mark.slow
def test_repetitive_input_shrinks():
    data = b"\xff" * 50000
    assert len(_rt(data)) < 2000


@pytest.mark.slow
def test_random_bytes_are_stored_not_expanded():
    data = os.urandom(40_000)
    packed = _rt(data)
    assert len(packed) <= len(data) + OVERHEAD


def test_multi_frame_stream_with_stored_frame(tiny):
    # a text frame, a random frame the model cannot shrink, then a partial text frame
    text = SAMPLE.read_bytes()[: tiny.frame_size + 1000]
    data = text[: tiny.frame_size] + os.urandom(tiny.frame_size) + text[tiny.frame_size :]
    packed = _rt(data, config=tiny)
    kinds = _frame_kinds(packed)
    assert len(kinds) == -(-len(data) // tiny.frame_size)
    assert container.STORED in kinds and container.CODED in kinds


def _frame_kinds(packed: bytes) -> list[int]:
    return [head.kind for _, head in container.frame_heads(packed)]


@pytest.mark.slow
def test_sample_compresses_better_than_half():
    data = SAMPLE.read_bytes()
    assert len(_rt(data)) < len(data) // 2


@pytest.mark.slow
def test_incremental_api_matches_one_shot(tiny):
    data = SAMPLE.read_bytes()[:10000]
    c = nncomp.compressor(config=tiny)
    packed = b"".join(c.compress(data[i : i + 777]) for i in range(0, len(data), 777)) + c.flush()
    assert packed == nncomp.compress(data, config=tiny)
    d = nncomp.decompressor()
    out = b"".join(d.decompress(packed[i : i + 333]) for i in range(0, len(packed), 333))
    assert d.eof and out == data


def test_the_api_codes_on_one_thread_and_leaves_the_callers_setting(tiny, monkeypatch):
    """Torch's threads spin while they wait: a library call on the process's default threads made two
    processes side by side slow each other down many times over. Coding runs on one thread unless
    asked, and the caller's setting is as it was after each call."""
    import torch

    from nncomp.predictor import Predictor

    seen = []
    learn = Predictor.learn
    monkeypatch.setattr(Predictor, "learn", lambda self: seen.append(torch.get_num_threads()) or learn(self))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data = SAMPLE.read_bytes()[:3000]
        packed = nncomp.compress(data, config=tiny)
        assert torch.get_num_threads() == 2
        assert nncomp.decompress(packed) == data and torch.get_num_threads() == 2
        assert seen and set(seen) == {1}
        seen.clear()
        assert nncomp.decompress(packed, threads=2) == data
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(before)


def test_short_frames_get_more_lanes_but_never_fewer_bytes_each_than_short_lane():
    cfg = level_config(5)
    plain = replace(cfg, short_lane=0)
    prev = 0
    for n in range(1, 400_000, 977):
        lanes, length = cfg.lane_layout(n)
        assert (lanes - 1) * length < n <= lanes * length  # every lane but the last is full
        assert 1 <= lanes <= cfg.lanes and lanes >= prev  # a longer frame never has fewer lanes
        prev = lanes
        if lanes > 1:
            assert length >= min(cfg.short_lane, cfg.min_lane)
        if lanes > plain.lane_layout(n)[0]:  # where the rule gives more lanes: a short frame, up to short_lanes
            assert n < cfg.short_lanes * cfg.min_lane and lanes <= cfg.short_lanes and length >= cfg.short_lane
    assert cfg.lane_layout(40_000)[0] > plain.lane_layout(40_000)[0]
    assert cfg.lane_layout(300_000) == plain.lane_layout(300_000)


@pytest.mark.slow
def test_levels_round_trip():
    data = SAMPLE.read_bytes()[:3000]  # level 9 codes it in one lane, a step per byte
    for level in (1, 9):
        _rt(data, level=level)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_property_round_trip(data):
    assert nncomp.decompress(nncomp.compress(data, config=TINY)) == data


# Every eval file up to 110 KB round-trips at level 1 (256 lanes: a second or two each), and a text, a
# markup and an object-code file at the default level, whose one lane per 4 KiB makes a small file
# cost 10-40 s there. bench/compare.py round-trips every eval file at every level it measures.
DEFAULT_LEVEL_FILES = ("paper4", "cp.html", "obj1")


@pytest.mark.parametrize("path", eval_files(110_000), ids=lambda p: p.name)
@pytest.mark.slow
def test_eval_corpus_round_trip_level_1(path):
    data = path.read_bytes()
    assert len(_rt(data, level=1)) < len(data)


@pytest.mark.parametrize("path", [p for p in eval_files(110_000) if p.name in DEFAULT_LEVEL_FILES], ids=lambda p: p.name)
@pytest.mark.slow
def test_eval_corpus_round_trip_default_level(path):
    data = path.read_bytes()
    assert len(_rt(data)) < len(data)


@pytest.mark.slow
def test_a_small_input_needs_a_fraction_of_the_levels_memory(tmp_path):
    """Count tables sized for megabytes cost a small input only what it uses: a 4 KB file at level 5,
    whose full tables alone are over 800 MB, round-trips in a process whose peak stays far below."""
    import subprocess
    import sys

    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the peak resident set from /proc")
    src = tmp_path / "in"
    src.write_bytes(SAMPLE.read_bytes()[:4096])
    # VmHWM, not ru_maxrss: the latter keeps the peak of the forked test process across exec
    script = ("import sys, nncomp; d = open(sys.argv[1], 'rb').read(); "
              "assert nncomp.decompress(nncomp.compress(d, 5)) == d; "
              "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    out = subprocess.run([sys.executable, "-c", script, str(src)], capture_output=True, text=True, check=True)
    assert level_config(5).memory_estimate() > 1000 << 20
    assert int(out.stdout) < 700 << 10  # kilobytes

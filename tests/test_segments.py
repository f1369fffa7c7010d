"""Segments: independent parts of a stream, coded by any number of worker processes to the same bytes."""

import io
import subprocess
import sys

import pytest

import nncomp
from nncomp import CorruptError, codec, container
from nncomp.tools.info import describe

from .conftest import SAMPLE, TINY, nncomp_env

DATA = SAMPLE.read_bytes()[:9000]
SEG = 4096  # TINY's frames hold 2,048 bytes: segments of two frames, and a short last one


def _heads(stream: bytes):
    return container.frame_heads(stream)


def _starts(stream: bytes) -> list[int]:
    """Where the stream's segments after the first start, in input bytes."""
    starts, pos = [], 0
    for _, h in _heads(stream):
        if h.segment:
            starts.append(pos)
        pos += h.raw_len
    return starts


@pytest.mark.slow
def test_segments_start_where_the_size_says_and_each_decodes_alone():
    # 9,000 bytes in segments of at most 4,096: three equal ones, not 4,096 + 4,096 + 808
    stream = nncomp.compress(DATA, config=TINY, segment=SEG)
    assert _starts(stream) == [3000, 6000] and not _heads(stream)[0][1].segment
    assert describe(io.BytesIO(stream))["segments"] == 3
    assert nncomp.decompress(stream) == DATA
    # of unknown length (a pipe), the input is cut every SEG bytes
    c = nncomp.compressor(config=TINY, segment=SEG)
    piped = b"".join(c.compress(DATA[i : i + 1000]) for i in range(0, len(DATA), 1000)) + c.flush()
    assert _starts(piped) == [SEG, 2 * SEG] and nncomp.decompress(piped) == DATA
    heads = _heads(stream)
    # the frames of the second segment, cut out of the stream, decode by themselves
    (a, _), (b, _) = [(p, h) for p, h in heads if h.segment][:2]
    assert codec.decode_segment(TINY, None, stream[a:b]) == DATA[3000:6000]


def test_one_segment_is_the_stream_of_before():
    """Segments only restart the model: an input within one segment codes as with no segments."""
    assert nncomp.compress(DATA[:SEG], config=TINY, segment=SEG) == nncomp.compress(DATA[:SEG], config=TINY, segment=0)


@pytest.mark.slow
def test_workers_write_the_same_bytes_and_decode_them():
    one = nncomp.compress(DATA, config=TINY, segment=SEG)
    assert nncomp.compress(DATA, config=TINY, segment=SEG, workers=2) == one
    assert nncomp.decompress(one, workers=2) == DATA


@pytest.mark.slow
def test_a_stream_of_one_long_segment_decodes_with_workers(monkeypatch):
    """A segment longer than a worker may hold (a joint stream's, or one from before segments) is decoded
    in this process, after what the workers owe."""
    monkeypatch.setattr(codec, "MAX_SEGMENT", 3000)
    stream = nncomp.compress(DATA, config=TINY, segment=0)
    assert nncomp.decompress(stream, workers=2) == DATA


@pytest.mark.parametrize("flip", ["add", "remove"])
@pytest.mark.slow
def test_a_moved_segment_start_is_caught(flip):
    stream = bytearray(nncomp.compress(DATA, config=TINY, segment=SEG))
    heads = _heads(bytes(stream))
    pos = next(p for p, h in heads if (h.segment if flip == "remove" else not h.segment and p != heads[0][0]))
    stream[pos] ^= container.SEGMENT
    with pytest.raises(CorruptError):
        nncomp.decompress(bytes(stream))


def test_joint_datasets_need_one_segment():
    c = nncomp.compressor(config=TINY, segment=SEG)
    c.compress(DATA[:100])
    with pytest.raises(ValueError, match="segment=0"):
        c.end_frame()
    with pytest.raises(ValueError, match="segment size"):
        nncomp.compressor(config=TINY, segment=100)


def _cli(*args, data=None):
    return subprocess.run([sys.executable, "-m", "nncomp", *args], input=data, capture_output=True,
                          env=nncomp_env(), timeout=600)


@pytest.mark.slow
def test_command_line_output_is_the_same_for_every_worker_count(tmp_path):
    src = tmp_path / "in"
    src.write_bytes(SAMPLE.read_bytes()[:20000])
    outs = []
    for t in ("1", "2", "3"):
        r = _cli("compress", "-l", "1", "--segment", "4K", "-T", t, "-c", str(src))
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert _starts(outs[0]) == [4000, 8000, 12000, 16000]  # a file's size is known: five equal segments
    piped = _cli("compress", "-l", "1", "--segment", "4K", "-c", "-", data=src.read_bytes()).stdout
    assert _starts(piped) == [4096, 8192, 12288, 16384]  # a pipe's is not: cut every 4 KiB
    assert nncomp.decompress(piped) == src.read_bytes()
    r = _cli("decompress", "-T", "2", "-c", "-", data=outs[0])
    assert r.returncode == 0 and r.stdout == src.read_bytes()


@pytest.mark.parametrize("size", ["abc", "100", "1T"])
def test_a_bad_segment_size_is_one_line_and_exit_1(size):
    r = _cli("compress", "--segment", size, "-c", "-", data=b"x")
    assert r.returncode in (1, 2) and r.stdout == b""
    assert len(r.stderr.decode().strip().splitlines()) == 1 and "segment" in r.stderr.decode()


@pytest.mark.slow
def test_many_small_files_are_one_task_each(tmp_path):
    """`compress -T 2 a b c d` (one task per file, on workers) writes for each file the bytes it has alone."""
    files = []
    for i in range(4):
        f = tmp_path / f"f{i}.txt"
        f.write_bytes(DATA[i * 1000 : i * 1000 + 1500 + 300 * i])
        files.append(f)
    r = subprocess.run([sys.executable, "-m", "nncomp", "compress", "-q", "-l", "1", "-T", "2", *map(str, files)],
                       capture_output=True, env=nncomp_env())
    assert r.returncode == 0, r.stderr
    for f in files:
        assert (tmp_path / (f.name + ".nnc")).read_bytes() == nncomp.compress(f.read_bytes(), level=1)

"""The seek table and random access: a range decodes only the segments that hold it, and a damaged or
lying table is an error, never a wrong answer."""

import io
import subprocess
import sys

import pytest

import nncomp
from nncomp import CorruptError, NNCError, codec, container, seek

from .conftest import SAMPLE, TINY, nncomp_env

DATA = SAMPLE.read_bytes()[:9000]
SEG = 4096  # three segments: 4,096 + 4,096 + 808 bytes (as a pipe is cut; _cut)


def _cut(data: bytes) -> bytes:
    """A stream cut every SEG bytes, as an input of unknown length is (compress() would cut equal parts)."""
    c = nncomp.compressor(config=TINY, segment=SEG)
    return c.compress(data) + c.flush()


@pytest.fixture(scope="module")
def two_streams() -> tuple[bytes, bytes]:
    """Two concatenated streams (so a table must also find where the second starts) and their data."""
    a = _cut(DATA)
    b = _cut(DATA[:5000][::-1])
    return a + b, DATA + DATA[:5000][::-1]


def _end(stream: bytes) -> container.End:
    pos, h = container.frame_heads(stream)[-1]
    return container.parse_end(stream[pos + container.FRAME_HEAD.size + h.pay_len :])


def test_the_table_lists_every_segment_where_its_frames_are(two_streams):
    stream, data = two_streams
    segs = seek.index(io.BytesIO(stream))
    assert [s.size for s in segs] == [4096, 4096, 808, 4096, 904]
    assert [s.start for s in segs] == [0, 4096, 8192, 9000, 13096]
    assert [s.first for s in segs] == [True, False, False, True, False]
    for s in segs:  # each listed offset holds a frame head, flagged as a segment's start after the first
        head = container.parse_frame_head(stream[s.offset : s.offset + container.FRAME_HEAD.size], TINY)
        assert head.segment == (not s.first)
    first = stream[: len(stream) // 2]
    assert _end(_cut(DATA)).segments == [(s.size, s.length) for s in segs[:3]]
    assert first  # the streams are not empty


@pytest.mark.parametrize("start, stop", [(0, 10), (4090, 4100), (5000, 5001), (8190, 9010), (0, 14000), (13000, 10**9),
                                         (14000, 15000), (300, 300)])
def test_a_range_is_the_slice_of_the_data(two_streams, start, stop):
    stream, data = two_streams
    assert nncomp.read_range(io.BytesIO(stream), start, stop) == data[start:stop]


def test_only_the_segments_that_hold_the_range_are_decoded_up_to_its_end(two_streams, monkeypatch):
    stream, data = two_streams
    calls = []
    real = seek.decode_segment

    def counting(cfg, prior, frames, threads=None, stop=None):
        out = real(cfg, prior, frames, threads, stop)
        calls.append((len(frames), stop, len(out)))
        return out

    monkeypatch.setattr(seek, "decode_segment", counting)
    assert nncomp.read_range(io.BytesIO(stream), 4100, 4200) == data[4100:4200]
    segs = seek.index(io.BytesIO(stream))
    assert len(calls) == 1 and calls[0][0] == segs[1].length
    assert calls[0][2] == 2048  # only the first of the segment's two frames was decoded
    calls.clear()
    assert nncomp.read_range(io.BytesIO(stream), 8000, 9100) == data[8000:9100]
    assert [c[0] for c in calls] == [segs[1].length, segs[2].length, segs[3].length]


def test_an_empty_stream_and_one_byte():
    empty = nncomp.compress(b"", config=TINY)
    assert seek.index(io.BytesIO(empty)) == [] and nncomp.read_range(io.BytesIO(empty), 0, 5) == b""
    one = nncomp.compress(b"x", config=TINY)
    assert nncomp.read_range(io.BytesIO(empty + one), 0, 5) == b"x"


@pytest.mark.slow
def test_every_damaged_byte_of_the_end_record_is_an_error():
    stream = _cut(DATA)
    n = _end(stream).size
    for i in range(len(stream) - n, len(stream)):
        for bit in (0, 7):
            bad = bytearray(stream)
            bad[i] ^= 1 << bit
            with pytest.raises(NNCError):
                nncomp.read_range(io.BytesIO(bytes(bad)), 0, 10)
            if i in (len(stream) - n, len(stream) - n + 13, len(stream) - 5, len(stream) - 1):  # decoding it all is slow
                with pytest.raises(NNCError):
                    nncomp.decompress(bytes(bad))


def test_a_table_that_lies_consistently_is_caught():
    """A table rebuilt with a valid checksum but shifted segment sizes (sums kept) is still refused."""
    stream = _cut(DATA)
    end = _end(stream)
    (r0, f0), (r1, f1), rest = end.segments[0], end.segments[1], end.segments[2:]
    for segments in ([(r0 + 1, f0), (r1 - 1, f1), *rest], [(r0, f0 + 4), (r1, f1 - 4), *rest]):
        lying = stream[: -end.size] + container.build_end(end.total, end.crc, end.header_len, segments)
        with pytest.raises(CorruptError):  # a size that does not add up, or a segment that is not at its offset
            nncomp.read_range(io.BytesIO(lying), 0, len(DATA))
        with pytest.raises(CorruptError, match="seek table"):
            nncomp.decompress(lying)


def test_truncated_files_have_no_table():
    stream = _cut(DATA)
    for cut in (1, 5, len(stream) // 2, len(stream) - 1):
        with pytest.raises(NNCError):
            nncomp.read_range(io.BytesIO(stream[:cut]), 0, 100)


def test_bad_arguments():
    stream = nncomp.compress(DATA[:100], config=TINY)
    with pytest.raises(ValueError):
        nncomp.read_range(io.BytesIO(stream), -1, 5)
    with pytest.raises(TypeError):
        nncomp.read_range(io.BytesIO(stream), 0.5, 5)
    assert nncomp.read_range(io.BytesIO(stream), 50, 10) == b""


@pytest.mark.slow
def test_workers_decode_a_range(two_streams):
    stream, data = two_streams
    assert nncomp.read_range(io.BytesIO(stream), 100, 13500, workers=2) == data[100:13500]


@pytest.mark.slow
def test_command_line_range(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(DATA)
    run = lambda *a: subprocess.run([sys.executable, "-m", "nncomp", *a], capture_output=True, env=nncomp_env(),
                                    cwd=tmp_path)
    assert run("compress", "-l", "1", "--segment", "4K", "-q", str(src)).returncode == 0
    packed = str(src) + ".nnc"
    r = run("decompress", "--range", "4000:4200", packed)
    assert r.returncode == 0 and r.stdout == DATA[4000:4200]
    r = run("decompress", "--range", "8K:", packed, "-o", str(tmp_path / "tail"))
    assert r.returncode == 0 and (tmp_path / "tail").read_bytes() == DATA[8192:]
    r = run("decompress", "--range", "8K:", packed, "-o", str(tmp_path / "tail"))  # exists: refused, kept
    assert r.returncode == 1 and b"exists" in r.stderr and (tmp_path / "tail").read_bytes() == DATA[8192:]
    for args in (["--range", "9:3", packed], ["--range", "x", packed], ["--range", "1:2", "-"]):
        r = run("decompress", *args)
        assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr, args


def test_nncfile_seeks_to_segments(two_streams, monkeypatch):
    stream, data = two_streams
    decoded = []
    real = seek.decode_segment
    monkeypatch.setattr(seek, "decode_segment", lambda cfg, prior, frames, threads=None, stop=None:
                        decoded.append(len(frames)) or real(cfg, prior, frames, threads, stop))
    with nncomp.open(io.BytesIO(stream)) as f:
        f.seek(13500)  # the second stream's second segment: nothing before it is decoded
        assert f.read(100) == data[13500:13600] and len(decoded) == 1
        for offset in (5000, 100, 9000, 13999, 4096):  # backwards and forwards, across both streams
            f.seek(offset)
            assert f.read(50) == data[offset : offset + 50]
        assert f.seek(-7, io.SEEK_END) == len(data) - 7 and f.read() == data[-7:]

"""nncomp.open() and NNCFile, after CPython's test_lzma file-object tests: read, write, text mode,
iteration, seek, context manager, closed-file errors, concatenated streams, tarfile."""

import io
import tarfile

import pytest

import nncomp
from nncomp import CorruptError, NNCFile

from .conftest import SAMPLE, TINY

TEXT = SAMPLE.read_bytes()[:6000]  # several 2 KiB frames of the tiny configuration


@pytest.fixture(scope="module")
def packed():
    return nncomp.compress(TEXT, config=TINY)


def reader(data: bytes) -> NNCFile:
    return NNCFile(io.BytesIO(data))


@pytest.mark.slow
def test_read_all_and_in_pieces(packed):
    with reader(packed) as f:
        assert f.read() == TEXT
        assert f.read() == b""  # at the end
    with reader(packed) as f:
        got = b""
        while piece := f.read(777):
            assert len(piece) <= 777
            got += piece
        assert got == TEXT


def test_read1_peek_and_readinto(packed):
    with reader(packed) as f:
        peeked = f.peek()
        assert peeked and TEXT.startswith(peeked) and f.tell() == 0
        first = f.read1(100)
        assert first == TEXT[:100]
        buf = bytearray(50)
        assert f.readinto(buf) == 50 and bytes(buf) == TEXT[100:150]
        assert f.read1() and f.tell() > 150


@pytest.mark.slow
def test_readline_and_iteration(packed):
    lines = TEXT.splitlines(keepends=True)
    with reader(packed) as f:
        assert f.readline() == lines[0]
        assert f.readline(3) == lines[1][:3]
    with reader(packed) as f:
        assert list(f) == lines
    with reader(packed) as f:
        assert f.readlines() == lines


def test_concatenated_streams_read_as_one(packed):
    more = nncomp.compress(b"and more\n", config=TINY)
    with reader(packed + more + packed) as f:
        assert f.read() == TEXT + b"and more\n" + TEXT


def test_truncated_or_trailing_garbage_raise(packed):
    with reader(packed[:-5]) as f, pytest.raises(CorruptError):
        f.read()
    with reader(packed + b"junk") as f, pytest.raises(CorruptError):
        f.read()


@pytest.mark.slow
def test_seek_forward_backward_and_from_end(packed):
    with reader(packed) as f:
        assert f.seekable()
        assert f.seek(2500) == 2500 and f.read(10) == TEXT[2500:2510]
        assert f.seek(100) == 100 and f.read(10) == TEXT[100:110]  # backwards: decoded again from the start
        assert f.seek(-10, io.SEEK_CUR) == 100
        assert f.seek(-20, io.SEEK_END) == len(TEXT) - 20 and f.read() == TEXT[-20:]
        assert f.seek(len(TEXT) + 100) == len(TEXT) and f.read() == b""  # past the end: stops at the end
        with pytest.raises(ValueError):
            f.seek(0, 3)


def test_seek_needs_a_seekable_input(packed):
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.data.readinto(b)

    with NNCFile(io.BufferedReader(Pipe(packed))) as f:
        assert not f.seekable()
        with pytest.raises(io.UnsupportedOperation):
            f.seek(10)
        assert f.read() == TEXT


@pytest.mark.slow
def test_write_then_read_files(tmp_path):
    path = tmp_path / "w.nnc"
    with nncomp.open(path, "wb", config=TINY) as f:
        assert f.writable() and not f.readable() and not f.seekable()
        assert f.write(TEXT[:1000]) == 1000
        assert f.write(memoryview(TEXT[1000:])) == len(TEXT) - 1000
        assert f.tell() == len(TEXT)
        with pytest.raises(io.UnsupportedOperation):
            f.read()
    assert nncomp.decompress(path.read_bytes()) == TEXT
    with nncomp.open(path, "ab", config=TINY) as f:  # append: a second stream
        f.write(b"tail")
    assert nncomp.open(path).read() == TEXT + b"tail"
    with pytest.raises(FileExistsError):
        nncomp.open(path, "xb", config=TINY)
    with nncomp.open(str(path), "rb") as f:
        assert f.name == str(path) and f.mode == "rb" and f.fileno() >= 0


def test_text_mode(tmp_path):
    path = tmp_path / "t.nnc"
    text = "grüße\nzweite zeile\r\nend"
    with nncomp.open(path, "wt", encoding="utf-8", newline="", config=TINY) as f:
        f.write(text)
    with nncomp.open(path, "rt", encoding="utf-8", newline="") as f:
        assert f.read() == text
    with nncomp.open(path, "rt", encoding="utf-8") as f:
        assert f.readlines() == ["grüße\n", "zweite zeile\n", "end"]
    with pytest.raises(ValueError):
        nncomp.open(path, "rb", encoding="utf-8")
    with pytest.raises(ValueError):
        nncomp.open(path, "rtb")


def test_closed_file_errors(packed):
    f = reader(packed)
    f.close()
    f.close()  # a second close does nothing
    assert f.closed
    for op in (f.read, f.readline, f.peek, f.tell, f.readable, f.writable, f.seekable, f.fileno):
        with pytest.raises(ValueError):
            op()
    w = NNCFile(io.BytesIO(), "wb", config=TINY)
    w.close()
    with pytest.raises(ValueError):
        w.write(b"x")


def test_bad_arguments():
    with pytest.raises(ValueError):
        NNCFile(io.BytesIO(), "rw")
    with pytest.raises(TypeError):
        NNCFile(123)
    with pytest.raises(TypeError):
        NNCFile(io.BytesIO(), "wb", config=TINY).write("text")


def test_close_does_not_close_a_file_object_it_was_given(packed):
    raw = io.BytesIO(packed)
    with NNCFile(raw) as f:
        f.read(10)
    assert not raw.closed
    out = io.BytesIO()
    with NNCFile(out, "wb", config=TINY) as f:
        f.write(b"abc")
    assert not out.closed and nncomp.decompress(out.getvalue()) == b"abc"


@pytest.mark.slow
def test_tarfile_streams_and_seeks_through_it():
    out = io.BytesIO()
    with NNCFile(out, "wb", config=TINY) as f, tarfile.open(fileobj=f, mode="w|") as tar:
        for name, data in (("a.txt", TEXT[:1500]), ("dir/b.txt", TEXT[1500:3000])):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with NNCFile(io.BytesIO(out.getvalue())) as f, tarfile.open(fileobj=f, mode="r:") as tar:
        assert tar.getnames() == ["a.txt", "dir/b.txt"]
        assert tar.extractfile("dir/b.txt").read() == TEXT[1500:3000]
        assert tar.extractfile("a.txt").read() == TEXT[:1500]  # behind the last read: a backward seek

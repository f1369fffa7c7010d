"""nncomp.open() and NNCFile: .nnc streams as file objects, in the manner of lzma.open and LZMAFile."""

from __future__ import annotations

import builtins
import io
import os
from typing import BinaryIO, Iterable

from . import api, seek
from .errors import NNCError
from .config import DEFAULT_LEVEL, CodecConfig

_READ, _WRITE = "rb", "wb"
_CHUNK = 1 << 16  # compressed bytes read from the underlying file at a time


class NNCFile(io.BufferedIOBase):
    """A binary file object that decompresses a .nnc file as it is read, or compresses what is written.

    `filename` is a path or an open binary file object. `mode` is "r" (read; concatenated streams
    are read as one), "w" (write, truncating), "x" (write, the file must not exist) or "a" (append
    a new stream), each optionally with "b". Writing takes `level`, `model` and `config` as
    nncomp.compress does; reading takes `models`, the custom priors headers may name. Reading is
    seekable when the underlying file is: seek() goes to the start of the segment that holds the
    target (the streams' seek tables say where) and decodes from there.
    """

    def __init__(self, filename: str | bytes | os.PathLike | BinaryIO, mode: str = "r", *, level: int = DEFAULT_LEVEL,
                 model: api.ModelSpec | None = None, config: CodecConfig | None = None,
                 models: Iterable[api.ModelSpec] = (), threads: int | None = 1):
        self._fp: BinaryIO | None = None
        self._close_fp = False
        self._mode: str | None = None
        if mode in ("r", "rb"):
            file_mode, raw_mode = _READ, "rb"
        elif mode in ("w", "wb", "a", "ab", "x", "xb"):
            file_mode, raw_mode = _WRITE, mode[0] + "b"
            self._compressor = api.compressor(level, model=model, config=config, threads=threads)
        else:
            raise ValueError(f"invalid mode: {mode!r}")
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp = builtins.open(filename, raw_mode)
            self._close_fp = True
        elif hasattr(filename, "read") or hasattr(filename, "write"):
            self._fp = filename
        else:
            raise TypeError("filename must be a str, bytes, os.PathLike or file object")
        self._mode = file_mode
        self._pos = 0  # position in the uncompressed data
        if self._mode == _READ:
            self._models, self._threads = list(models), threads
            self._start = self._fp.tell() if self._fp.seekable() else 0
            self._size = -1  # uncompressed size, once reading has reached the end
            self._decoded = None
            self._segments: list | None = None  # the seek tables' segments, once a seek needs them
            self._restart()

    # -- state ----------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._mode is None

    @property
    def mode(self) -> str:
        self._check_not_closed()
        return self._mode

    @property
    def name(self):
        self._check_not_closed()
        return self._fp.name

    def fileno(self) -> int:
        self._check_not_closed()
        return self._fp.fileno()

    def readable(self) -> bool:
        self._check_not_closed()
        return self._mode == _READ

    def writable(self) -> bool:
        self._check_not_closed()
        return self._mode == _WRITE

    def seekable(self) -> bool:
        return self.readable() and self._fp.seekable()

    def tell(self) -> int:
        self._check_not_closed()
        return self._pos

    def close(self) -> None:
        """Finish the stream (writing) and close the underlying file if this object opened it."""
        if self._mode is None:
            return
        try:
            if self._mode == _READ:
                self._decoded.close()
                self._buffer = b""
            else:
                self._fp.write(self._compressor.flush())
                self._compressor = None
        finally:
            try:
                if self._close_fp:
                    self._fp.close()
            finally:
                self._fp, self._close_fp, self._mode = None, False, None

    def _check_not_closed(self) -> None:
        if self._mode is None:
            raise ValueError("I/O operation on closed file")

    def _check_mode(self, mode: str, what: str) -> None:
        self._check_not_closed()
        if self._mode != mode:
            raise io.UnsupportedOperation(f"file not open for {what}")

    # -- writing --------------------------------------------------------------------------------------
    def write(self, data) -> int:
        """Compress a bytes-like object; returns the number of uncompressed bytes it holds."""
        self._check_mode(_WRITE, "writing")
        view = memoryview(data)
        self._fp.write(self._compressor.compress(view))
        self._pos += view.nbytes
        return view.nbytes

    def _segment_at(self, offset: int):
        """The segment that holds decoded byte `offset` (the last one past the end); None where the file
        has no usable seek tables (not at its start, or damaged: then decoding from the start says so)."""
        if self._segments is None:
            self._segments = []
            if self._start == 0:
                here = self._fp.tell()  # the decoder reading on from here must not notice
                try:
                    self._segments = seek.index(self._fp)
                except NNCError:
                    pass
                finally:
                    self._fp.seek(here)
        for s in reversed(self._segments):
            if s.start <= offset:
                return s
        return None

    # -- reading --------------------------------------------------------------------------------------
    def _restart(self) -> None:
        if self._decoded is not None:
            self._decoded.close()
            self._fp.seek(self._start)
        self._decoded = api.iter_decompress(iter(lambda: self._fp.read(_CHUNK), b""), models=self._models,
                                            threads=self._threads)
        self._buffer, self._offset, self._pos = b"", 0, 0

    def _fill(self) -> bool:
        """Decoded bytes in the buffer, decoding more if needed; False at the end of the data."""
        while self._offset >= len(self._buffer):
            piece = next(self._decoded, None)
            if piece is None:
                self._size = self._pos
                return False
            self._buffer, self._offset = piece, 0
        return True

    def _take(self, n: int) -> bytes:
        out = self._buffer[self._offset : self._offset + n]
        self._offset += len(out)
        self._pos += len(out)
        return out

    def read(self, size: int | None = -1) -> bytes:
        """Up to size decompressed bytes (all that is left when size is negative or None); b"" at the end."""
        self._check_mode(_READ, "reading")
        if size is None or size < 0:
            parts = []
            while self._fill():
                parts.append(self._take(len(self._buffer)))
            return b"".join(parts)
        parts, left = [], size
        while left > 0 and self._fill():
            parts.append(self._take(left))
            left -= len(parts[-1])
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """Decompressed bytes from at most one decoded frame."""
        self._check_mode(_READ, "reading")
        if size == 0 or not self._fill():
            return b""
        return self._take(len(self._buffer) if size < 0 else size)

    def peek(self, size: int = -1) -> bytes:
        """Buffered decompressed bytes without moving the position (at least one unless at the end)."""
        self._check_mode(_READ, "reading")
        if not self._fill():
            return b""
        return self._buffer[self._offset :]

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to an uncompressed position; emulated by decoding (backwards: from the start again)."""
        self._check_mode(_READ, "reading")
        if not self._fp.seekable():
            raise io.UnsupportedOperation("the underlying file is not seekable")
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            if self._size < 0 and self._segment_at(0) is not None:  # the seek tables know the size
                self._size = self._segments[-1].start + self._segments[-1].size
            if self._size < 0:
                while self._fill():
                    self._take(len(self._buffer))
            offset += self._size
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence: {whence!r}")
        seg = self._segment_at(offset) if offset < self._pos or offset > self._pos + len(self._buffer) else None
        if seg is not None and (offset < self._pos or seg.start > self._pos):
            self._decoded.close()
            self._decoded = seek.iter_range(self._fp, seg.start, 1 << 63, api.resolver(api._priors(self._models)),
                                            threads=self._threads)
            self._buffer, self._offset, self._pos = b"", 0, seg.start
        elif offset < self._pos:
            self._restart()
        while self._pos < offset and self._fill():
            self._take(offset - self._pos)
        return self._pos


def open(filename: str | bytes | os.PathLike | BinaryIO, mode: str = "rb", *, level: int = DEFAULT_LEVEL,
         model: api.ModelSpec | None = None, config: CodecConfig | None = None, models: Iterable[api.ModelSpec] = (),
         threads: int | None = 1, encoding: str | None = None, errors: str | None = None,
         newline: str | None = None) -> NNCFile | io.TextIOWrapper:
    """Open a .nnc file in binary ("rb", "wb", "xb", "ab") or text ("rt", "wt", "xt", "at") mode.

    Binary modes return an NNCFile; text modes wrap one in io.TextIOWrapper with the given encoding,
    errors and newline handling, as lzma.open does.
    """
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"invalid mode: {mode!r}")
    elif encoding is not None or errors is not None or newline is not None:
        raise ValueError("encoding, errors and newline are for text mode only")
    binary = NNCFile(filename, mode.replace("t", ""), level=level, model=model, config=config, models=models,
                     threads=threads)
    if "t" in mode:
        return io.TextIOWrapper(binary, io.text_encoding(encoding), errors, newline)
    return binary


__all__ = ["NNCFile", "open"]

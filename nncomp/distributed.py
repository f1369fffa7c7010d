"""Segments on a Dask cluster (`pip install nncomp[dask]`): the same bytes as a local run, coded by
any number of machines.

A segment depends on nothing before it, and every number on the coding path is exact (exact.py), so a
segment coded on one machine is byte for byte what any other would write. DaskPool is workers.Pool
on a cluster: one task per segment, results taken in order, at most two tasks per worker thread in
flight. The driver reads the input, writes the header, the end record and the seek table; when the
workers can see the input file, they read their own segments from it (and check them against the
driver's CRC-32), otherwise the segment's bytes travel with the task. Every worker needs the same
nncomp version; the prior travels with the tasks (once per worker), so custom priors work too.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from typing import BinaryIO, Iterable

from . import api
from . import workers as workers_mod
from .config import DEFAULT_LEVEL
from .errors import NNCError
from .prior import Prior

CHUNK = 1 << 20
_PROBE = 1 << 16  # bytes a worker reads of the input to show it sees the same file

_priors: dict[str, Prior] = {}  # on a worker: the priors its tasks have brought, by id


def _run(fn, shared: tuple, *args):
    """On a Dask worker: run a workers.py task with this stream's settings and prior."""
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536: without prepare() every block would fault its memory in anew
    workers_mod.prepare()
    cfg, model_id, model_bytes = shared
    if model_id is not None and model_id not in _priors:
        _priors[model_id] = Prior.parse(model_bytes)
    workers_mod._args = (cfg, _priors.get(model_id))
    return fn(*args)


def _compress_at(path: str, offset: int, length: int, crc: int, first: bool) -> tuple[int, bytes]:
    """On a worker: code the segment that the input file holds at offset (the driver's CRC-32 proves it)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length or zlib.crc32(data) != crc:
        raise OSError(f"{path} on this worker differs from the driver's file at offset {offset}")
    return workers_mod.compress(data, first)


def _probe(path: str) -> tuple[int, int] | None:
    """On a worker: (size, CRC-32 of the first bytes) of the file at path, None if it cannot read it."""
    try:
        with open(path, "rb") as f:
            return os.fstat(f.fileno()).st_size, zlib.crc32(f.read(_PROBE))
    except OSError:
        return None


def visible(client, path: str) -> bool:
    """Whether every worker of the cluster sees the same file at this (absolute) path as the driver."""
    here = _probe(path)
    return here is not None and all(r == here for r in client.run(_probe, path).values())


class DaskPool(workers_mod.Pool):
    """workers.Pool on a Dask cluster: `path` is the input file when the workers can read it themselves."""

    def __init__(self, client, args: tuple, path: str | None = None):
        cfg, prior = args
        self._client = client
        self._shared = (cfg, prior.id if prior else None, prior.to_bytes() if prior else None)
        self._sent = None  # the settings and prior, sent to the workers with the first task
        self._queue: deque = deque()
        self.ahead = 2 * max(1, sum(client.nthreads().values()))
        self._path = path
        self._offset = 0  # of the next segment in the input file
        self.started = False

    def compress(self, raw: bytes, first: bool) -> list[tuple[int, bytes]]:
        offset, self._offset = self._offset, self._offset + len(raw)
        if self._path is None:
            return self._submit(workers_mod.compress, raw, first)
        return self._submit(_compress_at, self._path, offset, len(raw), zlib.crc32(raw), first)

    def _submit(self, fn, *args) -> list:
        if self._sent is None:
            [self._sent] = self._client.scatter([self._shared], broadcast=True, hash=False)
        self._queue.append(self._client.submit(_run, fn, self._sent, *args, pure=False))
        self.started = True
        return self.ready()

    def _result(self, future):
        try:
            return future.result()
        except (NNCError, OSError):  # damaged data, or an input a worker could not read
            raise
        except Exception as e:  # the cluster's own failures (a worker lost, a task cancelled): one line, no traceback
            raise NNCError(f"the Dask cluster failed: {type(e).__name__}: {e}") from None

    def close(self) -> None:
        for future in self._queue:
            future.cancel()
        self._queue.clear()


def compress_file(client, path: str | os.PathLike, out: BinaryIO, *, level: int = DEFAULT_LEVEL,
                  model: api.ModelSpec | None = None, segment: int | None = None, progress=None,
                  shared: bool | None = None) -> tuple[int, int]:
    """Compress the file at path into the binary file `out` on the cluster of a dask.distributed Client,
    one task per segment; the same bytes as nncomp.compress. `shared`: whether the workers read the
    input themselves (None: if they all see the same file). Returns (bytes read, bytes written)."""
    path = os.path.abspath(path)
    reads = visible(client, path) if shared is None else shared
    c = api.compressor(level, model=model, segment=segment, size=os.path.getsize(path), progress=progress,
                       pool=lambda args: DaskPool(client, args, path if reads else None))
    n_in = n_out = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            n_in += len(chunk)
            n_out += out.write(c.compress(chunk)) or 0
    n_out += out.write(c.flush()) or 0
    return n_in, n_out


def decompress_file(client, path: str | os.PathLike, out: BinaryIO, *, models: Iterable[api.ModelSpec] = (),
                    progress=None) -> tuple[int, int]:
    """Decompress the .nnc file at path into the binary file `out`, one task per segment on the cluster
    (the segments' frames travel with the tasks). Returns (bytes read, bytes written)."""
    n_in = n_out = 0

    def chunks(f):
        nonlocal n_in
        for chunk in iter(lambda: f.read(CHUNK), b""):
            n_in += len(chunk)
            yield chunk

    with open(path, "rb") as f:
        for data in api.iter_decompress(chunks(f), models=models, progress=progress,
                                        pool=lambda args: DaskPool(client, args)):
            n_out += out.write(data) or 0
    return n_in, n_out


def client(address: str):
    """A dask.distributed Client for a scheduler address; a clear error when Dask is not installed."""
    try:
        from distributed import Client
    except ImportError:
        raise NNCError("a cluster needs Dask: pip install 'nncomp[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise NNCError(f"cannot reach the Dask scheduler at {address}: {e}") from None

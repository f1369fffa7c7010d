"""Worker processes that code whole segments side by side (`-T N`), results in the order submitted.

A segment depends on nothing before it (codec.compress_segment, codec.decode_segment), so any worker
can code any segment and the bytes are the same for every worker count. Each worker is a fresh
interpreter (spawn: a fork of a process that has started torch's threads is unsafe), loads the
settings and the prior once, and runs torch on one thread, so N workers keep N cores busy without
spinning against each other.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

_args: tuple = ()  # in a worker: (settings, prior) of the stream it codes
BASE = 500 << 20  # a worker's memory besides its tables and activations: Python, torch, numba, the prior, a segment


def affordable(n: int, level: int | None = None) -> int:
    """How many of n workers at this level (the default level if unknown) the free memory holds (at least 1)."""
    from .config import DEFAULT_LEVEL, level_config

    need = level_config(level or DEFAULT_LEVEL).memory_estimate() + BASE
    return max(1, min(n, _available() // need))


def _available() -> int:
    """Bytes of memory the system can give without swapping (MemAvailable; all of it if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 1 << 62


_prepared = False  # this process is set up as a worker (prepare)


def prepare() -> None:
    """Set up this process as a worker, once: torch on one thread, and freed memory kept for the next
    block (heap.py; a worker is ours alone, as the nncomp process is). Dask's workers call it too."""
    import torch

    from .heap import keep_freed_memory

    global _prepared
    if not _prepared:
        torch.set_num_threads(1)
        keep_freed_memory()
        _prepared = True


def _init(args: tuple) -> None:
    global _args
    prepare()
    _args = args


def compress(data: bytes, first: bool) -> tuple[int, bytes]:
    """In a worker: (length, frames) of one segment."""
    from .codec import compress_segment

    cfg, prior = _args
    return len(data), compress_segment(cfg, prior, data, first)


def compress_stream(data: bytes, level: int) -> bytes:
    """In a worker: an input of one segment as a whole stream (many small files, one task each)."""
    from .api import compress

    cfg, prior = _args
    return compress(data, level, model=prior if prior is not None else "none", config=cfg, segment=0)


def decompress(frames: bytes, stop: int | None = None) -> bytes:
    """In a worker: the bytes of one segment's frames (up to the frame that holds byte `stop`)."""
    from .codec import decode_segment

    cfg, prior = _args
    return decode_segment(cfg, prior, frames, stop=stop)


class Pool:
    """Segments coded on `workers` processes; results are taken in the order the segments were given,
    and at most 2 x workers tasks (their inputs and results) are held at once. distributed.DaskPool
    does the same on a cluster."""

    def __init__(self, workers: int, args: tuple):
        """`args`: the (settings, prior) every task of this pool codes with, sent to each worker once."""
        self._ex = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init, initargs=(args,))
        self._queue: deque[Future] = deque()
        self.ahead = 2 * workers  # tasks in flight at most
        self.started = False  # a task was given: the workers exist (they start with the first)

    def compress(self, raw: bytes, first: bool) -> list[tuple[int, bytes]]:
        """Code a segment (the stream's first or not); returns the (length, frames) of segments now done."""
        return self._submit(compress, raw, first)

    def stream(self, data: bytes, level: int) -> list[bytes]:
        """Code a whole input of at most one segment as a stream; returns the streams now done."""
        return self._submit(compress_stream, data, level)

    def decompress(self, frames: bytes, stop: int | None = None) -> list[bytes]:
        """Decode a segment's frames (up to the frame that holds byte `stop`); returns the bytes of
        segments now done."""
        return self._submit(decompress, frames, stop)

    def _submit(self, fn, *args) -> list:
        """Give a task; returns the results now due, waiting while too many tasks are in flight."""
        self._queue.append(self._ex.submit(fn, *args))
        self.started = True
        return self.ready()

    def ready(self) -> list:
        """Results of the oldest tasks that are done (and of any that must be waited for)."""
        out = []
        while self._queue and (self._queue[0].done() or len(self._queue) > self.ahead):
            out.append(self._result(self._queue.popleft()))
        return out

    def drain(self) -> list:
        """Every result still owed, in order."""
        out = []
        while self._queue:
            out.append(self._result(self._queue.popleft()))
        return out

    def _result(self, future):
        return future.result()

    def close(self) -> None:
        self._ex.shutdown(wait=True, cancel_futures=True)

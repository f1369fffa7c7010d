"""Random access: the seek tables at the ends of a file's streams locate its segments, so a range of
the decoded bytes costs only the segments that hold it (decoded up to the range's end).

Every table is checked (its checksum, its sums against the stream's length and the file's offsets,
each segment's first frame); a damaged one is a CorruptError, never a wrong answer.
"""

from __future__ import annotations

import os
from collections import deque
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple

from . import container
from . import workers as workers_mod
from .codec import decode_segment
from .errors import CorruptError
from .prior import Prior


class Segment(NamedTuple):
    start: int  # offset of its first byte in the decoded data
    size: int  # its decoded bytes
    offset: int  # offset of its first frame in the file
    length: int  # bytes of its frames
    header: container.Header  # the settings of the stream it belongs to
    first: bool  # the first segment of its stream (its first frame carries no segment flag)


def index(f: BinaryIO) -> list[Segment]:
    """Every segment of the streams in the seekable binary file f, in order, read from their seek tables."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    streams = []
    while end > 0:  # the last stream's table locates its start, which is the previous stream's end
        if end < container.END_MIN:
            raise CorruptError("truncated input or damaged seek table")
        f.seek(end - container.END_TAIL.size)
        size = container.end_size(f.read(container.END_TAIL.size))
        if size > end:
            raise CorruptError("damaged seek table")
        f.seek(end - size)
        table = container.parse_end(f.read(size))
        if table.size != size:
            raise CorruptError("damaged seek table")
        start = end - size - sum(n for _, n in table.segments) - table.header_len
        if start < 0:
            raise CorruptError("damaged seek table")
        f.seek(start)
        header, raw = container.read_header(f)
        if len(raw) != table.header_len:
            raise CorruptError("the seek table does not match the stream's header")
        streams.append((start, header, table))
        end = start
    out, pos = [], 0
    for start, header, table in reversed(streams):
        offset = start + table.header_len
        for i, (size, length) in enumerate(table.segments):
            out.append(Segment(pos, size, offset, length, header, i == 0))
            pos += size
            offset += length
    return out


def iter_range(f: BinaryIO, start: int, stop: int, resolve: Callable[[str], Prior | None],
               workers: int = 1, threads: int | None = 1) -> Iterator[bytes]:
    """Decoded bytes [start, stop) of the .nnc streams in the seekable binary file f (clipped to the data,
    as slicing is), a piece per segment, decoding only the segments that hold them, each up to the
    frame that holds `stop`; `resolve` finds the prior a header names, and `workers` processes decode
    segments side by side (at most 2 x workers segments held at once); `threads`: torch's threads here (Engine)."""
    wanted = [s for s in index(f) if s.start < stop and start < s.start + s.size]
    jobs = ((s, _frames(f, s), min(stop, s.start + s.size) - s.start) for s in wanted)
    for (s, need), piece in _decoded(jobs, resolve, workers, threads):
        if len(piece) < need or (need == s.size and len(piece) != s.size):
            raise CorruptError("the seek table does not match the frames")
        yield piece[max(0, start - s.start) : need]


def _frames(f: BinaryIO, s: Segment) -> bytes:
    """The frames of segment s, read from f; CorruptError unless a segment starts there."""
    f.seek(s.offset)
    frames = f.read(s.length)
    if len(frames) != s.length:
        raise CorruptError("truncated input or damaged seek table")
    head = container.parse_frame_head(frames[: container.FRAME_HEAD.size], s.header.config)
    if head.segment == s.first:  # a segment after its stream's first starts with the flag, the first without
        raise CorruptError("the seek table does not match the frames")
    return frames


def _decoded(jobs: Iterable, resolve, workers: int, threads: int | None) -> Iterator[tuple[tuple[Segment, int], bytes]]:
    """((segment, bytes needed), its bytes decoded as far as needed) per job, in order: here, or in worker
    processes (a pool for each run of segments whose streams share settings)."""
    pool, settings, owed = None, None, deque()
    try:
        for s, frames, need in jobs:
            if workers <= 1:
                yield (s, need), decode_segment(s.header.config, resolve(s.header.model), frames, threads, stop=need)
                continue
            if s.header != settings:
                if pool is not None:
                    yield from zip([owed.popleft() for _ in range(len(owed))], pool.drain())
                    pool.close()
                pool, settings = workers_mod.Pool(workers, (s.header.config, resolve(s.header.model))), s.header
            owed.append((s, need))
            for piece in pool.decompress(frames, need):
                yield owed.popleft(), piece
        if pool is not None:
            yield from zip([owed.popleft() for _ in range(len(owed))], pool.drain())
    finally:
        if pool is not None:
            pool.close()

"""Random access: the seek tables at the ends of a file's streams locate its segments, so a range of
the decoded bytes costs only the segments that hold it (decoded up to the range's end).

Every table is checked (its checksum, its sums against the stream's length and the file's offsets,
each segment's first frame); a damaged one is a CorruptError, never a wrong answer.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Callable, NamedTuple

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


def read_range(f: BinaryIO, start: int, stop: int, resolve: Callable[[str], Prior | None], workers: int = 1) -> bytes:
    """Decoded bytes [start, stop) of the .nnc streams in the seekable binary file f (clipped to the data,
    as slicing is), decoding only the segments that hold them; `resolve` finds the prior a header names,
    and `workers` processes decode segments side by side."""
    wanted = [s for s in index(f) if s.start < stop and start < s.start + s.size]
    jobs = []  # (segment, its frames, decoded bytes of it that are needed)
    for s in wanted:
        f.seek(s.offset)
        frames = f.read(s.length)
        if len(frames) != s.length:
            raise CorruptError("truncated input or damaged seek table")
        head = container.parse_frame_head(frames[: container.FRAME_HEAD.size], s.header.config)
        if head.segment == s.first:  # a segment after its stream's first starts with the flag, the first without
            raise CorruptError("the seek table does not match the frames")
        jobs.append((s, frames, min(stop, s.start + s.size) - s.start))
    pieces = _decoded(jobs, resolve, workers)
    out = []
    for (s, _, need), piece in zip(jobs, pieces):
        if len(piece) < need or (need == s.size and len(piece) != s.size):
            raise CorruptError("the seek table does not match the frames")
        out.append(piece[max(0, start - s.start) : need])
    return b"".join(out)


def _decoded(jobs: list, resolve, workers: int) -> list[bytes]:
    """Each job's segment decoded as far as needed: here, or in worker processes (one pool per stream's settings)."""
    if workers <= 1 or len(jobs) <= 1:
        return [decode_segment(s.header.config, resolve(s.header.model), frames, stop=need)
                for s, frames, need in jobs]
    out: list[bytes] = []
    i = 0
    while i < len(jobs):  # runs of segments that share a header share a pool
        j = i
        while j < len(jobs) and jobs[j][0].header == jobs[i][0].header:
            j += 1
        h = jobs[i][0].header
        pool = workers_mod.Pool(workers, (h.config, resolve(h.model)))
        try:
            for s, frames, need in jobs[i:j]:
                out += pool.decompress(frames, need)
            out += pool.drain()
        finally:
            pool.close()
        i = j
    return out

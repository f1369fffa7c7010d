"""The Python API, in the manner of lzma: compress(data) and decompress(data), plus the
incremental objects behind them. The CLI, the tests and the benchmarks all go through here."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import BinaryIO, Iterable, Iterator

from . import container, prior, seek
from .codec import NO_PRIOR, Compressor, Decompressor, PoolMaker, Progress
from .config import DEFAULT_LEVEL, LEVELS, CodecConfig, DEFAULT_SEGMENT, check_segment, level_config, level_model
from .prior import Prior
from .errors import TRUNCATED, CorruptError, NNCError, UnsupportedError

ModelSpec = str | os.PathLike | Prior  # a built-in name, a .nncm path or a loaded prior

def load_model(spec: ModelSpec | None) -> Prior | None:
    """A prior from a built-in name ('default'), a path to a .nncm file, or 'none' (random weights)."""
    if spec is None or isinstance(spec, Prior):
        return spec
    if isinstance(spec, os.PathLike):
        return Prior.load(spec)
    if not isinstance(spec, str):
        raise TypeError(f"model must be a name, a path or a Prior, not {type(spec).__name__}")
    if spec == NO_PRIOR:
        return None
    if spec in prior.BUILTIN:
        p = prior.builtin(spec)
        if p is None:
            raise UnsupportedError(f"built-in model {spec!r} is not installed")
        return p
    return Prior.load(spec)


def _check_level(level: int) -> None:
    if not isinstance(level, int) or isinstance(level, bool):
        raise TypeError(f"level must be an int, not {type(level).__name__}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {min(LEVELS)}..{max(LEVELS)}, not {level}")


def resolver(extra: list[Prior] = ()):
    """Finds the prior a header names: none, one of `extra` (user-supplied), or a built-in one."""

    def resolve(model_id: str) -> Prior | None:
        if model_id == NO_PRIOR:
            return None
        for p in extra:
            if p.id == model_id:
                return p
        p = prior.find_builtin(model_id)
        if p is None:
            raise UnsupportedError(f"this stream needs model {model_id}, which is not installed (pass its file with --model)")
        return p

    return resolve


def compressor(level: int = DEFAULT_LEVEL, *, model: str | Prior | None = None, config: CodecConfig | None = None,
               threads: int | None = 1, progress: Progress | None = None,
               members: list[tuple[str, int]] | None = None, on_frame=None, decide: bool = True,
               mix: bool = True, segment: int | None = None, size: int | None = None, workers: int = 1,
               pool: PoolMaker | None = None) -> Compressor:
    """An incremental Compressor for `level` (1 fastest .. 9 strongest) or explicit settings.

    `model` is the prior to start from: the level's own by default (with explicit `config`, the
    level's own where its network and context orders are the prior's, else none), 'none', a built-in
    name, a .nncm path or a Prior.
    `members` makes the stream an archive of (relative path, size) entries;
    `on_frame(raw length, bytes written, per-byte code lengths or None)` observes each frame.
    `decide=False` lets every dataset learn from those before it, and `mix=False` codes it by the
    stream's model alone instead of mixed with a fresh one (Compressor). `threads` is
    the number of torch threads coding uses (None: as the process has them), set for each call and
    the caller's number restored afterwards; one by default, since waiting threads spin and processes
    side by side slow each other down many times over.

    `segment` cuts the input into independently coded segments of at most that many bytes (None:
    3 MiB, DEFAULT_SEGMENT; 0: one segment, as joint streams and archives need), of equal length when
    `size`, the input's length, is given (the bytes then depend on it; a wrong size only moves the
    cuts), and `workers` codes them in that many processes at once; the bytes are the same for any
    number of workers. `pool` makes the workers instead, from the stream's (settings, prior):
    nncomp.distributed codes segments on a cluster so.
    """
    _check_level(level)
    cfg = config or level_config(level)
    cfg.validate()
    p = load_model(model if model is not None else level_model(level))
    if p is not None and not p.fits(cfg.model, cfg.orders):
        if model is None:  # explicit settings of another network or other orders than the level's prior knows
            p = None
        else:
            raise UnsupportedError(f"model {p.id} was trained for other settings than level {level}")
    segment = check_segment(DEFAULT_SEGMENT if segment is None else segment)
    return Compressor(cfg, level, p, threads=threads, progress=progress, members=members, on_frame=on_frame,
                      decide=decide, mix=mix, segment=segment, size=size, workers=max(1, workers), pool=pool)


def decompressor(*, models: Iterable[ModelSpec] = (), threads: int | None = 1,
                 progress: Progress | None = None, workers: int = 1, pool: PoolMaker | None = None) -> Decompressor:
    """An incremental Decompressor of one stream; `models` are custom priors (paths or Prior objects)
    that headers may name besides the built-in ones."""
    return Decompressor(resolver(_priors(models)), threads=threads, progress=progress, workers=workers, pool=pool)


def _priors(models: Iterable[ModelSpec]) -> list[Prior]:
    if isinstance(models, (str, os.PathLike, Prior)):
        models = [models]
    return [p for p in map(load_model, models) if p is not None]


def iter_decompress(chunks: Iterable[bytes], *, models: Iterable[ModelSpec] = (), threads: int | None = 1,
                    progress: Progress | None = None, workers: int = 1, pool: PoolMaker | None = None) -> Iterator[bytes]:
    """Decoded bytes of one or more concatenated streams whose bytes come in `chunks`.

    Raises CorruptError for empty input, input that ends inside a stream, and data after a stream
    that does not start another one.
    """
    resolve = resolver(_priors(models))
    d: Decompressor | None = None
    started = False
    for chunk in chunks:
        while chunk:
            if d is None:
                if not container.MAGIC.startswith(bytes(chunk[: len(container.MAGIC)])) and started:
                    raise CorruptError("trailing data after the end of the stream")
                d = Decompressor(resolve, threads=threads, progress=progress, workers=workers, pool=pool)
                started = True
            yield d.decompress(chunk)
            chunk, d = (d.unused_data, None) if d.eof else (b"", d)
    if d is not None or not started:
        raise CorruptError(TRUNCATED if started else "empty input (not an .nnc stream)")


def compress(data: bytes, level: int = DEFAULT_LEVEL, *, model: ModelSpec | None = None,
             config: CodecConfig | None = None, threads: int | None = 1, segment: int | None = None,
             workers: int = 1) -> bytes:
    """Compress a bytes-like object into a complete .nnc stream (TypeError for anything else, as lzma)."""
    size = memoryview(data).nbytes  # bytes-like only: anything else is a TypeError, as in lzma
    c = compressor(level, model=model, config=config, threads=threads, segment=segment, size=size, workers=workers)
    return c.compress(data) + c.flush()


def decompress(data: bytes, *, models: Iterable[ModelSpec] = (), threads: int | None = 1,
               workers: int = 1) -> bytes:
    """Decompress one or more concatenated .nnc streams; CorruptError on damaged or truncated input."""
    return b"".join(iter_decompress([memoryview(data).cast("B")], models=models, threads=threads, workers=workers))


def read_range(file: str | os.PathLike | BinaryIO, start: int, stop: int, *, models: Iterable[ModelSpec] = (),
               threads: int | None = 1, workers: int = 1) -> bytes:
    """Bytes [start, stop) of what the .nnc file (a path, or a seekable binary file object) decodes to,
    clipped to the data as slicing is. Its seek tables locate the segments that hold them, and only
    those are decoded, up to the range's end (in `workers` processes at once; `threads`: torch's threads
    in this process, as for compressor); CorruptError if a table or a segment is damaged."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop)):
        raise TypeError("start and stop must be ints")
    if start < 0 or stop < 0:
        raise ValueError("start and stop are offsets in the decoded data (>= 0)")
    if stop <= start:
        return b""
    with open(file, "rb") if isinstance(file, (str, os.PathLike)) else nullcontext(file) as f:
        return b"".join(seek.iter_range(f, start, stop, resolver(_priors(models)), workers, threads))


__all__ = ["compress", "decompress", "read_range", "compressor", "decompressor", "iter_decompress", "load_model",
           "NNCError", "CorruptError", "UnsupportedError"]

"""The Python API, in the manner of lzma: compress(data) and decompress(data), plus the
incremental objects behind them. The CLI, the tests and the benchmarks all go through here."""

from __future__ import annotations

from .codec import Compressor, Decompressor, Progress
from .config import DEFAULT_LEVEL, CodecConfig, level_config
from .errors import CorruptError, NNCError, UnsupportedError

RANDOM_MODEL = "none"  # no prior: weights from the seeded generator, learned online from scratch


def resolve_model(model_id: str):
    """Weights for a model id from a header (None means seeded random weights)."""
    if model_id == RANDOM_MODEL:
        return None
    raise UnsupportedError(f"this stream needs model {model_id!r}, which is not installed")


def compressor(level: int = DEFAULT_LEVEL, *, config: CodecConfig | None = None, threads: int | None = None,
               progress: Progress | None = None, members: list[tuple[str, int]] | None = None,
               on_frame=None) -> Compressor:
    """An incremental Compressor for `level` (1 fastest .. 9 strongest) or explicit settings.

    `members` makes the stream an archive of (relative path, size) entries; `on_frame(raw length,
    bytes written, per-byte code lengths or None)` observes each frame (used by joint reports).
    """
    cfg = config or level_config(level)
    cfg.validate()
    return Compressor(cfg, RANDOM_MODEL, level, None, threads=threads, progress=progress, members=members,
                      on_frame=on_frame)


def decompressor(*, threads: int | None = None, progress: Progress | None = None) -> Decompressor:
    return Decompressor(resolve_model, threads=threads, progress=progress)


def compress(data: bytes, level: int = DEFAULT_LEVEL, *, config: CodecConfig | None = None,
             threads: int | None = None) -> bytes:
    """Compress bytes into a complete .nnc stream."""
    c = compressor(level, config=config, threads=threads)
    return c.compress(bytes(data)) + c.flush()


def decompress(data: bytes, *, threads: int | None = None) -> bytes:
    """Decompress a complete .nnc stream; raises CorruptError on damaged or truncated input."""
    d = decompressor(threads=threads)
    out = d.decompress(bytes(data))
    if not d.eof:
        raise CorruptError("truncated stream (no end record)")
    return out


__all__ = ["compress", "decompress", "compressor", "decompressor", "NNCError", "CorruptError", "UnsupportedError"]

"""The Python API, in the manner of lzma: compress(data) and decompress(data), plus the
incremental objects behind them. The CLI, the tests and the benchmarks all go through here."""

from __future__ import annotations

from . import prior
from .codec import NO_PRIOR, Compressor, Decompressor, Progress
from .config import DEFAULT_LEVEL, CodecConfig, level_config, level_model
from .prior import Prior
from .errors import CorruptError, NNCError, UnsupportedError

def load_model(spec: str | Prior | None) -> Prior | None:
    """A prior from a built-in name ('default'), a path to a .nncm file, or 'none' (random weights)."""
    if spec is None or isinstance(spec, Prior):
        return spec
    if spec == NO_PRIOR:
        return None
    if spec in prior.BUILTIN:
        p = prior.builtin(spec)
        if p is None:
            raise UnsupportedError(f"built-in model {spec!r} is not installed")
        return p
    return Prior.load(spec)


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
               threads: int | None = None, progress: Progress | None = None,
               members: list[tuple[str, int]] | None = None, on_frame=None) -> Compressor:
    """An incremental Compressor for `level` (1 fastest .. 9 strongest) or explicit settings.

    `model` is the prior to start from: the level's own by default, 'none', a built-in name, a
    .nncm path or a Prior. `members` makes the stream an archive of (relative path, size) entries;
    `on_frame(raw length, bytes written, per-byte code lengths or None)` observes each frame.
    """
    cfg = config or level_config(level)
    cfg.validate()
    p = load_model(model if model is not None else (NO_PRIOR if config else level_model(level)))
    if p is not None and not p.fits(cfg.model, cfg.orders):
        raise UnsupportedError(f"model {p.id} was trained for other settings than level {level}")
    return Compressor(cfg, level, p, threads=threads, progress=progress, members=members, on_frame=on_frame)


def decompressor(*, models: list[Prior] = (), threads: int | None = None, progress: Progress | None = None) -> Decompressor:
    return Decompressor(resolver(list(models)), threads=threads, progress=progress)


def compress(data: bytes, level: int = DEFAULT_LEVEL, *, model: str | Prior | None = None,
             config: CodecConfig | None = None, threads: int | None = None) -> bytes:
    """Compress bytes into a complete .nnc stream."""
    c = compressor(level, model=model, config=config, threads=threads)
    return c.compress(bytes(data)) + c.flush()


def decompress(data: bytes, *, models: list[Prior] = (), threads: int | None = None) -> bytes:
    """Decompress a complete .nnc stream; raises CorruptError on damaged or truncated input."""
    d = decompressor(models=models, threads=threads)
    out = d.decompress(bytes(data))
    if not d.eof:
        raise CorruptError("truncated stream (no end record)")
    return out


__all__ = ["compress", "decompress", "compressor", "decompressor", "NNCError", "CorruptError", "UnsupportedError"]

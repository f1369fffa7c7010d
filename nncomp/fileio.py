"""Safe output files: written beside their target under a temporary name, renamed into place only when
complete, removed on any failure (an exception, Ctrl-C, or SIGTERM turned into an exception).

Only regular files are ever created or replaced: an output that already exists as a device or a FIFO
(`-o /dev/null`) is written into, as zstd and gzip do, and a directory is refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator


def regular_files(directory: Path) -> list[Path]:
    """The regular files under a directory, in sorted path order; symlinks are skipped, not followed."""
    return sorted(f for f in directory.rglob("*") if f.is_file() and not f.is_symlink())


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def is_stream(path: str | Path) -> bool:
    """True for an existing output that is neither a regular file nor a directory (a device, a FIFO)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def bytes_left(f: BinaryIO) -> int | None:
    """The bytes a regular file holds from its position on; None for a pipe, a terminal or a device."""
    try:
        st = os.fstat(f.fileno())
        return st.st_size - f.tell() if stat.S_ISREG(st.st_mode) else None
    except (OSError, ValueError, AttributeError):  # no descriptor (an in-memory file) or not seekable
        return None


@contextmanager
def temporary_beside(path: Path) -> Iterator[tuple[BinaryIO, str]]:
    """An open temporary file in path's directory, with the mode a new file would get; (file, name).

    The caller renames it (os.replace) when it is complete; on any exception it is removed.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _default_mode())
        with os.fdopen(fd, "wb") as f:
            yield f, tmp
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_output(path: Path, force: bool, exists_error, like: str | Path | None = None,
                  ready: Callable[[], object] = lambda: None) -> Iterator[BinaryIO]:
    """A file that appears at `path` only if the body completes; refuses an existing path without force.

    With `like`, the new file takes that file's permissions and times (as gzip, xz and zstd keep them).
    `ready` is called once the path may be written, before the temporary file exists.
    """
    if path.is_dir():
        raise exists_error(f"{path} is a directory")
    if path.exists() and not force:
        raise exists_error(f"{path} already exists; use -f to overwrite")
    ready()
    with temporary_beside(path) as (f, tmp):
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        if like is not None:
            shutil.copymode(like, tmp)
            st = os.stat(like)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)
    _sync_directory(path.parent)


@contextmanager
def open_output(path: Path, force: bool, exists_error, like: str | Path | None = None,
                ready: Callable[[], object] = lambda: None) -> Iterator[BinaryIO]:
    """Where a named output goes: into a device or FIFO that exists (no -f needed, nothing replaced),
    otherwise a regular file written atomically (atomic_output, which calls `ready` as it says)."""
    if is_stream(path):
        ready()
        with open(os.open(path, os.O_WRONLY), "wb") as f:
            yield f
    else:
        with atomic_output(path, force, exists_error, like, ready) as f:
            yield f


def _sync_directory(path: Path) -> None:
    """Make a rename durable: the directory entry itself is flushed (not every filesystem allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

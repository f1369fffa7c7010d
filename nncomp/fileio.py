"""Safe output files: written beside their target under a temporary name, renamed into place only when
complete, removed on any failure (an exception, Ctrl-C, or SIGTERM turned into an exception)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
def atomic_output(path: Path, force: bool, exists_error) -> Iterator[BinaryIO]:
    """A file that appears at `path` only if the body completes; refuses an existing path without force."""
    if path.exists() and not force:
        raise exists_error(f"{path} already exists; use -f to overwrite")
    with temporary_beside(path) as (f, tmp):
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)

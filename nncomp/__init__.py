"""nncomp: lossless compression with a byte-level transformer that learns while it codes."""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports these when used
    from .api import compress, compressor, decompress, decompressor, iter_decompress, load_model, read_range
    from .codec import Compressor, Decompressor
    from .config import CodecConfig
    from .errors import CorruptError, NNCError, UnsupportedError
    from .nncfile import NNCFile, open

__version__ = "0.1.0"
DEFAULT_LEVEL = 5  # here, not in config.py, so that the command line's help and usage errors need no torch

# Where each name of the API lives: modules are imported when a name is first used, since importing
# torch takes a second or more, and `nncomp --help` or a usage error should not wait for it.
_HOMES = {
    "compress": "api", "decompress": "api", "read_range": "api", "compressor": "api", "decompressor": "api",
    "iter_decompress": "api", "load_model": "api", "Compressor": "codec", "Decompressor": "codec",
    "CodecConfig": "config", "NNCError": "errors", "CorruptError": "errors", "UnsupportedError": "errors",
    "NNCFile": "nncfile", "open": "nncfile",
}

__all__ = ["compress", "decompress", "read_range", "open", "NNCFile", "compressor", "decompressor", "Compressor",
           "Decompressor", "iter_decompress", "load_model", "CodecConfig", "DEFAULT_LEVEL", "NNCError",
           "CorruptError", "UnsupportedError", "__version__"]


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value
        return value
    try:  # a submodule, as `nncomp.config` after a bare `import nncomp`
        return import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

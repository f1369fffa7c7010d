"""nncomp: lossless compression with a byte-level transformer that learns while it codes."""

from .api import compress, compressor, decompress, decompressor
from .config import DEFAULT_LEVEL, CodecConfig
from .errors import CorruptError, NNCError, UnsupportedError

__version__ = "0.1.0"

__all__ = [
    "compress",
    "decompress",
    "compressor",
    "decompressor",
    "CodecConfig",
    "DEFAULT_LEVEL",
    "NNCError",
    "CorruptError",
    "UnsupportedError",
    "__version__",
]

"""nncomp: lossless compression with a byte-level transformer that learns while it codes."""

from .api import compress, compressor, decompress, decompressor, iter_decompress, load_model, read_range
from .codec import Compressor, Decompressor
from .config import DEFAULT_LEVEL, CodecConfig
from .errors import CorruptError, NNCError, UnsupportedError
from .nncfile import NNCFile, open

__version__ = "0.1.0"

__all__ = [
    "compress",
    "decompress",
    "read_range",
    "open",
    "NNCFile",
    "compressor",
    "decompressor",
    "Compressor",
    "Decompressor",
    "iter_decompress",
    "load_model",
    "CodecConfig",
    "DEFAULT_LEVEL",
    "NNCError",
    "CorruptError",
    "UnsupportedError",
    "__version__",
]

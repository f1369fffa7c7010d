"""Exceptions raised by nncomp; the CLI turns each into one line on stderr and a non-zero exit."""


class NNCError(Exception):
    """Any failure nncomp reports to its user."""


class CorruptError(NNCError):
    """The input is not a valid .nnc stream: bad magic, truncated, damaged or checksum mismatch."""


TRUNCATED = "truncated input (the stream ends early)"


class UnsupportedError(NNCError):
    """A valid stream that this version cannot decode (newer format, unknown model)."""

"""Reversible transforms of a frame's bytes before the model sees them.

x86 code calls and jumps by relative address (E8/E9 and four bytes), so one function called from a
thousand places has a thousand different operands; made absolute, its address repeats and the
counts and the match model learn it. The encoder rewrites every E8/E9 xx xx xx 00/FF at frame
offset i to carry its low 24 bits plus i (mod 2**24), walking backwards; the decoder subtracts
walking forwards, so each side reads a position's opcode and fifth byte exactly as the other wrote
them (the transform of zpaq and paq8, and xz's BCJ x86 filter in spirit). A frame is filtered only
where such patterns are far more common than in other data (looks_x86), and its head says so.
"""

from __future__ import annotations

import re

import numpy as np

# x86-64 code has one such pattern per 20-50 bytes, other data (text, tables, images, compressed
# streams) at most one per 2,000 (docs/decisions.md): one per 256 bytes separates them widely.
X86_DENSITY = 256
_OPCODE = re.compile(rb"[\xe8\xe9]")


def _patterns(a: np.ndarray) -> np.ndarray:
    """Where an E8/E9 byte has a 00/FF byte four after it (the opcode's position)."""
    return ((a[:-4] & 0xFE) == 0xE8) & (((a[4:].astype(np.int16) + 1) & 0xFE) == 0)


def looks_x86(raw: bytes) -> bool:
    """The encoder's choice of the x86 filter for a frame: at least one call or jump pattern per
    X86_DENSITY bytes."""
    if len(raw) < 5:
        return False
    return int(_patterns(np.frombuffer(raw, dtype=np.uint8)).sum()) * X86_DENSITY >= len(raw)


def _rewrite(b: bytearray, i: int, sign: int) -> None:
    v = (b[i + 1] | b[i + 2] << 8 | b[i + 3] << 16) + sign * i
    b[i + 1], b[i + 2], b[i + 3] = v & 0xFF, v >> 8 & 0xFF, v >> 16 & 0xFF


def x86_encode(raw: bytes) -> bytes:
    """Relative call and jump operands made absolute (offsets below 2**24: a frame's length)."""
    b = bytearray(raw)
    if len(b) < 5:
        return bytes(b)
    # walking backwards, a position's opcode byte is still the input's: only later positions changed
    for i in np.flatnonzero((np.frombuffer(raw, dtype=np.uint8)[:-4] & 0xFE) == 0xE8)[::-1].tolist():
        if (b[i + 4] + 1) & 0xFE == 0:
            _rewrite(b, i, 1)
    return bytes(b)


def x86_decode(data: bytes) -> bytes:
    """The inverse of x86_encode."""
    b = bytearray(data)
    i, end = 0, len(b) - 4
    # the search reads the buffer as restored so far, which is what the encoder saw at that position
    while (m := _OPCODE.search(b, i, end)) is not None:
        i = m.start()
        if (b[i + 4] + 1) & 0xFE == 0:
            _rewrite(b, i, -1)
        i += 1
    return bytes(b)

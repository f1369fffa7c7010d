"""LEB128 varints (7 bits a byte, low first), as the long-range references and the seek table store them."""

from __future__ import annotations

from .errors import CorruptError


def put(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def get(buf, pos: int, what: str, bits: int = 64) -> tuple[int, int]:
    """(value, position after it) of the varint at buf[pos]; CorruptError ("damaged {what}") if it
    runs past the buffer or past `bits` bits."""
    v = shift = 0
    while True:
        if pos >= len(buf) or shift >= bits:
            raise CorruptError(f"damaged {what}")
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, pos

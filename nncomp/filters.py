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
import torch

from .exact import ilog2_fixed

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


# 16-bit samples (PCM audio, 16-bit images, tables of readings) are smooth as numbers but not as
# bytes: a sample's low byte looks random and its high byte depends on the carry. Coded as the
# difference from the sample before (order 1) or from the line through the two before (order 2), per
# channel, modulo 2**16, most bytes become small residuals that counts predict well. The encoder
# picks the variant (channels, byte order, order and where the first sample starts) whose residuals
# cost least under an adaptive order-1 byte model, on a sample of the frame, and filters the frame only
# where that is well below the bytes' own cost (docs/decisions.md); the frame's payload names it in a byte.
DELTA_MIN = 4096  # shorter frames are not tried: too few byte pairs to judge by
DELTA_GAIN = (9, 10)  # filtered where the best variant costs less than this share of the bytes' cost
DELTA_SAMPLE = 1 << 16  # bytes of a frame's middle that judge it


def delta_code(channels: int, big: bool, order: int, phase: int) -> int:
    """The payload's byte for a variant (never 0, which means no filter): 1 + (phase (0-3) | big-endian
    << 2 | (channels - 1) << 3 | (order - 1) << 4), channels and order 1 or 2."""
    return 1 + (phase | big << 2 | (channels - 1) << 3 | (order - 1) << 4)


def delta_variant(code: int) -> tuple[int, bool, int, int] | None:
    """(channels, big-endian, order, phase) of a payload's byte, or None if it names no variant."""
    c = code - 1
    phase, big, channels, order = c & 3, bool(c & 4), (c >> 3 & 1) + 1, (c >> 4) + 1
    if not 0 <= c < 32 or phase >= 2 * channels:
        return None
    return channels, big, order, phase


def _samples(a: np.ndarray, channels: int, big: bool, phase: int) -> tuple[np.ndarray, slice]:
    """The whole samples of byte array a from `phase` on, as (samples, channels) uint16, and where they lie."""
    stride = 2 * channels
    n = max(0, len(a) - phase) // stride * stride
    at = slice(phase, phase + n)
    return a[at].view(">u2" if big else "<u2").reshape(-1, channels).astype(np.uint16), at


def delta_encode(raw: bytes, code: int) -> bytes:
    """Each channel's samples as differences of order 1 or 2 (the first one or two kept), modulo 2**16."""
    channels, big, order, phase = delta_variant(code)
    a = np.frombuffer(raw, dtype=np.uint8)
    s, at = _samples(a, channels, big, phase)
    r = s.copy()
    r[1:] -= s[:-1]
    if order == 2:
        r[2:] -= s[1:-1] - s[:-2]
    out = a.copy()
    out[at] = r.astype(">u2" if big else "<u2").view(np.uint8).reshape(-1)
    return out.tobytes()


def delta_decode(data: bytes, code: int) -> bytes:
    """The inverse of delta_encode: running sums, modulo 2**16."""
    channels, big, order, phase = delta_variant(code)
    a = np.frombuffer(data, dtype=np.uint8)
    r, at = _samples(a, channels, big, phase)
    if order == 2 and len(r) > 1:
        r[1:] = np.cumsum(r[1:], axis=0, dtype=np.uint16)
    s = np.cumsum(r, axis=0, dtype=np.uint16)
    out = a.copy()
    out[at] = s.astype(">u2" if big else "<u2").view(np.uint8).reshape(-1)
    return out.tobytes()


def _order1_cost(a: np.ndarray) -> int:
    """Bits (in 1/LOGIT_FRAC) the bytes of a take coded one by one, each by an adaptive estimate given
    the byte before (Krichevsky-Trofimov counts): unlike the entropy of the whole sample's statistics,
    it charges a short sample for what its statistics had to learn, so short samples are not judged
    smooth. Integers from exact.ilog2_fixed, so every machine makes the same choice."""
    ctx = a[:-1]
    pair = ctx.astype(np.uint16) << 8 | a[1:]  # (16-bit keys: numpy's stable sort is a radix sort for them)
    seen_pair = _occurrences(pair, np.argsort(pair, kind="stable"))
    seen_ctx = _occurrences(ctx, np.argsort(ctx, kind="stable"))
    # -log2((k + 1/2) / (n + 128)) = log2(2n + 256) - log2(2k + 1)
    return int((ilog2_fixed(torch.from_numpy(2 * seen_ctx + 256)) - ilog2_fixed(torch.from_numpy(2 * seen_pair + 1))).sum())


def _occurrences(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries hold the same key (order: keys' stable argsort)."""
    s = keys[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    rank = np.arange(len(s)) - np.repeat(starts, np.diff(np.r_[starts, len(s)]))
    out = np.empty(len(s), dtype=np.int64)
    out[order] = rank
    return out


def choose_delta(raw: bytes) -> int:
    """The encoder's choice of the delta filter for a frame: a variant's byte, or 0 for none."""
    if len(raw) < DELTA_MIN:
        return 0
    start = (len(raw) - DELTA_SAMPLE) // 2 // 4 * 4 if len(raw) > DELTA_SAMPLE else 0  # keeps every phase
    sample = raw[start : start + DELTA_SAMPLE]

    def cost(code: int) -> float:
        return _order1_cost(np.frombuffer(delta_encode(sample, code), dtype=np.uint8))

    best = min((cost(code), code) for code in range(1, 33) if delta_variant(code))
    return best[1] if best[0] * DELTA_GAIN[1] < DELTA_GAIN[0] * _order1_cost(np.frombuffer(sample, dtype=np.uint8)) else 0

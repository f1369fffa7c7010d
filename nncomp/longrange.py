"""Long-range repeats: stretches seen before in the stream, taken out and coded as references.

Lanes code a frame's stretches side by side, so the neural coder never sees a repeat whose source lies
at the same or a later step of another lane, and its statistics fade over distance. This stage runs
before the lanes, as rzip's and zstd's long mode do: it finds repeats of at least `min_len` bytes whose
source lies in the last `window` bytes of the stream (earlier frames, or earlier in the same frame),
takes them out, and leaves the rest, the literals, to the neural coder. The decoder copies them back.

Sources are found by hashing, with no Python per byte: a 32-bit hash of the HASH_LEN bytes at every
STEP-th position of the window is indexed, every position of the frame is looked up at once (numpy),
and each candidate is verified and extended byte for byte. Any repeat of HASH_LEN + STEP - 1 bytes or
more holds an indexed position, so it is found unless a later position with the same hash hides it.

    references: count u32 | per reference: literals before it, length, distance (LEB128 varints)
"""

from __future__ import annotations

import struct

import numpy as np

from . import varint
from .errors import CorruptError

HASH_LEN = 32  # bytes hashed per indexed position
STEP = 32  # an indexed position every STEP bytes of the stream
MIN_VARIED = 32  # a copy with fewer bytes unlike its most common one is left to the coder, which codes runs for nearly nothing
_MUL = np.uint64(0x100000001B3)  # FNV's 64-bit prime: a polynomial hash, its high 32 bits kept

Ref = tuple[int, int, int]  # (literal bytes before it, length, distance back from its first byte)


def _hashes(a: np.ndarray) -> np.ndarray:
    """32-bit hash of a[p : p + HASH_LEN] for every p with a full window (uint64 holding 32 bits)."""
    n = len(a) - HASH_LEN + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(HASH_LEN):
            h = h * _MUL + a[j : j + n].astype(np.uint64)
    return h >> np.uint64(32)


def _extend(a: np.ndarray, src: int, dst: int, limit: int) -> int:
    """How many bytes a[dst + t] == a[src + t] holds from t = 0, up to limit (src < dst; the ranges may
    overlap, exactly as the decoder's byte-by-byte copy of an overlapping reference reads them)."""
    n, step = 0, 256
    while n < limit:
        m = min(step, limit - n)
        diff = np.flatnonzero(a[src + n : src + n + m] != a[dst + n : dst + n + m])
        if len(diff):
            return n + int(diff[0])
        n, step = n + m, step * 2
    return n


def _varied(x: np.ndarray) -> int:
    """Bytes of x unlike its most common byte: few in runs and sparse data (integers: the same on every machine)."""
    return len(x) - int(np.bincount(x, minlength=256).max())


class Finder:
    """The encoder's side: the window's bytes and their index; split() takes the repeats out of a frame."""

    def __init__(self, window: int, min_len: int):
        self.window, self.min_len = window, min_len
        self.buf = bytearray()  # the last `window` bytes of the stream
        self.start = 0  # stream position of buf[0]
        self.pos = np.zeros(0, dtype=np.int64)  # indexed stream positions (multiples of STEP), ascending
        self.hash = np.zeros(0, dtype=np.uint64)  # their hashes

    def split(self, frame: bytes, align: int = 0) -> tuple[list[Ref], bytes]:
        """(references, literals) of the next frame of the stream; the frame becomes part of the window.

        With `align` (a record length), reference lengths are multiples of it, so the literals keep
        their columns for the record and pixel contexts.
        """
        end = self.start + len(self.buf)  # stream position of frame[0]
        self.buf += frame
        a = np.frombuffer(self.buf, dtype=np.uint8)
        # the aligned positions whose hashed bytes are now complete (the first may lie in the last frame)
        first = -(-max(self.start, end - HASH_LEN + 1) // STEP) * STEP
        if len(self.pos):
            first = max(first, int(self.pos[-1]) + STEP)
        lo = min(first, end) - self.start
        h = _hashes(a[lo:])  # one hash per position from lo on: the index's and the frame's lookups
        new = h[first - self.start - lo :: STEP] if first - self.start - lo < len(h) else h[:0]
        self.pos = np.concatenate([self.pos, np.arange(first, first + STEP * len(new), STEP, dtype=np.int64)])
        self.hash = np.concatenate([self.hash, new])
        refs, literals = self._find(a, end - self.start, frame, h[end - self.start - lo :], max(align, 1))
        del a
        self._trim()
        return refs, literals

    def _find(self, a: np.ndarray, off: int, frame: bytes, qh: np.ndarray, align: int) -> tuple[list[Ref], bytes]:
        """Repeats in a[off:] (the frame), whose position hashes are qh, with sources earlier in a."""
        n = len(frame)
        if n < self.min_len or not len(qh):
            return [], frame
        # for every frame position: the latest indexed position before it with the same hash
        keys = (self.hash << np.uint64(32)) | (self.pos - self.start).astype(np.uint64)
        keys.sort()
        qk = (qh << np.uint64(32)) | np.arange(off, off + len(qh), dtype=np.uint64)
        at = np.searchsorted(keys, qk) - 1
        found = keys[np.maximum(at, 0)]
        cand = np.flatnonzero((at >= 0) & ((found >> np.uint64(32)) == qh))
        src = (found[cand] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        refs: list[Ref] = []
        pieces = []
        covered = 0  # frame bytes before this one are literals or references already
        resume = 0  # candidates before this lie inside a repeat already looked at
        k = 0
        while k < len(cand):
            i = int(cand[k])
            if i < resume:
                k = int(np.searchsorted(cand, resume))
                continue
            s, d = int(src[k]), off + i
            length = _extend(a, s, d, n - i)
            if length < HASH_LEN:  # the hashes collided
                k += 1
                continue
            back = 0
            while back < i - covered and s - back > 0 and a[s - back - 1] == a[d - back - 1]:
                back += 1
            total = (length + back) // align * align
            if total >= self.min_len and _varied(a[d - back : d - back + total]) >= MIN_VARIED:
                start = i - back
                refs.append((start - covered, total, d - s))
                pieces.append(frame[covered:start])
                covered = start + total
            resume = i + length
        pieces.append(frame[covered:])
        return refs, b"".join(pieces)

    def _trim(self) -> None:
        excess = len(self.buf) - self.window
        if excess > 0:
            del self.buf[:excess]
            self.start += excess
            keep = np.searchsorted(self.pos, self.start)
            self.pos, self.hash = self.pos[keep:], self.hash[keep:]


class Joiner:
    """The decoder's side: the window's bytes; join() puts a frame back together from its parts."""

    def __init__(self, window: int):
        self.window = window
        self.buf = bytearray()

    def join(self, refs: list[Ref], literals: bytes, raw_len: int) -> bytes:
        """The frame of raw_len bytes that references and literals describe; CorruptError if they cannot."""
        base = len(self.buf)  # frame[0] in buf
        lit = 0
        for before, length, distance in refs:
            if lit + before > len(literals):
                raise CorruptError("long-range reference past the frame's literals")
            self.buf += literals[lit : lit + before]
            lit += before
            here = len(self.buf)
            if not 0 < distance <= here or here + length - base > raw_len:
                raise CorruptError("long-range reference out of range")
            src = here - distance
            if distance >= length:
                self.buf += self.buf[src : src + length]
            else:  # an overlapping reference repeats its first `distance` bytes
                self.buf += (self.buf[src:here] * (length // distance + 1))[:length]
        self.buf += literals[lit:]
        if len(self.buf) - base != raw_len:
            raise CorruptError("long-range references and literals do not add up to the frame")
        frame = bytes(self.buf[base:])
        excess = len(self.buf) - self.window
        if excess > 0:
            del self.buf[:excess]
        return frame


def literal_mask(refs: list[Ref], raw_len: int) -> np.ndarray:
    """Which bytes of a frame are literals (True) rather than copies."""
    mask = np.ones(raw_len, dtype=bool)
    pos = 0
    for before, length, _ in refs:
        pos += before
        mask[pos : pos + length] = False
        pos += length
    return mask


def pack(refs: list[Ref]) -> bytes:
    out = bytearray(struct.pack(">I", len(refs)))
    for ref in refs:
        for v in ref:
            varint.put(out, v)
    return bytes(out)


def unpack(buf: bytes, raw_len: int) -> tuple[list[Ref], int]:
    """(references, bytes read) from the start of buf; CorruptError for a damaged list."""
    if len(buf) < 4:
        raise CorruptError("truncated long-range references")
    (count,) = struct.unpack_from(">I", buf)
    if count > raw_len:
        raise CorruptError("too many long-range references")
    pos, refs = 4, []
    for _ in range(count):
        ref = []
        for _ in range(3):
            v, pos = varint.get(buf, pos, "long-range references", bits=42)
            ref.append(v)
        if ref[1] == 0 or ref[0] + ref[1] > raw_len:
            raise CorruptError("long-range reference out of range")
        refs.append(tuple(ref))
    return refs, pos

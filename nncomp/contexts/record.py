"""Record contexts: for data made of fixed-length records (tables, bitmaps, arrays of numbers),
predict each byte from the bytes at the same place one and two records back.

The encoder measures a frame's record length (`find_period`) and writes it in the frame head; both
sides then hand the count table extra hashed contexts built from the lane's bytes r and
2r back. A frame without a clear period (text, code) gets none and costs nothing. Everything here is
integer work on bytes both sides have coded.

Besides contexts, a record column often counts or drifts (row numbers, dates): `guess` proposes
the byte that continues the column's last step, 2*above - above2, which the predictor rewards with a
learned bonus per bucket (how often that guess was right in this column lately), as it does matches.
"""

from __future__ import annotations

import numpy as np
import torch

from . import Frame, Guess
from .match import N_LEN

MAX_PERIOD = 4096  # longest record searched for (a row of a 4096-byte-wide bitmap)
SAMPLE = 1 << 16  # bytes of a frame the period is measured on
MAX_RATIO = 0.9  # a period must cut the rate of bytes that differ from r back to 90% of the typical rate
NEAR = 1.05  # a divisor of the best distance that is nearly as good is the record length
# Bits of bonus to start from per bucket of the column-step guess: bucket = right one record back
# + 2 * right two records back + 4 * (guess == above).
BONUS_INIT = [1.0, 3.0, 3.0, 6.0] * 2
BUCKET_BASE = N_LEN  # its buckets follow the match model's in the predictor's bonus vector


def find_period(data: bytes) -> int:
    """Record length of data (2..MAX_PERIOD), or 0 where bytes are not clearly repeated at a fixed distance.

    For each distance d the share of bytes unequal to the byte d back is measured on a sample from the
    middle; the best d wins if it is well below the median over all d (text is flat: 0.98 of it; a
    spreadsheet 0.17, a bitmap 0.25). Of its divisors, the smallest nearly as good is taken (12, not 48).
    """
    x = np.frombuffer(data, dtype=np.uint8)
    mid = len(x) // 2
    s = x[max(0, mid - SAMPLE // 2) : mid + SAMPLE // 2]
    top = min(MAX_PERIOD, len(s) // 4)
    if top < 8:
        return 0
    miss = np.array([np.count_nonzero(s[d:] != s[:-d]) / (len(s) - d) for d in range(2, top + 1)])
    best = int(np.argmin(miss)) + 2
    if miss[best - 2] > MAX_RATIO * np.median(miss):
        return 0
    return next(d for d in range(2, best + 1) if best % d == 0 and miss[d - 2] <= NEAR * miss[best - 2])


class RecordContext:
    """Each lane's bytes of the current frame, and the record contexts of the next position."""

    rows = 3  # (above, above2), (above, left), (above-left, above, above-right, left)

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        self.period = period = frame.period
        self.buf = torch.zeros(length, lanes, dtype=torch.int64) if period else None  # time-major
        self.hit = torch.zeros(length, lanes, dtype=torch.int64) if period else None  # the guess came true
        self.zero = torch.zeros(lanes, dtype=torch.int64)
        self.t = 0

    def _back(self, k: int, buf: torch.Tensor | None = None) -> torch.Tensor:
        return (self.buf if buf is None else buf)[self.t - k] if self.t >= k else self.zero

    def contexts(self, hist: torch.Tensor) -> torch.Tensor | None:
        """(rows, L) context values below 2**32, or None in a frame without records."""
        if not self.period:
            return None
        r = self.period
        above, above2 = self._back(r), self._back(2 * r)
        left = hist & 255
        c1 = above | above2 << 8
        c2 = above | left << 8
        c3 = self._back(r + 1) | above << 8 | self._back(r - 1) << 16 | left << 24
        return torch.stack([c1, c2, c3])

    def neighbours(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Bytes (3, L) left of, at and right of the current position, one and then two records back."""
        r = self.period
        return tuple(torch.stack([self._back(k * r + 1), self._back(k * r), self._back(k * r - 1)]) for k in (1, 2))

    def guess(self) -> Guess | None:
        """The column-step guess for the current position (None in a frame without records)."""
        r = self.period
        if not r:
            return None
        above = self._back(r)
        self.guessed = (2 * above - self._back(2 * r)) & 255
        bucket = self._back(r, self.hit) + 2 * self._back(2 * r, self.hit) + 4 * (self.guessed == above)
        return Guess(self.guessed, bucket + BUCKET_BASE, torch.full_like(above, int(self.t >= 2 * r)))

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """The coded bytes sym (L,) of the current position (after guess(), in a frame with records)."""
        if self.period:
            self.buf[self.t] = sym
            self.hit[self.t] = (sym == self.guessed).long()
        self.t += 1

"""Word contexts: the current word so far and the one or two words before it, hashed, for each lane.

Order-n contexts see a fixed number of bytes; a word context sees exactly the word being written
(however long) and the one before, which is what predicts the rest of a word in prose and code.
Letters are folded to lower case; digits and bytes >= 128 (UTF-8) count as letters. Integer work on
the lane's own bytes, so both sides compute the same.
"""

from __future__ import annotations

import torch

from . import Frame

MASK = 2**32 - 1

_sym = torch.arange(256)
_LETTER = ((_sym | 32) >= ord("a")) & ((_sym | 32) <= ord("z")) | ((_sym >= ord("0")) & (_sym <= ord("9"))) | (_sym >= 128)
_FOLD = torch.where(((_sym | 32) >= ord("a")) & ((_sym | 32) <= ord("z")), _sym | 32, _sym)
_TABLES_NP = (_LETTER.numpy(), _FOLD.numpy())


class WordContext:
    rows = 3  # (word so far, last byte), (word so far, previous word), (word so far, two previous words)

    def __init__(self, kernels=None):
        """`kernels`: kernels.load()'s compiled loops, to use instead of torch operations (same results)."""
        self.kernels = kernels

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        self.word = torch.zeros(lanes, dtype=torch.int64)  # hash of the word so far (0: not in a word)
        self.prev = torch.zeros(lanes, dtype=torch.int64)  # hash of the last completed word
        self.prev2 = torch.zeros(lanes, dtype=torch.int64)  # ... and of the one before

    def contexts(self, hist: torch.Tensor) -> torch.Tensor:
        """(rows, L) context values below 2**48."""
        if self.kernels:
            out = torch.empty((self.rows, len(hist)), dtype=torch.int64)
            self.kernels.words_contexts(self.word.numpy(), self.prev.numpy(), self.prev2.numpy(), hist.numpy(), out.numpy())
            return out
        c1 = self.word | (hist & 255) << 32
        w2 = self.word ^ self.prev * 0x2545F491  # product below 2**62
        c2 = w2 & (2**48 - 1)
        c3 = (w2 ^ self.prev2 * 0x3C6EF372) & (2**48 - 1)  # product below 2**62
        return torch.stack([c1, c2, c3])

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        if self.kernels:
            self.kernels.words_push(self.word.numpy(), self.prev.numpy(), self.prev2.numpy(), sym.numpy(), *_TABLES_NP, MASK)
            return
        letter = _LETTER[sym]
        grown = ((self.word * 0x2F0F3 + _FOLD[sym] + 1) ^ (self.word >> 17)) & MASK
        done = ~letter & (self.word != 0)
        self.prev2 = torch.where(done, self.prev, self.prev2)
        self.prev = torch.where(done, self.word, self.prev)
        self.word = torch.where(letter, grown, 0)

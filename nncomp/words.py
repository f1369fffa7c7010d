"""Word contexts: the current word so far and the word before it, hashed, for each lane.

Order-n contexts see a fixed number of bytes; a word context sees exactly the word being written
(however long) and the one before, which is what predicts the rest of a word in prose and code.
Letters are folded to lower case; digits and bytes >= 128 (UTF-8) count as letters. Integer work on
the lane's own bytes, so both sides compute the same.
"""

from __future__ import annotations

import torch

N_WORD = 2  # contexts: (word so far, last byte), (word so far, previous word)
MASK = 2**32 - 1

_sym = torch.arange(256)
_LETTER = ((_sym | 32) >= ord("a")) & ((_sym | 32) <= ord("z")) | ((_sym >= ord("0")) & (_sym <= ord("9"))) | (_sym >= 128)
_FOLD = torch.where(((_sym | 32) >= ord("a")) & ((_sym | 32) <= ord("z")), _sym | 32, _sym)


class WordContext:
    def start_frame(self, lanes: int) -> None:
        self.word = torch.zeros(lanes, dtype=torch.int64)  # hash of the word so far (0: not in a word)
        self.prev = torch.zeros(lanes, dtype=torch.int64)  # hash of the last completed word

    def contexts(self, hist: torch.Tensor) -> torch.Tensor:
        """(N_WORD, L) context values below 2**48."""
        c1 = self.word | (hist & 255) << 32
        c2 = (self.word ^ self.prev * 0x2545F491) & (2**48 - 1)  # product below 2**62
        return torch.stack([c1, c2])

    def push(self, sym: torch.Tensor) -> None:
        letter = _LETTER[sym]
        grown = ((self.word * 0x2F0F3 + _FOLD[sym] + 1) ^ (self.word >> 17)) & MASK
        self.prev = torch.where(~letter & (self.word != 0), self.word, self.prev)
        self.word = torch.where(letter, grown, 0)

"""Context sources: what the mixer weighs besides the transformer, one module per source.

    counts.py   the count table: order-n rows, the hashed rows of the sources below, sparse rows
    words.py    the word so far and the words before it
    lanes.py    the last bytes with the lane's number
    columns.py  the byte above, at the same column or in the same field of the line before
    match.py    the byte that followed the last occurrence of this context (and a guessed symbol)
    record.py   the bytes one and two records back in tables (and a guessed symbol)
    bitmap.py   pixel contexts of 1-bit images (its own scores, not counts)
    layout.py   which rows each source owns in the mixer, in every kind of frame

A source that adds hashed rows to the count table follows `Source`. Every source does integer work
on bytes both sides have already coded, so the encoder and the decoder compute the same contexts.
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import torch


def zeros(*shape: int, dtype: torch.dtype, huge: bool = False) -> torch.Tensor:
    """A zeroed table in an anonymous mapping, whose pages the system hands out as they are first
    written: a table sized for megabytes costs a small input only the pages it touches (not numpy's
    calloc, which asks for 2 MiB pages on every large array; nor torch.zeros, which writes every byte).
    `huge`: ask for 2 MiB pages, for an input that will write rows all over the table anyway, where
    they save address translations (a few percent of decoding speed)."""
    size = math.prod(shape) * torch.empty(0, dtype=dtype).element_size()
    if not size:
        return torch.zeros(shape, dtype=dtype)
    if not hasattr(mmap, "MAP_PRIVATE"):  # Windows: calloc through numpy
        return torch.from_numpy(np.zeros(shape, dtype=torch.empty(0, dtype=dtype).numpy().dtype))
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)  # private: a shared mapping gets no 2 MiB pages
    if huge and hasattr(mmap, "MADV_HUGEPAGE"):  # Linux
        m.madvise(mmap.MADV_HUGEPAGE)
    return torch.frombuffer(m, dtype=dtype).view(shape)  # the tensor keeps the mapping


@dataclass(frozen=True)
class Frame:
    """What a frame's head tells the model about it."""

    new_dataset: bool = False  # a joint stream's next dataset starts here
    period: int = 0  # record length (0: no records)
    binary: bool = False  # binary data: the weights of binary frames, sparse and pixel rows
    pixels: bool = False  # a 1-bit image (binary, records of bitmap.MIN_ROW bytes or more): pixel rows speak


class Guess(NamedTuple):
    """A source's guess of the next byte per lane, which the predictor rewards with a learned bonus
    (the count rows' runs: one guess per row, (rows, L) tensors)."""

    symbol: torch.Tensor  # (L,) the guessed byte (0 where inactive)
    bucket: torch.Tensor  # (L,) which bonus it earns (an index into the predictor's bonus vector)
    active: torch.Tensor  # (L,) 1 where there is a guess


class Source(Protocol):
    rows: int  # hashed rows it adds to the count table (when it speaks in a frame)

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        """New lanes of `length` steps: empty per-lane state."""

    def contexts(self, hist: torch.Tensor) -> torch.Tensor | None:
        """(rows, L) context values below 2**56 for the current position, from the lane histories
        hist (L,); None where the source is silent in this frame."""

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """The coded bytes sym (L,) of the current position (0 in lanes that have ended: valid is False),
        with the lane histories before and after them."""

"""Column contexts: the byte above, in the lane's previous line at the same column or the same field.

Tables, logs and delimited data (Unicode's character database, CSV, databases' records, aligned
source) repeat down a column what varies along a line: the byte above predicts the byte below it.
Where fields vary in length (separated by , ; tab or |), the byte at the same offset of the same
field in the line above is the one that lines up. Order-n contexts see only the bytes to the left,
the record contexts only lines of one fixed length. Integer work on the lane's own bytes.
"""

from __future__ import annotations

import torch

from . import Frame

NONE = 256  # the byte above where the line above is shorter (or there is none)
FIELDS = 32  # fields told apart per line; later separators stay in the last field
_SEPARATOR = torch.zeros(256, dtype=torch.bool)
_SEPARATOR[[ord(c) for c in ",;\t|"]] = True
_SEPARATOR_NP = _SEPARATOR.numpy()


class ColumnContext:
    rows = 3  # (byte above, column), (byte above, last byte), (byte above in the field, field number, last byte)

    def __init__(self, kernels=None):
        """`kernels`: kernels.load()'s compiled loops, to use instead of torch operations (same results)."""
        self.kernels = kernels

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        self.buf = torch.zeros(lanes, length, dtype=torch.uint8)  # the lane's bytes so far
        self.row_starts = torch.arange(lanes) * length  # of each lane's bytes in buf.view(-1)
        self.pos = torch.zeros(lanes, dtype=torch.int64)  # bytes of each lane so far
        self.field = torch.zeros(lanes, dtype=torch.int64)  # field number in the current line
        # where each field of the current line and of the line before starts (-1: no such field, so
        # prev[:, 0] is -1 before a second line); the entry after a line's last field is one past its end
        self.cur = torch.full((lanes, FIELDS + 1), -1, dtype=torch.int64)
        self.cur[:, 0] = 0
        self.prev = torch.full((lanes, FIELDS + 1), -1, dtype=torch.int64)

    def _state(self) -> tuple:
        """The state the kernels change in place, as numpy views (made per call: see counts._counts)."""
        return tuple(t.numpy() for t in (self.buf, self.pos, self.cur, self.prev, self.field))

    def _byte(self, at: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
        return torch.where(has, self.buf.gather(1, at.clamp(min=0).unsqueeze(1)).squeeze(1).long(), NONE)

    def contexts(self, hist: torch.Tensor) -> torch.Tensor:
        """(rows, L) context values below 2**22."""
        if self.kernels:
            out = torch.empty((self.rows, len(hist)), dtype=torch.int64)
            self.kernels.columns_contexts(*self._state(), hist.numpy(), NONE, out.numpy())
            return out
        line, prev_line = self.cur[:, 0], self.prev[:, 0]
        col = self.pos - line
        above = self._byte(prev_line + col, (prev_line >= 0) & (prev_line + col < line))
        k = self.field.unsqueeze(1)
        start, end = self.prev.gather(1, k).squeeze(1), self.prev.gather(1, k + 1).squeeze(1) - 1  # end: its separator
        at = start + (self.pos - self.cur.gather(1, k).squeeze(1))
        in_field = self._byte(at, (start >= 0) & (at < end))
        last = hist & 255
        return torch.stack([above | col.clamp(max=255) << 9, above | last << 9, in_field | self.field << 9 | last << 14])

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        # a lane that has ended writes its 0 one past its last byte, where nothing reads (see contexts)
        if self.kernels:
            self.kernels.columns_push(*self._state(), sym.numpy(), valid.numpy(), _SEPARATOR_NP, FIELDS)
            return
        self.buf.view(-1)[self.row_starts + self.pos] = sym.to(torch.uint8)
        self.pos = self.pos + valid
        newline = valid & (sym == 10)
        ends = (valid & _SEPARATOR[sym] & (self.field < FIELDS - 1)) | newline  # a field ends here
        k = (self.field + 1).unsqueeze(1)
        self.cur.scatter_(1, k, torch.where(ends, self.pos, self.cur.gather(1, k).squeeze(1)).unsqueeze(1))
        self.field = torch.where(newline, 0, self.field + ends)
        nl = newline.unsqueeze(1)
        self.prev = torch.where(nl, self.cur, self.prev)
        fresh = torch.full_like(self.cur, -1)
        fresh[:, 0] = self.pos
        self.cur = torch.where(nl, fresh, self.cur)

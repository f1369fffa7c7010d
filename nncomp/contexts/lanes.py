"""Lane contexts: the last bytes together with the lane's number.

The shared counts hold, at any step, as many bytes as a sequential coder's would, but taken from
every lane's stretch of the frame, not from the bytes just before. A lane context counts only what
followed in this lane: the recent, local statistics a sequential coder has for free (a chapter's
names, a routine's instructions).
"""

from __future__ import annotations

import torch

from . import Frame

ORDERS = (2,)  # bytes of the lane's history in each lane context


class LaneContext:
    rows = len(ORDERS)

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        self.lane_ids = torch.arange(lanes, dtype=torch.int64)

    def contexts(self, hist: torch.Tensor) -> torch.Tensor:
        """(rows, L) context values below 2**32: each lane's last bytes and its number."""
        return torch.stack([(hist & (2 ** (8 * k) - 1)) | self.lane_ids << (8 * k) for k in ORDERS])

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        pass  # the lane history is all it reads

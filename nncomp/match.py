"""Match model: where the last few bytes occurred before in this frame, predict the byte that followed.

A table maps a hash of the last MIN_LEN bytes to the most recent position that followed them, and a
second one to the most recent such position in the same lane. A lane whose prediction comes true
follows its match forward and grows more confident (a longer verified length); one that fails looks
its context up again, in text frames in its own lane first: the lane's own past is the nearest text
before it, the shared table's most recent hit is anywhere in the frame (level 5, encoder-side code
lengths, with lane contexts, same run: paper2, progl, paper1, progc, news[:100000], book2[:150000],
alice29.txt[:100000] 139,386 -> 139,233 bytes; progl 11,648 -> 11,558; but kennedy.xls[:300000]
8,088 -> 8,184, so binary frames take the most recent hit anywhere). Lanes run in lock-step, so
positions are numbered time-major (step * lanes + lane) and a match only ever points at a step
already coded on both sides.
Everything is integer work with fixed tie-breaking (the larger position wins), so encoder and decoder
agree. The predictor turns each prediction into a learned logit bonus per length bucket, and the
context model counts what actually follows each (predicted byte, length bucket): an indirect context
that learns how far to trust a match and what replaces a predicted byte when it fails (object code
whose operands differ, text whose repeated phrases end differently). Level 5, encoder-side code
lengths, same run, without and with that row: obj2 65,815 -> 65,274 bytes, trans 14,872 -> 14,490,
kennedy.xls[:300000] 8,433 -> 7,995, sum 10,028 -> 9,897, pic[:200000] 15,070 -> 14,933, news[:100000]
28,751 -> 28,632, paper2 19,585 -> 19,540. (With the last byte in it, or finer lengths: worse.)
"""

from __future__ import annotations

import torch

from .exact import lookup

MIN_LEN = 6  # bytes of context that must hash alike for a match to start
N_LEN = 16  # length buckets: bit length of the verified match length (0: just found)
N_MATCH_CTX = 1  # context rows the match model hands the context model


class MatchModel:
    def __init__(self, bits: int):
        self.bits = bits
        self.table = torch.zeros(2**bits, dtype=torch.int64)  # position + 1 (0: empty)
        self.own = torch.zeros(2**bits, dtype=torch.int64)  # ... the same, at key ^ the lane's salt

    def start_frame(self, lanes: int, length: int, own_first: bool) -> None:
        """Matches stay inside a frame: the tables and the byte buffer start empty. With own_first
        (text frames) a lane looks for its context in its own past before the whole frame's."""
        self.table.zero_()
        self.own.zero_()
        self.own_first = own_first
        self.lanes = lanes
        self.lane_ids = torch.arange(lanes)
        self.salt = (self.lane_ids * 0x9E3779B1) & (2**self.bits - 1)
        self.buf = torch.zeros(lanes * length, dtype=torch.uint8)  # time-major
        self.ptr = torch.full((lanes,), -1, dtype=torch.int64)  # position of each lane's predicted byte
        self.len = torch.zeros(lanes, dtype=torch.int64)
        self.t = 0
        self._last = (None, None)  # (histories, their key): update() reuses the last step's key

    def _key(self, hist: torch.Tensor) -> torch.Tensor:
        if hist is self._last[0]:
            return self._last[1]
        ctx = hist & (2 ** (8 * MIN_LEN) - 1)
        h = (ctx & 0xFFFFFF) * 2654435761 + (ctx >> 24) * 2246822519  # below 2**57: no overflow
        return (h ^ (h >> 31)) & (2**self.bits - 1)

    def predict(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(symbol, length bucket, active) per lane for the current step; symbol is 0 where inactive."""
        active = self.ptr >= 0
        self.sym = torch.where(active, self.buf[self.ptr.clamp(min=0)].long(), 0)  # update() checks it
        _, e = torch.frexp(self.len.double())
        self.bucket = e.long().clamp(0, N_LEN - 1)
        return self.sym, self.bucket, active

    def contexts(self) -> torch.Tensor:
        """(N_MATCH_CTX, L) context values of the current step, after predict(): predicted byte,
        length bucket and whether there is a match (a lane without one: 0)."""
        return (self.sym | self.bucket << 8 | (self.ptr >= 0).long() << 12).unsqueeze(0)

    def verified(self) -> torch.Tensor:
        """Verified length of each lane's match (L,), -1 where the lane has none."""
        return torch.where(self.ptr >= 0, self.len, -1)

    def update(self, hist_before: torch.Tensor, hist_after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """Record the coded bytes sym (L,) of this step and move the matches on, in lanes where valid.

        Follows predict() for the same step: its predictions are what a hit is checked against."""
        pos = self.t * self.lanes + self.lane_ids
        self.buf[pos] = sym.to(torch.uint8)  # ended lanes write 0 on both sides
        hit = valid & (self.ptr >= 0) & (self.sym == sym)
        miss = valid & ~hit
        self.len = torch.where(hit, self.len + 1, torch.where(miss, 0, self.len))
        self.ptr = torch.where(hit, self.ptr + self.lanes, torch.where(miss, -1, self.ptr))
        keys = self._key(hist_before)[valid]  # that context was followed by this byte, here
        self.table.scatter_reduce_(0, keys, pos[valid] + 1, reduce="amax")
        key = self._key(hist_after)
        self._last = (hist_after, key)  # histories are new tensors at each step, never changed in place
        cand = lookup(self.table, key) - 1
        if self.own_first:  # the own-lane table is kept only where it is read
            self.own.scatter_reduce_(0, keys ^ self.salt[valid], pos[valid] + 1, reduce="amax")
            own = lookup(self.own, key ^ self.salt) - 1
            cand = torch.where(own >= 0, own, cand)
        self.ptr = torch.where(miss & (cand >= 0), cand, self.ptr)
        self.t += 1

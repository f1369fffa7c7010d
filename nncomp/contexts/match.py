"""Match model: where the last few bytes occurred before, predict the byte that followed.

A table maps a hash of the last MIN_LEN bytes to the most recent position that followed them, and a
second one to the most recent such position in the same lane. A lane whose prediction comes true
follows its match forward and grows more confident (a longer verified length); one that fails looks
its context up again, in text frames in its own lane first: the lane's own past is the nearest text
before it, the shared table's most recent hit is anywhere in the frame (binary frames, whose
structure repeats across lanes, take the most recent hit anywhere). Lanes run in lock-step, so
positions are numbered time-major (step * lanes + lane) and a match only ever points at a step
already coded on both sides. Before them, in order, come up to EARLIER bytes of the frames this
model coded before (a file's previous frame, or a joint stream's previous dataset): a repeat too
short for a long-range reference is found across frames too.
Everything is integer work with fixed tie-breaking (the larger position wins), so encoder and decoder
agree. The predictor turns each prediction into a learned logit bonus per length bucket, and the
context model counts what actually follows each (predicted byte, length bucket): an indirect context
that learns how far to trust a match and what replaces a predicted byte when it fails (object code
whose operands differ, text whose repeated phrases end differently).
"""

from __future__ import annotations

import torch

from . import Frame, Guess, zeros
from .counts import hash_context
from ..exact import lookup

MIN_LEN = 6  # bytes of context that must hash alike for a match to start
EARLIER = 1 << 20  # bytes of earlier frames a match may point into
N_LEN = 16  # length buckets: bit length of the verified match length (0: just found)
BONUS_INIT = [min(float(b), 12.0) for b in range(N_LEN)]  # bits of bonus to start from per length bucket


class MatchModel:
    rows = 1  # (predicted byte, length bucket, whether there is a match)

    def __init__(self, bits: int, kernels=None):
        """`kernels`: kernels.load()'s compiled loops, to use instead of torch operations (same results)."""
        self.bits = bits
        self.kernels = kernels
        self.base = 0  # bytes of earlier frames at the start of buf
        self.buf = torch.zeros(0, dtype=torch.uint8)
        self.n = 0  # bytes of the current frame coded so far
        self._last = (None, None)  # (histories, their key): update() reuses the last step's key

    def start_frame(self, frame: Frame, lanes: int, length: int) -> None:
        """The tables start with the last EARLIER bytes this model coded, the frame's own empty. In text
        frames a lane looks for its context in its own past before the whole frame's and the earlier
        bytes."""
        earlier = self._earlier()
        self.base = base = len(earlier)
        self.table = zeros(2**self.bits, dtype=torch.int64)  # position + 1 (0: empty)
        self.own = zeros(2**self.bits, dtype=torch.int64)  # ... the same, at key ^ the lane's salt
        self.own_first = not frame.binary
        self.lanes = lanes
        self.lane_ids = torch.arange(lanes)
        self.salt = (self.lane_ids * 0x9E3779B1) & (2**self.bits - 1)
        self.buf = torch.cat([earlier, torch.zeros(lanes * length, dtype=torch.uint8)])  # then time-major
        if base > MIN_LEN:  # each earlier byte is found by the MIN_LEN bytes before it, as push() records it
            ctx = sum(earlier[MIN_LEN - k : base - k].long() << (8 * (k - 1)) for k in range(1, MIN_LEN + 1))
            self.table.scatter_reduce_(0, self._key(ctx), torch.arange(MIN_LEN, base) + 1, reduce="amax")
        self.ptr = torch.full((lanes,), -1, dtype=torch.int64)  # position of each lane's predicted byte
        self.len = torch.zeros(lanes, dtype=torch.int64)
        self.t = 0
        self.n = 0
        self._last = (None, None)  # (histories, their key): update() reuses the last step's key

    def _earlier(self) -> torch.Tensor:
        """The last EARLIER bytes coded before the frame that starts, in their order (lane after lane)."""
        if not self.n:
            return self.buf[: self.base]
        frame = self.buf[self.base :].view(-1, self.lanes).T.reshape(-1)[: self.n]
        return torch.cat([self.buf[: self.base], frame])[-EARLIER:]

    def _key(self, hist: torch.Tensor) -> torch.Tensor:
        if hist is self._last[0]:
            return self._last[1]
        return hash_context(hist & (2 ** (8 * MIN_LEN) - 1), self.bits, shift=31)

    def guess(self) -> Guess:
        """The byte that followed the match per lane, its length bucket as the bonus bucket."""
        if self.kernels:
            return self._guess_compiled()
        active = self.ptr >= 0
        self.sym = torch.where(active, self.buf[self.ptr.clamp(min=0)].long(), 0)  # update() checks it
        _, e = torch.frexp(self.len.double())
        self.bucket = e.long().clamp(0, N_LEN - 1)
        return Guess(self.sym, self.bucket, active)

    def _guess_compiled(self) -> Guess:
        """guess() through the kernel, which also makes contexts()' and verified()'s answers."""
        L = self.lanes
        self.sym, self.bucket, ctx, self._verified = (torch.empty(L, dtype=torch.int64) for _ in range(4))
        active = torch.empty(L, dtype=torch.bool)
        self.kernels.match_guess(self.buf.numpy(), self.ptr.numpy(), self.len.numpy(), N_LEN, self.sym.numpy(),
                                 self.bucket.numpy(), active.numpy(), ctx.numpy(), self._verified.numpy())
        self._ctx = ctx.unsqueeze(0)
        return Guess(self.sym, self.bucket, active)

    def contexts(self, hist: torch.Tensor) -> torch.Tensor:
        """(rows, L) context values of the current step, after guess(): predicted byte,
        length bucket and whether there is a match (a lane without one: 0)."""
        if self.kernels:
            return self._ctx
        return (self.sym | self.bucket << 8 | (self.ptr >= 0).long() << 12).unsqueeze(0)

    def verified(self) -> torch.Tensor:
        """Verified length of each lane's match (L,), -1 where the lane has none."""
        if self.kernels:
            return self._verified
        return torch.where(self.ptr >= 0, self.len, -1)

    def push(self, before: torch.Tensor, after: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """Record the coded bytes sym (L,) of this step and move the matches on, in lanes where valid.

        Follows guess() for the same step: its guesses are what a hit is checked against."""
        if self.kernels:
            self.n += self.kernels.match_push(self.buf.numpy(), self.table.numpy(), self.own.numpy(), self.salt.numpy(),
                                              self.own_first, self.ptr.numpy(), self.len.numpy(), self.sym.numpy(),
                                              before.numpy(), after.numpy(), sym.numpy(), valid.numpy(), self.base,
                                              self.t, self.bits, MIN_LEN)
            self.t += 1
            return
        pos = self.base + self.t * self.lanes + self.lane_ids
        self.buf[pos] = sym.to(torch.uint8)  # ended lanes write 0 on both sides
        hit = valid & (self.ptr >= 0) & (self.sym == sym)
        miss = valid & ~hit
        self.len = torch.where(hit, self.len + 1, torch.where(miss, 0, self.len))
        # earlier bytes follow one another, the frame's a step apart; a match ends with the earlier bytes
        earlier = self.ptr < self.base
        nxt = torch.where(earlier, self.ptr + 1, self.ptr + self.lanes)
        nxt = torch.where(earlier & (nxt == self.base), -1, nxt)
        self.ptr = torch.where(hit, nxt, torch.where(miss, -1, self.ptr))
        keys = self._key(before)[valid]  # that context was followed by this byte, here
        self.n += len(keys)
        self.table.scatter_reduce_(0, keys, pos[valid] + 1, reduce="amax")
        key = self._key(after)
        self._last = (after, key)  # histories are new tensors at each step, never changed in place
        cand = lookup(self.table, key) - 1
        if self.own_first:  # the own-lane table is kept only where it is read
            self.own.scatter_reduce_(0, keys ^ self.salt[valid], pos[valid] + 1, reduce="amax")
            own = lookup(self.own, key ^ self.salt) - 1
            cand = torch.where(own >= 0, own, cand)
        self.ptr = torch.where(miss & (cand >= 0), cand, self.ptr)
        self.t += 1

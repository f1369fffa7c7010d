"""Pixel contexts: a byte of a binary frame with records, read as 8 pixels of a 1-bit image.

A bitmap's byte holds 8 pixels (the first in the top bit), and a record is a row. Byte contexts see
the neighbouring bytes whole, so each of their contexts is seen rarely; a pixel depends on a dozen
neighbouring pixels, few enough to learn quickly (the idea of JBIG's templates). Each row of this
model predicts the byte bit by bit, from the top: every node of the binary tree of a byte (the bits
already known in it) has a context of nearby pixels, the bits to its left in this row and around
it in the row above and the one above that, and counts of the bit that followed. A byte's score is
the sum over its 8 bits of log2 of their smoothed frequencies (a log-probability, in 1/LOGIT_FRAC
bit), which the mixer weighs like any other row. Integer work on bytes both sides have coded.

Tables with short records are not images, hence MIN_ROW; nor are archives and code whose bytes
happen to repeat at a long distance, hence the encoder's `looks_bitmap`, whose answer the frame's
head carries. Mixing weights are chosen by how often the first bit's context was seen (its bit
length, as the count rows' buckets).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from . import zeros
from .counts import TOTAL_BUCKETS
from ..exact import LOGIT_FRAC, ilog2_fixed, lookup

# Templates: (pixels to the left in this row, pixels centred above, pixels centred two rows above).
TEMPLATES = ((4, 5, 3), (8, 9, 7))
N_BITMAP = len(TEMPLATES)
_SIZES = [1 << sum(t) for t in TEMPLATES]
CONTEXTS = sum(_SIZES)
_OFFSETS = [sum(_SIZES[:i]) for i in range(N_BITMAP)]  # each template's first context
MIN_ROW = 16  # records shorter than this many bytes (128 pixels) are taken for tables, not images
SAMPLE = 1 << 16  # bytes from the middle of a frame that the image test reads
LIMIT = 255  # a context's two counts are halved when their sum passes this: statistics follow the image
SMOOTH = 64  # a bit seen c of n times scores log2((64 c + 1) / (64 n + 2))
FLOOR = 12 * LOGIT_FRAC  # no bit scores below -12 bits
CAP = 511  # counts above this score as this (a step can push a count past LIMIT before its halving)

_node = torch.arange(1, 256)  # tree nodes: a leading 1, then the bits known so far
DEPTH = (torch.frexp(_node.double())[1] - 1).long()  # bits known (0..7)
PREFIX = _node - (1 << DEPTH)
_sym = torch.arange(256).view(-1, 1)
_d = torch.arange(8).view(1, -1)
PATH = (((_sym >> (8 - _d)) | (1 << _d)) - 1).mul(2) + ((_sym >> (7 - _d)) & 1)  # (256, 8): node * 2 + bit


@functools.cache
def _score_table() -> torch.Tensor:
    """(CAP + 1)**2 x 2 float32: the two bits' scores of a context with counts (n0, n1), at n0 * (CAP + 1) + n1."""
    n = torch.arange(CAP + 1)
    n0, n1 = n.repeat_interleave(CAP + 1), n.repeat(CAP + 1)
    den = ilog2_fixed((n0 + n1) * SMOOTH + 2)
    lp = torch.stack([ilog2_fixed(n0 * SMOOTH + 1), ilog2_fixed(n1 * SMOOTH + 1)], 1) - den.unsqueeze(1)
    return lp.clamp(min=-FLOOR).float()  # integers below 2**11: exact, and so are sums of 8


def may_speak(binary: bool, period: int) -> bool:
    """Whether a frame may be an image: binary, with records long enough to be an image's rows (the
    whole test where the settings lack `images`)."""
    return binary and period >= MIN_ROW


def looks_bitmap(raw: bytes, period: int) -> bool:
    """The encoder's test of a frame that may be an image (may_speak): on a sample from its middle,
    each bit costs less predicted from the 4 pixels to its left and the 5 above than from the byte
    above or the byte before and the bits of its own byte before it, each counted adaptively
    (Krichevsky-Trofimov code lengths of binary decisions, so that small samples judge both alike).
    Images cost clearly less read as pixels, archives and code with long records clearly more
    (docs/decisions.md). Integer work, as everything the encoder writes: the same frame gets the
    same answer on every machine, and the frame's head carries it to the decoder."""
    x = np.frombuffer(raw, dtype=np.uint8)
    mid = len(x) // 2
    s = x[max(0, mid - SAMPLE // 2) : mid + SAMPLE // 2]
    if len(s) <= 2 * period:
        return False
    bits = np.unpackbits(s).astype(np.int64)
    now = bits[8 * period :].reshape(-1, 8)
    node = np.ones_like(now)  # each bit's node in its byte's tree: a leading 1, then the byte's bits before it
    for d in range(1, 8):
        node[:, d] = 2 * node[:, d - 1] + now[:, d - 1]
    by_bytes = min(_kt_bits(np.bincount(((before.astype(np.int64)[:, None] << 9) + 2 * node + now).ravel(),
                                        minlength=2**17).reshape(-1, 2))
                   for before in (s[:-period], s[period - 1 : -1]))
    width = 8 * period
    i = np.arange(width + 2, len(bits))
    ctx = np.zeros(len(i), dtype=np.int64)
    for k in (*(i - d for d in range(1, 5)), *(i - width + d for d in range(-2, 3))):  # 4 to the left, 5 above
        ctx = 2 * ctx + bits[k]
    by_pixels = _kt_bits(np.bincount(2 * ctx + bits[i], minlength=2**10).reshape(-1, 2))
    return by_pixels < by_bytes


def _kt_bits(counts: np.ndarray) -> int:
    """What coding each context's bits adaptively with the KT estimator costs, summed, in 1/LOGIT_FRAC
    bit: (contexts, 2) counts. A context's bits cost the product of (n_bit + 1/2) / (n + 1) over
    them, so sum(log2(2k + 2), k < n) - sum(log2(2k + 1), k < n0) - sum(log2(2k + 1), k < n1)."""
    whole, half = _kt_logs()
    return int(whole[counts.sum(1)].sum() - half[counts].sum())


@functools.cache
def _kt_logs() -> tuple[np.ndarray, np.ndarray]:
    """(whole, half): whole[m] the sum of log2(2k + 2) and half[m] of log2(2k + 1) over k < m, for
    m up to a sample's bits, in 1/LOGIT_FRAC bit (exact.ilog2_fixed)."""
    k = torch.arange(8 * SAMPLE)
    return tuple(np.concatenate([[0], ilog2_fixed(2 * k + j).cumsum(0).numpy()]) for j in (2, 1))


class BitmapContext:
    """Pixel rows, one per template."""

    def __init__(self):
        self.table = zeros(CONTEXTS, dtype=torch.int32)  # per context: n0 | n1 << 16
        self.scores = _score_table()  # built once per process, shared (read only)

    def counts(self) -> torch.Tensor:
        """(CONTEXTS, 2): how often each context was followed by a 0 and by a 1 bit."""
        return torch.stack([self.table & 0xFFFF, self.table >> 16], 1)

    def features(self, hist: torch.Tensor, above: torch.Tensor, above2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f, bucket) as ContextModel.features: f (N_BITMAP, L, 256) scores (<= 0) of every byte,
        bucket (N_BITMAP, L) the bit length of the first bit's context count, from lane histories
        hist (L,) and the bytes around the position one and two records back: above, above2 (3, L)
        (left, same, right). Keeps the contexts for update()."""
        cur = ((hist & 0xFFFF).unsqueeze(1) << DEPTH) | PREFIX  # (L, 255): pixels to the left, nearest lowest
        w1 = (above[0] << 16 | above[1] << 8 | above[2]).unsqueeze(1)  # this pixel at bit 15 - depth
        w2 = (above2[0] << 16 | above2[1] << 8 | above2[2]).unsqueeze(1)
        ctx = []
        for (nl, na, nb), off in zip(TEMPLATES, _OFFSETS):
            c = cur & ((1 << nl) - 1)
            c = c | ((w1 >> (15 - na // 2 - DEPTH)) & ((1 << na) - 1)) << nl
            c = c | ((w2 >> (15 - nb // 2 - DEPTH)) & ((1 << nb) - 1)) << (nl + na)
            ctx.append(c + off)
        self.ctx = torch.stack(ctx)  # (R, L, 255)
        c = lookup(self.table, self.ctx)
        root = c[:, :, 0]  # the context of the byte's first bit: how often it was seen picks the mixing weight
        _, e = torch.frexp(((root & 0xFFFF) + (root >> 16)).double())
        lp = lookup(self.scores, (c & 0xFFFF).clamp_(max=CAP) * (CAP + 1) + (c >> 16).clamp_(max=CAP))  # (R, L, 255, 2)
        z = lp[:, :, 0]  # (R, L, 2): the first bit; then each depth splits every prefix in two
        for d in range(1, 8):
            z = (z.unsqueeze(-1) + lp[:, :, (1 << d) - 1 : (2 << d) - 1]).flatten(2)
        return z, e.long().clamp(0, TOTAL_BUCKETS - 1)

    def update(self, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """Count the bits of sym (L,) in the contexts of the last features(), in valid lanes."""
        node = PATH[sym]  # (L, 8)
        ctx = self.ctx.gather(2, (node >> 1).unsqueeze(0).expand(N_BITMAP, -1, -1))  # (R, L, 8)
        cells = ctx[:, valid].reshape(-1)
        one = (1 << (16 * (node & 1))).int()  # n0 or n1 += 1 (no carry: a count stays below LIMIT + 8 * MAX_LANES)
        self.table.index_put_((cells,), one.unsqueeze(0).expand(N_BITMAP, -1, -1)[:, valid].reshape(-1), accumulate=True)
        c = self.table[cells]
        full = cells[(c & 0xFFFF) + (c >> 16) > LIMIT]  # a context listed twice is halved once: both write the same value
        if len(full):
            self.table[full] = (self.table[full] >> 1) & 0x7FFF7FFF

"""Order-n byte statistics: counts of what followed each recent context, learned after one occurrence.

One int16 table holds a 256-wide row of counts per context for every order: order 1 and 2 contexts
index their rows directly, longer ones through an integer hash. Everything here is integer
arithmetic, so it needs no care beyond the order of updates, which encoder and decoder share.
"""

from __future__ import annotations

import torch

from . import zeros
from ..exact import LOGIT_FRAC, ilog2_fixed, lookup

COUNT_CAP = 32000  # counts saturate here; +1 from up to 512 lanes at once still fits int16
COUNT_WEIGHT = 16  # a seen symbol scores log2(16 c + 1): additive smoothing of 1/16
TOTAL_BUCKETS = 16  # mixing weights depend on the order and on log2 of the context's total count
# ... and on whether the context has seen one symbol only (a deterministic context, in PPM's terms),
# which predicts it more reliably than its count alone says
N_BUCKETS = 2 * TOTAL_BUCKETS
HIST_BITS = 56  # lane history keeps the last 7 bytes
# A row whose total count has more than HALVE_BITS bits is halved after its update: old statistics
# fade, so a context whose data drifts (object code, a bitmap's regions) follows it.
HALVE_BITS = 10
# Sparse contexts of binary frames: the bytes at these distances back (1: the last byte), skipping
# others. Object code and arrays of numbers repeat in 2- and 4-byte units whose neighbours vary
# (operands, low bytes), which contiguous orders cannot see past. Each indexes its own exact rows
# (256**len).
SPARSE = ((2,), (2, 3), (1, 3), (3, 4))
# Per context, the shift of each of its (up to two) bytes in a lane history, and its mask (0: none).
_SPARSE_SHIFT = torch.tensor([[8 * (d - 1) for d in ds] + [0] * (2 - len(ds)) for ds in SPARSE]).view(-1, 2, 1)
_SPARSE_MASK = torch.tensor([[255] * len(ds) + [0] * (2 - len(ds)) for ds in SPARSE]).view(-1, 2, 1)


def hash_context(ctx: torch.Tensor, bits: int, tag: torch.Tensor | int = 0, shift: int = 29) -> torch.Tensor:
    """A `bits`-bit hash of context values ctx below 2**55 (int64; every product stays below 2**63)."""
    h = (ctx & 0xFFFFFF) * 2654435761 + (ctx >> 24) * 2246822519 + tag * 97531
    return (h ^ (h >> shift)) & (2**bits - 1)


def table_sizes(orders: tuple[int, ...], hash_bits: int, extra: int | tuple[int, ...], sparse: bool) -> list[int]:
    """Table rows of each context row: orders (order 1 and 2 direct, longer ones hashed), the hashed
    rows of the other sources (`extra`: how many, of 2**hash_bits rows each, or each one's bits),
    then the exact sparse rows."""
    sizes = [min(256**k, 2**hash_bits) for k in orders] + [2**b for b in _extra_bits(extra, hash_bits)]
    return sizes + [256 ** len(d) for d in SPARSE] * sparse


def _extra_bits(extra: int | tuple[int, ...], hash_bits: int) -> list[int]:
    return [hash_bits] * extra if isinstance(extra, int) else list(extra)


class ContextModel:
    """Counts for orders `orders` over per-lane contexts, as features in 1/LOGIT_FRAC bit."""

    def __init__(self, orders: tuple[int, ...], hash_bits: int, extra: int | tuple[int, ...] = 0, sparse: bool = False,
                 halve: bool = False, huge: bool = False):
        bits = _extra_bits(extra, hash_bits)
        if (not orders or any(not 1 <= k <= 7 for k in orders) or not 8 <= hash_bits <= 22 or len(bits) > 12
                or any(not 8 <= b <= hash_bits for b in bits)):
            raise ValueError("context model settings out of range")
        extra = len(bits)
        self.orders = tuple(orders)
        self.hash_bits = hash_bits
        self.n_sparse = len(SPARSE) if sparse else 0
        self.halve = halve
        sizes = table_sizes(self.orders, hash_bits, extra, sparse)
        self.offsets = torch.tensor([sum(sizes[:i]) for i in range(len(sizes))], dtype=torch.int64).view(-1, 1)
        self.table = zeros(sum(sizes), 256, dtype=torch.int16, huge=huge)
        is_hashed = [256**k > 2**hash_bits for k in self.orders] + [True] * extra
        # per row of rows(): the order's mask of a lane history, its hash tag, whether it is hashed
        self.masks = torch.tensor([2 ** (8 * k) - 1 for k in self.orders]).view(-1, 1)
        self.tags = torch.tensor(list(self.orders) + [8 + j for j in range(extra)]).view(-1, 1)
        self.is_hashed = torch.tensor(is_hashed).view(-1, 1)
        # rows whose table is narrower than hash_bits keep that many bits of their hash
        self.narrow = any(b < hash_bits for b in bits)
        self.row_masks = torch.tensor([2**hash_bits - 1] * len(self.orders) + [2**b - 1 for b in bits]).view(-1, 1)
        counts = torch.arange(COUNT_CAP + 1, dtype=torch.int64)
        self.log_table = ilog2_fixed(counts * COUNT_WEIGHT + 1, LOGIT_FRAC).double()  # integers < 2**11: exact

    def rows(self, hist: torch.Tensor, extra: torch.Tensor | None = None, sparse: bool = False) -> torch.Tensor:
        """Table rows (K, L) of each order's context, from lane histories hist (L,) int64; then, if
        given, rows of the extra contexts (E, L) (values below 2**56, e.g. record contexts); then, if
        `sparse`, the sparse contexts' rows (always in the table's last rows). Every row is hashed
        and the direct ones keep their context: a few operations for all rows, not a few per row."""
        ctx = hist & self.masks
        if extra is not None:
            ctx = torch.cat([ctx, extra])
        n = len(ctx)
        h = self._hash(ctx, self.tags[:n])
        if self.narrow:
            h &= self.row_masks[:n]
        rows = torch.where(self.is_hashed[:n], h, ctx) + self.offsets[:n]
        if not sparse:
            return rows
        if not self.n_sparse:
            raise ValueError("sparse contexts are off in these settings")
        b = (hist >> _SPARSE_SHIFT) & _SPARSE_MASK  # (n, 2, L): each context's bytes
        return torch.cat([rows, b[:, 0] + (b[:, 1] << 8) + self.offsets[-self.n_sparse :]])

    def _hash(self, ctx: torch.Tensor, tag: torch.Tensor) -> torch.Tensor:
        """Row within a hashed order's table of contexts ctx (K, L), tags (K, 1) telling the orders apart."""
        return hash_context(ctx, self.hash_bits, tag)

    def features(self, rows: torch.Tensor, out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(f, bucket): f (K, L, 256) integer log-count scores (float64; written into `out` if given, a
        contiguous tensor of that shape), bucket (K, L) int64 confidence class."""
        counts = lookup(self.table, rows).int()  # int32: the index type lookup wants, and faster sums than int16
        total = counts.sum(-1, dtype=torch.int32)  # at most 256 * COUNT_CAP
        _, e = torch.frexp(total.double())  # bit length of the total count (0 for none)
        det = ((counts.amax(-1) == total) & (total > 0)).long()
        f = lookup(self.log_table, counts) if out is None else out
        if out is not None:
            torch.index_select(self.log_table, 0, counts.view(-1), out=out.view(-1))
        return f, torch.clamp(e.long(), 0, TOTAL_BUCKETS - 1) + det * TOTAL_BUCKETS

    def update(self, rows: torch.Tensor, buckets: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor) -> None:
        """Count symbol sym (L,) after each valid lane's contexts rows (K, L), whose buckets (K, L) came
        from features(); then, if halving, halve the rows whose total count had more than HALVE_BITS bits."""
        if not bool(valid.all()):
            rows, buckets, sym = rows[:, valid], buckets[:, valid], sym[valid]
        flat = self.table.view(-1)  # flat indices: index_put_/take/put_ are cheaper than 2-D indexing
        cells = (rows * 256 + sym).reshape(-1)
        flat.index_put_((cells,), torch.ones_like(cells, dtype=torch.int16), accumulate=True)
        flat.put_(cells, flat.take(cells).clamp_(max=COUNT_CAP))  # a cell listed twice gets one value
        if not self.halve:
            return
        full = rows.reshape(-1)[((buckets % TOTAL_BUCKETS) > HALVE_BITS).reshape(-1)]  # a row listed twice is halved once
        if len(full):
            self.table.index_copy_(0, full, lookup(self.table, full) >> 1)

    @staticmethod
    def push(hist: torch.Tensor, sym: torch.Tensor) -> torch.Tensor:
        """Lane histories after appending byte sym (L,)."""
        return ((hist & (2 ** (HIST_BITS - 8) - 1)) << 8) | sym

"""Order-n byte statistics: counts of what followed each recent context, learned after one occurrence.

One int16 table holds a 256-wide row of counts per context for every order: order 1 and 2 contexts
index their rows directly, longer ones through an integer hash, whose rows know by a check byte which
context they count (a colliding context starts from nothing rather than from another's counts). Each
row can also keep its run: the symbol that last followed its context and how many times in a row.
Everything here is integer arithmetic, so it needs no care beyond the order of updates, which
encoder and decoder share.
"""

from __future__ import annotations

import numpy as np
import torch

from . import Guess, zeros
from ..exact import LOGIT_FRAC, ilog2_fixed, lookup

COUNT_CAP = 32000  # counts saturate here; +1 from up to 512 lanes at once still fits int16
COUNT_WEIGHT = 16  # a seen symbol scores log2(16 c + 1): additive smoothing of 1/16
# Scores are integers below 2**11, exact in float32: a block's scores are its largest buffer, read
# again by the mixer's learning step, so half float64's bytes (every product with them is float64).
SCORE_DTYPE = torch.float32
TOTAL_BUCKETS = 16  # mixing weights depend on the order and on log2 of the context's total count
# ... and on whether the context has seen one symbol only (a deterministic context, in PPM's terms),
# which predicts it more reliably than its count alone says
N_BUCKETS = 2 * TOTAL_BUCKETS
HIST_BITS = 56  # lane history keeps the last 7 bytes
# A row whose total count has more than HALVE_BITS bits is halved after its update: old statistics
# fade, so a context whose data drifts (object code, a bitmap's regions) follows it.
HALVE_BITS = 10
# With checks, each hashed row keeps a check byte of the context it counts: another context that
# hashes there reads it as unseen, and takes it over only while its total is below CLAIM_BELOW, so
# one-off contexts recycle rows and established ones keep theirs.
CLAIM_BELOW = 4
OWN, CLAIM = 1, 2  # what a position may do with a row (features' `owner`): count in it, or take it over first
# With runs, each row also keeps the symbol that last followed its context and how many times in a row
# (paq's run model): counts say what a context mostly predicts, a run what it predicted lately, which
# drifting data (object code, tables, databases) rewards. The predictor rewards the run's symbol with
# a learned bonus per row, kind of frame, agreement with the counts and run length (run_guess).
RUN_CLASSES = 4  # run lengths 1, 2, 3, 4 or more
RUN_AGREE = 3  # the run's symbol: the row's only one / its most counted / neither
MAX_ROWS = 24  # rows of rows(): up to 8 orders, 12 extra and 4 sparse
RUN_BONUSES = 2 * MAX_ROWS * RUN_AGREE * RUN_CLASSES  # text frames' bonuses, then binary frames'
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
    return _mixed(ctx, tag, shift) & (2**bits - 1)


def _mixed(ctx: torch.Tensor, tag: torch.Tensor | int = 0, shift: int = 29) -> torch.Tensor:
    """The hash of hash_context before it keeps its low bits (below 2**58)."""
    h = (ctx & 0xFFFFFF) * 2654435761 + (ctx >> 24) * 2246822519 + tag * 97531
    return h ^ (h >> shift)


def table_sizes(orders: tuple[int, ...], hash_bits: int, extra: int | tuple[int, ...], sparse: bool) -> list[int]:
    """Table rows of each context row: orders (order 1 and 2 direct, longer ones hashed), the hashed
    rows of the other sources (`extra`: how many, of 2**hash_bits rows each, or each one's bits),
    then the exact sparse rows."""
    sizes = [min(256**k, 2**hash_bits) for k in orders] + [2**b for b in _extra_bits(extra, hash_bits)]
    return sizes + [256 ** len(d) for d in SPARSE] * sparse


_NO_ROWS = torch.zeros(0, 1, dtype=torch.int64)  # the compiled rows()' stand-in for no extra contexts
_NO_CHECKS, _NO_RUNS = np.zeros(0, np.uint8), np.zeros(0, np.int16)  # ... and the kernels', for tables a model lacks


def _np_or_empty(t: torch.Tensor | None, dtype, dim: int) -> np.ndarray:
    """t as numpy, or an empty array of the type a kernel expects in its place."""
    return t.numpy() if t is not None else np.zeros((0,) * dim, dtype)


def _extra_bits(extra: int | tuple[int, ...], hash_bits: int) -> list[int]:
    return [hash_bits] * extra if isinstance(extra, int) else list(extra)


class ContextModel:
    """Counts for orders `orders` over per-lane contexts, as features in 1/LOGIT_FRAC bit."""

    def __init__(self, orders: tuple[int, ...], hash_bits: int, extra: int | tuple[int, ...] = 0, sparse: bool = False,
                 halve: bool = False, checks: bool = False, runs: bool = False, huge: bool = False,
                 kernels=None):
        """`kernels`: kernels.load()'s compiled loops, to use instead of torch operations (same results)."""
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
        # each row's check byte (1-255 for a hashed context; 0: empty, or a direct row, whose contexts' is 0)
        self.checks = zeros(sum(sizes), dtype=torch.uint8) if checks else None
        # each row's run: the last symbol | the run's length (1..RUN_CLASSES) << 8; 0: none yet. One
        # more entry after the rows takes the writes of rows that another context holds (never read).
        self.runs = zeros(sum(sizes) + 1, dtype=torch.int16) if runs else None
        self._run_base = {}  # (rows, binary, base): each row's first bonus, less one (run_guess)
        is_hashed = [256**k > 2**hash_bits for k in self.orders] + [True] * extra
        # per row of rows(): the order's mask of a lane history, its hash tag, whether it is hashed
        self.masks = torch.tensor([2 ** (8 * k) - 1 for k in self.orders]).view(-1, 1)
        self.tags = torch.tensor(list(self.orders) + [8 + j for j in range(extra)]).view(-1, 1)
        self.is_hashed = torch.tensor(is_hashed).view(-1, 1)
        # the bits of its hash each row keeps: hash_bits, fewer for rows with narrower tables
        self.row_masks = torch.tensor([2**hash_bits - 1] * len(self.orders) + [2**b - 1 for b in bits]).view(-1, 1)
        counts = torch.arange(COUNT_CAP + 1, dtype=torch.int64)
        self.log_table = ilog2_fixed(counts * COUNT_WEIGHT + 1, LOGIT_FRAC).to(SCORE_DTYPE)
        self.kernels = kernels
        if kernels:  # the constant tables as numpy, for the kernels (the counts are made views per call)
            self._np = {"log": self.log_table.numpy()}
            for name in ("masks", "tags", "is_hashed", "row_masks", "offsets"):
                self._np[name] = getattr(self, name).view(-1).numpy()
            self._np["sparse_shift"] = _SPARSE_SHIFT.view(-1, 2).numpy()[: self.n_sparse]
            self._np["sparse_mask"] = _SPARSE_MASK.view(-1, 2).numpy()
            self._np["no_sparse"] = self._np["sparse_shift"][:0]

    def rows(self, hist: torch.Tensor, extra: torch.Tensor | None = None,
             sparse: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(rows, check): table rows (K, L) of each order's context, from lane histories hist (L,)
        int64; then, if given, rows of the extra contexts (E, L) (values below 2**56, e.g. record
        contexts); then, if `sparse`, the sparse contexts' rows (always in the table's last rows).
        check (K, L) uint8 is each context's check byte (0 for direct rows), None without checks.
        Every row is hashed and the direct ones keep their context: a few operations for all rows,
        not a few per row."""
        if self.kernels:
            return self._rows_compiled(hist, extra, sparse)
        ctx = hist & self.masks
        if extra is not None:
            ctx = torch.cat([ctx, extra])
        n = len(ctx)
        mixed = _mixed(ctx, self.tags[:n])  # the orders' tags tell their hashes apart
        rows = torch.where(self.is_hashed[:n], mixed & self.row_masks[:n], ctx) + self.offsets[:n]
        # the check comes from the hash's bits above any row's, so two contexts of one row differ in it
        check = None
        if self.checks is not None:
            check = torch.where(self.is_hashed[:n], (mixed >> self.hash_bits) % 255 + 1, 0).to(torch.uint8)
        if not sparse:
            return rows, check
        if not self.n_sparse:
            raise ValueError("sparse contexts are off in these settings")
        b = (hist >> _SPARSE_SHIFT) & _SPARSE_MASK  # (n, 2, L): each context's bytes
        rows = torch.cat([rows, b[:, 0] + (b[:, 1] << 8) + self.offsets[-self.n_sparse :]])
        if check is not None:
            check = torch.cat([check, torch.zeros(self.n_sparse, check.shape[1], dtype=torch.uint8)])
        return rows, check

    def features(self, rows: torch.Tensor, check: torch.Tensor | None = None,
                 out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(f, bucket, owner, top): f (K, L, 256) integer log-count scores (SCORE_DTYPE; written into `out`
        if given, a contiguous tensor of that shape), bucket (K, L) int64 confidence class; with checks
        (rows()' check), owner (K, L): OWN where the row counts this context, CLAIM where it counts
        another with a total below CLAIM_BELOW, 0 where another's (the context reads as unseen); top
        (K, L) the largest count of each row as read (0: unseen)."""
        if self.kernels:
            return self._features_compiled(rows, check, out)
        counts = lookup(self.table, rows).int()  # int32: the index type lookup wants, and faster sums than int16
        total = counts.sum(-1, dtype=torch.int32)  # at most 256 * COUNT_CAP
        owner = None
        if check is not None:
            mine = lookup(self.checks, rows) == check
            owner = torch.where(mine, OWN, (total < CLAIM_BELOW) * CLAIM)
            counts.mul_(mine.unsqueeze(-1))
            total.mul_(mine)
        _, e = torch.frexp(total.double())  # bit length of the total count (0 for none)
        top = counts.amax(-1)
        det = ((top == total) & (total > 0)).long()
        f = torch.empty(counts.shape, dtype=SCORE_DTYPE) if out is None else out
        torch.index_select(self.log_table, 0, counts.view(-1), out=f.view(-1))
        return f, torch.clamp(e.long(), 0, TOTAL_BUCKETS - 1) + det * TOTAL_BUCKETS, owner, top

    def run_guess(self, rows: torch.Tensor, buckets: torch.Tensor, owner: torch.Tensor | None, top: torch.Tensor,
                  binary: bool, base: int = 0) -> tuple[Guess, torch.Tensor]:
        """(guess, runs): each row's run (with runs) as a guess (K, L): its symbol, and as bucket (base
        plus an index below RUN_BONUSES) the row, the kind of frame, whether the symbol is the row's
        only one, its most counted or neither, and the run's length; active where the row has a run and
        counts this context. rows, buckets, owner and top are features()'. runs (K, L) is the runs as
        read, for update() to extend."""
        if self.kernels:
            return self._run_guess_compiled(rows, buckets, owner, top, binary, base)
        v = lookup(self.runs, rows).long()
        sym, run = v & 255, v >> 8
        active = run > 0
        if owner is not None:
            active &= owner == OWN
        at = lookup(self.table.view(-1), rows * 256 + sym)  # the symbol's count (another context's where not active)
        agree = torch.where(buckets >= TOTAL_BUCKETS, 0, torch.where(at == top, RUN_CLASSES, 2 * RUN_CLASSES))
        key = (len(rows), binary, base)
        if key not in self._run_base:
            row = torch.arange(len(rows)).view(-1, 1) + int(binary) * MAX_ROWS
            self._run_base[key] = row * (RUN_AGREE * RUN_CLASSES) + base - 1
        bucket = agree.add_(self._run_base[key]).add_(run.clamp(min=1))
        return Guess(sym, bucket, active.long()), v

    def update(self, rows: torch.Tensor, buckets: torch.Tensor, sym: torch.Tensor, valid: torch.Tensor,
               check: torch.Tensor | None = None, owner: torch.Tensor | None = None,
               runs: torch.Tensor | None = None) -> None:
        """Count symbol sym (L,) after each valid lane's contexts rows (K, L), whose buckets (K, L) and,
        with checks, owners came from features() (check: rows()'); with runs, extend or restart each
        row's run (`runs`: run_guess()'s, if it was asked); then, if halving, halve the rows whose
        total count had more than HALVE_BITS bits."""
        if self.kernels:
            return self._update_compiled(rows, buckets, sym, valid, check, owner, runs)
        if not bool(valid.all()):
            rows, buckets, sym = rows[:, valid], buckets[:, valid], sym[valid]
            if owner is not None:
                check, owner = check[:, valid], owner[:, valid]
            if runs is not None:
                runs = runs[:, valid]
        if self.runs is not None:
            self._update_runs(rows, sym, owner, lookup(self.runs, rows).long() if runs is None else runs)
        flat = self.table.view(-1)  # flat indices: index_put_/take/put_ are cheaper than 2-D indexing
        cells = (rows * 256 + sym).reshape(-1)
        if owner is None:
            ones = torch.ones_like(cells, dtype=torch.int16)
        else:
            claim = owner == CLAIM
            if bool(claim.any()):
                taken = rows[claim]
                self.table.index_fill_(0, taken, 0)
                # lanes that take one row in one step: the highest check wins (independent of the order of writes)
                self.checks.scatter_reduce_(0, taken, check[claim], "amax", include_self=False)
            # a context whose row another holds adds 0 (cheaper than leaving it out; its bucket, 0,
            # never halves the row)
            ones = (owner > 0).to(torch.int16).view(-1)
        flat.index_put_((cells,), ones, accumulate=True)
        flat.put_(cells, flat.take(cells).clamp_(max=COUNT_CAP))  # a cell listed twice gets one value
        if not self.halve:
            return
        full = rows.reshape(-1)[((buckets % TOTAL_BUCKETS) > HALVE_BITS).reshape(-1)]  # a row listed twice is halved once
        if len(full):
            self.table.index_copy_(0, full, lookup(self.table, full) >> 1)

    def _update_runs(self, rows: torch.Tensor, sym: torch.Tensor, owner: torch.Tensor | None, v: torch.Tensor) -> None:
        """Extend or restart the runs v (K, L) (int64, as read) of rows with the coded symbols sym (L,)
        (valid lanes only); rows another context holds keep theirs, and a row taken over starts afresh."""
        same = ((v & 255) == sym) & (v > 255)
        if owner is not None:
            same &= owner == OWN
            rows = torch.where(owner > 0, rows, len(self.runs) - 1)  # another's row: the write goes nowhere
        new = torch.where(same, torch.clamp((v >> 8) + 1, max=RUN_CLASSES), 1) << 8 | sym
        # lanes that meet one row in one step: the largest value wins (independent of the order of writes)
        self.runs.scatter_reduce_(0, rows.reshape(-1), new.reshape(-1).to(torch.int16), "amax", include_self=False)

    # -- the same, through the compiled kernels (kernels.py) -------------------------------------
    def _counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The table, check bytes and runs as numpy views (empty arrays for those the settings lack),
        made per call: a copy of the model (copy.deepcopy) must write its own tensors."""
        return (self.table.numpy(), self.checks.numpy() if self.checks is not None else _NO_CHECKS,
                self.runs.numpy() if self.runs is not None else _NO_RUNS)

    def _rows_compiled(self, hist, extra, sparse):
        if sparse and not self.n_sparse:
            raise ValueError("sparse contexts are off in these settings")
        extra = _NO_ROWS if extra is None else extra
        k = len(self.orders) + len(extra) + (self.n_sparse if sparse else 0)
        rows = torch.empty((k, len(hist)), dtype=torch.int64)
        check = torch.empty((k, len(hist)), dtype=torch.uint8) if self.checks is not None else None
        n = self._np
        self.kernels.context_rows(hist.numpy(), extra.numpy(), n["masks"], n["tags"], n["is_hashed"], n["row_masks"],
                                  n["offsets"], self.hash_bits, check is not None,
                                  n["sparse_shift"] if sparse else n["no_sparse"], n["sparse_mask"],
                                  rows.numpy(), _np_or_empty(check, np.uint8, 2))
        return rows, check

    def _features_compiled(self, rows, check, out):
        f = torch.empty((*rows.shape, 256), dtype=SCORE_DTYPE) if out is None else out
        bucket, top = torch.empty(rows.shape, dtype=torch.int64), torch.empty(rows.shape, dtype=torch.int32)
        owner = torch.empty(rows.shape, dtype=torch.int64) if check is not None else None
        n = self._np
        self.kernels.features(*self._counts()[:2], check is not None, rows.numpy(),
                              _np_or_empty(check, np.uint8, 2), n["log"], f.numpy(), bucket.numpy(),
                              _np_or_empty(owner, np.int64, 2), top.numpy())
        return f, bucket, owner, top

    def _run_guess_compiled(self, rows, buckets, owner, top, binary, base):
        sym, bucket, active, v = (torch.empty(rows.shape, dtype=torch.int64) for _ in range(4))
        table, _, runs = self._counts()
        self.kernels.run_guess(table, runs, rows.numpy(), buckets.numpy(),
                               _np_or_empty(owner, np.int64, 2), owner is not None, top.numpy(), int(binary), base,
                               sym.numpy(), bucket.numpy(), active.numpy(), v.numpy())
        return Guess(sym, bucket, active), v

    def _update_compiled(self, rows, buckets, sym, valid, check, owner, runs):
        self.kernels.update(*self._counts(), rows.numpy(), buckets.numpy(), sym.numpy(),
                            valid.numpy(), _np_or_empty(check, np.uint8, 2), _np_or_empty(owner, np.int64, 2),
                            owner is not None, _np_or_empty(runs, np.int64, 2), runs is not None, self.halve)

    @staticmethod
    def push(hist: torch.Tensor, sym: torch.Tensor) -> torch.Tensor:
        """Lane histories after appending byte sym (L,)."""
        return ((hist & (2 ** (HIST_BITS - 8) - 1)) << 8) | sym

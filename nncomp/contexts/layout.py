"""The rows the mixer weighs and which source owns them: the one place rows are counted or sliced.

The count table's rows come first (order-n, the hashed rows of words, lanes, columns, match and records,
then sparse), then the pixel rows of bitmap.py. A frame uses only the rows that speak in it: record
rows in frames with records, sparse rows in binary frames, pixel rows in binary frames of images.
Its rows are numbered in this order without gaps, so where a group starts depends on the kind of
frame; each kind of frame has its own weight set (mixer.py), so a row number always means one row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from .bitmap import N_BITMAP
from .columns import ColumnContext
from .counts import SPARSE
from .lanes import LaneContext
from .match import MatchModel
from .record import RecordContext
from .words import WordContext


@dataclass(frozen=True)
class RowLayout:
    """Rows of each group, in the order they are concatenated."""

    orders: int  # one per context order
    words: int = 0
    lane: int = 0
    column: int = 0
    match: int = 0
    record: int = 0  # frames with records only
    sparse: int = 0  # binary frames only
    bitmap: int = 0  # binary frames of images only

    @classmethod
    def of(cls, cfg) -> RowLayout:
        """The layout of a CodecConfig's settings."""
        return cls(orders=len(cfg.orders), words=WordContext.rows * cfg.words, lane=LaneContext.rows * cfg.lane_ctx,
                   column=ColumnContext.rows * cfg.columns, match=MatchModel.rows * bool(cfg.match_bits),
                   record=RecordContext.rows * cfg.record, sparse=len(SPARSE) * cfg.sparse,
                   bitmap=N_BITMAP * (cfg.bitmap and cfg.record))

    @property
    def rows(self) -> int:
        """Rows of the mixer's weight table: every group."""
        return sum(getattr(self, g) for g in GROUPS)

    @property
    def hashed(self) -> int:
        """Rows the sources hand the count table to hash."""
        return sum(getattr(self, g) for g in HASHED)

    def hashed_bits(self, hash_bits: int) -> tuple[int, ...]:
        """Table bits of each hashed row, in order: hash_bits, but at most COLUMN_BITS for column rows."""
        return tuple(min(hash_bits, COLUMN_BITS) if g == "column" else hash_bits for g in HASHED for _ in range(getattr(self, g)))

    def speaking(self, binary: bool, records: bool, pixels: bool = False) -> tuple[str, ...]:
        """The groups with rows in a frame of this kind."""
        silent = {"record": not records, "sparse": not binary, "bitmap": not pixels}
        return tuple(g for g in GROUPS if getattr(self, g) and not silent.get(g, False))

    def slices(self, binary: bool, records: bool, pixels: bool = False) -> dict[str, slice]:
        """Row numbers of each speaking group in a frame of this kind."""
        out, start = {}, 0
        for g in self.speaking(binary, records, pixels):
            out[g] = slice(start, start + getattr(self, g))
            start += getattr(self, g)
        return out

    def start_weights(self, binary: bool, records: bool) -> torch.Tensor:
        """(rows,) starting mixing weight of each row number in frames of this kind."""
        w = torch.full((self.rows,), ALPHA_INIT, dtype=torch.float64)
        w[self.slices(binary, records).get("column", slice(0))] = COLUMN_INIT
        if binary and records:
            s = self.slices(binary, records, pixels=True)
            for g in SILENT:
                w[s.get(g, slice(0))] = 0.0
            w[s.get("bitmap", slice(0))] = BITMAP_INIT
        return w


# Starting weights of a row, before a prior or learning sets them. Binary frames with records start
# their sparse and lane rows silent: there the record rows already describe the structure and see
# each lane's own bytes, and the others mostly add noise until learned.
ALPHA_INIT = 0.25  # a row a prior does not cover
# A column row's contexts are few (the byte above with a column, a field or the last byte): 2**16 rows
# hold them at level 5 in half the memory of a hashed order's table.
COLUMN_BITS = 16
COLUMN_INIT = 0.0  # a column row: they pay in tables and cost noise in prose and code until learned
BITMAP_INIT = 0.25  # a pixel row, whose scores are log-probabilities rather than log-counts
SILENT = ("sparse", "lane")  # rows that start at 0 in binary frames with records


GROUPS = tuple(f.name for f in fields(RowLayout))
HASHED = ("words", "lane", "column", "match", "record")  # the groups whose rows the count table hashes, in order

"""Codec settings and the compression levels that choose them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from .model import ModelConfig
from .context import N_LANE, SPARSE, SPARSE_ROWS
from .match import N_MATCH_CTX
from .bitmap import CONTEXTS as BITMAP_CONTEXTS, N_BITMAP
from .record import N_RECORD
from .words import N_WORD

MAX_FRAME = 1 << 24  # largest frame a header may announce (bounds a decoder's memory)
MAX_LANES = 256
MAX_WINDOW = 1 << 30  # the long-range window a header may ask a decoder to keep
MAX_MEMORY = 2 << 30  # settings whose working memory would exceed this are refused (a header is untrusted)


@dataclass(frozen=True)
class CodecConfig:
    """Everything besides the weights that decoding needs; written into every .nnc header."""

    model: ModelConfig = field(default_factory=ModelConfig)
    orders: tuple[int, ...] = (1, 2, 3, 4, 6)  # context lengths of the count statistics
    hash_bits: int = 16  # rows per hashed order (2**hash_bits x 256 int16 counts)
    match_bits: int = 20  # entries of the match model's table (2**match_bits); 0: no match model
    record: bool = True  # frames of fixed-length records get record contexts (record.py)
    words: bool = True  # word contexts (words.py)
    sparse: bool = True  # binary frames get sparse contexts (context.SPARSE)
    bitmap: bool = True  # binary frames with records get pixel contexts (bitmap.py)
    lane_ctx: bool = True  # lane contexts: counts of each lane's own recent bytes (context.LANE_ORDERS)
    halve: bool = True  # count rows are halved when full (context.HALVE_BITS): statistics follow drifting data
    lanes: int = 64  # a frame is cut into at most this many lanes coded in lock-step
    min_lane: int = 4096  # ... but fewer when lanes would be shorter: small inputs need the training steps
    short_lane: int = 0  # ... except that a frame may have up to short_lanes lanes this long (0: none)
    short_lanes: int = 16
    frame_size: int = 1 << 20  # input is coded in frames of this many bytes (bounded memory)
    long_window: int = 1 << 26  # repeats with a source this far back become references (longrange.py); 0: off
    long_min: int = 256  # ... if at least this long: with a match model, shorter ones cost the coder less than a reference

    def to_dict(self) -> dict:
        d = asdict(self)
        d["orders"] = list(self.orders)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        if not isinstance(d, dict) or set(d) != set(cls.__dataclass_fields__):
            raise ValueError("codec settings do not match this version")
        ints = {k: d[k] for k in ("hash_bits", "match_bits", "lanes", "min_lane", "short_lane", "short_lanes", "frame_size",
                                  "long_window", "long_min")}
        if any(not isinstance(v, int) or isinstance(v, bool) for v in ints.values()):
            raise ValueError("codec settings are not integers")
        orders = d["orders"]
        if not isinstance(orders, list) or any(not isinstance(k, int) or isinstance(k, bool) for k in orders):
            raise ValueError("context orders are not integers")
        flags = {k: d[k] for k in ("record", "words", "sparse", "bitmap", "halve", "lane_ctx")}
        if any(not isinstance(v, bool) for v in flags.values()):
            raise ValueError("record, words, sparse, bitmap, halve and lane_ctx settings are not booleans")
        cfg = cls(model=ModelConfig.from_dict(d["model"]), orders=tuple(orders), **flags, **ints)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        self.model.validate()
        ok = (
            1 <= len(self.orders) <= 8
            and all(1 <= k <= 7 for k in self.orders)
            and 8 <= self.hash_bits <= 22
            and (self.match_bits == 0 or 8 <= self.match_bits <= 24)
            and 1 <= self.lanes <= MAX_LANES
            and 1 <= self.min_lane <= MAX_FRAME
            and 0 <= self.short_lane <= MAX_FRAME
            and 1 <= self.short_lanes <= MAX_LANES
            and 1 <= self.frame_size <= MAX_FRAME
            and 0 <= self.long_window <= MAX_WINDOW
            and 64 <= self.long_min <= MAX_FRAME
        )
        if not ok:
            raise ValueError("codec settings out of range")
        if self.memory_estimate() > MAX_MEMORY:
            raise ValueError("codec settings need more memory than allowed")

    def memory_estimate(self) -> int:
        """Bytes of the largest allocations these settings cause (tables, weights, block activations)."""
        m = self.model
        extra = (N_RECORD * self.record + N_WORD * self.words + N_LANE * self.lane_ctx
                 + N_MATCH_CTX * bool(self.match_bits))
        rows = sum(min(256**k, 2**self.hash_bits) for k in self.orders) + (extra << self.hash_bits)
        rows += SPARSE_ROWS * self.sparse + (BITMAP_CONTEXTS * 2 // 256 + 1) * self.bitmap
        params = 512 * m.d_model + m.n_layer * (4 * m.d_model**2 + 2 * m.d_model * m.d_mlp)
        cells = self.lanes * m.block
        per_layer = cells * (8 * m.d_model + 2 * m.d_mlp) + 3 * m.n_head * cells * 2 * m.block
        return (rows * 256 * 2 + (16 << self.match_bits if self.match_bits else 0) + params * 8 * 5
                + cells * 256 * (4 + len(self.orders) + extra + len(SPARSE) + N_BITMAP * self.bitmap) * 8
                + m.n_layer * per_layer * 8 + self.frame_size * 24 + self.long_window)

    def lane_layout(self, n: int) -> tuple[int, int]:
        """(lanes, lane_length) for a frame of n > 0 bytes: every lane but the last is full."""
        short = min(n // self.short_lane, self.short_lanes) if self.short_lane else 0
        lanes = max(1, min(self.lanes, max(n // self.min_lane, short)))
        length = -(-n // lanes)
        return -(-n // length), length


# Adapting a prior wants a smaller step than learning from scratch. 2**17 rows per hashed context
# (512 MiB of counts in all): book1+news 307,991 -> 306,306 bytes against 2**16, same run.
_BASE = CodecConfig(model=ModelConfig(lr=0.001), hash_bits=17)
# Short inputs decode slowest: few lanes mean a step for every byte or few, and a step costs about
# as much at one lane as at ten (grammar.lsp, 3.7 KB, 0.8 KB/s; book1 13). Levels 3-5 give a frame
# under 64 KB up to 16 lanes of 3 KiB where lanes of 4 KiB would be fewer. Level 5, the 13 eval files
# under 60 KB in the full runs before and after (bench/compare.py): 87,808 -> 88,392 bytes (+0.67 %),
# decoding 101.7 -> 80.2 s (the larger files, coded alike, decoded 7 % faster in the second run). One
# lane per 3 KiB for every frame was measured too: files of 60-192 KB then paid 1-3 % (trans +3.1 %,
# progl +1.3 %), which this rule leaves alone.
_SHORT = dict(short_lane=3072, short_lanes=16)
# Levels 2-9 share the transformer shape and context orders of the built-in prior and trade speed for
# learning: fewer lanes mean more training steps per byte. Level 1 is a smaller model without prior,
# match model, word or sparse contexts, with 256 lanes, whose network trains on every eighth block (book1,
# format 3, same run: 212,360 bytes at 50-64 / 37-40 KB/s with 128 lanes, every other block and
# words; 228,133 bytes at 76-82 / 57-64 KB/s with every fourth block. Format 4, same run, two rounds:
# every fourth block 224,293 bytes at 55.8 / 54.4 KB/s decompressing, every eighth 225,029 at 61.5 / 57.0).
# Without a prior the network adds little beside the counts, so level 1's is the smallest that still
# attends: one head, d_model 32 (format 10 had 4 heads, d_model 64, d_mlp 128 at lr 0.002; the shape
# alone cost 0.2 %, and the doubled step size, which the mixer's steps follow, more than won it back).
# Encoder-side sizes, same run: book1[:300000], paper1, progc, news[:200000], cp.html, obj2 289,582 ->
# 287,390 bytes; six files of the training corpus 247,514 -> 245,798. Decoding, interleaved in one
# process, four rounds each, medians: book1[:300000] 54.5 -> 71.8 KB/s, paper1 28.0 -> 34.0.
LEVELS: dict[int, CodecConfig] = {
    1: replace(_BASE, model=replace(_BASE.model, d_model=32, n_head=1, n_layer=1, d_mlp=32, lr=0.004, learn_every=8),
               lanes=256, min_lane=1024, orders=(1, 2, 3, 4), hash_bits=16, match_bits=0, words=False,
               sparse=False, bitmap=False, halve=False, lane_ctx=False, long_min=64),
    2: replace(_BASE, lanes=128, min_lane=2048),
    3: replace(_BASE, lanes=96, **_SHORT),
    4: replace(_BASE, lanes=80, **_SHORT),
    5: replace(_BASE, **_SHORT),
    6: replace(_BASE, lanes=48),
    7: replace(_BASE, lanes=32, min_lane=8192),
    8: replace(_BASE, lanes=24, min_lane=8192, hash_bits=18),
    9: replace(_BASE, lanes=16, min_lane=8192, hash_bits=18),
}
DEFAULT_LEVEL = 5
LEVEL_MODELS = {1: "none"}  # the prior each level starts from; "default" unless listed


def preset_tag(level: int) -> str:
    """Short hash of a level's settings: a header names its level's preset instead of listing them,
    and a decoder whose presets differ refuses the stream rather than misread it."""
    body = json.dumps(level_config(level).to_dict(), sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()[:8]


def level_config(level: int) -> CodecConfig:
    if level not in LEVELS:
        raise ValueError(f"level must be 1..9, not {level}")
    return LEVELS[level]


def level_model(level: int) -> str:
    """Built-in prior of a level; 'none' where it is not installed (weights are then seeded random)."""
    from .prior import builtin  # late: prior imports model, which config already needs

    name = LEVEL_MODELS.get(level, "default")
    return name if name != "none" and builtin(name) is not None else "none"

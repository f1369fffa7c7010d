"""Codec settings and the compression levels that choose them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from . import DEFAULT_LEVEL  # noqa: F401 (defined by the package, torch-free, for the command line)
from .contexts.bitmap import CONTEXTS as BITMAP_CONTEXTS
from .contexts.counts import table_sizes
from .contexts.layout import RowLayout
from .model import ModelConfig

MAX_FRAME = 1 << 24  # largest frame a header may announce (bounds a decoder's memory)
MAX_LANES = 256
MAX_WINDOW = 1 << 30  # the long-range window a header may ask a decoder to keep
MAX_MEMORY = 2 << 30  # settings whose working memory would exceed this are refused (a header is untrusted)
# An input that fits in one frame gets count tables of 4 to 8 rows per byte, and this many bits at
# least: a small file touches less memory, and the hashes still rarely collide (one row fewer per byte
# costs 0.2 % on small files; docs/decisions.md). The match table keeps its size: fewer entries cost
# more, and it is touched only where written.
FIT_SLACK = 2
FIT_MIN_BITS = 10


# Settings that older streams do not name, with the format that added them: off where absent, so
# those streams keep their meaning.
ADDED = {"columns": 25, "byte_weights": 26, "checks": 27, "runs": 28, "images": 29, "ieee_sqrt": 30, "mix_every": 31,
         "momentum": 32, "bonus_lr": 32, "mix_lr": 33}


@dataclass(frozen=True)
class CodecConfig:
    """Everything besides the weights that decoding needs; written into every .nnc header."""

    model: ModelConfig = field(default_factory=ModelConfig)
    orders: tuple[int, ...] = (1, 2, 3, 4, 6)  # context lengths of the count statistics
    hash_bits: int = 16  # rows per hashed order (2**hash_bits x 256 int16 counts)
    match_bits: int = 20  # entries of the match model's table (2**match_bits); 0: no match model
    record: bool = True  # frames of fixed-length records get record contexts (record.py)
    words: bool = True  # word contexts (words.py)
    columns: bool = True  # column contexts (columns.py)
    sparse: bool = True  # binary frames get sparse contexts (context.SPARSE)
    bitmap: bool = True  # binary frames with records get pixel contexts (bitmap.py)
    images: bool = True  # ... only where the encoder takes the frame for a 1-bit image (bitmap.looks_bitmap)
    lane_ctx: bool = True  # lane contexts: counts of each lane's own recent bytes (contexts/lanes.py)
    halve: bool = True  # count rows are halved when full (context.HALVE_BITS): statistics follow drifting data
    checks: bool = True  # hashed count rows know their context by a check byte (contexts/counts.py)
    runs: bool = True  # count rows keep their last symbol's run, rewarded with a learned bonus (contexts/counts.py)
    byte_weights: bool = True  # mixing weights also follow the last byte (mixer.py)
    ieee_sqrt: bool = True  # square roots are correctly rounded (exact.sqrt), where older streams used torch's
    mix_every: int = 0  # the mixer and the bonuses learn every this many steps of a block (0: once, at its end)
    momentum: float = 0.0  # Adam's beta1 in the online steps of network, mixer and bonuses (0: ModelConfig.beta1)
    bonus_lr: float = 0.0  # the bonuses' step sizes are times this (0: 1)
    mix_lr: float = 0.0  # with mix_every, the mixer's steps are times this (0: sqrt of a part's share of the block)
    lanes: int = 64  # a frame is cut into at most this many lanes coded in lock-step
    min_lane: int = 4096  # ... but fewer when lanes would be shorter: small inputs need the training steps
    short_lane: int = 0  # ... except that a frame may have up to short_lanes lanes this long (0: none)
    short_lanes: int = 16
    frame_size: int = 1 << 20  # input is coded in frames of this many bytes (bounded memory)
    long_window: int = 1 << 26  # repeats with a source this far back become references (longrange.py); 0: off
    long_min: int = 256  # ... if at least this long: with a match model, shorter ones cost the coder less than a reference

    def to_dict(self) -> dict:
        """The settings as JSON fields; an ADDED setting is written only where it is on, so settings
        without it hash (container.tag) as older streams' do."""
        d = asdict(self)
        d["orders"] = list(self.orders)
        for k in ADDED:
            if not d[k]:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        if isinstance(d, dict):
            d = {**OFF, **d}
        if not isinstance(d, dict) or set(d) != set(cls.__dataclass_fields__):
            raise ValueError("codec settings do not match this version")
        ints = {k: d[k] for k in ("hash_bits", "match_bits", "lanes", "min_lane", "short_lane", "short_lanes", "frame_size",
                                  "long_window", "long_min", "mix_every")}
        if any(not isinstance(v, int) or isinstance(v, bool) for v in ints.values()):
            raise ValueError("codec settings are not integers")
        orders = d["orders"]
        if not isinstance(orders, list) or any(not isinstance(k, int) or isinstance(k, bool) for k in orders):
            raise ValueError("context orders are not integers")
        flags = {k: d[k] for k, f in cls.__dataclass_fields__.items() if f.type in (bool, "bool")}
        if any(not isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"the {', '.join(flags)} settings are not booleans")
        numbers = {k: d[k] for k, f in cls.__dataclass_fields__.items() if f.type in (float, "float")}
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in numbers.values()):
            raise ValueError(f"the {', '.join(numbers)} settings are not numbers")
        cfg = cls(model=ModelConfig.from_dict(d["model"]), orders=tuple(orders), **flags, **ints,
                  **{k: float(v) for k, v in numbers.items()})
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
            and 0 <= self.mix_every <= self.model.block
            and 0.0 <= self.momentum < 1.0
            and 0.0 <= self.bonus_lr <= 16.0
            and 0.0 <= self.mix_lr <= 16.0
        )
        if not ok:
            raise ValueError("codec settings out of range")
        if self.memory_estimate() > MAX_MEMORY:
            raise ValueError("codec settings need more memory than allowed")

    def memory_estimate(self) -> int:
        """Bytes of the largest allocations these settings cause (tables, weights, block activations)."""
        m, layout = self.model, RowLayout.of(self)
        rows = sum(table_sizes(self.orders, self.hash_bits, layout.hashed_bits(self.hash_bits), self.sparse))
        rows += (BITMAP_CONTEXTS * 2 // 256 + 1) * bool(layout.bitmap)  # in 256 x int16 table rows
        params = 512 * m.d_model + m.n_layer * (4 * m.d_model**2 + 2 * m.d_model * m.d_mlp)
        cells = self.lanes * m.block
        per_layer = cells * (8 * m.d_model + 2 * m.d_mlp) + 3 * m.n_head * cells * 2 * m.block
        return (rows * (256 * 2 + self.checks + 2 * self.runs) + (16 << self.match_bits if self.match_bits else 0) + params * 8 * 5
                + cells * 256 * (4 + layout.rows) * 8
                + m.n_layer * per_layer * 8 + self.frame_size * 24 + self.long_window)

    def fitted(self, n: int) -> CodecConfig:
        """The settings a stream or dataset starts with when its first frame holds n bytes: count
        tables sized to n when that frame is the whole of it (shorter than a frame), else these. Both
        sides know n from the frame's head, so no header field says it."""
        if n >= self.frame_size:
            return self
        bits = max(FIT_MIN_BITS, n.bit_length() + FIT_SLACK)
        return replace(self, hash_bits=min(self.hash_bits, bits))

    def lane_layout(self, n: int) -> tuple[int, int]:
        """(lanes, lane_length) for a frame of n > 0 bytes: every lane but the last is full."""
        short = min(n // self.short_lane, self.short_lanes) if self.short_lane else 0
        lanes = max(1, min(self.lanes, max(n // self.min_lane, short)))
        length = -(-n // lanes)
        return -(-n // length), length


# Each added setting's value where a stream does not name it: off (False, 0 or 0.0).
OFF = {k: type(CodecConfig.__dataclass_fields__[k].default)() for k in ADDED}


# Adapting a prior wants a smaller step than learning from scratch, and larger tables pay at every
# level but the first. Online, the network's, the mixer's and the bonuses' steps follow the data
# better with less momentum than Adam's usual 0.9 (docs/decisions.md).
_BASE = CodecConfig(model=ModelConfig(lr=0.001), hash_bits=17, momentum=0.5)
# Levels 1-5 code 64 lanes or more, and their mixer learns every 4 steps of a block: its weights
# follow the data faster (0.6 % smaller at level 5, 2.6 % at level 1). With fewer lanes a step sees
# fewer positions, and on tables the weights wander at that step size: kennedy.xls cost 2.9 % more at
# level 6 and 25 % at level 9. Levels 6-9 learn after 256 to 384 positions (level 9's 16 lanes every
# 16 steps, level 5's 64 lanes every 4 are 256) at about level 5's step size (0.35), which their small
# files, of few lanes, take well (docs/decisions.md). The bonuses, which took full steps eight times a
# block, take smaller ones.
_PARTS = dict(mix_every=4, bonus_lr=0.6)
_FEW = dict(bonus_lr=0.6, mix_lr=0.35)
# Short inputs decode slowest: few lanes mean a step for every byte or few, and a step costs about as
# much at one lane as at ten. Levels 3-5 give a frame under 64 KB up to 16 lanes of 1 KiB: a 4 KB file
# codes 3x as fast as with lanes of 3 KiB, for 0.05 % more over the eval files (docs/decisions.md).
_SHORT = dict(short_lane=1024, short_lanes=16)
# Levels 2-9 share the transformer shape and context orders of the built-in prior and trade speed for
# learning: fewer lanes mean more training steps per byte. Level 1 is a smaller model without prior,
# match model, word or sparse contexts, with 256 lanes, whose network trains on every eighth block:
# without a prior the network adds little beside the counts, so level 1's is the smallest that still
# attends. Nor has it check bytes: with its few rows they cost text more than they win on tables.
LEVELS: dict[int, CodecConfig] = {
    1: replace(_BASE, model=replace(_BASE.model, d_model=32, n_head=1, n_layer=1, d_mlp=32, lr=0.004, learn_every=8),
               lanes=256, min_lane=1024, orders=(1, 2, 3, 4), hash_bits=16, match_bits=0, words=False,
               columns=False, sparse=False, bitmap=False, halve=False, lane_ctx=False, byte_weights=False, checks=False, runs=False,
               long_min=64, **_PARTS),
    2: replace(_BASE, lanes=128, min_lane=2048, **_PARTS),
    3: replace(_BASE, lanes=96, **_SHORT, **_PARTS),
    4: replace(_BASE, lanes=80, **_SHORT, **_PARTS),
    5: replace(_BASE, **_SHORT, **_PARTS),
    6: replace(_BASE, lanes=48, mix_every=8, **_FEW),
    7: replace(_BASE, lanes=32, min_lane=8192, mix_every=8, **_FEW),
    8: replace(_BASE, lanes=24, min_lane=8192, hash_bits=18, mix_every=16, **_FEW),
    9: replace(_BASE, lanes=16, min_lane=8192, hash_bits=18, mix_every=16, **_FEW),
}
LEVEL_MODELS = {1: "none"}  # the prior each level starts from; "default" unless listed


# What a format changed in a level's settings, as they were before it: {format: {level: settings}}.
# (A setting that a format added is off before it: ADDED.)
_ONCE = dict(mix_every=0, bonus_lr=0.0, mix_lr=0.0)
BEFORE = {33: {9: _ONCE}, 34: {6: _ONCE, 7: _ONCE, 8: _ONCE}}


def level_config(level: int, version: int | None = None) -> CodecConfig:
    """The settings of `level`, as streams of format `version` have them (None: as this one writes)."""
    if level not in LEVELS:
        raise ValueError(f"level must be 1..9, not {level}")
    cfg = LEVELS[level]
    if version is not None:
        cfg = replace(cfg, **{k: OFF[k] for k, since in ADDED.items() if version < since})
        for since in sorted(BEFORE, reverse=True):  # the oldest format's value last, so it wins
            if version < since:
                cfg = replace(cfg, **BEFORE[since].get(level, {}))
    return cfg


# Inputs are cut into segments of at most this many bytes, coded independently so that workers can
# code them side by side: fewer bytes per segment mean more of them to share out, and more restarts
# from the prior's fresh state (docs/decisions.md measures both).
DEFAULT_SEGMENT = 3 << 20
MIN_SEGMENT, MAX_SEGMENT = 1 << 12, 1 << 26  # a parallel decoder holds up to 2 segments per worker


def check_segment(size: int) -> int:
    """A segment size the encoder may use (0: one segment)."""
    if isinstance(size, bool) or not isinstance(size, int) or not (size == 0 or MIN_SEGMENT <= size <= MAX_SEGMENT):
        raise ValueError(f"segment size must be 0 (one segment) or {MIN_SEGMENT:,} to {MAX_SEGMENT:,} bytes")
    return size


def segment_length(segment: int, size: int | None) -> int:
    """The length of each segment but the last for an input of `size` bytes (None: unknown) cut into
    segments of at most `segment` bytes: as few segments as that allows, of equal length, so that
    workers get equal shares. An input of unknown length (a pipe) is cut every `segment` bytes."""
    if not segment or size is None or size <= segment:
        return segment
    n = -(-size // segment)
    return -(-size // n)


def level_model(level: int) -> str:
    """Built-in prior of a level; 'none' where it is not installed (weights are then seeded random)."""
    from .prior import builtin  # late: prior imports model, which config already needs

    name = LEVEL_MODELS.get(level, "default")
    return name if name != "none" and builtin(name) is not None else "none"

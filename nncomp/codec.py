"""Frames and lanes: drives the predictor and the range coder over a stream, both directions.

A frame of n bytes is cut into L contiguous lanes coded in lock-step; each block of `block` steps is
predicted (all at once when encoding, one step at a time when decoding), range coded, and then
learned from. Frames the model cannot shrink are stored, but the model still learns from them, so
encoder and decoder always hold the same state.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import partial, wraps
from typing import Callable, NamedTuple

import constriction
import numpy as np
import torch

from . import container, filters, kernels, longrange
from . import workers as workers_mod
from .config import MAX_SEGMENT, CodecConfig, segment_length
from .errors import CorruptError, UnsupportedError
from .contexts import Frame
from .contexts.bitmap import looks_bitmap, may_speak
from .contexts.record import find_period
from .exact import configure_torch
from .mixture import Mixture
from .predictor import Policy, Predictor
from .prior import Prior

NO_PRIOR = container.NO_PRIOR  # header model id of a stream that starts from seeded random weights

_FAMILY = constriction.stream.model.Categorical(perfect=False)

Progress = Callable[[int], None]
PoolMaker = Callable[[tuple], "workers_mod.Pool"]  # (settings, prior) -> a pool of workers that code segments


_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(9), 11, 12, *range(14, 32), 127]] = True  # control bytes other than tab, newline, return


def looks_binary(raw: bytes) -> bool:
    """The encoder's choice of a frame's binary flag: more than 1/8 control bytes. Object code, tables
    and bitmaps have far more, text almost none (a terminal session with its escape codes, a few)."""
    return len(raw) > 0 and 8 * int(_CONTROL[np.frombuffer(raw, dtype=np.uint8)].sum()) > len(raw)


def _code_lengths(freq: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bits each symbol costs under its distribution: reporting only, never fed back into coding."""
    return torch.log2(freq.sum(-1)) - torch.log2(freq.gather(-1, x.unsqueeze(-1)).squeeze(-1))


def _lanes(cfg: CodecConfig, n: int) -> tuple[torch.Tensor, int]:
    """(valid, lane length): which cells of the (lanes, lane length) layout hold the n bytes."""
    lanes, length = cfg.lane_layout(n)
    valid = (torch.arange(lanes * length) < n).view(lanes, length)
    return valid, length


def _coding(method):
    """An Engine method run in torch.inference_mode on the engine's number of torch threads, the
    caller's number restored afterwards: a library call should not change a process-wide setting."""

    @wraps(method)
    def run(self, *args, **kwargs):
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return method(self, *args, **kwargs)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    return run


class Engine:
    """The predictor plus the lane bookkeeping shared by both directions.

    Its methods run in torch.inference_mode: nothing here uses autograd, and skipping its bookkeeping
    on the thousands of small operations per block is free speed. The state they create is then
    inference tensors, changed in place only inside inference mode (hence clear_counts). Frames are
    coded on `threads` torch threads (None: as the process has them).
    """

    @torch.inference_mode()
    def __init__(self, cfg: CodecConfig, prior: Prior | None = None, threads: int | None = None,
                 policy: Policy = Policy(), huge: bool = False, compiled: bool = False):
        configure_torch()
        self.threads = threads
        self.cfg = cfg
        if prior is not None and not prior.fits(cfg.model, cfg.orders):
            raise UnsupportedError(f"model {prior.id} does not fit these settings")
        self.pred = Predictor(cfg, prior, policy, huge, compiled)
        self.progress: Progress | None = None

    @classmethod
    def mixing(cls, stream: Engine, fresh: Engine) -> Engine:
        """An engine coding with the mixture of stream's and fresh's predictions (mixture.py); both
        models learn from what it codes, and stream's goes on afterwards."""
        engine = cls.__new__(cls)
        engine.cfg, engine.progress = stream.cfg, stream.progress  # lanes and blocks do not depend on table sizes
        engine.threads = stream.threads
        engine.pred = Mixture(stream.pred, fresh.pred)
        return engine

    @torch.inference_mode()
    def clear_counts(self) -> None:
        """Forget the count statistics (training starts every chunk like a new file)."""
        self.pred.ctx.table.zero_()

    def _tick(self, n: int) -> None:
        if self.progress:
            self.progress(n)

    @_coding
    def encode_frame(self, data: bytes, frame: Frame = Frame(), code: bool = True,
                     with_costs: bool = False) -> tuple[bytes, np.ndarray | None]:
        """Learn from a frame; (its range-coded payload or b"" when code is False, per-byte code lengths).

        With `with_costs`, each byte's model code length in bits comes back too (for reports only).
        """
        valid, length = _lanes(self.cfg, len(data))
        x = torch.zeros(valid.numel(), dtype=torch.int64)
        x[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        x = x.view(valid.shape)
        self.pred.start_frame(valid.shape[0], length, frame)
        enc = constriction.stream.queue.RangeEncoder() if code else None
        costs = []
        for b0 in range(0, length, self.cfg.model.block):
            xb, vb = x[:, b0 : b0 + self.cfg.model.block], valid[:, b0 : b0 + self.cfg.model.block]
            freq = self.pred.predict_block(xb, vb)
            if with_costs:
                costs.append(_code_lengths(freq, xb))
            if enc is not None:  # step-major order: the order the decoder meets the symbols in
                sel = vb.T
                enc.encode(xb.T[sel].int().numpy(), _FAMILY, freq.transpose(0, 1)[sel].numpy())
            self.pred.learn()
            self._tick(int(vb.sum()))
        payload = enc.get_compressed().astype("<u4").tobytes() if enc is not None else b""
        return payload, torch.cat(costs, 1).reshape(-1)[: len(data)].numpy() if with_costs else None

    @_coding
    def decode_frame(self, payload: bytes, n: int, frame: Frame = Frame()) -> bytes:
        valid, length = _lanes(self.cfg, n)
        lanes = valid.shape[0]
        self.pred.start_frame(lanes, length, frame)
        try:
            dec = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
        except Exception as e:  # constriction rejects some malformed word streams outright
            raise CorruptError(f"damaged frame: {e}") from None
        out = torch.zeros(lanes, length, dtype=torch.int64)
        full = valid.all(0).tolist()  # steps where every lane holds a byte (all but the last lane's tail)
        for b0 in range(0, length, self.cfg.model.block):
            steps = min(self.cfg.model.block, length - b0)
            self.pred.begin_block(steps)
            for t in range(b0, b0 + steps):
                freq = self.pred.predict_step()
                v = valid[:, t]
                try:
                    got = torch.from_numpy(dec.decode(_FAMILY, (freq if full[t] else freq[v]).numpy()).astype(np.int64))
                except Exception as e:
                    raise CorruptError(f"damaged frame: {e}") from None
                sym = got if full[t] else torch.zeros(lanes, dtype=torch.int64).masked_scatter_(v, got)
                out[:, t] = sym
                self.pred.push(sym, v)
            self.pred.finish_block()
            self.pred.learn()
            self._tick(int(valid[:, b0 : b0 + steps].sum()))
        return out.view(-1)[:n].to(torch.uint8).numpy().tobytes()


class _Coded(NamedTuple):
    frame: bytes
    raw_len: int
    costs: np.ndarray | None  # per-byte code lengths in bits (None: stored), for on_frame


def _fresh_engine(cfg: CodecConfig, prior: Prior | None, threads, progress: Progress | None, n: int) -> Engine:
    """The prior's fresh state for a stream, segment or dataset whose first frame holds n bytes (the
    tables are sized to it: CodecConfig.fitted); encoder and decoder both start here."""
    fitted = cfg.fitted(n)
    # an input with as many bytes as a hashed order has rows writes rows on most of the table's pages
    engine = Engine(fitted, prior, threads, huge=n >= 2**fitted.hash_bits, compiled=kernels.wanted(n))
    engine.progress = progress
    return engine


class _Start(NamedTuple):
    """A model and the long-range window it codes after."""

    engine: Engine
    finder: longrange.Finder | None


def _afresh(cfg: CodecConfig, prior: Prior | None, threads, progress: Progress | None, n: int) -> _Start:
    """The prior's fresh state and an empty window: where a stream, a segment or a dataset coded
    afresh begins (its first frame holds n bytes)."""
    finder = longrange.Finder(cfg.long_window, cfg.long_min) if cfg.long_window else None
    return _Start(_fresh_engine(cfg, prior, threads, progress, n), finder)


def _mixed(at: _Start, cfg: CodecConfig, prior: Prior | None, threads, n: int) -> _Start:
    """at's model mixed with one started afresh (mixture.py), after at's window: where a later
    dataset of a joint stream begins when it is not coded afresh."""
    return _Start(Engine.mixing(at.engine, _fresh_engine(cfg, prior, threads, None, n)), at.finder)


def _kind(cfg: CodecConfig, raw: bytes, new_dataset: bool = False) -> Frame:
    """The encoder's description of a frame: its record length, binary and image flags come from its bytes."""
    period, binary = find_period(raw) if cfg.record else 0, looks_binary(raw)
    pixels = cfg.bitmap and may_speak(binary, period) and (not cfg.images or looks_bitmap(raw, period))
    return Frame(new_dataset, period, binary, pixels)


def _code(raw: bytes, kind: Frame, at: _Start, *, fresh: bool = False, mixed: bool = False, segment: bool = False,
          costs: bool = False) -> _Coded:
    """A frame of raw coded by this model after this long-range window (both learn from it)."""
    x86 = filters.looks_x86(raw)
    delta = 0 if x86 else filters.choose_delta(raw)
    src = filters.x86_encode(raw) if x86 else filters.delta_encode(raw, delta) if delta else raw
    refs, literals = at.finder.split(src, kind.period) if at.finder else ([], src)
    payload, bits = b"", None
    if refs:  # the engine counts the literals as it codes them
        at.engine._tick(len(raw) - len(literals))
    if literals:  # the model codes (or, if stored, still learns from) the literals alone
        payload, bits = at.engine.encode_frame(literals, kind, with_costs=costs)
    coded = 0 < len(payload) < len(literals)
    body = (longrange.pack(refs) if refs else b"") + (payload if coded else literals)
    frame = container.build_frame(container.CODED if coded else container.STORED, raw, body, kind, bool(refs), fresh,
                                  segment, mixed, x86, at.engine.cfg.images, delta)
    if refs and costs:  # copies cost nothing but their share of the frame's references
        full = np.zeros(len(raw))
        full[longrange.literal_mask(refs, len(raw))] = bits if coded else 8.0
        bits = full
    return _Coded(frame, len(raw), bits if coded or refs else None)


def compress_segment(cfg: CodecConfig, prior: Prior | None, data: bytes, first: bool, threads=None,
                     progress: Progress | None = None) -> bytes:
    """The frames of one whole segment, coded from the prior's fresh state: what a worker does, and
    byte for byte what Compressor writes for that segment."""
    out, at = [], None
    for i in range(0, len(data), cfg.frame_size):
        raw = data[i : i + cfg.frame_size]
        at = at or _afresh(cfg, prior, threads, progress, len(raw))
        out.append(_code(raw, _kind(cfg, raw), at, segment=not first and i == 0).frame)
    return b"".join(out)


@dataclass
class _Trial:
    """A dataset of a joint stream coded twice, frame by frame: learning from what came before (by the
    stream's model mixed with a fresh one, or going on unmixed), and from the prior's fresh state as
    if alone. The smaller is written when the dataset ends."""

    at: _Start  # the fresh start, whose long-range window holds this dataset only
    learned: list[_Coded] = field(default_factory=list)
    fresh: list[_Coded] = field(default_factory=list)


class Compressor:
    """Incremental compressor in the manner of lzma.LZMACompressor: compress() chunks, then flush().

    With `segment` > 0 the input is cut into segments of at most that many bytes, each coded from the
    prior's fresh state, so that any of them can be decoded without those before it; given the input's
    `size`, they are cut equal (config.segment_length). `workers` > 1 codes them in that many
    processes side by side (workers.py), to the same bytes.

    end_frame() starts a new dataset (joint compression, which needs one segment). Each dataset after
    the first is coded both by the stream's model mixed with a fresh one (mixture.py) and afresh, as
    if alone, and the smaller is kept, so a joint stream never costs more than its datasets alone
    (less their shared headers). That takes three models at once, three times the time of coding
    those datasets alone, and their frames are written when the dataset ends; decoding a mixed
    dataset takes two. `starts` says, per dataset after the first, whether it learned from those
    before it. With `decide=False` every dataset learns from those before it, without the choice (for
    measurements that know what the dataset costs alone, such as tools/joint.ncd_matrix); with
    `mix=False` the stream's model goes on alone, unmixed (as format 20 did).
    """

    def __init__(self, cfg: CodecConfig, level: int, prior: Prior | None = None, *, threads=None,
                 progress: Progress | None = None, members: list[tuple[str, int]] | None = None,
                 on_frame: Callable[[int, int, np.ndarray | None], None] | None = None, decide: bool = True, mix: bool = True,
                 segment: int = 0, size: int | None = None, workers: int = 1, pool: PoolMaker | None = None):
        if prior is not None and not prior.fits(cfg.model, cfg.orders):
            raise UnsupportedError(f"model {prior.id} does not fit these settings")
        if workers > 1 and on_frame is not None:
            raise ValueError("on_frame observes frames coded in this process: use one worker")
        self._cfg, self._prior, self._threads, self._progress = cfg, prior, threads, progress
        self._at: _Start | None = None  # made at the first frame, whose length sizes its tables
        self._segment = segment_length(segment, size)
        self._used = 0  # bytes of the current segment coded so far
        pool = pool or (partial(workers_mod.Pool, workers) if workers > 1 else None)
        self._pool = pool((cfg, prior)) if pool and segment else None
        self._pending = bytearray()
        self._total = 0
        self._crc = 0
        self._on_frame = on_frame  # (raw length, bytes written, per-byte code lengths or None if stored)
        self._header = container.build_header(cfg, prior.id if prior else NO_PRIOR, level, members)
        self._header_len = len(self._header)
        self._index: list[list[int]] = []  # per segment written: [raw length, length of its frames]
        self._flushed = False
        self._new_dataset = False  # the next frame starts a new dataset (set by end_frame)
        self._decide, self._mix = decide, mix
        self._mixing: _Start | None = None  # the mixture coding the current dataset, if it is mixed
        self._trial: _Trial | None = None  # the dataset being coded both ways
        self.starts: list[bool] = []  # per dataset after the first: True if it learned from those before it

    def compress(self, data: bytes) -> bytes:
        if self._flushed:
            raise ValueError("compressor already flushed")
        self._pending += memoryview(data)  # bytes-like only: a list of ints is a TypeError, as in lzma
        out = [self._take_header()]
        while len(self._pending) >= self._room():
            n = self._room()
            out.append(self._frame(bytes(self._pending[:n])))
            del self._pending[:n]
        return b"".join(out)

    def end_frame(self) -> bytes:
        """Code what is pending as a (short) frame now, so that later input is coded after it.

        Lanes of one frame are coded side by side; joint compression ends a frame at each dataset
        boundary so that the next dataset really comes after what the model learned from this one.
        The next frame is flagged as a new dataset: it is coded by the stream's model mixed with a
        fresh one, or afresh where that codes the dataset smaller (see the class).
        """
        if self._segment:
            raise ValueError("datasets of a joint stream need a stream of one segment (segment=0)")
        out = self._end()
        self._new_dataset = self._total > 0
        return out

    def flush(self) -> bytes:
        if self._pool and not self._pool.started:  # one segment: coded here, without starting workers
            self._pool.close()
            self._pool = None
        out = self._end()
        if self._pool:
            out += b"".join(self._collected(self._pool.drain()))
            self._pool.close()
        self._flushed = True
        return out + container.build_end(self._total, self._crc, self._header_len, self._index)

    def restart_learning(self) -> None:
        """After end_frame(): the stream's model keeps its count statistics and the match model's
        history, but its network, mixer and bonuses go back to the prior's fresh state. For
        compression distances (tools/joint.ncd_matrix) only: no decoder does this, so what is
        written afterwards does not decode."""
        if self._at is None or self._pending or self._trial or self._pool:
            raise ValueError("restart_learning() needs a dataset ended in this process")
        pred = self._at.engine.pred
        fresh = Engine(self._at.engine.cfg, self._prior, self._threads, pred.policy, compiled=pred.kernels is not None)
        pred.restart_learning(fresh.pred)

    def _end(self) -> bytes:
        out = [self.compress(b"")]
        if self._pending:
            out.append(self._frame(bytes(self._pending)))
            self._pending.clear()
        out.append(self._settle())
        return b"".join(out)

    def _room(self) -> int:
        """Bytes the next frame takes: a frame's worth, or what is left of the segment (in workers: a segment)."""
        if not self._segment:
            return self._cfg.frame_size
        left = self._segment - self._used % self._segment
        return left if self._pool else min(self._cfg.frame_size, left)

    def _take_header(self) -> bytes:
        h, self._header = self._header, b""
        return h

    def _frame(self, raw: bytes) -> bytes:
        """The frames of raw once written (b"" while a dataset or a worker's segment is pending)."""
        starts_segment = self._segment > 0 and self._used > 0 and self._used % self._segment == 0
        first = self._total == 0
        self._used += len(raw)
        self._total += len(raw)
        self._crc = zlib.crc32(raw, self._crc)
        if self._pool:  # raw is a whole segment
            return b"".join(self._collected(self._pool.compress(raw, first)))
        kind = _kind(self._cfg, raw, self._new_dataset)
        cfg, prior, threads = self._cfg, self._prior, self._threads
        new_dataset, self._new_dataset = self._new_dataset, False
        if self._at is None or starts_segment:
            self._at, self._mixing = _afresh(cfg, prior, threads, self._progress, len(raw)), None
        elif new_dataset:
            self._mixing = _mixed(self._at, cfg, prior, threads, len(raw)) if self._mix else None
            if self._decide:  # progress counts the dataset once: the fresh start counts once it is chosen
                self._trial = _Trial(_afresh(cfg, prior, threads, None, len(raw)))
        t, costs = self._trial, self._on_frame is not None
        learned = _code(raw, kind, self._mixing or self._at, mixed=new_dataset and self._mixing is not None,
                        segment=starts_segment, costs=costs)
        if t is None:
            return self._emit(learned)
        t.fresh.append(_code(raw, kind, t.at, fresh=not t.fresh, costs=costs))
        t.learned.append(learned)
        return b""

    def _collected(self, segments: list[tuple[int, bytes]]) -> list[bytes]:
        """Segments that workers finished, in order: (raw length, frames)."""
        for n, frames in segments:
            self._index.append([n, len(frames)])
            if self._progress:
                self._progress(n)
        return [frames for _, frames in segments]

    def _settle(self) -> bytes:
        """The frames of the dataset coded both ways: the smaller way's, and its model goes on."""
        t, self._trial = self._trial, None
        if t is None:
            return b""
        # a tie (a dataset stored either way) keeps what the stream learned, for the datasets after it
        learned = sum(len(c.frame) for c in t.learned) <= sum(len(c.frame) for c in t.fresh)
        if not learned:  # else the stream's model goes on, having learned from the dataset (in the mixture)
            self._at, self._mixing = t.at, None
            t.at.engine.progress = self._progress
        self.starts.append(learned)
        return b"".join(self._emit(c) for c in (t.learned if learned else t.fresh))

    def _emit(self, c: _Coded) -> bytes:
        _tally(self._index, c.frame[0] & container.SEGMENT, c.raw_len, len(c.frame))
        if self._on_frame:
            self._on_frame(c.raw_len, len(c.frame), c.costs)
        return c.frame


def _tally(index: list[list[int]], starts_segment: bool, raw_len: int, frame_len: int) -> None:
    """Count a frame into the seek table (the stream's first frame starts its first segment)."""
    if starts_segment or not index:
        index.append([0, 0])
    index[-1][0] += raw_len
    index[-1][1] += frame_len


ModelResolver = Callable[[str], Prior | None]


class _FrameDecoder:
    """Decodes the frames of a stream, or of one of its segments, in order (one at a time)."""

    def __init__(self, cfg: CodecConfig, prior: Prior | None, threads, progress: Progress | None):
        self.cfg, self._prior, self._threads, self._progress = cfg, prior, threads, progress
        self._engine: Engine | None = None  # the stream's model
        self._mixed: Engine | None = None  # the mixture coding the current dataset, if it is mixed
        self._joiner: longrange.Joiner | None = None

    def frame(self, f: container.FrameHead, payload: bytes) -> bytes:
        """The bytes of the frame with head f and this payload (checked against its checksum)."""
        if f.frame.new_dataset or f.segment:
            self._mixed = None
        if self._engine is None or f.fresh or f.segment:  # the stream, a segment, or a dataset started afresh
            self._engine = _fresh_engine(self.cfg, self._prior, self._threads, self._progress, f.raw_len)
        elif f.mixed:
            self._mixed = Engine.mixing(self._engine, _fresh_engine(self.cfg, self._prior, self._threads, None,
                                                                     f.raw_len))
        engine = self._mixed or self._engine
        if self._joiner is None or f.segment:
            self._joiner = longrange.Joiner(self.cfg.long_window) if self.cfg.long_window else None
        delta = payload[0] if f.delta else 0
        if f.delta:
            if filters.delta_variant(delta) is None:
                raise CorruptError("unknown delta filter")
            payload = payload[1:]
        refs, used = longrange.unpack(payload, f.raw_len) if f.long else ([], 0)
        body = payload[used:]
        n_lit = f.raw_len - sum(length for _, length, _ in refs)
        if n_lit < 0:
            raise CorruptError("long-range references longer than their frame")
        if f.kind == container.STORED:
            if len(body) != n_lit:
                raise CorruptError("frame payload length out of range")
            if body:
                engine.encode_frame(body, f.frame, code=False)
            literals = body
        else:
            if not (n_lit and body and len(body) % 4 == 0):
                raise CorruptError("frame payload length out of range")
            literals = engine.decode_frame(body, n_lit, f.frame)
        raw = self._joiner.join(refs, literals, f.raw_len) if self._joiner else literals
        if refs:  # the engine counted the literals as it decoded them
            engine._tick(f.raw_len - n_lit)
        if f.x86:
            raw = filters.x86_decode(raw)
        elif delta:
            raw = filters.delta_decode(raw, delta)
        if zlib.crc32(raw) != f.crc:
            raise CorruptError("frame checksum mismatch (damaged data)")
        return raw


def decode_segment(cfg: CodecConfig, prior: Prior | None, frames: bytes, threads=None, stop: int | None = None) -> bytes:
    """The bytes of one whole segment's frames (what a worker does), or of its frames up to the one
    that holds byte `stop` (random access)."""
    dec, out, pos, head, n = _FrameDecoder(cfg, prior, threads, None), [], 0, container.FRAME_HEAD.size, 0
    while pos < len(frames) and (stop is None or n < stop):
        f = container.parse_frame_head(frames[pos : pos + head], cfg)
        if pos + head + f.pay_len > len(frames) or (f.segment and pos > 0):
            raise CorruptError("the seek table does not match the frames")
        out.append(dec.frame(f, frames[pos + head : pos + head + f.pay_len]))
        n += f.raw_len
        pos += head + f.pay_len
    return b"".join(out)


class Decompressor:
    """Incremental decompressor of one stream, in the manner of lzma.LZMADecompressor.

    Feed decompress() chunks. `eof` turns True after the end record; bytes after it are kept in
    `unused_data` (another stream may follow, as api.iter_decompress handles). `needs_input` is
    False while decoded bytes are waiting because of an earlier max_length. With `workers` > 1 the
    segments of a segmented stream are decoded in that many processes side by side.
    """

    def __init__(self, resolve_model: ModelResolver, *, threads=None, progress: Progress | None = None,
                 workers: int = 1, pool: PoolMaker | None = None):
        self._resolve = resolve_model
        self._make_pool = pool or (partial(workers_mod.Pool, workers) if workers > 1 else None)
        self._threads = threads
        self._progress = progress
        self._buf = bytearray()
        self._out = bytearray()  # decoded but not yet returned (max_length)
        self._dec: _FrameDecoder | None = None
        self._pool: workers_mod.Pool | None = None
        self._seg: list[tuple[container.FrameHead, bytes]] = []  # (head, frame) of the segment gathered for a worker
        self._seg_raw = 0  # ... and their bytes once decoded
        self._inline = False  # the current segment is too long for a worker: decoded here
        self._total = 0
        self._crc = 0
        self._header_len = 0
        self._index: list[list[int]] = []  # the seek table the frames make, checked against the stream's
        self.eof = False
        self.needs_input = True
        self.unused_data = b""
        self.header: container.Header | None = None

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        """Decoded bytes, at most max_length of them (all that the input allows when negative)."""
        if self.eof and not self._out:
            raise EOFError("already at the end of the stream")
        self._buf += memoryview(data)
        starved = False
        while not self.eof and (max_length < 0 or len(self._out) < max_length):
            piece = self._step()
            if piece is None:
                starved = True
                break
            self._out += piece
        if self.eof and self._buf:
            self.unused_data, self._buf = bytes(self._buf), bytearray()
        n = len(self._out) if max_length < 0 else min(max_length, len(self._out))
        out = bytes(self._out[:n])
        del self._out[:n]
        self.needs_input = starved and not self._out
        return out

    def _step(self) -> bytes | None:
        """Consume one header or frame from the buffer; None when more input is needed."""
        buf = self._buf
        if self.header is None:
            n = container.header_length(bytes(buf[: container.HEADER_FIXED]))
            if n is None or len(buf) < n:
                return None
            self.header = h = container.parse_header(bytes(buf[:n]))
            prior = self._resolve(h.model)
            if prior is not None and not prior.fits(h.config.model, h.config.orders):
                raise UnsupportedError(f"model {prior.id} does not fit these settings")
            self._dec = _FrameDecoder(h.config, prior, self._threads, self._progress)
            if self._make_pool:
                self._pool = self._make_pool((h.config, prior))
            self._header_len = n
            del buf[:n]
            return b""
        if not buf:
            return None
        if buf[0] == container.END:
            need = container.end_bound(len(self._index))
            try:
                end = container.parse_end(bytes(buf[:need]))
            except CorruptError:
                if len(buf) < need:  # perhaps only incomplete: wait (at the input's end, it is truncated)
                    return None
                raise
            out = self._checked(*self._drain())
            if end.total != self._total or end.crc != self._crc:
                raise CorruptError("stream checksum or length mismatch")
            if end.header_len != self._header_len or end.segments != [tuple(x) for x in self._index]:
                raise CorruptError("the seek table does not match the stream")
            del buf[: end.size]
            self.eof = True
            return out
        head = container.FRAME_HEAD.size
        if len(buf) < head:
            return None
        f = container.parse_frame_head(bytes(buf[:head]), self.header.config)
        if len(buf) < head + f.pay_len:
            return None
        frame = bytes(buf[: head + f.pay_len])
        del buf[: head + f.pay_len]
        _tally(self._index, f.segment, f.raw_len, len(frame))
        if self._pool is None:
            return self._checked([], [self._dec.frame(f, frame[head:])])
        done = self._submit() if f.segment else []
        if f.segment:
            self._inline = False
        if self._inline:
            return self._checked(done, [self._dec.frame(f, frame[head:])])
        self._seg.append((f, frame))
        self._seg_raw += f.raw_len
        if self._seg_raw > MAX_SEGMENT:  # not made by a segmenting encoder: decode it here, after the others
            self._inline = True
            return self._checked(done + self._pool.drain(), self._here())
        return self._checked(done + self._pool.ready())

    def _here(self) -> list[bytes]:
        """The gathered segment's bytes, decoded in this process."""
        head = container.FRAME_HEAD.size
        out = [self._dec.frame(f, fr[head:]) for f, fr in self._seg]
        self._seg, self._seg_raw = [], 0
        return out

    def _submit(self) -> list[bytes]:
        """Give the gathered segment to a worker; the results now due."""
        if not self._seg:
            return []
        frames = b"".join(fr for _, fr in self._seg)
        self._seg, self._seg_raw = [], 0
        return self._pool.decompress(frames)

    def _drain(self) -> tuple[list[bytes], list[bytes]]:
        """At the end record: (segments the workers still owe, the only segment if it is decoded here)."""
        if self._pool is None:
            return [], []
        if not self._pool.started:  # one segment: no workers are started for it
            return [], self._here()
        owed = self._submit() + self._pool.drain()
        self._pool.close()
        return owed, []

    def _checked(self, from_workers: list[bytes], here: list[bytes] = ()) -> bytes:
        """Decoded bytes in stream order: the workers' segments, then those decoded in this process."""
        for piece in from_workers:
            if self._progress:  # the engines of this process tick by themselves
                self._progress(len(piece))
        raw = b"".join([*from_workers, *here])
        self._total += len(raw)
        self._crc = zlib.crc32(raw, self._crc)
        return raw


__all__ = ["Compressor", "Decompressor", "CorruptError", "UnsupportedError"]

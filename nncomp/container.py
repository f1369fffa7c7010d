"""The .nnc container: a header with every setting decoding needs, then checksummed frames.

    header:  magic "\\x8eNNC" | version u8 | body length (varint) | body | crc32(body) u32
    body:    level u8 | tag (4 bytes: a hash of the settings and the prior's id) | [JSON: "model" when the
             prior is not the level's own, "codec" when the settings are not the level's, "members" of an
             archive]: a file of a level with its own prior has a header of 15 bytes
    frame:   kind u8 (0 stored, 1 coded; +2 starts a new dataset, +4 binary, +8 long-range references,
             +16 the new dataset starts from the prior's fresh state, +32 a segment starts: the model
             and the long-range window start afresh, so the frames up to the next segment decode alone,
             +64 the new dataset is coded by the stream's model mixed with a fresh one, +128 the frame's
             bytes were coded as the x86 filter rewrote them: filters.py)
             | raw length u32 | payload length u32 | crc32(raw) u32 | record length u16 (0: none; +0x8000 the
             frame is a 1-bit image, where the settings have `images`; +0x4000 the frame's bytes were
             coded as the delta filter made them) | payload
    payload: [the delta filter's variant u8 (filters.delta_code), with +0x4000] | [references
             (longrange.pack), with +8] | the literals: range-coded words (coded) or as they are (stored)
    end:     kind u8 = 0xFF | total raw length (varint) | crc32 of all raw bytes u32 | seek table
             | crc32 of the end record before it u32 | length of what lies between kind and this u32
    seek table: header length, number of segments, then per segment its raw length and the length
             of its frames (LEB128 varints): read from the file's end, it locates every segment

Fixed-size integers are big-endian; varints are LEB128 (varint.py). Parsing is strict: every length
is checked against what the header allows before anything is allocated, and any inconsistency raises
CorruptError.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from typing import BinaryIO, NamedTuple

from . import varint
from .config import LEVEL_MODELS, LEVELS, CodecConfig, level_config
from .errors import TRUNCATED, CorruptError, UnsupportedError
from .contexts import Frame
from .contexts.bitmap import may_speak
from .contexts.record import MAX_PERIOD

MAGIC = b"\x8eNNC"
VERSION = 35  # of the format: a change of coded bytes bumps it (history: CHANGELOG.md)
# Versions this nncomp decodes: the older ones are this one with config.ADDED off and config.BEFORE's
# settings (CHANGELOG.md).
READS = (23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35)
MAX_HEADER_BODY = 1 << 22  # room for the member list of a large archive
NO_PRIOR = "none"  # model id of a stream that starts from seeded random weights
STORED, CODED, END = 0, 1, 0xFF
NEW_DATASET = 0x02  # flag on a frame's kind: a new dataset of a joint stream starts here
BINARY = 0x04  # flag on a frame's kind: binary data, coded with the mixing weights of binary frames
LONG = 0x08  # flag on a frame's kind: the payload starts with long-range references
FRESH = 0x10  # flag on a new dataset's first frame: the model starts afresh there, as for a file alone
SEGMENT = 0x20  # flag on a segment's first frame (not the stream's): nothing before it is needed to decode it
MIXED = 0x40  # flag on a new dataset's first frame: the dataset is coded by the stream's model mixed with a fresh one
X86 = 0x80  # flag on a frame's kind: its bytes were coded as filters.x86_encode made them
FRAME_HEAD = struct.Struct(">BIIIH")  # kind, raw length, payload length, crc32 of raw, record length
PIXELS = 0x8000  # flag on the record length (where the settings have `images`): the frame is a 1-bit image
DELTA = 0x4000  # flag on the record length: the payload starts with the delta filter's variant (filters.py)
END_TAIL = struct.Struct(">II")  # crc32 of the end record before it, length of its body
END_MIN = 1 + 1 + 4 + 2 + END_TAIL.size  # an end record's size with an empty stream and seek table
HEADER_FIXED = len(MAGIC) + 1 + 4  # bytes that hold a header's length (its varint takes at most 4)


class FrameHead(NamedTuple):
    kind: int  # STORED or CODED
    frame: Frame  # what the model is told about the frame: new dataset, record length, binary
    raw_len: int
    pay_len: int
    crc: int
    long: bool = False  # the payload starts with long-range references
    fresh: bool = False  # the model starts afresh here
    segment: bool = False  # a segment starts here: the model and the long-range window start afresh
    mixed: bool = False  # the dataset starting here is coded by the stream's model mixed with a fresh one
    x86: bool = False  # the frame's bytes were coded through the x86 filter (filters.py)
    delta: bool = False  # the frame's bytes were coded through the delta filter; its variant starts the payload


class Header(NamedTuple):
    config: CodecConfig
    model: str  # id of the prior the weights start from ("none": seeded random weights)
    level: int
    members: list[tuple[str, int]] | None  # an archive's (relative path, size) in stream order


def level_model_id(level: int) -> str | None:
    """Id of the prior a stream of this level names by leaving it out: the level's built-in prior
    (None where this installation lacks it, so that streams name it), or none for a level without one."""
    from .prior import builtin  # late: prior imports model, which config already needs

    name = LEVEL_MODELS.get(level, "default")
    if name == NO_PRIOR:
        return NO_PRIOR
    p = builtin(name)
    return p.id if p is not None else None


def tag(cfg: CodecConfig, model_id: str) -> bytes:
    """Four bytes of a hash of the settings and the prior's id: a decoder whose level presets or
    built-in prior differ from the encoder's refuses the stream rather than misread it."""
    body = json.dumps({"codec": cfg.to_dict(), "model": model_id}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).digest()[:4]


def build_header(cfg: CodecConfig, model_id: str, level: int, members: list[tuple[str, int]] | None = None) -> bytes:
    extra: dict = {}
    if model_id != level_model_id(level):
        extra["model"] = model_id
    if level not in LEVELS or cfg != level_config(level):
        extra["codec"] = cfg.to_dict()  # a level's own settings go by the tag alone: small files stay small
    if members is not None:
        extra["members"] = [[p, n] for p, n in check_members(members)]
    return pack_header(level, tag(cfg, model_id), extra)


def pack_header(level: int, tag: bytes, extra: dict) -> bytes:
    """A header of these fields, checksummed (build_header chooses them; tests forge them)."""
    body = bytes([level]) + tag + (json.dumps(extra, sort_keys=True, separators=(",", ":")).encode() if extra else b"")
    if len(body) > MAX_HEADER_BODY:
        raise ValueError("too many archive members for one header")
    head = bytearray(MAGIC + bytes([VERSION]))
    varint.put(head, len(body))
    return bytes(head) + body + struct.pack(">I", zlib.crc32(body))


def check_member_path(path: str) -> str:
    """A member path must stay inside the directory it is extracted to: relative, no '..', no oddities,
    and encodable as a file name (lone surrogates only as the undecodable bytes of os.fsdecode)."""
    if (not isinstance(path, str) or not 0 < len(path) <= 4096 or "\0" in path or "\\" in path
            or path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/"))):
        raise ValueError(f"unsafe member path {path!r}")
    try:
        path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ValueError(f"member path {path!r} is not a valid file name") from None
    return path


def check_members(members: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Safe paths, each restored to a place of its own: no repeats, no member inside another member."""
    paths = [check_member_path(p) for p, _ in members]
    seen: set[str] = set()
    for p in paths:
        if p in seen:
            raise ValueError(f"member path {p!r} appears twice")
        seen.add(p)
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise ValueError(f"member {'/'.join(parts[:i])!r} is a file but {p!r} needs it as a directory")
    return list(members)


def header_length(prefix: bytes) -> int | None:
    """Total header size once the bytes that hold it are available (None if more bytes are needed):
    HEADER_FIXED bytes always suffice."""
    if not MAGIC.startswith(prefix[: len(MAGIC)]):
        raise CorruptError("not an .nnc stream (bad magic)")
    if len(prefix) <= len(MAGIC):
        return None
    if prefix[4] not in READS:
        raise UnsupportedError(f"format version {prefix[4]} is not supported (this nncomp reads versions "
                               f"{READS[0]} to {READS[-1]})")
    try:
        n, pos = varint.get(prefix, 5, "header", bits=28)
    except CorruptError:
        if len(prefix) < HEADER_FIXED:
            return None
        raise
    if not 5 <= n <= MAX_HEADER_BODY:
        raise CorruptError("header length out of range")
    return pos + n + 4


def read_header(f: BinaryIO) -> tuple[Header, bytes]:
    """The header at the start of the binary file f, and its bytes."""
    fixed = f.read(HEADER_FIXED)  # never more than a header: the shortest takes 15 bytes
    n = header_length(fixed)
    raw = fixed + f.read(n - len(fixed)) if n else fixed
    if n is None or len(raw) != n:
        raise CorruptError(TRUNCATED)
    return parse_header(raw), raw


def unpack_header(raw: bytes) -> tuple[int, bytes, dict]:
    """(level, tag, JSON fields) of a complete header as measured by header_length(), its checksum checked."""
    _, pos = varint.get(raw, 5, "header")
    body, (crc,) = raw[pos:-4], struct.unpack(">I", raw[-4:])
    if zlib.crc32(body) != crc:
        raise CorruptError("header checksum mismatch")
    try:
        extra = json.loads(body[5:]) if len(body) > 5 else {}
        if not isinstance(extra, dict) or not extra.keys() <= {"model", "codec", "members"}:
            raise ValueError("unexpected header fields")
    except (ValueError, TypeError, RecursionError) as e:
        raise CorruptError(f"invalid header: {e}") from None
    return body[0], bytes(body[1:5]), extra


def parse_header(raw: bytes) -> Header:
    """The settings of a complete header as measured by header_length()."""
    level, want, d = unpack_header(raw)
    try:
        if "model" in d:
            model = d["model"]
            if not isinstance(model, str) or len(model) > 200:
                raise ValueError("bad model")
        else:
            model = level_model_id(level) if level in LEVELS else NO_PRIOR
            if model is None:
                raise UnsupportedError(f"this stream needs level {level}'s built-in model, which is not installed")
        if "codec" in d:
            cfg = CodecConfig.from_dict(d["codec"])
        elif level in LEVELS:
            cfg = level_config(level, raw[4])
        else:
            raise ValueError(f"no settings for level {level}")
        members = None
        if "members" in d:
            if not isinstance(d["members"], list):
                raise ValueError("bad member list")
            members = []
            for m in d["members"]:
                if not (isinstance(m, list) and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], int)
                        and not isinstance(m[1], bool) and 0 <= m[1] < 2**62):
                    raise ValueError("bad member entry")
                members.append((m[0], m[1]))
            members = check_members(members)
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        raise CorruptError(f"invalid header: {e}") from None
    if tag(cfg, model) != want:
        raise UnsupportedError(f"stream made with level-{level} settings or a prior this nncomp does not have"
                               if "codec" not in d and "model" not in d else "stream made with settings this nncomp does not match")
    return Header(cfg, model, level, members)


def build_frame(kind: int, raw: bytes, payload: bytes, frame: Frame = Frame(), long: bool = False,
                fresh: bool = False, segment: bool = False, mixed: bool = False, x86: bool = False,
                images: bool = True, delta: int = 0) -> bytes:
    """A frame; `images` as the settings say (without it the image flag is implied, not written);
    `delta`: the delta filter's variant the frame was coded through (0: none)."""
    flags = ((NEW_DATASET if frame.new_dataset else 0) | (BINARY if frame.binary else 0) | (LONG if long else 0)
             | (FRESH if fresh else 0) | (SEGMENT if segment else 0) | (MIXED if mixed else 0) | (X86 if x86 else 0))
    period = frame.period | (PIXELS if images and frame.pixels else 0) | (DELTA if delta else 0)
    payload = (bytes([delta]) if delta else b"") + payload
    return FRAME_HEAD.pack(kind | flags, len(raw), len(payload), zlib.crc32(raw), period) + payload


class End(NamedTuple):
    total: int  # raw bytes of the stream
    crc: int  # crc32 of them
    header_len: int  # bytes of the stream's header: its first frame starts there
    segments: list[tuple[int, int]]  # (raw length, length of its frames) per segment, in order
    size: int  # bytes of the end record


def build_end(total: int, crc: int, header_len: int, segments: list[tuple[int, int]]) -> bytes:
    body = bytearray()
    varint.put(body, total)
    body += struct.pack(">I", crc)
    for v in (header_len, len(segments), *(v for seg in segments for v in seg)):
        varint.put(body, v)
    record = bytes([END]) + body
    return record + END_TAIL.pack(zlib.crc32(record), len(body))


def end_bound(segments: int) -> int:
    """The most bytes an end record listing this many segments can take."""
    return 1 + 10 + 4 + 10 * (2 + 2 * segments) + END_TAIL.size


def end_size(tail: bytes) -> int:
    """The size of the end record whose last END_TAIL.size bytes are `tail` (to read it from a file's end)."""
    (_, n) = END_TAIL.unpack(tail)
    return 1 + n + END_TAIL.size


def parse_end(buf) -> End:
    """The end record at the start of buf (which may hold more after it), checked; CorruptError if damaged."""
    if len(buf) < END_MIN:
        raise CorruptError(TRUNCATED)
    if buf[0] != END:
        raise CorruptError("damaged end record")
    total, pos = varint.get(buf, 1, "end record")
    if len(buf) < pos + 4:
        raise CorruptError(TRUNCATED)
    (crc,) = struct.unpack_from(">I", buf, pos)
    header_len, pos = varint.get(buf, pos + 4, "seek table")
    count, pos = varint.get(buf, pos, "seek table")
    if count > len(buf) - pos or header_len > MAX_HEADER_BODY + HEADER_FIXED + 4:
        raise CorruptError("damaged seek table")
    table = []
    for _ in range(count):
        raw, pos = varint.get(buf, pos, "seek table")
        frames, pos = varint.get(buf, pos, "seek table")
        table.append((raw, frames))
    if len(buf) < pos + END_TAIL.size:
        raise CorruptError(TRUNCATED)
    body_crc, n = END_TAIL.unpack_from(buf, pos)
    if zlib.crc32(bytes(buf[:pos])) != body_crc or n != pos - 1:
        raise CorruptError("damaged seek table")
    if sum(r for r, _ in table) != total or any(r == 0 or f == 0 for r, f in table):
        raise CorruptError("seek table does not match the stream's length")
    return End(total, crc, header_len, table, pos + END_TAIL.size)


def parse_frame_head(buf: bytes, cfg: CodecConfig) -> FrameHead:
    """A frame head, checked against the settings."""
    kind, raw_len, pay_len, crc, period = FRAME_HEAD.unpack_from(buf)
    flags = (NEW_DATASET, BINARY, LONG, FRESH, SEGMENT, MIXED, X86)
    new_dataset, binary, long, fresh, segment, mixed, x86 = (bool(kind & f) for f in flags)
    kind &= ~(NEW_DATASET | BINARY | LONG | FRESH | SEGMENT | MIXED | X86)
    if kind not in (STORED, CODED):
        raise CorruptError(f"unknown frame kind {kind}")
    if fresh and not new_dataset:
        raise CorruptError("a fresh start outside a dataset boundary")
    if mixed and (fresh or not new_dataset):
        raise CorruptError("a mixed start outside a dataset boundary or with a fresh one")
    if segment and new_dataset:
        raise CorruptError("a segment starting at a dataset boundary")
    if not 0 < raw_len <= cfg.frame_size:
        raise CorruptError("frame length out of range")
    delta = bool(period & DELTA)
    if delta and x86:
        raise CorruptError("a frame with both filters")
    pay_len -= delta  # (the rules below are for what follows the filter's byte)
    if long:  # references and literals are checked against each other when they are read
        if not cfg.long_window or not 4 <= pay_len <= 16 * raw_len + 4:
            raise CorruptError("frame payload length out of range")
    elif (kind == STORED and pay_len != raw_len) or (kind == CODED and not (0 < pay_len < raw_len and pay_len % 4 == 0)):
        raise CorruptError("frame payload length out of range")
    period &= ~DELTA
    flagged = False  # without `images` the bit stays in the length, which is then out of range
    if cfg.images:
        flagged, period = bool(period & PIXELS), period & ~PIXELS
    if period and not (cfg.record and 2 <= period <= MAX_PERIOD):
        raise CorruptError("frame record length out of range")
    may_be_image = cfg.bitmap and may_speak(binary, period)
    if flagged and not may_be_image:
        raise CorruptError("an image flag on a frame that cannot be an image")
    # settings without `images` (those of older streams) take every frame that may be an image for one
    frame = Frame(new_dataset, period, binary, flagged if cfg.images else may_be_image)
    return FrameHead(kind, frame, raw_len, pay_len + delta, crc, long, fresh, segment, mixed, x86, delta)


def frame_heads(stream: bytes) -> list[tuple[int, FrameHead]]:
    """(offset, head) of every frame of a complete, well-formed stream (for tests and tools)."""
    header, raw = read_header(io.BytesIO(stream))
    pos, cfg, out = len(raw), header.config, []
    while stream[pos] != END:
        head = parse_frame_head(stream[pos : pos + FRAME_HEAD.size], cfg)
        out.append((pos, head))
        pos += FRAME_HEAD.size + head.pay_len
    return out

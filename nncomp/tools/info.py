"""Describe a .nnc stream without decoding it (header, frames, sizes), for `nncomp info`."""

from __future__ import annotations

from typing import BinaryIO

from typing import Callable

from rich.table import Table
from rich.text import Text

from .. import container
from ..errors import TRUNCATED, CorruptError


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _read(f: BinaryIO, n: int) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise CorruptError(TRUNCATED)
    return b


def describe(f: BinaryIO) -> dict:
    """Header settings and frame statistics of the stream in f; reads payloads only to skip them."""
    header, head = container.read_header(f)
    version = head[4]
    cfg = header.config
    frames = stored = binary = images = x86 = delta = long = raw = packed = datasets = fresh = mixed = segments = 0
    periods: set[int] = set()  # record lengths the frames use
    largest = 0  # the longest first frame of a stream or of a dataset with a fresh model: it sizes the tables
    packed += len(head)
    while True:
        kind = _read(f, 1)
        if kind[0] == container.END:
            tail = kind + f.read()
            end = container.parse_end(tail)
            packed += end.size
            if end.total != raw or len(end.segments) != segments:
                raise CorruptError("stream length mismatch")
            if len(tail) > end.size:
                raise CorruptError("trailing data after the end of the stream")
            break
        rest = _read(f, container.FRAME_HEAD.size - 1)
        head = container.parse_frame_head(kind + rest, cfg)
        f.seek(head.pay_len, 1) if f.seekable() else _read(f, head.pay_len)
        if frames == 0 or head.fresh or head.mixed or head.segment:
            largest = max(largest, head.raw_len)
        segments += frames == 0 or head.segment
        frames += 1
        stored += head.kind == container.STORED
        binary += head.frame.binary
        images += head.frame.pixels
        x86 += head.x86
        delta += head.delta
        long += head.long
        datasets += head.frame.new_dataset
        fresh += head.fresh
        mixed += head.mixed
        if head.frame.period:
            periods.add(head.frame.period)
        raw += head.raw_len
        packed += container.FRAME_HEAD.size + head.pay_len
    return dict(version=version, level=header.level, model=header.model, config=cfg.fitted(largest), frames=frames,
                stored=stored, binary=binary, images=images, x86=x86, delta=delta, long=long, periods=periods, raw=raw, packed=packed, members=header.members,
                datasets=datasets + (frames > 0), fresh=fresh, mixed=mixed, segments=segments)


def render(name: str, s: dict) -> Table:
    """A table of one stream's settings and sizes; `name` is printed as it is (never read as markup)."""
    cfg = s["config"]
    m = cfg.model
    t = Table(title=Text(name), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    ratio = s["raw"] / s["packed"] if s["packed"] else 0.0
    bpb = 8.0 * s["packed"] / s["raw"] if s["raw"] else 0.0
    rows = [
        ("format", f"nnc version {s['version']}"),
        ("level", str(s["level"])),
        ("model", s["model"]),
        ("transformer", f"{_n(m.n_layer, 'layer')}, d={m.d_model}, {_n(m.n_head, 'head')}, mlp {m.d_mlp}, block {m.block}, "
                        f"lr {m.lr}" + (f", learns every {m.learn_every} blocks" if m.learn_every > 1 else "")),
        ("context orders", ", ".join(map(str, cfg.orders)) + f" (2^{cfg.hash_bits} rows)"
                           + (", words" if cfg.words else "") + (", columns" if cfg.columns else "")),
        ("record contexts", (f"record length {', '.join(map(str, sorted(s['periods'])))}" if s["periods"] else "no records found")
                            if cfg.record else "off"),
        ("match model", f"2^{cfg.match_bits} entries" if cfg.match_bits else "none"),
        ("long-range", f"repeats of {cfg.long_min:,}+ bytes within {cfg.long_window >> 20:,} MiB as references "
                       f"({_n(s['long'], 'frame')} with some)" if cfg.long_window else "off"),
        ("lanes", f"up to {cfg.lanes} (min {cfg.min_lane:,} bytes each"
                  + (f"; up to {cfg.short_lanes} of {cfg.short_lane:,} in shorter frames)" if cfg.short_lane else ")")),
        ("frames", f"{_n(s['frames'], 'frame')} of up to {cfg.frame_size:,} bytes ({s['stored']} stored, {s['binary']} binary, "
                   f"{s['images']} bitmap, {s['x86']} x86 code, {s['delta']} 16-bit samples)"),
        ("datasets", f"{s['datasets']:,} ({s['fresh']} started afresh, as if alone; {s['mixed']} mixed with a fresh model)"),
        ("segments", f"{s['segments']:,} (each decodes without the others; -T N decodes N at once)"),
        ("memory to decode", f"up to about {_memory(s) / 2**20:,.0f} MiB (tables as they fill, weights, activations; plus "
                             "Python and torch)"),
        ("compressed", f"{s['packed']:,} bytes"),
        ("original", f"{s['raw']:,} bytes"),
        ("ratio", f"{ratio:.3f}  ({bpb:.3f} bits/byte)"),
    ]
    if s["members"] is not None:
        rows.insert(0, ("archive", _n(len(s["members"]), "member")))
    for k, v in rows:
        t.add_row(k, v)
    return t


def render_members(s: dict, show: Callable[[str], str] = str) -> Table:
    """An archive's members; `show` makes each path safe to print (control characters escaped)."""
    t = Table(show_header=True, title_justify="left")
    t.add_column("member")
    t.add_column("bytes", justify="right")
    for path, size in s["members"]:
        t.add_row(Text(show(path)), f"{size:,}")
    return t


def render_total(summaries: list[tuple[str, dict]]) -> Table:
    """One line over several streams, as zstd -l ends its list."""
    raw = sum(s["raw"] for _, s in summaries)
    packed = sum(s["packed"] for _, s in summaries)
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    bpb = f", {8.0 * packed / raw:.3f} bits/byte" if raw else ""
    t.add_row("total", f"{_n(len(summaries), 'file')}: {packed:,} bytes compressed, {raw:,} original{bpb}")
    return t


def _memory(s: dict) -> int:
    """Bytes the largest allocations of decoding take: two models at once while a dataset is mixed."""
    return s["config"].memory_estimate() * (2 if s["mixed"] else 1)


def to_json(name: str, s: dict) -> dict:
    """The description of one stream as plain JSON values."""
    cfg = s["config"]
    return {"file": name, "format": s["version"], "level": s["level"], "model": s["model"], "codec": cfg.to_dict(),
            "frames": s["frames"], "stored_frames": s["stored"], "binary_frames": s["binary"], "image_frames": s["images"], "x86_frames": s["x86"], "delta_frames": s["delta"], "long_frames": s["long"],
            "record_lengths": sorted(s["periods"]), "datasets": s["datasets"], "fresh_datasets": s["fresh"],
            "mixed_datasets": s["mixed"], "segments": s["segments"],
            "compressed": s["packed"], "original": s["raw"],
            "decode_memory": _memory(s),
            "members": None if s["members"] is None else [{"path": p, "size": n} for p, n in s["members"]]}

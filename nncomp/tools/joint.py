"""Joint compression: what the model learns from one dataset makes the next one cheaper.

`joint_report` compresses each dataset alone and all of them in one stream, and splits the joint
stream's real size over the datasets by the model's code lengths, so the parts add up exactly to
the total. `ncd_matrix` gives pairwise normalized compression distances. `write_archive` and
`extract` make and unpack solid archives that record each member's relative path and size.
"""

from __future__ import annotations

import copy
import os
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from .. import api
from ..config import DEFAULT_LEVEL
from ..container import check_members
from ..errors import NNCError
from ..fileio import regular_files, temporary_beside

Member = tuple[str, bytes]  # (relative path, contents)


def load_dataset(path: str | Path) -> tuple[str, list[Member]]:
    """A dataset: one file, or a directory's regular files in sorted path order (symlinks skipped)."""
    p = Path(path)
    if p.is_file():
        return p.name, [(p.name, p.read_bytes())]
    if not p.is_dir():
        raise NNCError(f"{path}: no such file or directory")
    base = p.resolve().name or "root"
    members = []
    for f in regular_files(p):
        members.append((f"{base}/{f.relative_to(p).as_posix()}", f.read_bytes()))
    if not members:
        raise NNCError(f"{path}: the directory holds no regular files")
    return base, members


def archive_entries(members: list[Member]) -> list[tuple[str, int]]:
    """(path, size) of each member, checked as an archive header needs them (NNCError otherwise)."""
    try:
        return check_members([(p, len(d)) for p, d in members])
    except ValueError as e:
        raise NNCError(f"cannot make an archive: {e} (members are named by the last part of each path given)") from None


@dataclass
class DatasetCost:
    name: str
    size: int  # bytes
    alone: int  # compressed size on its own
    joint: int  # its share of the joint stream: C(X | datasets before it)
    saving: int  # alone - joint
    saving_pct: float
    learned: bool | None  # coded by what the datasets before it taught mixed with a fresh model (None: the first); else afresh


@dataclass
class JointReport:
    level: int
    datasets: list[DatasetCost]
    separate_total: int  # sum of the sizes alone
    joint_total: int  # real size of the joint stream
    saving: int
    saving_pct: float

    def to_dict(self) -> dict:
        return asdict(self)


def _compress_measured(chunks: list[bytes], level: int, threads, progress):
    """Compress the concatenation of chunks, one dataset each; (stream size, per-chunk share of it,
    adding up exactly, Compressor.starts)."""
    frames: list[tuple[int, int, np.ndarray | None]] = []
    c = api.compressor(level, threads=threads, progress=progress, segment=0,
                       on_frame=lambda raw, size, costs: frames.append((raw, size, costs)))
    total = sum(len(c.compress(ch)) + len(c.end_frame()) for ch in chunks) + len(c.flush())
    return total, _split(total, [len(ch) for ch in chunks], frames), c.starts


def _split(total: int, sizes: list[int], frames) -> list[int]:
    """Share `total` bytes over consecutive chunks of `sizes` bytes: each frame's bytes by the chunks'
    code lengths inside it (by byte counts in stored frames), stream overhead in proportion."""
    bounds = np.cumsum([0] + sizes)
    share = np.zeros(len(sizes))
    pos = 0
    for raw, size, costs in frames:
        weight = costs if costs is not None else np.ones(raw)
        cum = np.concatenate([[0.0], np.cumsum(weight)])
        lo = np.clip(bounds[:-1] - pos, 0, raw)
        hi = np.clip(bounds[1:] - pos, 0, raw)
        part = cum[hi] - cum[lo]
        share += size * part / cum[-1] if cum[-1] > 0 else size * (hi - lo) / raw
        pos += raw
    framed = share.sum()
    share = share + (total - framed) * (share / framed if framed > 0 else np.full(len(sizes), 1 / len(sizes)))
    return _round_preserving_sum(share, total)


def _round_preserving_sum(x: np.ndarray, total: int) -> list[int]:
    """Integers close to x that add up to total (largest remainders get the leftover units)."""
    floor = np.floor(x).astype(np.int64)
    left = total - int(floor.sum())
    order = np.argsort(-(x - floor), kind="stable")
    floor[order[:left]] += 1
    return [int(v) for v in floor]


def joint_report(datasets: list[tuple[str, list[Member]]], level: int = DEFAULT_LEVEL, *, threads=1,
                 progress: Callable[[int], None] | None = None, out: BinaryIO | None = None) -> JointReport:
    """Sizes alone and inside one joint stream (in the order given), and what joint coding saves.

    With `out`, the joint stream is written there as a solid archive of every member.
    """
    blobs = [b"".join(d for _, d in members) for _, members in datasets]
    alone = [_compress_measured([b], level, threads, progress)[0] for b in blobs]
    if out is None:
        total, parts, starts = _compress_measured(blobs, level, threads, progress)
    else:
        total, parts, starts = write_archive([m for _, ms in datasets for m in ms], out, level, threads=threads,
                                             progress=progress, groups=[len(b) for b in blobs])
    learned = _learned(starts, blobs)
    rows = [DatasetCost(name, len(b), a, j, a - j, _pct(a - j, a), s)
            for (name, _), b, a, j, s in zip(datasets, blobs, alone, parts, learned)]
    sep = sum(alone)
    return JointReport(level, rows, sep, total, sep - total, _pct(sep - total, sep))


def _learned(starts: list[bool], blobs: list[bytes]) -> list[bool | None]:
    """Compressor.starts per dataset: None for the first and for empty ones (no frame, no choice)."""
    out, it, seen = [], iter(starts), False
    for b in blobs:
        out.append(next(it) if b and seen else None)
        seen = seen or bool(b)
    return out


def _pct(a: int, b: int) -> float:
    return round(100.0 * a / b, 3) if b else 0.0


def ncd_matrix(datasets: list[tuple[str, bytes]], level: int = DEFAULT_LEVEL, *, threads=1,
               progress: Callable[[int], None] | None = None) -> dict:
    """NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y)) for every ordered pair, and
    C(y|x) = C(xy) - C(x), with C the model's code length in bits.

    Code lengths, not stream sizes: a stream adds a header of about a hundred bytes to every C and
    rounds each to the coder's 4-byte words, while what x teaches a short y is often a few dozen
    bytes, so sizes would bury the signal in a constant and a rounding step. The stream sizes are
    returned too ("single", "pair"), and differ from the code lengths by those alone.

    Each C(xy) continues a copy of the compressor that has seen x, so x is coded once per row rather
    than once per pair, and only that row's compressor is kept (one per dataset would hold every
    dataset's tables at once: gigabytes each at the default level). C(xy) always codes y by x's model
    mixed with a fresh one, as a joint stream does, but without its choice of starting y afresh: where
    x teaches nothing about y the mixture costs about what y costs alone, and less where it teaches
    something, which is the signal a distance needs (x's model going on unmixed, as in format 20,
    costs more than y alone wherever x misleads).

    Unlike a joint stream, x's model meets y with x's statistics only (its counts and the match
    model's history), its network, mixer and bonuses back at the prior's (Compressor.restart_learning):
    what those learn from any sample of code or text helps every other sample of its kind alike,
    which buries what x and y share (docs/decisions.md). So C(xy) is not a joint stream's size, and
    the "pair" sizes returned are those of streams that do not decode.
    """
    names = [n for n, _ in datasets]
    n = len(datasets)
    single, pair = [0] * n, [[0] * n for _ in range(n)]
    bits, pair_bits = [0.0] * n, [[0.0] * n for _ in range(n)]
    frames: list[float] = []  # code length of each frame coded, in bits (a stored frame: 8 per byte)
    on_frame = lambda raw, size, costs: frames.append(float(costs.sum()) if costs is not None else 8.0 * raw)  # noqa: E731
    for i in range(n):
        c0 = api.compressor(level, threads=threads, progress=progress, decide=False, segment=0, on_frame=on_frame)
        frames.clear()
        head = len(c0.compress(datasets[i][1]) + c0.end_frame())
        bits[i] = sum(frames)
        single[i] = head + len(copy.deepcopy(c0).flush())
        c0.restart_learning()
        for j in range(n):
            if i == j:
                continue
            c = copy.deepcopy(c0)
            frames.clear()
            pair[i][j] = head + len(c.compress(datasets[j][1])) + len(c.flush())  # c0 ended x's frame
            pair_bits[i][j] = bits[i] + sum(frames)
    ncd = [[0.0 if i == j else (pair_bits[i][j] - min(bits[i], bits[j])) / max(bits[i], bits[j], 1.0)
            for j in range(n)] for i in range(n)]
    cond = [[0.0 if i == j else pair_bits[i][j] - bits[i] for j in range(n)] for i in range(n)]
    return {"level": level, "names": names, "bits": bits, "pair_bits": pair_bits, "conditional_bits": cond,
            "ncd": ncd, "single": single, "pair": pair}


def write_archive(members: list[Member], out: BinaryIO, level: int = DEFAULT_LEVEL, *, threads=1,
                  progress=None, groups: list[int] | None = None) -> tuple[int, list[int], list[bool]]:
    """A solid archive of members in order, each group of consecutive bytes a dataset (`groups` gives
    their sizes; by default one per member); returns (archive size, each group's share of it,
    Compressor.starts)."""
    entries = archive_entries(members)
    frames: list = []
    c = api.compressor(level, threads=threads, progress=progress, members=entries, segment=0,
                       on_frame=lambda raw, size, costs: frames.append((raw, size, costs)))
    sizes = groups or [n for _, n in entries]
    ends = set(np.cumsum(sizes).tolist())  # a frame ends at every group boundary (see Compressor.end_frame)
    total = pos = 0
    for _, d in members:
        pos += len(d)
        chunk = c.compress(d) + (c.end_frame() if pos in ends else b"")
        out.write(chunk)
        total += len(chunk)
    chunk = c.flush()
    out.write(chunk)
    return total + len(chunk), _split(total + len(chunk), sizes, frames), c.starts


def extract(stream: Iterator[bytes], members: list[tuple[str, int]], dest: Path, force: bool) -> list[Path]:
    """Write the decoded bytes of an archive stream as its members under dest, each atomically.

    Paths were checked when the header was parsed; here they are also resolved, and one that would
    land outside dest (through a symlink already on disk, say) is refused. Nothing is left behind
    on failure: members are renamed into place only once the whole stream checks out, and the
    directories made for them are removed again.
    """
    try:
        dest = dest.resolve()
        targets = [(dest / path).resolve() for path, _ in members]
    except (RuntimeError, OSError) as e:  # a symlink loop: RuntimeError before Python 3.13
        raise NNCError(f"cannot resolve the output directory: {e}") from None
    for (path, _), target in zip(members, targets):
        if dest not in target.parents:
            raise NNCError(f"member {path!r} would be written outside {dest}")
        if target.is_dir():
            raise NNCError(f"{target} is a directory")
        if target.exists() and not force:
            raise NNCError(f"{target} already exists; use -f to overwrite")
    made: list[Path] = []  # directories this extraction created, parents first
    renamed: list[Path] = []  # new files only: an overwritten one (-f) cannot be given back
    existed = {t for t in targets if t.exists()}
    try:
        with ExitStack() as stack:
            done: list[tuple[str, Path]] = []
            buf = bytearray()
            it = iter(stream)
            for (path, size), target in zip(members, targets):
                while len(buf) < size:
                    more = next(it, None)
                    if more is None:
                        raise NNCError("archive ends before its last member")
                    buf += more
                _make_dirs(target.parent, made)
                f, tmp = stack.enter_context(temporary_beside(target))
                f.write(buf[:size])
                f.close()
                done.append((tmp, target))
                del buf[:size]
            for more in it:
                buf += more
            if buf:
                raise NNCError("archive holds more data than its members")
            for tmp, target in done:
                os.replace(tmp, target)
                if target not in existed:
                    renamed.append(target)
    except BaseException:
        for target in renamed:
            target.unlink(missing_ok=True)
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    return targets


def _make_dirs(path: Path, made: list[Path]) -> None:
    """mkdir -p that records each directory it creates."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        d.mkdir()
        made.append(d)

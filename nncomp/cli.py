"""The nncomp command line, in the manner of zstd and xz: a thin layer over nncomp.api.

Besides its subcommands it takes zstd's spelling (`nncomp -d`, `-t`, `-l`, `-1`..`-9`, and no
subcommand at all to compress standard input to standard output), so it works as `tar -I nncomp`.
"""

# No `from __future__ import annotations` here: typer would evaluate every option's annotation from its
# string at each run, a sixth of a small file's time; evaluated once at import they cost nothing more.
import os
import re
import signal
import sys
import time
from collections import deque
from contextlib import ExitStack, contextmanager, nullcontext
from functools import cache, partial
from importlib import import_module
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, Callable, Iterator, Optional

import typer

from . import DEFAULT_LEVEL, __version__
from .errors import NNCError
from .fileio import atomic_output, bytes_left, is_stream, open_output
from .heap import keep_freed_memory

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class _Later:
    """A module imported when first used: these import torch, which takes a second or more, and
    help, --version and usage errors need none of them."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(import_module(self._name, __package__), attr)


api, container, seek = _Later(".api"), _Later(".container"), _Later(".seek")
workers_mod, jointlib, describe_stream = _Later(".workers"), _Later(".tools.joint"), _Later(".tools.info")

SUFFIX = ".nnc"
CHUNK = 1 << 20
MAX_THREADS = 256  # as zstd caps -T: beyond the cores there is nothing to gain, and each thread costs a stack

app = typer.Typer(
    add_completion=True,
    help="Lossless compression with a byte-level transformer that learns while it codes.\n\n"
    "zstd's spelling works too: `nncomp FILE` compresses, `-d` decompresses, `-t` tests, `-l` lists, "
    "`-1`..`-9` set the level; with no arguments nncomp compresses standard input to standard output "
    "(`tar -I nncomp`).",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@cache
def _console(stderr: bool) -> "Console":
    """rich's console for stderr or stdout, made when first needed: importing rich takes a fifth of a
    small file's run, which prints nothing unless asked to."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _text(text: str, **style):
    """Text printed as it is (never read as rich markup), control characters escaped."""
    from rich.text import Text

    return Text(_show(text), **style)


_closed_std: set[int] = set()  # standard descriptors the caller had closed (run() holds them on /dev/null)


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Quit(Exception):
    """Raised by the SIGTERM handler so that clean-up code runs; with a message, what an interrupted
    input had already done."""


# -- options shared by the commands -------------------------------------------------------------
Files = Annotated[Optional[list[str]], typer.Argument(help="Input files; '-' or none reads standard input.")]
OutOpt = Annotated[Optional[str], typer.Option("-o", "--output", help="Write to this file ('-': standard output).")]
StdoutOpt = Annotated[bool, typer.Option("-c", "--stdout", help="Write to standard output.")]
ForceOpt = Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing outputs; write to a terminal.")]
KeepOpt = Annotated[bool, typer.Option("-k", "--keep", help="Keep input files (the default).")]
RmOpt = Annotated[bool, typer.Option("--rm", help="Remove each input file once its output file is complete (not with stdout).")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only errors.")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Print details (settings, speed), also when writing to a pipe.")]
ThreadsOpt = Annotated[Optional[int], typer.Option("-T", "--threads", min=0, max=MAX_THREADS,
                                                   help="CPU threads (default 1), 0: one per core (output is the same for any).")]
WorkersOpt = Annotated[Optional[int], typer.Option("-T", "--threads", min=0, max=MAX_THREADS,
                                                   help="Worker processes that code segments side by side (default 1), "
                                                        "0: one per core (output is the same for any).")]
SegmentOpt = Annotated[Optional[str], typer.Option("--segment", metavar="SIZE",
                                                   help="Cut the input into independent segments of at most SIZE "
                                                        "bytes, equal ones where its size is known (K, M, G suffixes; "
                                                        "0: one segment; default: 3M).")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where the model runs.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", metavar="ADDRESS", help=(
    "Code the segments on the Dask cluster of this scheduler (tcp://HOST:8786) instead of -T local workers; "
    "needs Dask and the same nncomp here and on the workers."))]
PriorOpt = Annotated[Optional[str], typer.Option("--model", help="Custom prior (.nncm) that the input was compressed with.")]
LevelOpt = Annotated[int, typer.Option("-l", "--level", min=1, max=9, help="1 fastest ... 9 strongest.")]


def _version(value: bool) -> None:
    if value:
        print(f"nncomp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """nncomp: compress, decompress, test and inspect .nnc files."""
    keep_freed_memory()  # this process is ours: blocks reuse memory already touched (heap.py)


# -- printing -----------------------------------------------------------------------------------------
def _show(text: str) -> str:
    """Text safe to print: control characters and undecodable bytes escaped (names never reach the terminal raw)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a byte os.fsdecode could not decode
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def _say(text: str) -> None:
    """One line on stderr, printed as it is (never read as rich markup)."""
    _console(True).print(_text(text), soft_wrap=True)


def _fail(name: str, message: str) -> None:
    _console(True).print(_text(f"nncomp: {name}: {message}", style="red"), soft_wrap=True)


def _message(e: Exception) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def _label(src: str) -> str:
    return "stdin" if src == "-" else src


# -- plumbing ---------------------------------------------------------------------------------------
@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM into an exception so temporary files are removed and inputs kept."""

    def handler(signum, frame):
        raise Quit()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _chunks(f: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk


@contextmanager
def _progress(total: int | None, quiet: bool, label: str) -> Iterator[Callable[[int], None] | None]:
    """A transient bar on a terminal (bytes, speed, time left), for any input: coding is slow enough to need it."""
    if quiet or not _console(True).is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = [TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=_console(True), transient=True) as bar:
        task = bar.add_task(_show(label), total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _one_line_errors(name: str, interrupted: str) -> Iterator[None]:
    """A whole command: an error becomes one red line and exit 1; Ctrl-C or SIGTERM exit 130."""
    try:
        with _terminate_as_exception():
            yield
    except (NNCError, OSError, UnicodeError) as e:
        _fail(name, _message(e))
        raise typer.Exit(1)
    except (KeyboardInterrupt, Quit):
        _fail(name, interrupted)
        raise typer.Exit(130)


def _each(items: list[str], action: Callable[[str], None], interrupted: str) -> None:
    """Apply action to each input, zstd-style: a failure prints one line and the rest go on; exit 1 at the end."""
    failed = False
    with _terminate_as_exception():
        for item in items:
            try:
                action(item)
            except (NNCError, OSError, UnicodeError) as e:
                _fail(_label(item), _message(e))
                failed = True
            except (KeyboardInterrupt, Quit) as e:
                _fail(_label(item), str(e) if isinstance(e, Quit) and str(e) else interrupted)
                raise typer.Exit(130)
    if failed:
        raise typer.Exit(1)


def _threads(n: int | None, default: int | None = 1) -> int | None:
    """One thread unless asked: torch's threads spin while they wait, so two processes that each use
    every core (xargs -P, make -j) slow each other down many times over, while a second thread gains
    a single process only about a tenth (docs/decisions.md)."""
    if n is None:
        return default
    return (os.cpu_count() or 1) if n == 0 else n


def _workers(n: int | None, level: int | None = None) -> int:
    """Worker processes for -T: as many as asked (0: one per core), but no more than memory holds."""
    want = 1 if n is None else n or (os.cpu_count() or 1)
    fit = workers_mod.affordable(want, level) if want > 1 else 1  # one always fits (and needs no torch to say so)
    if fit < want:
        _say(f"nncomp: -T {want}: the free memory holds {fit} worker{'s' * (fit != 1)}; using {fit}")
    return fit


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _size(text: str, option: str) -> int:
    """A byte count with an optional K, M or G suffix (powers of 1024), as zstd and xz take sizes."""
    m = re.fullmatch(r"(\d+)\s*([KMG]?)(?:i?B)?", text.strip(), re.IGNORECASE)
    if not m:
        raise NNCError(f"{option}: not a size: {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def _segment_size(text: str) -> int:
    try:
        return api.check_segment(_size(text, "--segment"))
    except ValueError as e:
        raise NNCError(f"--segment: {e}") from None


def _byte_range(text: str) -> tuple[int, int]:
    """--range START:END (END excluded; either may be left out: from the start, to the end)."""
    if text.count(":") != 1:
        raise NNCError(f"--range: expected START:END, not {text!r}")
    a, b = text.split(":")
    start = _size(a, "--range") if a.strip() else 0
    stop = _size(b, "--range") if b.strip() else 1 << 63
    if stop < start:
        raise NNCError("--range: END comes before START")
    return start, stop


class _Cluster:
    """--scheduler: a Dask client, connected at the first segment that needs it and closed at the end."""

    def __init__(self, address: str | None):
        self.address = address
        self._client = None

    def pool(self, fin: BinaryIO | None):
        """A maker of pools on the cluster (None: local workers); they read a named input file themselves
        when every worker sees it."""
        if not self.address:
            return None
        from . import distributed

        def make(args):
            if self._client is None:
                self._client = distributed.client(self.address)
            name = getattr(fin, "name", None)
            path = os.path.abspath(name) if isinstance(name, str) and os.path.isfile(name) else None
            return distributed.DaskPool(self._client, args, path if path and distributed.visible(self._client, path) else None)

        return make

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()


class _Ahead:
    """Many small files on workers: each input of at most one segment is one task, coded ahead of the
    loop that writes the outputs in order (a file of one segment has nothing else to share out)."""

    def __init__(self, files: list[str], segment: int | None, level: int, make_pool, prior: Callable):
        small = [f for f in files if f != "-" and os.path.isfile(f) and os.path.getsize(f) <= (segment or 1 << 62)]
        self._todo = deque(small) if make_pool and len(small) > 1 else deque()
        self._mine = set(self._todo)  # files that are, or will be, tasks
        self._make = lambda: make_pool((api.level_config(level), prior()))
        self._pool = None  # started at the first file that needs it (a cluster connects then)
        self._level = level
        self._sent: deque[tuple[str, bytes]] = deque()  # (file, its bytes) of the tasks in flight
        self._done: dict[str, tuple[bytes, bytes]] = {}  # file -> (its bytes, its stream)

    def take(self, fin: BinaryIO) -> tuple[int, bytes] | None:
        """(bytes read, stream) of the input fin if a worker coded it and it still holds those bytes."""
        name = getattr(fin, "name", None)
        if name not in self._mine:
            return None
        self._mine.discard(name)
        try:
            self._pool = self._pool or self._make()
            while name not in self._done:
                while self._todo and len(self._sent) < self._pool.ahead:
                    f = self._todo.popleft()
                    with open(f, "rb") as g:
                        self._sent.append((f, g.read()))
                    self._got(self._pool.stream(self._sent[-1][1], self._level))
                self._got(self._pool.drain())
        except BaseException:  # results can no longer be matched to files: the rest are coded one by one
            for held in (self._todo, self._mine, self._sent, self._done):
                held.clear()
            raise
        data, stream = self._done.pop(name)
        if fin.read() == data:
            return len(data), stream
        fin.seek(0)  # changed since it was read: coded again, as it is now
        return None

    def _got(self, streams: list[bytes]) -> None:
        for stream in streams:
            f, data = self._sent.popleft()
            self._done[f] = (data, stream)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.close()


def _stdin() -> BinaryIO:
    if 0 in _closed_std or sys.stdin is None:
        raise NNCError("standard input is closed")
    return sys.stdin.buffer


def _stdout() -> BinaryIO:
    if 1 in _closed_std or sys.stdout is None:
        raise NNCError("standard output is closed")
    return sys.stdout.buffer


@dataclass
class _Job:
    """How compress and decompress treat their inputs (the command's options)."""

    output: str | None
    to_stdout: bool
    force: bool
    remove: bool
    quiet: bool
    verbose: bool
    verb: str  # "compress" or "decompress"
    name_out: Callable[[Path], Path]
    work: Callable  # work(fin, fout, progress) -> (bytes in, bytes out)


def _open_input(src: str, force: bool = False):
    """The input as a binary file: a named file, or standard input unless it is a terminal (without -f)."""
    if src != "-":
        return open(src, "rb")
    stdin = _stdin()
    if stdin.isatty() and not force:
        raise NNCError("refusing to read from a terminal (use a file, a pipe, or -f)")
    return nullcontext(stdin)


def _check_input(src: str) -> None:
    if src == "-":
        return
    if src == "":
        raise NNCError("empty file name")
    if os.path.isdir(src):
        raise NNCError("is a directory")
    if not os.path.exists(src):
        raise NNCError("no such file")


def _target(src: str, job: _Job) -> str:
    """The output of one input: a path, or '-' for standard output."""
    if job.output is not None:
        return job.output
    if job.to_stdout or src == "-":
        return "-"
    return str(job.name_out(Path(src)))


def _convert(src: str, job: _Job) -> None:
    """Compress or decompress one input into its output, safely; report it as zstd does."""
    _check_input(src)
    dst = _target(src, job)
    to_stream = dst == "-" or is_stream(dst)
    if dst == "-" and _stdout().isatty() and not job.force and job.verb == "compress":
        raise NNCError("refusing to write compressed data to a terminal (use -o, a pipe, or -f)")
    if dst != "-" and src != "-" and os.path.exists(dst) and os.path.samefile(src, dst):
        raise NNCError("input and output are the same file")
    total = None if src == "-" or not os.path.isfile(src) else os.path.getsize(src)
    t0 = time.perf_counter()
    with _open_input(src, job.force) as fin:
        with _progress(total, job.quiet, _label(src)) as prog:
            if dst == "-":
                fout = _stdout()
                n_in, n_out = job.work(fin, fout, prog)
                fout.flush()
            else:
                with _opened_output(dst, job.force, like=None if src == "-" else src) as fout:
                    n_in, n_out = job.work(fin, fout, prog)
    try:
        if job.remove and src != "-":
            if to_stream:
                if not job.quiet:
                    _say(f"nncomp: {src}: --rm ignored: the output is not a file")
            else:
                os.unlink(src)
        if not job.quiet and (job.verbose or dst != "-"):
            _summary(src, dst, n_in, n_out, time.perf_counter() - t0, job.verb)
    except (KeyboardInterrupt, Quit):
        raise Quit(f"interrupted after {'stdout' if dst == '-' else dst} was complete") from None


def _import_coding() -> None:
    """Import torch and the coding modules before an output file exists, with the signals' default
    actions: an exception raised by a handler while torch's extensions load can abort the process
    (pybind11 calls std::terminate) or be swallowed, and with nothing written yet a plain exit is right."""
    if __package__ + ".api" in sys.modules:
        return
    old = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        import_module(".api", __package__)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextmanager
def _opened_output(dst: str, force: bool, like: str | None = None) -> Iterator[BinaryIO]:
    """open_output, with a failure to create the output named as the output's (not the input's)."""
    opener = open_output(Path(dst), force, NNCError, like, ready=_import_coding)
    try:
        f = opener.__enter__()
    except OSError as e:
        raise NNCError(f"cannot write {dst}: {e.strerror or e}") from None
    with ExitStack() as stack:
        stack.push(opener)  # its __exit__ renames the output into place, or removes it on failure
        yield f


def _summary(src: str, dst: str, n_in: int, n_out: int, secs: float, verb: str) -> None:
    raw, packed = (n_in, n_out) if verb == "compress" else (n_out, n_in)
    pct = 100.0 * packed / raw if raw else 0.0
    bpb = 8.0 * packed / raw if raw else 0.0
    speed = raw / secs / 1e3 if secs > 0 else 0.0
    target = "stdout" if dst == "-" else dst
    _say(f"{_label(src)} : {pct:6.2f}%  ({raw:,} <=> {packed:,} bytes, {bpb:.3f} bits/byte, {speed:.1f} KB/s) -> {target}")


def _check_outputs(files: list[str], output: str | None, archives_ok: bool = False) -> None:
    if output == "":
        _fail("error", "-o: empty file name")
        raise typer.Exit(1)
    if output is not None and output != "-" and len(files) > 1 and not archives_ok:
        _fail("error", "-o names one output, but several inputs were given")
        raise typer.Exit(1)


# -- commands ---------------------------------------------------------------------------------------
@app.command()
def compress(
    files: Files = None,
    output: OutOpt = None,
    stdout: StdoutOpt = False,
    force: ForceOpt = False,
    keep: KeepOpt = True,
    rm: RmOpt = False,
    level: LevelOpt = DEFAULT_LEVEL,
    model: Annotated[Optional[str], typer.Option("--model", help="Prior to start from: 'default', 'none', or a .nncm file.")] = None,
    threads: WorkersOpt = None,
    segment: SegmentOpt = None,
    scheduler: SchedulerOpt = None,
    device: DeviceOpt = Device.cpu,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Compress FILES to FILE.nnc (standard input to standard output)."""
    _check_device(device)
    files = files or ["-"]
    _check_outputs(files, output)

    @cache
    def prior():
        """Loaded (with torch) when first needed, so that a missing input or an existing output is
        reported at once."""
        return api.load_model(model if model is not None else api.level_model(level))

    @cache
    def seg() -> int:
        return api.DEFAULT_SEGMENT if segment is None else _segment_size(segment)

    try:
        if model is not None:  # what the user named is checked once, before any input
            prior()
        if segment is not None:
            seg()
    except NNCError as e:
        _fail("error", str(e))
        raise typer.Exit(1)
    cluster = _Cluster(scheduler)
    workers = 1 if scheduler else _workers(threads, level)
    if verbose and not quiet:
        _say(f"level {level}, model {prior().id if prior() else 'none'}")

    pool = cluster.pool(None) or (partial(workers_mod.Pool, workers) if workers > 1 else None)
    ahead = _Ahead(files, (seg() or None) if pool else None, level, pool, prior)

    def work(fin, fout, prog):
        done = ahead.take(fin)
        if done is not None:
            return done[0], _write(fout, done[1])
        c = api.compressor(level, model=prior() or "none", threads=1, progress=prog, segment=seg(),
                           size=bytes_left(fin), workers=workers, pool=cluster.pool(fin))
        n_in = n_out = 0
        for chunk in _chunks(fin):
            n_in += len(chunk)
            n_out += _write(fout, c.compress(chunk))
        n_out += _write(fout, c.flush())
        return n_in, n_out

    job = _Job(output, stdout, force, rm, quiet, verbose, "compress", _add_suffix, work)
    with cluster, ahead:
        _each(files, lambda f: _convert(f, job), "interrupted; no output written")


@app.command()
def decompress(
    files: Files = None,
    output: OutOpt = None,
    stdout: StdoutOpt = False,
    force: ForceOpt = False,
    keep: KeepOpt = True,
    rm: RmOpt = False,
    model: PriorOpt = None,
    threads: WorkersOpt = None,
    byte_range: Annotated[Optional[str], typer.Option("--range", metavar="START:END", help=(
        "Decode only bytes START up to END (sizes take K, M, G) of one file, to standard output or -o FILE; "
        "only the segments that hold them are decoded."))] = None,
    scheduler: SchedulerOpt = None,
    device: DeviceOpt = Device.cpu,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Decompress FILE.nnc to FILE (standard input to standard output).

    An archive (from `nncomp joint -o`) restores its members beside it or under -o DIR; with -c or
    -o - its members' contents go to standard output, one after another (as tar -xO does).
    """
    _check_device(device)
    files = files or ["-"]
    if byte_range is not None:
        _each(files[:1], lambda f: _decode_range(f, byte_range, output, force, _workers(threads), _user_models(model),
                                                 len(files)), "interrupted; no output written")
        return
    to_stdout = stdout or output == "-"
    members = {f: None if to_stdout else _members(f) for f in files}  # archives restore members, unless to stdout
    _check_outputs(files, output, archives_ok=not to_stdout and all(m is not None for m in members.values()))
    models = _user_models(model)

    cluster = _Cluster(scheduler)
    workers = 1 if scheduler else _workers(threads)

    def work(fin, fout, prog):
        return _decode(fin, fout, workers, prog, models, cluster.pool(None))

    job = _Job(output, stdout, force, rm, quiet, verbose, "decompress", _strip_suffix, work)

    def one(f: str) -> None:
        if members[f] is None:
            _convert(f, job)
        else:
            _extract(f, members[f], job, workers, models)

    with cluster:
        _each(files, one, "interrupted; no output written")


def _decode_range(src: str, spec: str, output: str | None, force: bool, workers: int, models, n_files: int) -> None:
    """--range: the bytes START..END of what one .nnc file decodes to, through its seek tables."""
    if n_files != 1:
        raise NNCError("--range takes one file")
    start, stop = _byte_range(spec)
    _check_input(src)
    if src == "-":
        raise NNCError("--range needs a file (it seeks to the segments), not standard input")
    dst = output or "-"
    if dst != "-" and os.path.exists(dst) and os.path.samefile(src, dst):
        raise NNCError("input and output are the same file")
    with open(src, "rb") as fin, ExitStack() as stack:
        fout = _stdout() if dst == "-" else stack.enter_context(_opened_output(dst, force, like=src))
        for piece in seek.iter_range(fin, start, stop, api.resolver(models), workers, threads=1):
            _write(fout, piece)
        fout.flush()


def _members(path: str) -> list[tuple[str, int]] | None:
    """An archive's member list from its header; None for plain streams, pipes and unreadable files."""
    if path == "-" or not os.path.isfile(path):  # reading a FIFO's header here would consume it
        return None
    try:
        with open(path, "rb") as f:
            return container.read_header(f)[0].members
    except (NNCError, OSError):
        return None


def _user_models(path: str | None) -> list:
    try:
        return [api.load_model(path)] if path else []
    except NNCError as e:
        _fail("error", str(e))
        raise typer.Exit(1)


def _extract(archive: str, members: list[tuple[str, int]], job: _Job, workers: int, models) -> None:
    """Restore an archive's members under -o DIR, or beside the archive; nothing is left on failure."""
    dest = Path(job.output) if job.output else Path(archive).parent
    if dest.exists() and not dest.is_dir():
        raise NNCError(f"{dest} is not a directory")
    t0 = time.perf_counter()
    with open(archive, "rb") as fin:
        with _progress(os.path.getsize(archive), job.quiet, archive) as prog:
            def chunks():
                for chunk in _chunks(fin, 1 << 16):
                    if prog:
                        prog(len(chunk))
                    yield chunk
            written = jointlib.extract(api.iter_decompress(chunks(), models=models, threads=1, workers=workers), members, dest,
                                       job.force)
    if job.remove:
        os.unlink(archive)
    if not job.quiet:
        size = sum(n for _, n in members)
        _say(f"{archive} : {len(written)} member{'s' * (len(written) != 1)} ({size:,} bytes) restored under {dest}"
             + (f" in {time.perf_counter() - t0:.1f} s" if job.verbose else ""))


def _decode(fin: BinaryIO, fout: BinaryIO | None, workers: int, prog, models=(), pool=None) -> tuple[int, int]:
    """Decode the streams in fin into fout (None: verify only); (bytes read, bytes decoded)."""
    n_in = n_out = 0

    def counted():
        nonlocal n_in
        for chunk in _chunks(fin, 1 << 16):
            n_in += len(chunk)
            yield chunk

    for data in api.iter_decompress(counted(), models=models, threads=1, progress=prog, workers=workers, pool=pool):
        n_out += _write(fout, data) if fout is not None else len(data)
    return n_in, n_out


@app.command()
def test(
    files: Annotated[Optional[list[str]], typer.Argument(help=".nnc files to verify ('-' or none: standard input).")] = None,
    model: PriorOpt = None,
    threads: WorkersOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Decode FILES and verify their checksums without writing anything (like zstd -t)."""
    models = _user_models(model)

    def one(f: str) -> None:
        _check_input(f)
        total = None if f == "-" or not os.path.isfile(f) else os.path.getsize(f)
        with _open_input(f) as fin, _progress(total, quiet, _label(f)) as prog:
            _, n = _decode(fin, None, _workers(threads), prog, models)
        if not quiet:
            _say(f"{_label(f)} : OK" + (f" ({n:,} bytes)" if verbose else ""))

    _each(files or ["-"], one, "interrupted")


@app.command()
def info(
    files: Annotated[Optional[list[str]], typer.Argument(help=".nnc files to describe ('-' or none: standard input).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as JSON on standard output.")] = False,
) -> None:
    """Show what the headers and frames of FILES hold, like zstd -l."""
    files = files or ["-"]
    summaries: list[tuple[str, dict]] = []

    def one(f: str) -> None:
        _check_input(f)
        with _open_input(f) as fin:
            summary = describe_stream.describe(fin)
        summaries.append((f, summary))
        if not as_json:
            _console(False).print(describe_stream.render(_show(f), summary))
            if summary["members"] is not None:
                _console(False).print(describe_stream.render_members(summary, _show))

    try:
        _each(files, one, "interrupted")
    finally:
        if as_json:
            _console(False).print_json(data=[describe_stream.to_json(f, s) for f, s in summaries])
        elif len(summaries) > 1:
            _console(False).print(describe_stream.render_total(summaries))


@app.command()
def joint(
    paths: Annotated[list[str], typer.Argument(help="Datasets: files or directories (their files in sorted path order).")],
    report: Annotated[bool, typer.Option("--report", help="Print a table of sizes alone, inside the joint stream, and savings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on standard output.")] = False,
    matrix: Annotated[bool, typer.Option("--matrix", help="Print pairwise normalized compression distances.")] = False,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write the joint stream as a solid archive.")] = None,
    force: ForceOpt = False,
    level: LevelOpt = DEFAULT_LEVEL,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compress datasets together: what the model learns from one makes the next cheaper."""
    threads = _threads(threads)
    with _one_line_errors("joint", "interrupted; no output written"):
        if output == "":
            raise NNCError("-o: empty file name")
        datasets = [jointlib.load_dataset(p) for p in paths]
        if output:  # before minutes of work: the output may be written, and every member gets a place of its own
            if os.path.exists(output) and not force and not is_stream(output):
                raise NNCError(f"{output} already exists; use -f to overwrite")
            jointlib.archive_entries([m for _, ms in datasets for m in ms])
        total = sum(len(d) for _, ms in datasets for _, d in ms)
        if matrix:
            blobs = [(name, b"".join(d for _, d in ms)) for name, ms in datasets]
            n = len(blobs)
            with _progress(total * n, quiet or as_json, "matrix") as prog:  # x once per row, each y once per other row
                m = jointlib.ncd_matrix(blobs, level, threads=threads, progress=prog)
            _console(False).print_json(data=_stamped(m)) if as_json else _console(False).print(*_matrix_tables(m))
            return
        want_report = report or as_json or output is None
        with _progress(total * (2 if want_report else 1), quiet or as_json, "joint") as prog:
            if output:
                with _opened_output(output, force) as f:
                    if want_report:
                        rep = jointlib.joint_report(datasets, level, threads=threads, progress=prog, out=f)
                    else:
                        jointlib.write_archive([m for _, ms in datasets for m in ms], f, level, threads=threads,
                                               progress=prog, groups=[sum(len(d) for _, d in ms) for _, ms in datasets])
            else:
                rep = jointlib.joint_report(datasets, level, threads=threads, progress=prog)
        if as_json:
            _console(False).print_json(data=_stamped(rep.to_dict()))
        elif want_report:
            _console(False).print(_report_table(rep))
        if output and not quiet:
            _say(f"wrote {output}")


def _stamped(d: dict) -> dict:
    """A JSON report with what made it: the stream format and nncomp's version."""
    return {"format": container.VERSION, "nncomp": __version__, **d}


def _report_table(rep) -> "Table":
    from rich.table import Table

    t = Table(title=f"joint compression, level {rep.level}", title_justify="left")
    for col in ("dataset", "bytes", "alone", "in joint stream", "saving", "saving %", "starts from"):
        t.add_column(col, justify="left" if col in ("dataset", "starts from") else "right")
    for d in rep.datasets:
        start = "-" if d.learned is None else "before + fresh" if d.learned else "fresh (as alone)"
        t.add_row(_text(d.name), f"{d.size:,}", f"{d.alone:,}", f"{d.joint:,}", f"{d.saving:,}",
                  f"{d.saving_pct:.2f}", start)
    t.add_section()
    t.add_row("total", f"{sum(d.size for d in rep.datasets):,}", f"{rep.separate_total:,}", f"{rep.joint_total:,}",
              f"{rep.saving:,}", f"{rep.saving_pct:.2f}", "")
    return t


def _matrix_tables(m: dict) -> list["Table"]:
    """NCD, and C(y|x): the column's cost after the row, the better distance for finding what a file
    is nearest to (docs/decisions.md)."""
    from rich.table import Table

    def table(title: str, first: list[str], values, cell) -> Table:
        t = Table(title=f"{title}, level {m['level']}", title_justify="left")
        t.add_column("")
        for name in m["names"]:
            t.add_column(_text(name), justify="right")
        if first:
            t.add_row(*first, end_section=True)
        for i, (name, row) in enumerate(zip(m["names"], values)):
            t.add_row(_text(name), *["" if i == j else cell(v) for j, v in enumerate(row)])
        return t

    alone = ["alone", *[f"{b:,.0f}" for b in m["bits"]]]
    return [table("NCD(row, column) of code lengths", [], m["ncd"], lambda v: f"{v:.3f}"),
            table("Bits the column costs after the row, C(column | row)", alone, m["conditional_bits"],
                  lambda v: f"{v:,.0f}")]


@app.command()
def train(
    inputs: Annotated[list[str], typer.Argument(help="Training files and directories.")],
    output: Annotated[str, typer.Option("-o", "--output", help="The model file to write (.nncm).")],
    level: Annotated[int, typer.Option("-l", "--level", min=2, max=9, help="Level whose settings the model is for.")] = DEFAULT_LEVEL,
    model: Annotated[str, typer.Option("--model", help="Start from this prior: 'default', 'none' or a .nncm path.")] = "default",
    budget: Annotated[Optional[int], typer.Option("--budget", min=1, help="Train on this many bytes (cycling); default: one pass.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the chunk order.")] = 0,
    chunk: Annotated[int, typer.Option("--chunk", min=1024, help="Bytes per training chunk (each starts like a new file).")] = 1 << 18,
    checkpoints: Annotated[bool, typer.Option("--checkpoints", help="Write the model at every held-out measurement.")] = False,
    mixer_only: Annotated[bool, typer.Option("--mixer-only", help="Keep the network's weights; train the mixing weights alone.")] = False,
    eval_every: Annotated[int, typer.Option("--eval-every", min=1024, help="Measure the held-back part every this many bytes.")] = 1 << 22,
    log: Annotated[Optional[str], typer.Option("--log", help="Write the training and held-out curves here (TSV).")] = None,
    force: ForceOpt = False,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a custom prior on INPUTS, as zstd --train trains a dictionary (a held-back part measures it)."""
    from .tools import train as trainlib

    threads = _threads(threads, default=None)  # training's larger products gain from every core
    with _one_line_errors("train", "interrupted; no model written"):
        out_path = Path(output)
        for path in (output, log):  # checked before the work, and again when writing
            if path is not None and os.path.exists(path) and not force:
                raise NNCError(f"{path} already exists; use -f to overwrite")
        init = api.load_model(model if model != "default" or api.level_model(level) != "none" else "none")
        files = trainlib.collect(inputs)
        total = budget or sum(len(d) for _, d in files)
        logf = open(log, "w" if force else "x") if log else None
        if logf:
            logf.write("bytes_seen\ttrain_bpb\tholdout_bpb\telapsed\n")
        try:
            with _progress(total, quiet, "train") as prog:
                save = lambda p: _write_model(out_path, p)  # noqa: E731
                res = trainlib.train_prior(inputs, api.level_config(level), init, budget=budget, seed=seed,
                                           chunk=chunk, threads=threads, progress=prog, eval_every=eval_every,
                                           mixer_only=mixer_only,
                                           checkpoint=save if checkpoints else None,
                                           log=(lambda line: (logf.write(line + "\n"), logf.flush())) if logf else None,
                                           info={"level": level, "start": init.id if init else "none",
                                                 **({"start_info": init.info} if init and init.info else {})})
        finally:
            if logf:
                logf.close()
        _write_model(out_path, res.prior)
        if not quiet:
            _say(f"{output}: model {res.prior.id}, {out_path.stat().st_size:,} bytes, trained on {res.bytes_seen:,} bytes; "
                 f"held-out {res.holdout_bytes:,} bytes: {res.holdout_bpb_before:.3f} -> {res.holdout_bpb_after:.3f} bits/byte")
            if res.holdout_bpb_after > res.holdout_bpb_before:
                _say(f"nncomp: warning: {output} codes the held-out part worse than the model it started from "
                     f"({res.holdout_bpb_before:.3f} -> {res.holdout_bpb_after:.3f} bits/byte); more data or --budget may help")


def _write_model(path: Path, prior) -> None:
    with atomic_output(path, True, NNCError) as f:  # existence was checked before training
        f.write(prior.to_bytes())


@app.command()
def models() -> None:
    """List the built-in models."""
    from rich.table import Table

    from . import prior as priorlib

    t = Table(title="built-in models", title_justify="left")
    for col in ("name", "id", "file bytes", "parameters", "shape", "trained on"):
        t.add_column(col)
    for name, fname in priorlib.BUILTIN.items():
        p = priorlib.builtin(name)
        if p is None:
            t.add_row(name, "not installed", "", "", "", "")
            continue
        n = sum(v.numel() for v in p.params.values()) + p.alpha.numel()
        size = (Path(priorlib.__file__).parent / "models" / fname).stat().st_size
        shape = f"{p.shape['n_layer']} layers, d={p.shape['d_model']}"
        pre = p.info.get("start_info", {}).get("pretrain", {})  # float pretraining before `nncomp train`
        seen = f"{p.info.get('bytes_seen', 0):,} bytes"
        if pre:
            seen = f"{pre['steps'] * pre['batch'] * pre['seq']:,} (float) + {seen}"
        t.add_row(name, p.id, f"{size:,}", f"{n:,}", shape, seen)
    _console(False).print(t)


def _write(f: BinaryIO, data: bytes) -> int:
    if data:
        f.write(data)
    return len(data)


def _add_suffix(p: Path) -> Path:
    if not p.name:
        raise NNCError("is a directory")
    return p.with_name(p.name + SUFFIX)


def _strip_suffix(p: Path) -> Path:
    if p.suffix != SUFFIX or p.name == SUFFIX:
        raise NNCError(f"unknown suffix (expected {SUFFIX}); use -o to name the output")
    return p.with_suffix("")


def _check_device(device: Device) -> None:
    if device is Device.cuda:
        import torch

        if not torch.cuda.is_available():
            _fail("error", "--device cuda: no CUDA device is available")
            raise typer.Exit(1)
        _fail("error", "--device cuda: the CUDA path is not built yet; use --device cpu")
        raise typer.Exit(1)


COMMANDS = {"compress", "decompress", "test", "info", "joint", "train", "models"}
_MODES = {"-d": "decompress", "--decompress": "decompress", "--uncompress": "decompress", "-t": "test",
          "--test": "test", "-l": "info", "--list": "info", "-z": "compress", "--compress": "compress"}
_CLUSTER = re.compile(r"-[dtlzcfkqv1-9]{2,}")  # zstd's combined short flags, as in -dc or -9f


def zstd_args(args: list[str]) -> list[str]:
    """The subcommand form of a zstd-style command line (`-d FILE` -> `decompress FILE`, `-9` -> `--level 9`);
    a line that starts with a subcommand, --help or --version is left as it is."""
    if args and (args[0] in COMMANDS or args[0] in ("-h", "--help", "-V", "--version")
                 or args[0].startswith(("--install-completion", "--show-completion"))):
        return args
    flags: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            flags += args[i:]
            break
        flags += [f"-{c}" for c in a[1:]] if _CLUSTER.fullmatch(a) else [a]
    command, rest, level = "compress", [], None
    for i, a in enumerate(flags):
        if a == "--":
            rest += flags[i:]
            break
        if a in _MODES:
            command = _MODES[a]
        elif re.fullmatch(r"-[1-9]", a):
            level = a[1]
        else:
            rest.append(a)
    if level is not None and command == "compress":
        rest = ["--level", level, *rest]
    return [command, *rest]


def _hold_closed_std_streams() -> None:
    """A descriptor 0-2 that the caller closed is held on /dev/null, so that no file opened later takes its
    number (and receives what was meant for standard output); reading or writing '-' then says it is closed."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one
            _closed_std.add(fd)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # a name the terminal cannot encode is escaped, not fatal


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: zstd-style arguments, one-line usage errors, no tracebacks for broken pipes."""
    _hold_closed_std_streams()
    args = sys.argv[1:] if argv is None else argv
    if not args and sys.stdin is not None and sys.stdin.isatty():
        args = ["--help"]  # `nncomp` alone at a terminal: help, not a wait for typed input
    try:
        code = app(args=zstd_args(args), prog_name="nncomp", standalone_mode=False)
    except typer.TyperException as e:  # Click's usage and parameter errors: one line, as zstd prints them
        code = getattr(e, "exit_code", 1)
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        ctx = getattr(e, "ctx", None)
        name = ctx.command.name if ctx is not None and ctx.command is not None else None
        hint = f" (see 'nncomp {name} --help')" if name in COMMANDS else " (see 'nncomp --help')"
        _fail("error", message + (hint if code == 2 else ""))
    except typer.Abort:
        code = 130
    except BrokenPipeError:
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            os._exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()

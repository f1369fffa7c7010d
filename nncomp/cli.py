"""The nncomp command line, in the manner of zstd and xz: a thin layer over nncomp.api."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, BinaryIO, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from . import __version__, api, container, joint as jointlib
from . import info as describe_stream
from .config import DEFAULT_LEVEL
from .errors import CorruptError, NNCError
from .fileio import atomic_output
from .heap import keep_freed_memory

SUFFIX = ".nnc"
CHUNK = 1 << 20
PROGRESS_MIN = 1 << 20  # show a progress bar for inputs larger than this (when stderr is a terminal)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Lossless compression with a byte-level transformer that learns while it codes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Quit(Exception):
    """Raised by the SIGTERM handler so that clean-up code runs."""


# -- options shared by the commands -------------------------------------------------------------
Files = Annotated[Optional[list[str]], typer.Argument(help="Input files; '-' or none reads standard input.")]
OutOpt = Annotated[Optional[str], typer.Option("-o", "--output", help="Write to this file ('-': standard output).")]
StdoutOpt = Annotated[bool, typer.Option("-c", "--stdout", help="Write to standard output.")]
ForceOpt = Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing outputs; write to a terminal.")]
KeepOpt = Annotated[bool, typer.Option("-k", "--keep", help="Keep input files (the default).")]
RmOpt = Annotated[bool, typer.Option("--rm", help="Remove each input file once its output is complete.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only errors.")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Print details (settings, speed).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("-T", "--threads", min=1, help="CPU threads (output is the same for any).")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where the model runs.")]
PriorOpt = Annotated[Optional[str], typer.Option("--model", help="Custom prior (.nncm) that the input was compressed with.")]


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


def _atomic_output(path: Path, force: bool):
    return atomic_output(path, force, NNCError)


def _chunks(f: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk


@contextmanager
def _progress(total: int | None, quiet: bool, label: str) -> Iterator[Callable[[int], None] | None]:
    if quiet or not err.is_terminal or (total is not None and total <= PROGRESS_MIN):
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _fail(name: str, message: str) -> None:
    err.print(f"[red]nncomp: {name}: {message}[/red]", markup=True, highlight=False, soft_wrap=True)


def _message(e: Exception) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


@contextmanager
def _one_line_errors(name: str, interrupted: str) -> Iterator[None]:
    """A whole command: an error becomes one red line and exit 1; Ctrl-C or SIGTERM exit 130."""
    try:
        with _terminate_as_exception():
            yield
    except (NNCError, OSError) as e:
        _fail(name, _message(e))
        raise typer.Exit(1)
    except (KeyboardInterrupt, Quit):
        _fail(name, interrupted)
        raise typer.Exit(130)


def _plan(files: list[str] | None, output: str | None, to_stdout: bool, name_out: Callable[[Path], Path]):
    """(input, output) pairs: '-' stands for standard input/output."""
    files = files or ["-"]
    if output and len(files) > 1 and output != "-":
        raise NNCError("-o names one output, but several inputs were given")
    for f in files:
        if output:
            yield f, output
        elif to_stdout or f == "-":
            yield f, "-"
        else:
            yield f, str(name_out(Path(f)))


def _run(files, output, to_stdout, force, remove, quiet, name_out, work, verb: str) -> None:
    """Apply work(src, dst, progress) to each input, zstd-style: report, continue, exit 1 on any failure."""
    failed = False
    with _terminate_as_exception():
        try:
            plan = list(_plan(files, output, to_stdout, name_out))
        except NNCError as e:
            _fail("error", str(e))
            raise typer.Exit(1)
        for src, dst in plan:
            try:
                if src == "-" and sys.stdin.isatty() and not force:
                    raise NNCError("refusing to read from a terminal (use a file, a pipe, or -f)")
                if dst == "-" and sys.stdout.isatty() and not force and verb == "compress":
                    raise NNCError("refusing to write compressed data to a terminal (use -o, a pipe, or -f)")
                if src != "-":
                    p = Path(src)
                    if p.is_dir():
                        raise NNCError("is a directory")
                    if not p.exists():
                        raise NNCError("no such file")
                    if dst != "-" and Path(dst).exists() and p.resolve() == Path(dst).resolve():
                        raise NNCError("input and output are the same file")
                stats = _process(src, dst, force, quiet, work)
                if remove and src != "-":
                    os.unlink(src)
                if not quiet and stats:
                    _summary(src, dst, *stats, verb=verb)
            except (NNCError, OSError) as e:
                _fail(src if src != "-" else "stdin", _message(e))
                failed = True
            except (KeyboardInterrupt, Quit):
                _fail(src if src != "-" else "stdin", "interrupted; no output written")
                raise typer.Exit(130)
    if failed:
        raise typer.Exit(1)


def _process(src: str, dst: str, force: bool, quiet: bool, work):
    total = None if src == "-" else Path(src).stat().st_size
    t0 = time.perf_counter()
    fin = sys.stdin.buffer if src == "-" else open(src, "rb")
    try:
        with _progress(total, quiet, Path(src).name if src != "-" else "stdin") as prog:
            if dst == "-":
                n_in, n_out = work(fin, sys.stdout.buffer, prog)
                sys.stdout.buffer.flush()
            else:
                with _atomic_output(Path(dst), force) as fout:
                    n_in, n_out = work(fin, fout, prog)
                if src != "-":
                    shutil.copymode(src, dst)
    finally:
        if fin is not sys.stdin.buffer:
            fin.close()
    return n_in, n_out, time.perf_counter() - t0


def _summary(src: str, dst: str, n_in: int, n_out: int, secs: float, verb: str) -> None:
    raw, packed = (n_in, n_out) if verb == "compress" else (n_out, n_in)
    pct = 100.0 * packed / raw if raw else 0.0
    bpb = 8.0 * packed / raw if raw else 0.0
    speed = raw / secs / 1e3 if secs > 0 else 0.0
    name = "stdin" if src == "-" else src
    target = "stdout" if dst == "-" else dst
    line = f"{name} : {pct:6.2f}%  ({raw:,} <=> {packed:,} bytes, {bpb:.3f} bits/byte, {speed:.1f} KB/s) -> {target}"
    err.print(line, soft_wrap=True)


# -- commands ---------------------------------------------------------------------------------------
@app.command()
def compress(
    files: Files = None,
    output: OutOpt = None,
    stdout: StdoutOpt = False,
    force: ForceOpt = False,
    keep: KeepOpt = True,
    rm: RmOpt = False,
    level: Annotated[int, typer.Option("-l", "--level", min=1, max=9, help="1 fastest ... 9 strongest.")] = DEFAULT_LEVEL,
    model: Annotated[Optional[str], typer.Option("--model", help="Prior to start from: 'default', 'none', or a .nncm file.")] = None,
    threads: ThreadsOpt = None,
    device: DeviceOpt = Device.cpu,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Compress FILES to FILE.nnc (standard input to standard output)."""
    _check_device(device)
    try:
        prior = api.load_model(model if model is not None else api.level_model(level))
    except NNCError as e:
        _fail("error", str(e))
        raise typer.Exit(1)
    if verbose and not quiet:
        err.print(f"level {level}, model {prior.id if prior else 'none'}", soft_wrap=True)

    def work(fin, fout, prog):
        c = api.compressor(level, model=prior or "none", threads=threads, progress=prog)
        n_in = n_out = 0
        for chunk in _chunks(fin):
            n_in += len(chunk)
            n_out += _write(fout, c.compress(chunk))
        n_out += _write(fout, c.flush())
        return n_in, n_out

    _run(files, output, stdout, force, rm, quiet, lambda p: p.with_name(p.name + SUFFIX), work, "compress")


@app.command()
def decompress(
    files: Files = None,
    output: OutOpt = None,
    stdout: StdoutOpt = False,
    force: ForceOpt = False,
    keep: KeepOpt = True,
    rm: RmOpt = False,
    model: PriorOpt = None,
    threads: ThreadsOpt = None,
    device: DeviceOpt = Device.cpu,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Decompress FILE.nnc to FILE (standard input to standard output); archives restore their members."""
    _check_device(device)
    models = _user_models(model)
    archives = [f for f in files or [] if f != "-" and _members(f) is not None]
    if archives:
        _extract_all(archives, output, force, quiet, threads, models)
        files = [f for f in files if f not in archives]
        if not files:
            return

    def work(fin, fout, prog):
        return _decode(fin, fout, threads, prog, models)

    _run(files, output, stdout, force, rm, quiet, _strip_suffix, work, "decompress")


def _members(path: str) -> list[tuple[str, int]] | None:
    """An archive's member list from its header; None for plain streams and unreadable files."""
    try:
        with open(path, "rb") as f:
            fixed = f.read(container.HEADER_FIXED)
            n = container.header_length(fixed)
            return container.parse_header(fixed + f.read(n - len(fixed))).members if n else None
    except (NNCError, OSError):
        return None


def _user_models(path: str | None) -> list:
    try:
        return [api.load_model(path)] if path else []
    except NNCError as e:
        _fail("error", str(e))
        raise typer.Exit(1)


def _extract_all(archives: list[str], output: str | None, force: bool, quiet: bool, threads, models) -> None:
    """Restore each archive's members under -o DIR, or beside the archive."""
    failed = False
    with _terminate_as_exception():
        for a in archives:
            try:
                dest = Path(output) if output else Path(a).parent
                if dest.exists() and not dest.is_dir():
                    raise NNCError(f"{dest} is not a directory")
                members = _members(a) or []
                with open(a, "rb") as fin:
                    d = api.decompressor(threads=threads, models=models)
                    total = os.path.getsize(a)
                    with _progress(total, quiet, Path(a).name) as prog:
                        def chunks():
                            for chunk in _chunks(fin, 1 << 16):
                                if prog:
                                    prog(len(chunk))
                                yield d.decompress(chunk)
                            if not d.eof:
                                raise CorruptError("truncated input (the stream ends early)")
                        written = jointlib.extract(chunks(), members, dest, force)
                if not quiet:
                    err.print(f"{a} : {len(written)} members restored under {dest}", soft_wrap=True)
            except (NNCError, OSError) as e:
                _fail(a, _message(e))
                failed = True
            except (KeyboardInterrupt, Quit):
                _fail(a, "interrupted; no member written")
                raise typer.Exit(130)
    if failed:
        raise typer.Exit(1)


def _decode(fin: BinaryIO, fout: BinaryIO | None, threads: int | None, prog, models=()) -> tuple[int, int]:
    """Decode a whole stream from fin into fout (None: verify only); (bytes read, bytes decoded)."""
    d = api.decompressor(threads=threads, progress=prog, models=models)
    n_in = n_out = 0
    for chunk in _chunks(fin, 1 << 16):
        n_in += len(chunk)
        data = d.decompress(chunk)
        n_out += _write(fout, data) if fout is not None else len(data)
    if not d.eof:
        raise CorruptError("truncated input (the stream ends early)")
    return n_in, n_out


@app.command()
def test(
    files: Annotated[list[str], typer.Argument(help=".nnc files to verify.")],
    model: PriorOpt = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Decode FILES and verify their checksums without writing anything (like zstd -t)."""
    models = _user_models(model)

    failed = False
    for f in files:
        try:
            with open(f, "rb") if f != "-" else nullcontext(sys.stdin.buffer) as fin:
                _decode(fin, None, threads, None, models)
            if not quiet:
                err.print(f"{f} : OK")
        except (NNCError, OSError) as e:
            _fail(f, _message(e))
            failed = True
    if failed:
        raise typer.Exit(1)


@app.command()
def info(files: Annotated[list[str], typer.Argument(help=".nnc files to describe ('-': standard input).")]) -> None:
    """Show what the headers and frames of FILES hold, like zstd -l."""
    failed = False
    for f in files:
        try:
            with nullcontext(sys.stdin.buffer) if f == "-" else open(f, "rb") as fin:
                summary = describe_stream.describe(fin)
            out.print(describe_stream.render(f, summary))
            if summary["members"] is not None:
                out.print(describe_stream.render_members(summary))
        except (NNCError, OSError) as e:
            _fail(f, _message(e))
            failed = True
    if failed:
        raise typer.Exit(1)


@app.command()
def joint(
    paths: Annotated[list[str], typer.Argument(help="Datasets: files or directories (their files in sorted path order).")],
    report: Annotated[bool, typer.Option("--report", help="Print a table of sizes alone, inside the joint stream, and savings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on standard output.")] = False,
    matrix: Annotated[bool, typer.Option("--matrix", help="Print pairwise normalized compression distances.")] = False,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write the joint stream as a solid archive.")] = None,
    force: ForceOpt = False,
    level: Annotated[int, typer.Option("-l", "--level", min=1, max=9, help="1 fastest ... 9 strongest.")] = DEFAULT_LEVEL,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compress datasets together: what the model learns from one makes the next cheaper."""
    with _one_line_errors("joint", "interrupted; no output written"):
        datasets = [jointlib.load_dataset(p) for p in paths]
        total = sum(len(d) for _, ms in datasets for _, d in ms)
        if matrix:
            blobs = [(name, b"".join(d for _, d in ms)) for name, ms in datasets]
            n = len(blobs)
            with _progress(total * (n + 1), quiet or as_json, "matrix") as prog:
                m = jointlib.ncd_matrix(blobs, level, threads=threads, progress=prog)
            out.print_json(data=m) if as_json else out.print(_matrix_table(m))
            return
        want_report = report or as_json or output is None
        with _progress(total * (2 if want_report else 1), quiet or as_json, "joint") as prog:
            if output:
                with _atomic_output(Path(output), force) as f:
                    if want_report:
                        rep = jointlib.joint_report(datasets, level, threads=threads, progress=prog, out=f)
                    else:
                        jointlib.write_archive([m for _, ms in datasets for m in ms], f, level,
                                               threads=threads, progress=prog)
            else:
                rep = jointlib.joint_report(datasets, level, threads=threads, progress=prog)
        if as_json:
            out.print_json(data=rep.to_dict())
        elif want_report:
            out.print(_report_table(rep))
        if output and not quiet:
            err.print(f"wrote {output}", soft_wrap=True)


def _report_table(rep) -> Table:
    t = Table(title=f"joint compression, level {rep.level}", title_justify="left")
    for col in ("dataset", "bytes", "alone", "in joint stream", "saving", "saving %"):
        t.add_column(col, justify="left" if col == "dataset" else "right")
    for d in rep.datasets:
        t.add_row(d.name, f"{d.size:,}", f"{d.alone:,}", f"{d.joint:,}", f"{d.saving:,}", f"{d.saving_pct:.2f}")
    t.add_section()
    t.add_row("total", f"{sum(d.size for d in rep.datasets):,}", f"{rep.separate_total:,}", f"{rep.joint_total:,}",
              f"{rep.saving:,}", f"{rep.saving_pct:.2f}")
    return t


def _matrix_table(m: dict) -> Table:
    t = Table(title=f"NCD(row, column), level {m['level']}", title_justify="left")
    t.add_column("")
    for name in m["names"]:
        t.add_column(name, justify="right")
    for name, row in zip(m["names"], m["ncd"]):
        t.add_row(name, *[f"{v:.3f}" for v in row])
    return t


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
    from . import train as trainlib

    with _one_line_errors("train", "interrupted; no model written"):
        out_path = Path(output)
        if out_path.exists() and not force:  # checked before the work, and again when writing
            raise NNCError(f"{out_path} already exists; use -f to overwrite")
        init = api.load_model(model if model != "default" or api.level_model(level) != "none" else "none")
        files = trainlib.collect(inputs)
        total = budget or sum(len(d) for _, d in files)
        logf = open(log, "w") if log else None
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
            err.print(f"{output}: model {res.prior.id}, {out_path.stat().st_size:,} bytes, trained on {res.bytes_seen:,} bytes; "
                      f"held-out {res.holdout_bytes:,} bytes: {res.holdout_bpb_before:.3f} -> {res.holdout_bpb_after:.3f} bits/byte",
                      soft_wrap=True)


def _write_model(path: Path, prior) -> None:
    with atomic_output(path, True, NNCError) as f:  # existence was checked before training
        f.write(prior.to_bytes())


@app.command()
def models() -> None:
    """List the built-in models."""
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
    out.print(t)


def _write(f: BinaryIO, data: bytes) -> int:
    if data:
        f.write(data)
    return len(data)


def _strip_suffix(p: Path) -> Path:
    if p.suffix != SUFFIX:
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


def run() -> None:
    """Console-script entry point: no tracebacks for broken pipes."""
    try:
        app()
    except BrokenPipeError:
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            os._exit(1)


if __name__ == "__main__":
    run()

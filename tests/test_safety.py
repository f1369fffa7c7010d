"""Safe and conventional in every corner: outputs that are not files, names that look like markup,
archives that would lose data, early readers, closed descriptors, hostile model files, zstd's spelling."""

import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import threading

import pytest
from rich.console import Console
from typer.testing import CliRunner

import nncomp
from nncomp import CorruptError, cli, container
from nncomp.config import level_config
from nncomp.tools.joint import write_archive

from .conftest import SAMPLE, nncomp_env

runner = CliRunner()
DATA = SAMPLE.read_bytes()[:3000]


def nn(*args, input=None, cwd=None, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "nncomp", *args], input=input, capture_output=True, cwd=cwd,
                          env=env or nncomp_env(COLUMNS="200"), timeout=300, **kw)


def one_clean_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.fixture(scope="module")
def packed():
    return nncomp.compress(DATA, 1)


@pytest.fixture
def good(tmp_path, packed):
    p = tmp_path / "good.txt.nnc"
    p.write_bytes(packed)
    return p


def archive_bytes(members):
    buf = io.BytesIO()
    write_archive(members, buf, 1)
    return buf.getvalue()


def forged_header(members) -> bytes:
    """A header naming `members` as given: build_header itself refuses unsafe lists."""
    return container.pack_header(1, container.tag(level_config(1), "none"), {"members": members})


# -- outputs that are not regular files ------------------------------------------------------------------
def make_null_device(path):
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    except PermissionError:
        pytest.skip("making a device node needs root")


@pytest.mark.parametrize("force", [[], ["-f"]])
@pytest.mark.slow
def test_device_output_is_written_into_never_replaced(tmp_path, good, force):
    dev = tmp_path / "null"
    make_null_device(dev)
    r = runner.invoke(cli.app, ["decompress", "-q", str(good), "-o", str(dev), *force])
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.stat(dev).st_mode)
    r = runner.invoke(cli.app, ["compress", "-q", "-l", "1", "--rm", str(tmp_path / "good.txt.nnc"), "-o", str(dev)])
    assert r.exit_code == 0 and stat.S_ISCHR(os.stat(dev).st_mode)
    assert good.exists()  # --rm does nothing when the output is not a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt.nnc", "null"]


def test_fifo_output_receives_the_data(tmp_path, good):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    r = runner.invoke(cli.app, ["decompress", "-q", "-f", str(good), "-o", str(fifo)])
    reader.join(60)
    assert r.exit_code == 0, r.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got == [DATA]


def test_directory_output_is_refused(tmp_path, good):
    (tmp_path / "d").mkdir()
    r = runner.invoke(cli.app, ["decompress", "-f", str(good), "-o", str(tmp_path / "d")])
    assert r.exit_code == 1 and "is a directory" in r.output and (tmp_path / "d").is_dir()


# -- names are printed, never read as markup or sent to the terminal raw --------------------------------------
@pytest.mark.parametrize("name", ["[bold]b.txt", "logs[/x].txt", "x[/]y.txt", "a\rb\x1b[31m.txt"])
def test_names_print_as_they_are(tmp_path, name):
    src = tmp_path / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(DATA[:500])
    r = runner.invoke(cli.app, ["compress", "-l", "1", "--rm", str(src)])
    assert r.exit_code == 0 and r.exception is None, r.output
    assert not src.exists() and (tmp_path / (name + ".nnc")).exists()  # --rm after the names were printed
    assert "\r" not in r.output and "\x1b" not in r.output
    shown = name.replace("\r", "\\x0d").replace("\x1b", "\\x1b")
    assert f"{shown} :" in r.output and f"-> {tmp_path / shown}.nnc" in r.output
    r = runner.invoke(cli.app, ["decompress", str(tmp_path / (name + ".nnc"))])
    assert r.exit_code == 0 and r.exception is None and src.read_bytes() == DATA[:500]


@pytest.mark.slow
def test_archive_member_names_print_safely_under_strict_utf8(tmp_path):
    names = ["a[/]b.txt", "c\x1bd", os.fsdecode(b"e\xff.txt")]
    (tmp_path / "arch.nnc").write_bytes(archive_bytes([(n, DATA[:100]) for n in names]))
    r = nn("info", "arch.nnc", cwd=tmp_path, env=nncomp_env(COLUMNS="200", PYTHONIOENCODING="utf-8:strict"))
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    assert "a[/]b.txt" in text and "c\\x1bd" in text and "e\\xff.txt" in text and "\x1b" not in text
    r = nn("decompress", "arch.nnc", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "out" / os.fsdecode(b"e\xff.txt")).read_bytes() == DATA[:100]


# -- archives never lose data ----------------------------------------------------------------------------------
def test_datasets_with_one_base_name_are_refused_before_work(tmp_path):
    for d in ("x1", "x2"):
        (tmp_path / d / "data").mkdir(parents=True)
        (tmp_path / d / "data" / "f.txt").write_bytes(d.encode() * 100)
    r = nn("joint", "x1/data", "x2/data", "-o", "a.nnc", "-l", "1", cwd=tmp_path)
    assert r.returncode == 1 and "appears twice" in one_clean_line(r.stderr.decode())
    assert not (tmp_path / "a.nnc").exists()


@pytest.mark.parametrize("members", [[["a", 1], ["a", 1]], [["x/y", 1], ["x", 1]], [["x", 1], ["x/y", 1]],
                                     [["\ud800", 1]]])
def test_member_lists_that_would_lose_data_are_refused(members):
    with pytest.raises(ValueError):
        container.build_header(nncomp.CodecConfig(), "none", 1, [tuple(m) for m in members])
    head = forged_header(members)
    with pytest.raises(CorruptError):
        container.parse_header(head)


def test_failed_extraction_leaves_nothing_behind(tmp_path):
    stream = archive_bytes([("top/mid/a.txt", DATA[:1000]), ("top/b.txt", DATA[1000:2000])])
    (tmp_path / "cut.nnc").write_bytes(stream[:-30])
    out = tmp_path / "out"
    out.mkdir()
    r = runner.invoke(cli.app, ["decompress", str(tmp_path / "cut.nnc"), "-o", str(out)])
    assert r.exit_code == 1 and "truncated" in r.output, r.output
    assert list(out.iterdir()) == []  # no member, no directory made for one, no temporary file


def test_symlink_loop_in_output_directory_is_one_line(tmp_path):
    (tmp_path / "arch.nnc").write_bytes(archive_bytes([("loop/a.txt", DATA[:100])]))
    (tmp_path / "out").mkdir()
    os.symlink("loop", tmp_path / "out" / "loop")
    r = nn("decompress", "arch.nnc", "-o", "out", cwd=tmp_path)
    assert r.returncode == 1
    one_clean_line(r.stderr.decode())


# -- --rm, -c and archives ---------------------------------------------------------------------------------------
def test_rm_with_stdout_keeps_the_input(good):
    r = runner.invoke(cli.app, ["decompress", "--rm", "-c", str(good)])
    assert r.exit_code == 0 and good.exists() and "--rm ignored" in r.output


@pytest.mark.slow
def test_archive_to_stdout_writes_contents_and_no_files(tmp_path):
    members = [("m/a.txt", DATA[:700]), ("m/b.txt", DATA[700:1500])]
    arch = tmp_path / "arch.nnc"
    arch.write_bytes(archive_bytes(members))
    for flags in (["-c"], ["-o", "-"]):
        r = nn("decompress", *flags, "arch.nnc", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == DATA[:1500], r.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arch.nnc"]  # no "m", no "-"
    r = runner.invoke(cli.app, ["decompress", "-q", "--rm", str(arch)])
    assert r.exit_code == 0 and not arch.exists() and (tmp_path / "m" / "b.txt").read_bytes() == DATA[700:1500]


# -- batches and output names --------------------------------------------------------------------------------------
def test_one_bad_input_does_not_stop_the_batch(tmp_path, good):
    other = tmp_path / "notnnc.txt"
    other.write_bytes(b"plain")
    r = runner.invoke(cli.app, ["decompress", "-q", str(good), str(other)])
    assert r.exit_code == 1 and "notnnc.txt" in r.output and "suffix" in r.output
    assert (tmp_path / "good.txt").read_bytes() == DATA


def test_unwritable_output_is_named_and_empty_output_refused(tmp_path, good):
    r = runner.invoke(cli.app, ["decompress", str(good), "-o", str(tmp_path / "nodir" / "x")])
    assert r.exit_code == 1 and "cannot write" in r.output and "nodir" in r.output
    r = runner.invoke(cli.app, ["decompress", str(good), "-o", ""])
    assert r.exit_code == 1 and "empty file name" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt.nnc"]


@pytest.mark.parametrize("name", [".", "/", ""])
@pytest.mark.slow
def test_directories_and_empty_names_are_one_line_errors(name, tmp_path):
    r = nn("compress", "-l", "1", name, cwd=tmp_path)
    assert r.returncode == 1
    assert "is a directory" in one_clean_line(r.stderr.decode()) or "empty" in r.stderr.decode()


# -- train ------------------------------------------------------------------------------------------------------
def test_train_refuses_to_overwrite_its_log(tmp_path):
    log = tmp_path / "log.tsv"
    log.write_text("precious")
    r = runner.invoke(cli.app, ["train", str(SAMPLE), "-o", str(tmp_path / "m.nncm"), "--log", str(log)])
    assert r.exit_code == 1 and "already exists" in r.output and log.read_text() == "precious"


def test_train_warns_when_the_held_out_cost_got_worse(tmp_path, monkeypatch):
    from nncomp.tools import train as trainlib

    prior = nncomp.load_model("default")
    worse = trainlib.TrainResult(prior, 1000, 500, 2.0, 2.5)
    monkeypatch.setattr(trainlib, "train_prior", lambda *a, **k: worse)
    r = runner.invoke(cli.app, ["train", str(SAMPLE), "-o", str(tmp_path / "m.nncm")])
    assert r.exit_code == 0 and "warning" in r.output and "worse" in r.output


# -- one line, never a traceback --------------------------------------------------------------------------------
@pytest.mark.slow
def test_joint_on_an_empty_directory_or_a_backslash_name(tmp_path):
    (tmp_path / "empty").mkdir()
    r = nn("joint", "empty", "-l", "1", cwd=tmp_path)
    assert r.returncode == 1 and "no regular files" in one_clean_line(r.stderr.decode())
    (tmp_path / "a\\b").write_bytes(DATA[:200])
    r = nn("joint", "a\\b", "-o", "x.nnc", "-l", "1", cwd=tmp_path)
    assert r.returncode == 1 and "archive" in one_clean_line(r.stderr.decode())
    assert not (tmp_path / "x.nnc").exists()


@pytest.mark.slow
def test_closed_standard_streams(tmp_path, good):
    r = nn("decompress", "-", stdin=None, preexec_fn=lambda: os.close(0))
    assert r.returncode == 1 and "standard input is closed" in one_clean_line(r.stderr.decode())
    r = subprocess.run([sys.executable, "-m", "nncomp", "decompress", "-c", str(good)], stderr=subprocess.PIPE,
                       preexec_fn=lambda: os.close(1), timeout=300)
    assert r.returncode == 1 and "standard output is closed" in one_clean_line(r.stderr.decode())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt.nnc"]


@pytest.mark.slow
def test_hostile_model_files(tmp_path, good):
    deep = tmp_path / "deep.nncm"
    body = b"[" * 200_000 + b"]" * 200_000
    deep.write_bytes(b"NNCM\x01" + struct.pack(">I", len(body)) + body)
    for model in (str(deep), "/dev/zero"):
        r = nn("decompress", "-c", "--model", model, str(good))
        assert r.returncode == 1 and "model" in one_clean_line(r.stderr.decode())


@pytest.mark.slow
def test_thread_count_is_bounded(good):
    r = nn("decompress", "-c", "-T", "100000", str(good))
    assert r.returncode == 2 and "--threads" in one_clean_line(r.stderr.decode())
    assert nn("decompress", "-c", "-T", "0", str(good)).stdout == DATA  # 0: one per core, as zstd -T0


# -- the Python API takes what lzma takes ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(b"x", True), (b"x", 1.0), (b"x", 0), (5,), ([104, 105],), ("text",)])
def test_compress_rejects_what_lzma_rejects(args):
    with pytest.raises((TypeError, ValueError)):
        nncomp.compress(*args)


def test_compress_takes_any_bytes_like_object(packed):
    assert nncomp.compress(bytearray(DATA), 1) == packed == nncomp.compress(memoryview(DATA), 1)


def test_decompress_takes_model_paths(tmp_path):
    from nncomp.prior import Prior

    base = nncomp.load_model("default")
    custom = Prior(base.shape, base.orders, base.params, base.alpha * 0.5, {"note": "test"})
    path = tmp_path / "custom.nncm"
    path.write_bytes(custom.to_bytes())
    packed = nncomp.compress(DATA[:200], 5, model=str(path))
    with pytest.raises(nncomp.UnsupportedError):
        nncomp.decompress(packed)
    for models in ([str(path)], [path], str(path), [custom]):
        assert nncomp.decompress(packed, models=models) == DATA[:200]


@pytest.mark.slow
def test_concatenated_streams_decode_as_one(packed):
    second = nncomp.compress(b"tail", 1)
    assert nncomp.decompress(packed + second + packed) == DATA + b"tail" + DATA
    with pytest.raises(CorruptError, match="trailing"):
        nncomp.decompress(packed + b"garbage")
    with pytest.raises(CorruptError, match="truncated"):
        nncomp.decompress(packed + second[:-3])


def test_decompressor_has_lzma_attributes(packed):
    d = nncomp.decompressor()
    assert not d.eof and d.needs_input and d.unused_data == b""
    first = d.decompress(packed + b"rest", max_length=100)
    assert first == DATA[:100] and not d.needs_input
    got = first
    while len(got) < len(DATA):
        piece = d.decompress(b"", max_length=1000)
        assert 0 < len(piece) <= 1000
        got += piece
    if not d.eof:  # the end record is read once no decoded byte is waiting
        assert d.decompress(b"") == b""
    assert got == DATA and d.eof and d.unused_data == b"rest"
    with pytest.raises(EOFError):
        d.decompress(b"more")


def test_public_names_are_exported_and_documented():
    for name in nncomp.__all__:
        obj = getattr(nncomp, name)
        if callable(obj):
            assert obj.__doc__, name
    assert os.path.exists(os.path.join(os.path.dirname(nncomp.__file__), "py.typed"))


# -- zstd's conventions -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_filter_mode_without_subcommand():
    comp = nn("-1", input=DATA)
    assert comp.returncode == 0 and comp.stdout.startswith(container.MAGIC) and comp.stderr == b""
    dec = nn("-d", input=comp.stdout)
    assert dec.returncode == 0 and dec.stdout == DATA and dec.stderr == b""
    assert nn("-dc", "-", input=comp.stdout).stdout == DATA
    assert nn("-t", input=comp.stdout).returncode == 0


@pytest.mark.slow
def test_tar_uses_nncomp_as_its_compressor(tmp_path):
    if not shutil.which("tar"):
        pytest.skip("no tar")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(DATA[:1500])
    (src / "sub" / "b.txt").write_bytes(DATA[1500:])
    prog = f"{sys.executable} -m nncomp -1"
    r = subprocess.run(["tar", "-I", prog, "-cf", "x.tar.nnc", "src"], cwd=tmp_path, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "x.tar.nnc").read_bytes().startswith(container.MAGIC)
    (tmp_path / "back").mkdir()
    r = subprocess.run(["tar", "-I", prog, "-xf", "../x.tar.nnc"], cwd=tmp_path / "back", capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    for rel in ("a.txt", "sub/b.txt"):
        assert (tmp_path / "back" / "src" / rel).read_bytes() == (src / rel).read_bytes()


@pytest.mark.slow
def test_quiet_in_pipes_and_verbose_decompress(good):
    r = nn("decompress", "-c", str(good))
    assert r.returncode == 0 and r.stderr == b""
    r = nn("decompress", "-c", "-v", str(good))
    assert r.returncode == 0 and b"good.txt.nnc" in r.stderr and b"bits/byte" in r.stderr


@pytest.mark.slow
def test_usage_errors_are_one_line():
    for args in (["compress", "--bogus"], ["compress", "-l", "12"], ["--nope"]):
        r = nn(*args)
        assert r.returncode == 2 and one_clean_line(r.stderr.decode()).startswith("nncomp: error:")


def test_progress_on_a_terminal_for_a_small_input(tmp_path, monkeypatch):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    monkeypatch.setattr(cli, "_console", lambda stderr: console)
    src = tmp_path / "small.txt"
    src.write_bytes(DATA)
    r = runner.invoke(cli.app, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 0
    assert "small.txt" in buf.getvalue() and "kB" in buf.getvalue()  # the bar: label, bytes and speed


def test_outputs_keep_the_input_time_and_mode(tmp_path):
    src = tmp_path / "old.txt"
    src.write_bytes(DATA)
    os.chmod(src, 0o640)
    os.utime(src, ns=(1_000_000_000_000_000_000, 1_100_000_000_123_456_789))
    assert runner.invoke(cli.app, ["compress", "-q", "-l", "1", "--rm", str(src)]).exit_code == 0
    packed = tmp_path / "old.txt.nnc"
    assert packed.stat().st_mtime_ns == 1_100_000_000_123_456_789 and stat.S_IMODE(packed.stat().st_mode) == 0o640
    assert runner.invoke(cli.app, ["decompress", "-q", "--rm", str(packed)]).exit_code == 0
    assert src.stat().st_mtime_ns == 1_100_000_000_123_456_789 and src.read_bytes() == DATA


def test_info_totals_json_and_memory(tmp_path, good, packed):
    (tmp_path / "two.nnc").write_bytes(packed)
    r = runner.invoke(cli.app, ["info", str(good), str(tmp_path / "two.nnc")])
    assert r.exit_code == 0 and "total" in r.output and f"{2 * len(DATA):,}" in r.output
    assert "1 layer," in r.output and "memory to decode" in r.output
    r = runner.invoke(cli.app, ["info", "--json", str(good)])
    [desc] = json.loads(r.stdout)
    assert desc["original"] == len(DATA) and desc["compressed"] == len(packed) and desc["decode_memory"] > 0


def test_joint_json_carries_the_format(tmp_path):
    (tmp_path / "a.txt").write_bytes(DATA[:800])
    (tmp_path / "b.txt").write_bytes(DATA[800:1600])
    r = runner.invoke(cli.app, ["joint", "--json", "-l", "1", str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["format"] == container.VERSION and rep["nncomp"] == nncomp.__version__


def test_shell_completion_is_offered():
    r = runner.invoke(cli.app, ["--help"])
    assert "--install-completion" in r.output

"""The command line: zstd conventions, pipes, safe outputs, one-line errors."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nncomp.cli import app

from .conftest import SAMPLE, nncomp_env

runner = CliRunner()
DATA = SAMPLE.read_bytes()[:5000]
# Files and pipes at the default level; tests of names, errors and flags at level 1, which codes these
# 5,000 bytes in a second where the default level takes about ten.


def nn(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "nncomp", *args], input=input, capture_output=True, cwd=cwd,
                          env=nncomp_env(COLUMNS="200"), timeout=300)


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "data.txt"
    p.write_bytes(DATA)
    return p


@pytest.mark.slow
def test_compress_decompress_files(src, tmp_path):
    r = runner.invoke(app, ["compress", "-q", str(src)])
    assert r.exit_code == 0, r.output
    nnc = tmp_path / "data.txt.nnc"
    assert nnc.exists() and src.exists()  # inputs are kept by default
    out = tmp_path / "restored.txt"
    r = runner.invoke(app, ["decompress", "-q", str(nnc), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == DATA


def test_decompress_names_output_by_stripping_suffix(src, tmp_path):
    assert runner.invoke(app, ["compress", "-q", "-l", "1", "--rm", str(src)]).exit_code == 0
    assert not src.exists()  # --rm removed the input once the output was complete
    assert runner.invoke(app, ["decompress", "-q", str(tmp_path / "data.txt.nnc")]).exit_code == 0
    assert src.read_bytes() == DATA


def test_refuses_to_overwrite_without_force(src, tmp_path):
    nnc = tmp_path / "data.txt.nnc"
    nnc.write_bytes(b"precious")
    r = runner.invoke(app, ["compress", str(src)])
    assert r.exit_code == 1
    assert "already exists" in r.output and "Traceback" not in r.output
    assert nnc.read_bytes() == b"precious"
    r = runner.invoke(app, ["compress", "-q", "-l", "1", "-f", str(src)])
    assert r.exit_code == 0
    assert nnc.read_bytes() != b"precious"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_pipe_through_processes(tmp_path):
    comp = nn("compress", "-", input=DATA)
    assert comp.returncode == 0, comp.stderr
    dec = nn("decompress", "-", input=comp.stdout)
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout == DATA


@pytest.mark.slow
def test_stdout_flag(src):
    r = nn("compress", "-l", "1", "-c", str(src))
    assert r.returncode == 0
    assert nn("decompress", "-c", "-", input=r.stdout).stdout == DATA


@pytest.mark.slow
def test_corrupt_input_one_line_error(src, tmp_path):
    assert runner.invoke(app, ["compress", "-q", "-l", "1", str(src)]).exit_code == 0
    nnc = tmp_path / "data.txt.nnc"
    damaged = bytearray(nnc.read_bytes())
    damaged[len(damaged) // 2] ^= 0x10
    bad = tmp_path / "bad.txt.nnc"
    bad.write_bytes(bytes(damaged))
    r = nn("decompress", str(bad))
    assert r.returncode == 1
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nncomp: ") and "Traceback" not in r.stderr.decode()
    assert not (tmp_path / "bad.txt").exists()  # no partial output
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_truncated_and_foreign_input(tmp_path, src):
    assert runner.invoke(app, ["compress", "-q", "-l", "1", str(src)]).exit_code == 0
    nnc = tmp_path / "data.txt.nnc"
    (tmp_path / "cut.nnc").write_bytes(nnc.read_bytes()[:-7])
    r = nn("decompress", str(tmp_path / "cut.nnc"))
    assert r.returncode == 1 and b"truncated" in r.stderr
    r = nn("decompress", "-c", str(src))
    assert r.returncode == 1 and b"suffix" not in r.stderr and b"magic" in r.stderr


@pytest.mark.slow
def test_unknown_suffix_and_missing_file(tmp_path, src):
    r = nn("decompress", str(src))
    assert r.returncode == 1 and b"suffix" in r.stderr
    r = nn("compress", str(tmp_path / "nope"))
    assert r.returncode == 1 and b"no such file" in r.stderr


@pytest.mark.slow
def test_info_and_test_commands(src, tmp_path):
    assert runner.invoke(app, ["compress", "-q", "-l", "1", str(src)]).exit_code == 0
    nnc = str(tmp_path / "data.txt.nnc")
    r = nn("info", nnc)
    assert r.returncode == 0
    text = r.stdout.decode()
    assert f"{len(DATA):,}" in text and "bits/byte" in text and "level" in text
    piped = nn("info", "-", input=(tmp_path / "data.txt.nnc").read_bytes())  # from a pipe too
    assert piped.returncode == 0 and f"{len(DATA):,}" in piped.stdout.decode()
    assert nn("test", nnc).returncode == 0
    (tmp_path / "cut.nnc").write_bytes((tmp_path / "data.txt.nnc").read_bytes()[:-1])
    assert nn("test", str(tmp_path / "cut.nnc")).returncode == 1


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("nncomp ")


def test_quiet_commands_do_not_import_rich():
    """rich is imported when something is printed, not by every run: a small file's run is mostly start-up."""
    code = ("import sys, typer; before = {m for m in sys.modules if m.split('.')[0] == 'rich'}; "
            "import nncomp.cli; print(sorted({m for m in sys.modules if m.split('.')[0] == 'rich'} - before))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=nncomp_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == b"[]", r.stdout + r.stderr


def test_help_version_and_usage_errors_need_no_torch(tmp_path):
    """They answer at once: importing torch takes a second or more, and nothing here codes."""
    code = ("import sys\nfrom nncomp.cli import run\nfor args in ({}):\n    try:\n        run(args)\n"
            "    except SystemExit:\n        pass\nprint('torch imported' if 'torch' in sys.modules else 'no torch')")
    missing, done = str(tmp_path / "missing.nnc"), tmp_path / "done.txt"
    done.write_bytes(b"x")
    (tmp_path / "done.txt.nnc").write_bytes(b"y")
    calls = (f"['--help'], ['-V'], ['compress', '--help'], ['compress', '-l', '12', 'x'], ['decompress', '--bogus'], "
             f"['decompress', {missing!r}], ['info', {missing!r}], ['test', {missing!r}], ['compress', {missing!r}], "
             f"['compress', {str(done)!r}]")
    r = subprocess.run([sys.executable, "-c", code.format(calls)], capture_output=True, env=nncomp_env(), timeout=60)
    assert r.stdout.decode().splitlines()[-1] == "no torch", r.stderr.decode()
    assert b"Usage" in r.stdout and b"12 is not in the range" in r.stderr and b"--bogus" in r.stderr
    assert r.stderr.decode().count(f"{missing}: no such file") == 4 and b"already exists" in r.stderr
    assert (tmp_path / "done.txt.nnc").read_bytes() == b"y"
    r = subprocess.run([sys.executable, "-c", "import sys, nncomp\nassert 'torch' not in sys.modules\n"
                        "print(nncomp.decompress(nncomp.compress(b'abc', 1)), nncomp.config.DEFAULT_LEVEL)"],
                       capture_output=True, env=nncomp_env(), timeout=300)
    assert r.stdout.split() == [b"b'abc'", b"5"], r.stderr.decode()

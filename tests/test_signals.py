"""Interrupted runs leave neither a partial output nor a missing input."""

import signal
import subprocess
import sys
import time

import pytest

from .conftest import SAMPLE, nncomp_env

DATA = SAMPLE.read_bytes() * 8  # ~200 KB: several seconds of work at level 1


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "nncomp", *args], cwd=cwd, env=nncomp_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    d = tmp_path_factory.mktemp("packed")
    (d / "big.txt").write_bytes(DATA)
    r = subprocess.run([sys.executable, "-m", "nncomp", "compress", "-q", "-l", "1", "big.txt"], cwd=d, env=nncomp_env())
    assert r.returncode == 0
    return (d / "big.txt.nnc").read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("direction", ["compress", "decompress"])
def test_kill_mid_run(tmp_path, packed, sig, direction):
    if direction == "compress":
        src = tmp_path / "big.txt"
        src.write_bytes(DATA)
        args, out = ["compress", "-l", "1", "--rm", "big.txt"], tmp_path / "big.txt.nnc"
    else:
        src = tmp_path / "big.txt.nnc"
        src.write_bytes(packed)
        args, out = ["decompress", "--rm", "big.txt.nnc"], tmp_path / "big.txt"
    before = src.read_bytes()
    p = _start(args, tmp_path)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".*.tmp")) and time.time() < deadline:  # wait until it is writing
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert b"Traceback" not in err and b"interrupted" in err
    assert src.read_bytes() == before  # the input is intact (--rm did not fire)
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))

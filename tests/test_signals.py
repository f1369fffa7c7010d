"""Interrupted runs leave neither a partial output nor a missing input (tests/harness/kill.py has the long run)."""

import signal

import pytest

from .harness import kill


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return kill.packed_input(tmp_path_factory.mktemp("packed"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("direction", ["compress", "decompress"])
@pytest.mark.slow
def test_kill_mid_run(tmp_path, packed, sig, direction):
    # half a second into the work, well before the end of a run of this size
    assert kill.trial(direction, sig, 0.5, tmp_path, packed) is None


def test_torch_is_imported_before_an_output_file_exists(tmp_path):
    """A signal while torch's extensions load can abort the process past every clean-up, so no
    temporary output may exist then (cli._import_coding)."""
    import subprocess
    import sys

    from .conftest import nncomp_env

    (tmp_path / "in.txt").write_bytes(b"some text to compress " * 20)
    code = ("import sys, tempfile\nseen = []\nmake = tempfile.mkstemp\n"
            "def spy(*a, **k):\n    seen.append('torch' in sys.modules)\n    return make(*a, **k)\n"
            "tempfile.mkstemp = spy\nfrom nncomp.cli import run\ntry:\n    run(['compress', '-q', '-l', '1', 'in.txt'])\n"
            "except SystemExit:\n    pass\nprint(seen)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, env=nncomp_env(), timeout=300)
    assert r.stdout.split() == [b"[True]"], r.stderr.decode()
    assert (tmp_path / "in.txt.nnc").exists()

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

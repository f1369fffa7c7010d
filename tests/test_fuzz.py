"""A short, seeded run of the fuzzing harness in tests/harness/fuzz.py (the long run is in the README)."""

import pytest

from .harness import fuzz


@pytest.mark.slow
def test_mutants_in_process():
    summary = fuzz.run(120, seed=11)  # thousands: tests/harness/fuzz.py
    assert summary["mutants"] == 120
    assert summary["failures"] == 0, summary["failure details"]
    assert summary["clean errors"] > 60  # most mutants must actually be rejected


@pytest.mark.slow
def test_mutants_through_cli():
    summary = fuzz.run_cli(6, seed=12)
    assert summary["cli failures"] == 0, summary["cli failure details"]

"""A short, seeded run of the fuzzing harness in bench/fuzz.py (the long run is in the README)."""

import importlib.util

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("fuzz", ROOT / "bench" / "fuzz.py")
fuzz = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz)


def test_mutants_in_process():
    summary = fuzz.run(200, seed=11)  # thousands: bench/fuzz.py
    assert summary["mutants"] == 200
    assert summary["failures"] == 0, summary["failure details"]
    assert summary["clean errors"] > 100  # most mutants must actually be rejected


def test_mutants_through_cli():
    summary = fuzz.run_cli(6, seed=12)
    assert summary["cli failures"] == 0, summary["cli failure details"]

"""Long-running checks the suite runs briefly: decoder fuzzing and interrupted runs (python -m tests.harness.fuzz)."""

# Two entry points, each sets itself up from nothing: `make demo` and `make test`.
# TORCH pins the torch build installed before nncomp; the default is the CPU build where the
# machine offers one (pip's find-links), and the ordinary PyPI wheel elsewhere.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python

.PHONY: demo test check bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	VENV=$(VENV) bash scripts/demo.sh samples/sample.txt

# two test processes: most of the suite runs nncomp on one thread (tests/conftest.py)
test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 --durations=12

# the fast tier (under two minutes): unit tests, lock-step tests and the golden streams
check: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m "not slow"

bench: $(VENV)/.installed
	$(PY) bench/compare.py

clean:
	rm -rf $(VENV) .pytest_cache

"""Compiled loops for the count table's work per position, where numba is installed.

A step of the context model is a few dozen small torch operations over (rows, lanes) tensors, each
costing more in dispatch than in work. These kernels do the same integer work in one pass each, with
the same results bit for bit: counts, check bytes and runs are integers, and the one float output
(the rows' scores) is copied from the same integer table. Updates keep the torch path's phases (runs,
claims, increments, halving), and writes that lanes make to one row in one step resolve by maximum,
so the order of lanes does not matter here either.

Loading them costs a few tenths of a second per process (numba's import and its cached machine
code), so the count table uses them only for inputs large enough to repay it (`wanted`); the torch
path in contexts/counts.py stays the reference, and the tests compare the two.
"""

from __future__ import annotations

import functools
import os

import numpy as np

# Kernels repay their loading from about this many bytes coded by one model.
MIN_BYTES = 1 << 13


def wanted(n: int) -> bool:
    """Whether a model that will code n bytes should use the kernels (NNCOMP_KERNELS=0 turns them
    off, =1 on for any size) and they load."""
    setting = os.environ.get("NNCOMP_KERNELS", "")
    if setting == "0" or (setting != "1" and n < MIN_BYTES):
        return False
    return load() is not None


class Loops:
    """The compiled kernels, as attributes. A model holds this object; copies of a model (joint
    --matrix copies coders) and pickles refer to the one loaded in their process."""

    def __init__(self, module):
        self.__dict__.update((name, f) for name, f in vars(module).items() if hasattr(f, "py_func"))

    def __reduce__(self):
        return load, ()


@functools.lru_cache(maxsize=None)
def load() -> Loops | None:
    """The compiled kernels, or None where numba is not installed."""
    try:
        from . import _kernels
    except ImportError:
        return None
    return Loops(_kernels)

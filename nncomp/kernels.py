"""Compiled loops for the context model's work per position, where numba is installed.

A position's context work (the count table, the match, word and column sources, the mixer's weight
cells and context logits) is dozens of small torch operations over (rows, lanes) tensors, each
costing more in dispatch than in work. The kernels in _kernels.py do the same work in one call per
method, with the same results bit for bit: everything is integers (the scores are copied from the
same integer table; the context logits are sums of integer products, exact in float64). Updates
keep the torch path's phases, and writes that lanes make to one row in one step resolve by maximum,
so the order of lanes does not matter here either.

Loading them costs about half a second per process (numba's import and its cached machine code), so
a model uses them only for inputs large enough to repay it (`wanted`); each class's torch path stays
the reference, and the tests compare the two.
"""

from __future__ import annotations

import functools
import os

# Kernels repay their loading from about this many bytes coded by one model (and cost about 100 MB
# of peak memory: a 4 KB file takes about 480 MB with them, docs/decisions.md).
MIN_BYTES = 1 << 10


def wanted(n: int) -> bool:
    """Whether a model that will code n bytes should use the kernels (NNCOMP_KERNELS=0 turns them
    off, =1 on for any size) and they load."""
    setting = os.environ.get("NNCOMP_KERNELS", "")
    if setting == "0" or (setting != "1" and n < MIN_BYTES):
        return False
    return load() is not None


def _compiled(module) -> dict:
    """The module's numba functions by name."""
    return {name: f for name, f in vars(module).items() if hasattr(f, "py_func")}


class Loops:
    """The compiled kernels, as attributes. A model holds this object; copies of a model (joint
    --matrix copies coders) and pickles refer to the one loaded in their process."""

    def __init__(self, module):
        self.__dict__.update(_compiled(module))

    def __reduce__(self):
        return load, ()


@functools.lru_cache(maxsize=None)
def load() -> Loops | None:
    """The compiled kernels, or None where numba is not installed."""
    try:
        from . import _kernels
    except ImportError:
        return None
    if _kernels.baked() != _kernels.CONSTANTS:
        # a cache compiled before a constant of contexts/counts.py changed, which numba does not see:
        # drop it, so every kernel compiles again with today's values (and caches them)
        for f in _compiled(_kernels).values():
            f._cache.flush()
        _kernels.baked.recompile()
    return Loops(_kernels)

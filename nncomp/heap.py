"""Process-wide memory settings for speed: the command line makes them, never the library on import.

A block of coding allocates and frees tensors of 2-64 MB (scores, gradients, the backward pass's
attention terms). glibc serves blocks this large with fresh mmap()s and hands them back on free, so
every block touches its memory anew and pays a page fault per 4 KiB, which is dear in a VM.
Keeping freed memory in the process lets the next block reuse it.

The price is that a process keeps its peak memory until it exits, which suits a command-line run
(bench/rss.py measures it) but not a library inside a long-lived program, so only `nncomp` itself and
the benchmarks, which measure what it does, call this. It changes no byte of any output.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
_M_MMAP_MAX = -4
_KEEP = 2**31 - 1  # the largest trim threshold mallopt takes: freed memory stays in the process


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and never trim it (glibc); True if the C library took it.
    Elsewhere (musl, macOS, Windows) nothing changes and False comes back."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP))

"""One speed sample of the code in the current directory, for side-by-side comparisons of two checkouts.

    cd OLD && python /path/to/bench/ab_speed.py 5 200000 FILE...     # then the same in NEW, alternating
    git worktree add /tmp/old COMMIT                                  # a checkout of the older code

Concatenates the first N bytes of each FILE, compresses and decompresses them through the API of the
nncomp found in the current directory (two threads), checks the round trip and prints the size and
KB/s both ways. This machine's speed drifts by up to a third between runs, so only samples taken
in alternation, in the same session, are compared.
"""

import os
import sys
import time

sys.path.insert(0, os.getcwd())

import nncomp  # noqa: E402

try:  # as that checkout's command line does, where it has the setting (nncomp/heap.py)
    from nncomp.heap import keep_freed_memory  # noqa: E402

    keep_freed_memory()
except ImportError:
    pass

level, n = int(sys.argv[1]), int(sys.argv[2])
data = b"".join(open(f, "rb").read()[:n] for f in sys.argv[3:])
t = time.perf_counter()
packed = nncomp.compress(data, level, threads=2)
tc = time.perf_counter() - t
t = time.perf_counter()
assert nncomp.decompress(packed, threads=2) == data
td = time.perf_counter() - t
print(f"{os.getcwd()} level {level}: {len(packed)} bytes, compress {len(data) / tc / 1e3:.2f} KB/s, "
      f"decompress {len(data) / td / 1e3:.2f} KB/s")

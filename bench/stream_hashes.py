"""Hashes of the compressed output of a few eval-file prefixes, to show two checkouts code the same bytes.

    python bench/stream_hashes.py . > now.txt
    python bench/stream_hashes.py /tmp/old > before.txt && diff before.txt now.txt

Beside the golden streams (tests/golden: small inputs), these are larger inputs with every kind of
frame: object code, a bitmap, a spreadsheet, text, numbers, source, at levels 1 and 5. Each stream
is decoded and checked too. Needs ../shared/corpus/eval.
"""

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))

import nncomp  # noqa: E402

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "eval"
PICKS = [("obj2", 30000), ("pic", 40000), ("kennedy.xls", 40000), ("book1", 30000), ("geo", 20000), ("progc", 20000)]

files = {p.name: p for p in EVAL.rglob("*") if p.is_file()}
for name, n in PICKS:
    data = files[name].read_bytes()[:n]
    for level in (1, 5):
        out = nncomp.compress(data, level)
        assert nncomp.decompress(out) == data
        print(name, level, len(out), hashlib.sha256(out).hexdigest()[:16], flush=True)

"""Joint compression on the evaluation files: savings for related pairs, and an NCD matrix over Calgary.

    python bench/joint_bench.py                       # pairs at level 5, NCD on 32 KiB prefixes at level 1
    python bench/joint_bench.py --prefix 0 --ncd-level 5   # whole files (slow)
    python bench/joint_bench.py --skip-ncd                 # the pairs only (README's table)
    python bench/joint_bench.py --skip-ncd --pairs paper1+progc,progc+obj1 --pairs-out more.md

Writes bench/results/joint_pairs.md and bench/results/ncd.md / ncd.json, and checks the expected
structure: each paper's nearest neighbour is another paper or a book, each prog file's another prog.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nncomp import container  # noqa: E402
from nncomp.tools.joint import joint_report, ncd_matrix  # noqa: E402

CALGARY = HERE.parent.parent / "shared" / "corpus" / "eval" / "calgary"
PAIRS = [("book1", "book2"), ("paper1", "paper2"), ("progc", "progp"), ("obj1", "obj2"), ("book2", "progc")]
NCD_FILES = ["bib", "book1", "book2", "news", "paper1", "paper2", "paper3", "paper4", "paper5", "paper6",
             "progc", "progl", "progp", "obj1", "obj2"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", type=int, default=5, help="level of the pair reports")
    ap.add_argument("--ncd-level", type=int, default=1)
    ap.add_argument("--prefix", type=int, default=32768, help="bytes of each file in the NCD matrix (0: all)")
    ap.add_argument("--skip-pairs", action="store_true")
    ap.add_argument("--skip-ncd", action="store_true")
    ap.add_argument("--pairs", help="A+B,C+D,... instead of the default pairs")
    ap.add_argument("--pairs-out", default="joint_pairs.md", help="file under bench/results for the pairs' table")
    args = ap.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)

    if not args.skip_pairs:
        lines = [f"Format {container.VERSION}, level {args.level}. 'alone' is each file compressed by itself; 'joint' "
                 "its share of one stream of both (the second file's share is C(B|A)); B is coded by what A taught "
                 "mixed with a fresh model, or afresh, whichever is smaller.\n",
                 "| A | B | A alone | B alone | sum | joint stream | B inside joint | saving | saving % | B starts |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for a, b in [tuple(p.split("+")) for p in args.pairs.split(",")] if args.pairs else PAIRS:
            t0 = time.perf_counter()
            rep = joint_report([(n, [(n, (CALGARY / n).read_bytes())]) for n in (a, b)], args.level)
            da, db = rep.datasets
            lines.append(f"| {a} | {b} | {da.alone} | {db.alone} | {rep.separate_total} | {rep.joint_total} | {db.joint} | "
                         f"{rep.saving} | {rep.saving_pct:.2f} | {'mixed' if db.learned else 'afresh'} |")
            print(lines[-1], f"({time.perf_counter() - t0:.0f}s)", flush=True)
        (out / args.pairs_out).write_text("\n".join(lines) + "\n")
    if args.skip_ncd:
        return

    t0 = time.perf_counter()
    data = [(n, (CALGARY / n).read_bytes()[: args.prefix or None]) for n in NCD_FILES]
    m = ncd_matrix(data, args.ncd_level)
    m["prefix_bytes"] = args.prefix
    names, ncd = m["names"], m["ncd"]
    nearest = {n: min((ncd[i][j], names[j]) for j in range(len(names)) if j != i)[1] for i, n in enumerate(names)}
    checks = []
    for n, nb in nearest.items():
        if n.startswith("paper"):
            checks.append((n, nb, nb.startswith(("paper", "book"))))
        elif n.startswith("prog"):
            checks.append((n, nb, nb.startswith("prog")))
    m["nearest"] = nearest
    m["checks_passed"] = all(ok for _, _, ok in checks)
    (out / "ncd.json").write_text(json.dumps(m, indent=1))
    md = [f"NCD at level {args.ncd_level} on the first {args.prefix or 'all'} bytes of each Calgary file "
          f"({time.perf_counter() - t0:.0f}s). Row x, column y: (C(xy) - min(C(x),C(y))) / max(C(x),C(y)).\n",
          "| | " + " | ".join(names) + " | nearest |", "|---|" + "---:|" * len(names) + "---|"]
    for i, n in enumerate(names):
        md.append(f"| {n} | " + " | ".join(f"{v:.3f}" for v in ncd[i]) + f" | {nearest[n]} |")
    md.append("")
    md += [f"- {n}: nearest {nb} {'ok' if ok else 'UNEXPECTED'}" for n, nb, ok in checks]
    (out / "ncd.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

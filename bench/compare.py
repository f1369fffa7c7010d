"""Compare nncomp (each level asked for) with classical compressors on the evaluation files.

    python bench/compare.py                          # default level, the issue's file set
    python bench/compare.py --levels 1,5,9 --files paper1,progc --threads 2
    python bench/compare.py --levels 1 --no-classical --merge bench/results/compare.tsv   # add a level
    python bench/compare.py --files bench/devcorpus --classical "xz -9e,zpaq -m5" --out bench/results/devcorpus

Writes bench/results/compare.md (a markdown table) and compare.tsv. Every figure comes from this
run: sizes are exact; speeds are wall-clock KB/s (1 KB = 1000 bytes) of one process, nncomp
measured through its Python API, the others as subprocesses reading a file and writing a pipe.
Every round trip is verified. Slower peers (paq8px, cmix, NNCP) are in ../shared/baselines.tsv.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nncomp  # noqa: E402
from nncomp.heap import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the nncomp command does (nncomp/heap.py)

EVAL = HERE.parent.parent / "shared" / "corpus" / "eval"
DEFAULT_FILES = "book1,paper1,progc,obj2,alice29.txt,input.txt"
CALGARY_CANTERBURY = ("bib,book1,book2,geo,news,obj1,obj2,paper1,paper2,paper3,paper4,paper5,paper6,pic,progc,progl,"
                      "progp,trans,alice29.txt,asyoulik.txt,cp.html,fields.c,grammar.lsp,kennedy.xls,lcet10.txt,"
                      "plrabn12.txt,ptt5,sum,xargs.1")

CLASSICAL = {  # name: (compress argv, decompress argv)
    "gzip -9": (["gzip", "-9", "-c"], ["gzip", "-d", "-c"]),
    "bzip2 -9": (["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"]),
    "xz -9e": (["xz", "-9e", "-T1", "-c"], ["xz", "-d", "-c"]),
    "zstd -19": (["zstd", "-19", "-q", "-c"], ["zstd", "-d", "-q", "-c"]),
    "zstd -22 --long=27": (["zstd", "--ultra", "-22", "--long=27", "-q", "-c"], ["zstd", "-d", "--long=27", "-q", "-c"]),
    "brotli -q 11": (["brotli", "-q", "11", "-c"], ["brotli", "-d", "-c"]),
    # 7z cannot write a .7z archive to a pipe: {archive} is a temporary file
    "7z PPMd o=16": (["7z", "a", "-t7z", "-m0=PPMd:mem=256m:o=16", "-mmt=1", "-bso0", "-bsp0", "-si", "{archive}"],
                     ["7z", "e", "-so", "-bsp0", "{archive}"]),
    # zpaq reads files and extracts into a folder: {input} holds the data, {outdir} receives it
    "zpaq -m5": (["zpaq", "a", "{archive}", "{input}", "-m5", "-t1"], ["zpaq", "x", "{archive}", "-to", "{outdir}", "-t1"]),
}


def find(name: str) -> list[Path]:
    """An eval file by name, a file by path, or every file of a folder (its MANIFEST.tsv aside)."""
    p = Path(name)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.name != "MANIFEST.tsv")
    if p.is_file():
        return [p]
    hits = sorted(EVAL.rglob(name))
    if not hits:
        raise SystemExit(f"{name}: not found under {EVAL}")
    return hits[:1]


def run_classical(argv_c, argv_d, data: bytes, decode: bool = True):
    with tempfile.TemporaryDirectory() as tmp:
        names = {"{archive}": str(Path(tmp) / ("out.zpaq" if argv_c[0] == "zpaq" else "out.7z")),
                 "{input}": str(Path(tmp) / "in"), "{outdir}": str(Path(tmp) / "x")}
        archive, infile, outdir = names.values()
        argv_c, argv_d = ([names.get(a, a) for a in argv] for argv in (argv_c, argv_d))
        if infile in argv_c:
            Path(infile).write_bytes(data)
        t0 = time.perf_counter()
        packed = subprocess.run(argv_c, input=None if infile in argv_c else data, capture_output=True, check=True).stdout
        tc = time.perf_counter() - t0
        if archive in argv_c:
            packed = Path(archive).read_bytes()
        if not decode:
            return len(packed), tc, float("nan"), None
        t0 = time.perf_counter()
        back = subprocess.run(argv_d, input=None if archive in argv_d else packed, capture_output=True, check=True).stdout
        td = time.perf_counter() - t0
        if outdir in argv_d:
            [back] = [f.read_bytes() for f in Path(outdir).rglob("*") if f.is_file()]
    return len(packed), tc, td, back == data


def run_nncomp(level: int, data: bytes, threads: int | None, decode: bool = True):
    t0 = time.perf_counter()
    packed = nncomp.compress(data, level, threads=threads)
    tc = time.perf_counter() - t0
    if not decode:
        return len(packed), tc, float("nan"), None
    t0 = time.perf_counter()
    back = nncomp.decompress(packed, threads=threads)
    td = time.perf_counter() - t0
    return len(packed), tc, td, back == data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default=str(nncomp.DEFAULT_LEVEL), help="nncomp levels, comma-separated")
    ap.add_argument("--files", default=DEFAULT_FILES,
                    help="eval file names, paths or folders, comma-separated, or calgary+canterbury")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-classical", action="store_true")
    ap.add_argument("--classical", default=",".join(CLASSICAL), help="the classical compressors to run, comma-separated")
    ap.add_argument("--sizes-only", action="store_true", help="compress only (no decompression, no round-trip check)")
    ap.add_argument("--out", default=str(HERE / "results" / "compare"))
    ap.add_argument("--merge", action="append", default=[], metavar="TSV",
                    help="also list the rows of an earlier run's .tsv (files and tools this run does not measure)")
    args = ap.parse_args()

    rows = []
    paths = [p for name in (CALGARY_CANTERBURY if args.files == "calgary+canterbury" else args.files).split(",")
             for p in find(name)]
    for path in paths:
        data = path.read_bytes()
        dec = not args.sizes_only
        tools = [(f"nncomp -l {lv}", lambda d, lv=int(lv): run_nncomp(lv, d, args.threads, dec)) for lv in args.levels.split(",") if lv]
        if not args.no_classical:
            for tool, (c, d) in CLASSICAL.items():
                if tool not in args.classical.split(","):
                    continue
                if shutil.which(c[0]):
                    tools.append((tool, lambda data, c=c, d=d: run_classical(c, d, data, dec)))
                else:
                    print(f"# {tool}: not installed, skipped", file=sys.stderr)
        for tool, fn in tools:
            size, tc, td, ok = fn(data)
            row = dict(file=path.name, bytes=len(data), tool=tool, packed=size, bpb=8 * size / len(data),
                       c_kbs=len(data) / tc / 1e3, d_kbs=len(data) / td / 1e3, ok=ok)
            rows.append(row)
            print(f"{row['file']:16} {tool:22} {size:>9} {row['bpb']:.4f} bpb  {row['c_kbs']:9.1f} KB/s c  "
                  f"{row['d_kbs']:9.1f} KB/s d  {_ok(ok)}", flush=True)
    measured = {(r["file"], r["tool"]) for r in rows}
    for tsv in args.merge:
        rows += [r for r in read_tsv(Path(tsv)) if (r["file"], r["tool"]) not in measured]
    known = CALGARY_CANTERBURY.split(",")  # the usual order; other files after them, as they came
    order = {name: i for i, name in enumerate(dict.fromkeys(known + [r["file"] for r in rows]))}
    write(sorted(rows, key=lambda r: order[r["file"]]), Path(args.out))


def read_tsv(path: Path) -> list[dict]:
    """Rows written by write()."""
    lines = path.read_text().splitlines()
    cols = lines[0].split("\t")
    conv = dict(bytes=int, packed=int, bpb=float, c_kbs=float, d_kbs=float, ok=lambda v: None if v == "None" else v == "True")
    return [{c: conv.get(c, str)(v) for c, v in zip(cols, line.split("\t"))} for line in lines[1:]]


def _ok(ok) -> str:
    return "not checked" if ok is None else ("ok" if ok else "ROUND TRIP FAILED")


def write(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["file", "bytes", "tool", "packed", "bpb", "c_kbs", "d_kbs", "ok"]
    with open(out.with_suffix(".tsv"), "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + "\n")
    with open(out.with_suffix(".md"), "w") as f:
        f.write("| file | bytes | compressor | compressed | bits/byte | compress KB/s | decompress KB/s | round trip |\n")
        f.write("|---|---:|---|---:|---:|---:|---:|---|\n")
        for r in rows:
            f.write(f"| {r['file']} | {r['bytes']} | {r['tool']} | {r['packed']} | {r['bpb']:.3f} | {r['c_kbs']:.1f} | "
                    f"{r['d_kbs']:.1f} | {_ok(r['ok'])} |\n")
        for tool in dict.fromkeys(r["tool"] for r in rows):
            sel = [r for r in rows if r["tool"] == tool]
            raw, packed = sum(r["bytes"] for r in sel), sum(r["packed"] for r in sel)
            speed = [raw / sum(r["bytes"] / r[k] for r in sel) if all(r[k] > 0 for r in sel) else float("nan")
                     for k in ("c_kbs", "d_kbs")]  # total bytes over total time
            f.write(f"| **total** | {raw} | {tool} | {packed} | {8 * packed / raw:.3f} | {speed[0]:.1f} | {speed[1]:.1f} | |\n")
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.tsv')}")


if __name__ == "__main__":
    main()

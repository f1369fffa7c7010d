"""Classification by compression: the nearest neighbour under each compressor's NCD, on files the prior never saw.

    python bench/classify.py --level 1 --per-label 4            # nncomp level 1 against gzip, bzip2, xz, zstd
    python bench/classify.py --level 5 --per-label 3 --bytes 1536
    python bench/classify.py --level 5 --tasks code --offset 0.5   # a second set of files, to check a choice

Builds a labelled set from Debian packages (`apt-get download` + `dpkg-deb -x`, cached in --cache):
source files in nine programming languages and fortune files in six natural languages. Each sample
is --bytes bytes from the middle of one file (licence headers at the top would make languages look
alike), --per-label files per label. For every compressor, C(x) and C(xy) over all ordered pairs;
each sample is labelled by its nearest other sample under NCD(x, y) = (C(xy) - min(C(x), C(y))) /
max(C(x), C(y)) and under C(y|x) = C(xy) - C(x), and the accuracy per task and distance is printed,
with nncomp's confusions. nncomp's C comes from `nncomp joint --matrix`'s function
(tools/joint.ncd_matrix): its model's code length in bits. Writes bench/results/classify.md.
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nncomp import container  # noqa: E402
from nncomp.tools.joint import ncd_matrix  # noqa: E402

# label: (Debian package, file suffix or a path part that picks its files)
CODE = {
    "Python": ("python3-docutils", ".py"), "Ruby": ("ruby-rack", ".rb"), "JavaScript": ("node-yargs", ".js"),
    "Go": ("golang-github-spf13-cobra-dev", ".go"), "Rust": ("librust-serde-dev", ".rs"),
    "PHP": ("php-symfony-console", ".php"), "Lua": ("lua-penlight", ".lua"), "Tcl": ("tcllib", ".tcl"),
    "C": ("libssl-dev", ".h"),
}
PROSE = {
    "English": ("fortunes", "/games/fortunes/"), "German": ("fortunes-de", "/games/fortunes/"),
    "Spanish": ("fortunes-es", "/games/fortunes/"), "Italian": ("fortunes-it", "/games/fortunes/"),
    "Russian": ("fortunes-ru", "/games/fortunes/"), "Polish": ("fortunes-pl", "/games/fortunes/"),
}


def package_files(cache: Path, package: str) -> list[Path]:
    """The regular files of a Debian package, downloaded and unpacked into cache once."""
    root = cache / package
    if not root.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", package], cwd=cache, check=True, capture_output=True)
        deb = next(cache.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _picked(p: Path, pick: str) -> bool:
    """A source file by its suffix; a fortune file by its folder (not the index files, nor the offensive ones)."""
    if pick.startswith("."):
        return p.name.endswith(pick)
    return pick in str(p) and not p.name.endswith((".dat", ".u8")) and "/off/" not in str(p)


def samples(cache: Path, table: dict, per_label: int, size: int, offset: float = 0.0) -> list[tuple[str, str, bytes]]:
    """(label, name, bytes) for every label: per_label files, size bytes from the middle of each;
    `offset` (a fraction of the step between picked files) picks another set from the same packages."""
    out = []
    for label, (package, pick) in table.items():
        files = [p for p in package_files(cache, package) if _picked(p, pick) and p.stat().st_size >= 2 * size]
        if len(files) < per_label:
            raise SystemExit(f"{package}: {len(files)} files of at least {2 * size} bytes, want {per_label}")
        step = len(files) / per_label  # spread over the package, not its first directory
        for k in range(per_label):
            p = files[int((k + offset) * step)]
            data = p.read_bytes()
            mid = len(data) // 2
            out.append((label, p.name, data[mid - size // 2 : mid - size // 2 + size]))
    return out


def zstd(data: bytes) -> int:
    return len(subprocess.run(["zstd", "-19", "-c", "-q"], input=data, capture_output=True, check=True).stdout)


CLASSICAL = {"gzip -9": lambda d: len(zlib.compress(d, 9)), "bzip2 -9": lambda d: len(bz2.compress(d, 9)),
             "xz -9e": lambda d: len(lzma.compress(d, preset=9 | lzma.PRESET_EXTREME)), "zstd -19": zstd}


def classical_sizes(data: list[bytes], size) -> dict:
    """C(x) and C(xy) for every ordered pair, in bytes."""
    n = len(data)
    return {"single": [size(d) for d in data],
            "pair": [[0 if i == j else size(data[i] + data[j]) for j in range(n)] for i in range(n)]}


def nearest_by_ncd(single: list, pair: list[list]) -> list[int]:
    """Each sample's nearest other sample x -> y by NCD(x, y) = (C(xy) - min) / max, x the sample."""
    n = len(single)
    return [min(((pair[i][j] - min(single[i], single[j])) / max(single[i], single[j]), j) for j in range(n) if j != i)[1]
            for i in range(n)]


def nearest_by_conditional(single: list, pair: list[list]) -> list[int]:
    """Each sample's nearest other sample by C(y|x) = C(xy) - C(x), y the sample: the one that teaches
    it most (Benedetto, Caglioti and Loreto's attribution by compression, 2002)."""
    n = len(single)
    return [min((pair[j][i] - single[j], j) for j in range(n) if j != i)[1] for i in range(n)]


DISTANCES = {"NCD": nearest_by_ncd, "C(y|x)": nearest_by_conditional}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--per-label", type=int, default=4)
    ap.add_argument("--bytes", type=int, default=2048, help="bytes per sample")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/nncomp-classify"), help="downloaded packages")
    ap.add_argument("--tasks", default="code,prose", help="code, prose or both")
    ap.add_argument("--offset", type=float, default=0.0,
                    help="pick other files from the same packages (0.5: those halfway between the default ones), "
                         "to check on a second set what was chosen on the first")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "classify.md")
    ap.add_argument("--sizes", type=Path, help="also write every compressor's C(x) and C(xy) here (JSON)")
    args = ap.parse_args()
    names = ["nncomp", *CLASSICAL]
    lines = [f"Format {container.VERSION}, nncomp level {args.level}; {args.per_label} samples of {args.bytes} bytes "
             f"per label{f', files picked at offset {args.offset}' if args.offset else ''}; accuracy of the nearest "
             "neighbour's label under two distances, NCD and C(y|x). nncomp's C is its model's code length in bits "
             "(`nncomp joint --matrix`, where y meets x's statistics but not what x taught the network and mixer), "
             "the others' their output in bytes.\n",
             "| task | distance | samples | " + " | ".join(names) + " |", "|---|---|---:|" + "---:|" * len(names)]
    confusions, saved = [], {}
    tasks = [(t, tab) for key, t, tab in (("code", "programming languages", CODE), ("prose", "natural languages", PROSE))
             if key in args.tasks.split(",")]
    for task, table in tasks:
        s = samples(args.cache, table, args.per_label, args.bytes, args.offset)
        labels, data = [x[0] for x in s], [x[2] for x in s]
        t0 = time.perf_counter()
        m = ncd_matrix([(f"{lab}/{name}", d) for lab, name, d in s], args.level)
        secs = time.perf_counter() - t0
        sizes = {"nncomp": {"single": m["bits"], "pair": m["pair_bits"]}}
        sizes |= {k: classical_sizes(data, f) for k, f in CLASSICAL.items()}
        saved[task] = {"samples": [f"{lab}/{name}" for lab, name, _ in s], "sizes": sizes}
        for dist, nearest in DISTANCES.items():
            acc = {}
            for name in names:
                nn = nearest(sizes[name]["single"], sizes[name]["pair"])
                acc[name] = sum(labels[i] == labels[j] for i, j in enumerate(nn)) / len(s)
                if name == "nncomp":
                    confusions += [f"- {task}, {dist}: {s[i][0]} {s[i][1]} -> {s[j][0]} {s[j][1]}"
                                   for i, j in enumerate(nn) if labels[i] != labels[j]]
            lines.append(f"| {task} ({len(table)} labels) | {dist} | {len(s)} | " + " | ".join(f"{acc[k]:.3f}" for k in names) + " |")
            print(lines[-1], f"(nncomp {secs:.0f} s)", flush=True)
    lines += ["", "nncomp's confusions:" if confusions else "nncomp made no error.", *confusions]
    args.out.write_text("\n".join(lines) + "\n")
    if args.sizes:
        args.sizes.write_text(json.dumps(saved))
    print("\n".join(lines[3:]))


if __name__ == "__main__":
    main()

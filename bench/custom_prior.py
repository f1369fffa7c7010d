"""A custom prior for a collection of similar files: train on one half, compress the other half.

    python bench/custom_prior.py                  # rich's Python sources (installed with nncomp)
    python bench/custom_prior.py --dir PATH       # any source tree; --glob '*.c' to choose files

The files (sorted by path) alternate between a training half and a test half. `nncomp train` on the
training half, starting from the default prior, writes a custom prior; every test file is then
compressed on its own with the default prior and with the custom one (and by xz -9e for reference),
and decompressed again with the custom prior. Writes bench/results/custom_prior.md.
"""

from __future__ import annotations

import argparse
import lzma
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nncomp import api  # noqa: E402
from nncomp.prior import Prior  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="source tree (default: the installed rich package)")
    ap.add_argument("--glob", default="*.py")
    ap.add_argument("--level", type=int, default=5)
    ap.add_argument("--budget", type=int, help="training bytes (default: one pass over the training half)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.dir:
        root = Path(args.dir)
    else:
        import rich

        root = Path(rich.__file__).parent
    files = sorted(p for p in root.rglob(args.glob) if p.is_file() and p.stat().st_size > 0)
    train, test = files[0::2], files[1::2]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "custom.nncm"
        cmd = [sys.executable, "-m", "nncomp", "train", *map(str, train), "-o", str(model), "-l", str(args.level),
               "-T", str(args.threads), "-q"] + (["--budget", str(args.budget)] if args.budget else [])
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        train_s = time.perf_counter() - t0
        custom = Prior.load(model)
        model_bytes = model.stat().st_size
    sizes = {"default": 0, "custom": 0, "xz": 0}
    raw = 0
    for p in test:
        data = p.read_bytes()
        raw += len(data)
        sizes["default"] += len(api.compress(data, args.level, threads=args.threads))
        blob = api.compress(data, args.level, model=custom, threads=args.threads)
        if api.decompress(blob, models=[custom], threads=args.threads) != data:
            raise SystemExit(f"{p}: round trip failed")
        sizes["custom"] += len(blob)
        sizes["xz"] += len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    info = custom.info
    lines = [
        f"Collection: {root} ({args.glob}), {len(files)} files sorted by path; even-numbered ones train, "
        f"odd-numbered ones test. Level {args.level}, {args.threads} thread{'s' if args.threads != 1 else ''}.\n",
        f"- training half: {len(train)} files, {sum(p.stat().st_size for p in train):,} bytes; "
        f"`nncomp train` from the default prior: {info.get('bytes_seen', 0):,} bytes seen in {train_s:.0f} s, "
        f"held-out bits/byte {info.get('holdout_bpb_before')} -> {info.get('holdout_bpb_after')}; model file {model_bytes:,} bytes",
        f"- test half: {len(test)} files, {raw:,} bytes, each compressed on its own\n",
        "| compressor | total compressed | bits/byte |",
        "|---|---:|---:|",
    ]
    for name, label in (("xz", "xz -9e"), ("default", f"nncomp -l {args.level} (default prior)"),
                        ("custom", f"nncomp -l {args.level} --model custom.nncm")):
        lines.append(f"| {label} | {sizes[name]:,} | {8 * sizes[name] / raw:.3f} |")
    gain = 100.0 * (sizes["default"] - sizes["custom"]) / sizes["default"]
    lines.append(f"\nThe custom prior saves {gain:.1f}% over the default prior on the test half (all round trips verified).")
    text = "\n".join(lines) + "\n"
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "custom_prior.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

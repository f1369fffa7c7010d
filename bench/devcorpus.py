"""Build the development corpus: real files of the kinds users compress, none of them in the eval
corpus or the training corpus, rebuilt from Debian packages (issue 29).

    python bench/devcorpus.py [--out bench/devcorpus] [--limit 1M]

Downloads the packages below with `apt-get download` (Debian 12 at the versions the manifest records),
takes one file from each (`dpkg-deb -x`), sometimes turned into the form users keep it in (an .xz
source archive unpacked to its .tar, a PNG decoded to a PPM bitmap, a folder of logs as one file, a
SQLite database built from a package's JSON), and keeps the first `--limit` bytes of each. Writes
MANIFEST.tsv: name, bytes, SHA-256, kind, package=version, path in the package. Measure ratio changes
on this corpus and the eval corpus together (bench/compare.py --files DIR/*), never on single files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nncomp.cli import _size  # noqa: E402  (K/M/G sizes as the command line reads them)

# (name, kind, package, path in the package, how to turn it into the corpus file)
FILES = [
    ("python3.11", "x86-64 executable", "python3.11-minimal", "usr/bin/python3.11", "raw"),
    ("libsqlite3.so", "x86-64 shared library", "libsqlite3-0", "usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6", "raw"),
    ("bash-completion.tar", "source archive (shell)", "bash-doc",
     "usr/share/doc/bash/examples/bash-completion/bash-completion-2.5.tar.xz", "unxz"),
    ("bashref.pdf", "PDF manual", "bash-doc", "usr/share/doc/bash/bashref.pdf", "raw"),
    ("bashref.html", "HTML documentation", "bash-doc", "usr/share/doc/bash/bashref.html", "raw"),
    ("iso_3166-2.json", "JSON data", "iso-codes", "usr/share/iso-codes/json/iso_3166-2.json", "raw"),
    ("iso_639-3.xml", "XML data", "iso-codes", "usr/share/xml/iso-codes/iso_639-3.xml", "raw"),
    ("iso-codes.sqlite", "SQLite database", "iso-codes", "usr/share/iso-codes/json", "sqlite"),
    ("UnicodeData.txt", "table (semicolon-separated)", "unicode-data", "usr/share/unicode/UnicodeData.txt", "raw"),
    ("fail2ban-logs.txt", "server logs", "fail2ban", "usr/lib/python3/dist-packages/fail2ban/tests/files/logs",
     "concat"),
    ("fail2ban-tests.py", "Python source", "fail2ban", "usr/lib/python3/dist-packages/fail2ban/tests/filtertestcase.py",
     "raw"),
    ("coreutils.mo", "gettext catalog (binary, Ukrainian)", "coreutils", "usr/share/locale/uk/LC_MESSAGES/coreutils.mo",
     "raw"),
    ("zitate.de", "German text", "fortunes-de", "usr/share/games/fortunes/de/zitate", "raw"),
    ("italia.it", "Italian text", "fortunes-it", "usr/share/games/fortunes/it/italia", "raw"),
    ("refranes.es", "Spanish text", "fortunes-es", "usr/share/games/fortunes/es/refranes.fortunes", "raw"),
    ("dowcipy.pl", "Polish text", "fortunes-pl", "usr/share/games/fortunes/pl/dowcipy", "raw"),
    ("love.ru", "Russian text", "fortunes-ru", "usr/share/games/fortunes/ru/love", "raw"),
    ("waves.ppm", "RGB bitmap (PPM)", "desktop-base",
     "usr/share/plymouth/themes/softwaves/plymouth_background_waves.png", "ppm"),
    ("grub-16x9.png", "PNG image", "desktop-base", "usr/share/desktop-base/softwaves-theme/grub/grub-16x9.png", "raw"),
    ("preview.jpg", "JPEG image", "desktop-base",
     "usr/share/plasma/look-and-feel/org.debian.desktop/contents/previews/fullscreenpreview.jpg", "raw"),
    ("Front_Center.wav", "audio (16-bit PCM WAV)", "alsa-utils", "usr/share/sounds/alsa/Front_Center.wav", "raw"),
]


def _run(*cmd: str, cwd: str | None = None) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _unpack(package: str, work: Path) -> tuple[Path, str]:
    """(root of the package's files, its version), downloading it once."""
    root = work / package
    if not root.exists():
        _run("apt-get", "download", package, cwd=str(work))
        deb = next(work.glob(f"{package}_*.deb"))
        _run("dpkg-deb", "-x", str(deb), str(root))
    deb = next(work.glob(f"{package}_*.deb"))
    return root, _run("dpkg-deb", "-f", str(deb), "Version").strip()


def _sqlite(folder: Path) -> bytes:
    """A database of the package's country subdivisions and languages, built one row at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "db.sqlite")
        db = sqlite3.connect(path)
        for name in ("iso_3166-1", "iso_3166-2", "iso_639-3"):
            rows = next(iter(json.loads((folder / f"{name}.json").read_text(encoding="utf-8")).values()))
            cols = sorted({k for r in rows for k in r})
            table = name.replace("-", "_")
            db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, {', '.join(f'{c} TEXT' for c in cols)})")
            db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           [tuple(r.get(c) for c in cols) for r in rows])
            db.execute(f"CREATE INDEX {table}_by_name ON {table} (name)")
        db.commit()
        db.close()
        return Path(path).read_bytes()


def _png_to_ppm(png: bytes, limit: int) -> bytes:
    """The first rows of an 8-bit RGB or RGBA non-interlaced PNG as a binary PPM (RGB) of about `limit` bytes."""
    pos, idat, head = 8, [], None
    while pos < len(png):
        n = int.from_bytes(png[pos : pos + 4], "big")
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            head = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    w, h = int.from_bytes(head[:4], "big"), int.from_bytes(head[4:8], "big")
    depth, color, interlace = head[8], head[9], head[12]
    if depth != 8 or color not in (2, 6) or interlace:
        raise SystemExit("only 8-bit RGB/RGBA non-interlaced PNG is supported")
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows = min(h, max(1, limit // (w * 3)))
    prev = np.zeros(stride, dtype=np.int64)
    out = np.empty((rows, w, 3), dtype=np.uint8)
    for y in range(rows):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int64)
        if f == 1:  # Sub: each byte adds the one bpp before it, so bytes of one channel are a running sum
            for c in range(bpp):
                line[c::bpp] = np.cumsum(line[c::bpp]) & 255
        elif f == 2:
            line = (line + prev) & 255
        elif f in (3, 4):  # Average and Paeth depend on the byte just decoded: byte by byte
            cur = line.tolist()
            up = prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = up[i], (up[i - bpp] if i >= bpp else 0)
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            line = np.array(cur, dtype=np.int64)
        prev = line
        out[y] = line.reshape(w, bpp)[:, :3]
    return b"P6\n%d %d\n255\n" % (w, rows) + out.tobytes()


def _file(root: Path, path: str, how: str, limit: int) -> bytes:
    src = root / path
    if how == "raw":
        return src.read_bytes()
    if how == "unxz":
        return lzma.decompress(src.read_bytes())
    if how == "concat":  # a folder of logs kept as one file, in sorted name order
        return b"".join(f.read_bytes() for f in sorted(src.iterdir()) if f.is_file())
    if how == "sqlite":
        return _sqlite(src)
    if how == "ppm":
        return _png_to_ppm(src.read_bytes(), limit)
    raise ValueError(how)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "devcorpus"))
    ap.add_argument("--limit", default="1M", help="keep the first SIZE bytes of each file")
    a = ap.parse_args()
    limit = _size(a.limit, "--limit")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = ["name\tbytes\tsha256\tkind\tpackage\tpath"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, package, path, how in FILES:
            root, version = _unpack(package, Path(tmp))
            data = _file(root, path, how, limit)[:limit]
            (out / name).write_bytes(data)
            manifest.append(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{kind}\t{package}={version}\t{path}")
            print(f"{name:24} {len(data):>9,} bytes  {kind}", flush=True)
    (out / "MANIFEST.tsv").write_text("\n".join(manifest) + "\n")
    print(f"{len(FILES)} files in {out}")


if __name__ == "__main__":
    main()

"""Golden streams: the coded bytes of a few inputs at levels 1, 2, 5 and 9, and of one at the other
levels, stored in tests/golden/.

Today's encoder must write them byte for byte and today's decoder must restore them, so coded bytes
change only on purpose. After a deliberate change, which bumps container.VERSION, write them anew:

    .venv/bin/python tests/test_golden.py --write

tests/golden/v23/ to v34/ keep streams of earlier formats that this one still reads (container.READS).
Today's streams are checked with the context work and the network's decoding step in torch operations
and in the compiled loops (nncomp/kernels.py), which must agree to the bit; earlier formats' under
one or both (earlier_cases), or, where today's level keeps their settings, compared with today's.
"""

import io
import random
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.harness.x86 import x86_like  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"
LEVELS = (1, 2, 5, 9)
# Every other level's preset is pinned by one input, coded and decoded once (by the torch operations,
# which serve an input this small).
OTHER_LEVELS = (3, 4, 6, 7, 8)
JOINT_LEVELS = (1, 2)  # level 2's match model looks into the datasets before (several frames)
# The torch path decodes today's streams at these levels (it writes them at every level): decoding is
# its slowest check, and earlier formats' streams have it decode levels 2 and 9 (earlier_cases).
TORCH_DECODES = (1, 5)


def inputs() -> dict[str, bytes]:
    """Small inputs of the kinds the predictor treats differently, made here so no corpus is needed."""
    rng = random.Random(28)
    text = (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()[:1000]
    source = b"".join(b"static int f%d(int x) { return x * %d + %d; }\n" % (i, i * 7 % 13, i) for i in range(20))
    records = b"".join(b"ID%04d" % i + bytes([i % 7, 0, i * 3 % 256, 255]) + b"  " for i in range(80))  # 12-byte rows
    bitmap = bytes(min(255, (x * 3 + y * 5) // 4) for y in range(16) for x in range(64))
    noise = rng.randbytes(800)
    return {"text": text, "source": source, "records": records, "bitmap": bitmap, "random": noise,
            "repeated": noise[:400] * 3, "x86": x86_like(1500, 28), "image": one_bit_image(), "empty": b""}


def one_bit_image(rows: int = 48, width: int = 512) -> bytes:
    """A 1-bit picture, 8 pixels a byte and a row a record: a disc and a thick diagonal stroke."""
    pixels = [[(x - 300) ** 2 + (4 * y - 100) ** 2 < 60**2 or abs(x - 3 * y - 40) < 6 for x in range(width)]
              for y in range(rows)]
    return bytes(sum(row[i + j] << (7 - j) for j in range(8)) for row in pixels for i in range(0, width, 8))


@pytest.fixture(params=["torch", "compiled"])
def loops(request, monkeypatch):
    """Which implementation of the context work and the decoding step codes, whatever the input's size."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setenv("NNCOMP_KERNELS", "1" if request.param == "compiled" else "0")
    return request.param


def path(name: str, level: int) -> Path:
    return GOLDEN / f"{name}.l{level}.nnc"


def joint_parts() -> list[bytes]:
    d = inputs()
    return [d["random"], d["text"], d["source"]]


def joint_stream(level: int) -> tuple[bytes, bytes, list[bool]]:
    """(stream, data, starts) of three datasets, of which a later one is coded by what came before
    mixed with a fresh model (Compressor.starts)."""
    import nncomp

    parts = joint_parts()
    c = nncomp.compressor(level, segment=0)
    stream = b"".join(c.compress(p) + c.end_frame() for p in parts) + c.flush()
    return stream, b"".join(parts), c.starts


def segmented_stream() -> tuple[bytes, bytes]:
    """(stream, data): 10,000 bytes cut into segments of at most 4,096, which compress() makes equal."""
    import nncomp

    data = (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()[:10000]
    return nncomp.compress(data, 1, segment=4096), data


def sound() -> bytes:
    """6,000 bytes of 16-bit mono sound from integers alone (the same on every machine): two triangle
    waves and a little noise, which the encoder codes through the delta filter (filters.py)."""
    rng = random.Random(35)

    def triangle(i: int, period: int, height: int) -> int:
        k = i % period
        return height * (4 * min(k, period - k) - period) // period

    return b"".join(struct.pack("<h", triangle(i, 200, 8000) + triangle(i, 37, 900) + rng.randrange(-30, 31))
                    for i in range(3000))


def check_golden(name: str, level: int, data: bytes, decode: bool) -> None:
    """Today's encoder writes the golden stream of `name` at `level`, and (if `decode`) it decodes."""
    import nncomp
    from nncomp import container

    golden = path(name, level).read_bytes()
    assert golden[4] == container.VERSION, "format changed: write the golden streams anew (see this file)"
    assert nncomp.compress(data, level) == golden, f"{name} at level {level}: coded bytes changed"
    if decode:
        assert nncomp.decompress(golden) == data


@pytest.mark.parametrize("level", LEVELS)
def test_streams_are_the_golden_ones(level, loops):
    for name, data in inputs().items():
        check_golden(name, level, data, decode=loops == "compiled" or level in TORCH_DECODES)


@pytest.mark.parametrize("level", OTHER_LEVELS)
def test_every_other_level_codes_text_as_its_golden_stream(level):
    check_golden("text", level, inputs()["text"], decode=True)


@pytest.mark.parametrize("level", JOINT_LEVELS)
def test_joint_stream_is_the_golden_one(level, loops):
    import nncomp

    stream, data, starts = joint_stream(level)
    assert True in starts  # a mixed dataset (a fresh start codes as alone, which the other streams pin)
    assert stream == path("joint", level).read_bytes(), f"joint stream at level {level}: coded bytes changed"
    assert nncomp.decompress(stream) == data


def test_segmented_stream_is_the_golden_one(loops):
    import nncomp

    stream, data = segmented_stream()
    assert stream == path("segments", 1).read_bytes(), "segmented stream at level 1: coded bytes changed"
    assert nncomp.decompress(stream) == data


def test_sound_stream_is_the_golden_one(loops):
    import nncomp
    from nncomp import container

    data = sound()
    assert [h.delta for _, h in container.frame_heads(path("sound", 1).read_bytes())] == [True]
    check_golden("sound", 1, data, decode=True)


EARLIER = [(23, "text.l5"), (23, "source.l1"), (23, "joint.l2"), (24, "x86.l5"), (24, "text.l2"), (24, "joint.l1"),
           (25, "records.l5"), (25, "x86.l2"), (25, "bitmap.l9"), (26, "text.l9"), (26, "joint.l2"), (26, "records.l1"),
           (27, "x86.l5"), (27, "records.l2"), (27, "text.l5"), (28, "bitmap.l5"), (28, "bitmap.l9"), (28, "text.l5"),
           (28, "x86.l5"), (28, "joint.l2"), (29, "text.l5"), (29, "x86.l5"), (29, "image.l5"), (29, "records.l9"),
           (29, "joint.l2"), (30, "text.l5"), (30, "text.l1"), (30, "x86.l5"), (30, "joint.l2"), (31, "text.l5"),
           (31, "text.l1"), (31, "x86.l5"), (31, "joint.l2"), (31, "records.l9"), (32, "text.l5"), (32, "text.l1"),
           (32, "x86.l5"), (32, "joint.l2"), (32, "records.l9"), (32, "text.l9"), (33, "text.l5"), (33, "text.l1"),
           (33, "x86.l5"), (33, "joint.l2"), (33, "records.l9"), (33, "text.l9"), (33, "text.l6"),
           (33, "text.l7"), (33, "text.l8"), (34, "text.l5"), (34, "text.l1"), (34, "x86.l5"), (34, "joint.l2"),
           (34, "records.l9"), (34, "text.l6")]


def level_of(name: str) -> int:
    return int(name.rsplit(".l", 1)[1])


def kept_settings(version: int, name: str) -> bool:
    """Whether today's level codes the stream `name` of format `version` with the same settings: then
    its coded bytes are today's golden stream's but for the version byte, and today's decoding covers it."""
    from nncomp.config import level_config

    return level_config(level_of(name), version) == level_config(level_of(name))


def earlier_cases() -> list[tuple[int, str, str]]:
    """(version, name, loops): the last earlier format's streams under both implementations, older
    ones under one, taking turns; both must read every format, and one check per stream and format
    keeps the suite short. A stream whose settings today's level keeps is compared, not decoded."""
    last = max(v for v, _ in EARLIER)
    both = ("torch", "compiled")
    return [(v, name, impl) for i, (v, name) in enumerate(EARLIER)
            for impl in (both if v == last and not kept_settings(v, name) else (both[i % 2],))]


@pytest.mark.parametrize("version,name,loops", earlier_cases(), indirect=["loops"])
def test_streams_of_earlier_formats_still_decode(version, name, loops):
    import nncomp

    from nncomp import container
    from nncomp.config import level_config
    from nncomp.tools.info import describe

    old = (GOLDEN / f"v{version}" / f"{name}.nnc").read_bytes()
    assert old[4] == version
    assert describe(io.BytesIO(old))["version"] == version  # `nncomp info` tells the stream's format
    if kept_settings(version, name):
        today = (GOLDEN / f"{name}.nnc").read_bytes()
        assert old == today[:4] + bytes([version]) + today[5:], "a format whose settings today's level keeps coded other bytes"
        assert container.read_header(io.BytesIO(old))[0].config == level_config(level_of(name))
        return
    data = b"".join(joint_parts()) if name.startswith("joint") else inputs()[name.split(".")[0]]
    assert nncomp.decompress(old) == data


def test_the_readme_names_the_formats_this_nncomp_writes_and_reads():
    import re

    from nncomp import container

    text = " ".join((GOLDEN.parent.parent / "README.md").read_text().split())
    m = re.search(r"writes version (\d+) and reads (\d+) to (\d+)", text)
    assert m, "the README no longer says which formats nncomp writes and reads"
    assert tuple(map(int, m.groups())) == (container.VERSION, min(container.READS), max(container.READS))


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import nncomp

    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.nnc"):
        old.unlink()
    for level in LEVELS:
        for name, data in inputs().items():
            path(name, level).write_bytes(nncomp.compress(data, level))
    for level in OTHER_LEVELS:
        path("text", level).write_bytes(nncomp.compress(inputs()["text"], level))
    for level in JOINT_LEVELS:
        path("joint", level).write_bytes(joint_stream(level)[0])
    path("segments", 1).write_bytes(segmented_stream()[0])
    path("sound", 1).write_bytes(nncomp.compress(sound(), 1))
    print(f"wrote {len(list(GOLDEN.glob('*.nnc')))} streams to {GOLDEN}")

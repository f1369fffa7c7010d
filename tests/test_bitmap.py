"""Pixel contexts: a byte scored bit by bit from neighbouring pixels, counts that both sides keep alike."""

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import nncomp
from nncomp import container
from nncomp.contexts.bitmap import LIMIT, N_BITMAP, PATH, BitmapContext, looks_bitmap
from nncomp.errors import CorruptError
from nncomp.exact import LOGIT_FRAC

from .conftest import TINY


def _no_neighbours(lanes: int):
    z = torch.zeros(3, lanes, dtype=torch.int64)
    return z, z


def test_path_lists_the_tree_nodes_of_each_byte_from_the_top_bit():
    for s in (0, 1, 0x80, 0xB2, 255):
        bits = [(s >> (7 - d)) & 1 for d in range(8)]
        nodes = [int("1" + "".join(map(str, bits[:d])), 2) - 1 for d in range(8)]  # heap numbering, root 0
        assert (PATH[s] >> 1).tolist() == nodes
        assert (PATH[s] & 1).tolist() == bits


def test_scores_are_log_probabilities_of_a_distribution():
    bm = BitmapContext()
    rng = random.Random(1)
    for _ in range(50):  # learn some bytes with random neighbours
        hist = torch.tensor([rng.randrange(1 << 16) for _ in range(4)])
        above = torch.tensor([[rng.randrange(256) for _ in range(4)] for _ in range(3)])
        bm.features(hist, above, above)
        bm.update(torch.tensor([rng.choice([0, 0, 255, 0x0F]) for _ in range(4)]), torch.ones(4, dtype=torch.bool))
    f, _ = bm.features(torch.tensor([0, 5, 0xFFFF, 77]), *_no_neighbours(4))
    assert f.shape == (N_BITMAP, 4, 256) and bool((f <= 0).all())
    total = (2.0 ** (f / LOGIT_FRAC)).sum(-1)  # rounded logs (1/64 bit each, 8 bits deep): sums near 1
    assert bool(((total > 0.9) & (total < 1.1)).all())


def test_a_learned_pattern_is_predicted_and_counts_stay_bounded():
    bm = BitmapContext()
    hist, (above, above2) = torch.zeros(8, dtype=torch.int64), _no_neighbours(8)
    before, _ = bm.features(hist, above, above2)
    for _ in range(200):  # white pixels under white pixels: 8 lanes, the same contexts at once
        bm.features(hist, above, above2)
        bm.update(torch.zeros(8, dtype=torch.int64), torch.ones(8, dtype=torch.bool))
    after, _ = bm.features(hist, above, above2)
    assert bool((after[:, :, 0] > before[:, :, 0]).all())  # byte 0 got likelier
    assert bool((after[:, :, 0] > -LOGIT_FRAC // 8).all())  # ... nearly certain
    pairs = bm.counts().long()
    assert int(pairs.sum(1).max()) <= LIMIT  # halved when full (many lanes hit one context per step)


def test_invalid_lanes_are_not_counted():
    bm = BitmapContext()
    bm.features(torch.zeros(3, dtype=torch.int64), *_no_neighbours(3))
    bm.update(torch.tensor([1, 2, 3]), torch.tensor([True, False, True]))
    assert int(bm.counts().sum()) == 2 * 8 * N_BITMAP


def _page(width: int, rows: int, seed: int = 0) -> bytes:
    """A 1-bit image of `width`-byte rows: lines of small glyphs (5x7 pixels, 8 shapes of two strokes
    each) at any pixel offset, so the same shape falls on different bits of its bytes."""
    rng = random.Random(seed)
    strokes = [[rng.random() < 0.5 for _ in range(5)] for _ in range(4)]
    glyphs = [[strokes[a]] * 3 + [strokes[b]] * 4 for a in range(4) for b in range(4) if a != b][:8]
    px = [[0] * (8 * width) for _ in range(rows)]
    for top in range(1, rows - 7, 8):
        x = rng.randrange(4)
        while x + 5 < 8 * width:
            g = rng.choice(glyphs)
            for dy in range(7):
                for dx in range(5):
                    px[top + dy][x + dx] = int(g[dy][dx])
            x += 6 + rng.randrange(3) * (rng.random() < 0.2)
    out = bytearray()
    for row in px:
        for b in range(width):
            out.append(int("".join(map(str, row[8 * b : 8 * b + 8])), 2))
    return bytes(out)


def _payload(stream: bytes) -> int:
    return sum(h.pay_len for _, h in container.frame_heads(stream))


def test_a_bitmap_round_trips_and_the_pixel_rows_shrink_it():
    data = _page(20, 200)  # 4 KB, rows of 20 bytes (160 pixels)
    cfg = replace(TINY, lanes=16, frame_size=1 << 16)
    with_px = nncomp.compress(data, config=cfg)
    without = nncomp.compress(data, config=replace(cfg, bitmap=False))
    head = container.frame_heads(with_px)[0][1]
    assert head.frame.period == 20 and head.frame.binary and head.frame.pixels and head.kind == container.CODED
    assert nncomp.decompress(with_px) == data and nncomp.decompress(without) == data
    assert _payload(with_px) < 0.9 * _payload(without)


def _string_table(width: int = 48) -> bytes:
    """Binary records that are no picture: lines of text padded with NULs to `width` bytes, as in
    an executable's tables of names or an archive's headers."""
    text = (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()
    return b"".join(line[:40].ljust(width, b"\0") for line in text.split(b"\n") if line)[: 150 * width]


def test_the_encoder_takes_pages_for_images_and_tables_of_text_or_code_not():
    from tests.harness.x86 import x86_like

    assert looks_bitmap(_page(20, 200), 20) and looks_bitmap(_page(64, 300, 3), 64)
    assert not looks_bitmap(_string_table(), 48)
    assert not looks_bitmap(x86_like(6000, 2), 48)


def test_frames_of_records_that_are_no_image_are_coded_without_pixel_rows():
    data = _string_table()
    cfg = replace(TINY, lanes=16, frame_size=1 << 16)
    stream = nncomp.compress(data, config=cfg)
    head = container.frame_heads(stream)[0][1]
    assert head.frame.binary and head.frame.period == 48 and not head.frame.pixels
    without = nncomp.compress(data, config=replace(cfg, bitmap=False))
    assert _payload(stream) == _payload(without)  # the pixel rows stayed silent
    # settings without `images` (streams before format 29) take every such frame for an image
    old = nncomp.compress(data, config=replace(cfg, images=False))
    assert container.frame_heads(old)[0][1].frame.pixels and _payload(old) != _payload(stream)
    assert nncomp.decompress(stream) == data and nncomp.decompress(old) == data


def test_the_image_flag_is_read_only_where_a_frame_can_be_an_image():
    data = _page(20, 200)
    cfg = replace(TINY, lanes=16, frame_size=1 << 16)
    stream = nncomp.compress(data, config=cfg)
    pos, head = container.frame_heads(stream)[0]
    assert head.frame.pixels
    at = pos + container.FRAME_HEAD.size - 2  # the record length, whose top bit is the flag
    assert int.from_bytes(stream[at : at + 2], "big") == container.PIXELS | 20
    for period in (container.PIXELS | 8, container.PIXELS | 5000):  # rows too short for an image; out of range
        bad = stream[:at] + period.to_bytes(2, "big") + stream[at + 2 :]
        with pytest.raises(CorruptError):
            nncomp.decompress(bad)


def test_info_counts_the_frames_taken_for_images():
    import io

    from nncomp.tools import info

    cfg = replace(TINY, lanes=16, frame_size=1 << 12)  # the page in frames of 4 KB, the table after it
    stream = nncomp.compress(_page(20, 400) + _string_table(), config=cfg)
    heads = [h for _, h in container.frame_heads(stream)]
    s = info.to_json("x", info.describe(io.BytesIO(stream)))
    assert s["image_frames"] == sum(h.frame.pixels for h in heads) == 2 and s["binary_frames"] == len(heads)

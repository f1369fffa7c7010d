"""Damaged, truncated and foreign input is rejected with NNCError, never accepted or crashed on."""

import random

import pytest

import nncomp
from nncomp import CorruptError, NNCError, UnsupportedError, container
from nncomp.config import level_config

from .conftest import SAMPLE, TINY


@pytest.fixture(scope="module")
def packed() -> bytes:
    return nncomp.compress(SAMPLE.read_bytes()[:6000], config=TINY)


@pytest.mark.slow
def test_every_truncation_is_rejected(packed):
    # every cut in the header (cheap: nothing is decoded before it is whole); in each frame the first
    # and last bytes of its head and of its payload; the end record's first, middle and last; and every
    # 150th byte (a cut decodes every whole frame before it, which is what costs time here)
    frames = container.frame_heads(packed)
    head, n = container.FRAME_HEAD.size, len(packed)
    cuts = set(range(0, frames[0][0] + 1)) | {n - container.parse_end(packed[frames[-1][0] + container.FRAME_HEAD.size + frames[-1][1].pay_len:]).size,
                                            n - 7, n - 1}
    for pos, h in frames:
        cuts |= {pos + 1, pos + head - 1, pos + head, pos + head + 1, pos + head + h.pay_len - 1}
    cuts |= set(range(0, n, 150))
    assert len(frames) >= 3
    for cut in sorted(cuts):
        with pytest.raises(NNCError):
            nncomp.decompress(packed[:cut])


@pytest.mark.slow
def test_bit_flips_never_give_wrong_output(packed):
    original = nncomp.decompress(packed)
    rng = random.Random(3)
    for _ in range(30):  # each decodes the whole stream; bench/fuzz.py flips thousands
        damaged = bytearray(packed)
        i = rng.randrange(len(damaged))
        damaged[i] ^= 1 << rng.randrange(8)
        try:
            out = nncomp.decompress(bytes(damaged))
        except NNCError:
            continue
        assert out == original  # only a flip that changes nothing may pass


def test_bad_magic_and_trailing_garbage(packed):
    with pytest.raises(CorruptError, match="magic"):
        nncomp.decompress(b"PK\x03\x04" + packed[4:])
    with pytest.raises(CorruptError, match="trailing"):
        nncomp.decompress(packed + b"\x00")


def test_newer_and_older_versions_are_unsupported(packed):
    for version in (container.VERSION + 1, min(container.READS) - 1):
        with pytest.raises(UnsupportedError, match=f"format version {version} is not supported"):
            nncomp.decompress(packed[:4] + bytes([version]) + packed[5:])


def test_unknown_model_is_named():
    h = container.parse_header(_header(nncomp.compress(b"abc", config=TINY)))
    forged = container.build_header(h.config, "prior-0123abcd", h.level)
    body = nncomp.compress(b"abc", config=TINY)[len(_header(nncomp.compress(b"abc", config=TINY))):]
    with pytest.raises(UnsupportedError, match="prior-0123abcd"):
        nncomp.decompress(forged + body)


def test_huge_frame_length_is_refused_before_allocation(packed):
    n = len(_header(packed))
    forged = bytearray(packed)
    forged[n + 1 : n + 5] = (2**32 - 1).to_bytes(4, "big")
    with pytest.raises(CorruptError, match="length"):
        nncomp.decompress(bytes(forged))


def _header(packed: bytes) -> bytes:
    return packed[: container.header_length(packed[: container.HEADER_FIXED])]


def test_extreme_seed_in_header_decodes_or_fails_cleanly():
    """A header may carry any seed up to 2**63 - 1: the weight generator must accept all of them."""
    import dataclasses

    from nncomp.model import ModelConfig

    cfg = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, seed=2**63 - 1))
    assert isinstance(cfg.model, ModelConfig)
    assert nncomp.decompress(nncomp.compress(b"seed", config=cfg)) == b"seed"


def _rewrite_header(packed: bytes, level: int | None = None, tag: bytes | None = None, **fields) -> bytes:
    head = _header(packed)
    lv, tg, d = container.unpack_header(head)
    d.update(fields)
    return container.pack_header(lv if level is None else level, tg if tag is None else tag, d) + packed[len(head) :]


@pytest.mark.parametrize("level", [1, 5])
def test_level_presets_are_named_not_listed_and_checked(level):
    packed = nncomp.compress(b"abc" * 50, level=level)
    assert len(_header(packed)) == 15  # the level's settings and prior by a tag; custom settings are listed in full
    assert len(_header(nncomp.compress(b"abc", config=TINY))) > 200
    assert nncomp.decompress(_rewrite_header(packed)) == b"abc" * 50
    with pytest.raises(UnsupportedError, match=f"level-{level} settings"):
        nncomp.decompress(_rewrite_header(packed, tag=b"\0\0\0\0"))
    other = 4 if level == 1 else 6
    with pytest.raises(UnsupportedError, match=f"level-{other} settings"):
        nncomp.decompress(_rewrite_header(packed, level=other))  # the levels' settings differ
    with pytest.raises(UnsupportedError, match="settings"):
        nncomp.decompress(_rewrite_header(packed, codec=TINY.to_dict()))  # other settings than the tag's
    with pytest.raises(UnsupportedError, match="settings"):
        nncomp.decompress(_rewrite_header(packed, model="none" if level == 5 else container.level_model_id(5)))


def test_a_level_without_its_built_in_prior_names_the_one_it_used(monkeypatch):
    """Where an installation lacks a level's prior, its streams name the prior they started from."""
    monkeypatch.setattr(container, "level_model_id", lambda level: None)
    head = container.build_header(level_config(5), "none", 5)
    assert container.unpack_header(head)[2] == {"model": "none"}  # the settings still go by the tag
    assert container.parse_header(head).model == "none"
    with pytest.raises(UnsupportedError, match="not installed"):
        container.parse_header(container.pack_header(5, b"\0\0\0\0", {}))


def test_binary_flag_is_chosen_per_frame_and_decoding_obeys_it():
    from nncomp.codec import looks_binary

    text = SAMPLE.read_bytes()[:2048]
    rng = random.Random(5)
    code = bytes(rng.choice(b"\x00\x00\x00\x01\x02\x04\x10\x20\x4e\x75") for _ in range(2048))  # no record length
    assert not looks_binary(text) and looks_binary(code) and not looks_binary(b"")
    assert not looks_binary(b"\x1b[1mbold\x1b[0m text of a terminal session, escape codes and all......")
    packed = nncomp.compress(text + code, config=TINY)  # TINY: frames of 2 KiB
    heads = [h for _, h in container.frame_heads(packed)]
    assert [h.frame.binary for h in heads] == [False, True] and heads[1].kind == container.CODED and heads[1].frame.period == 0
    assert nncomp.decompress(packed) == text + code
    # the flag decides the weights: cleared, the frame decodes to other bytes, which its checksum catches
    pos = [p for p, _ in container.frame_heads(packed)][1]
    bad = packed[:pos] + bytes([packed[pos] & ~container.BINARY]) + packed[pos + 1 :]
    with pytest.raises(CorruptError):
        nncomp.decompress(bad)

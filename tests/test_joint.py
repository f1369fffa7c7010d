"""Joint compression: reports that add up, NCD, solid archives that round-trip and stay confined."""

import io
import json
import random
import struct
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

import nncomp
from nncomp import CorruptError, NNCError, container
from nncomp.predictor import Predictor
from nncomp.tools.info import describe
from nncomp.tools.joint import extract, joint_report, ncd_matrix

from .conftest import SAMPLE, nncomp_env

TEXT = SAMPLE.read_bytes()
# Level 1 (a few seconds) except where the default level is the point: one lane per 4 KiB makes a
# few KB cost 10-20 s at level 5.


def nn(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nncomp", *args], capture_output=True, cwd=cwd,
                          env=nncomp_env(COLUMNS="200"), timeout=600)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "data"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "a" / "one.txt").write_bytes(TEXT[:3000])
    (root / "a" / "deep" / "two.csv").write_bytes(TEXT[3000:5000])
    (root / "empty.bin").write_bytes(b"")
    (tmp_path / "single.txt").write_bytes(TEXT[5000:8000])
    return tmp_path


@pytest.mark.slow
def test_archive_round_trips_nested_directories(tree):
    r = nn("joint", "data", "single.txt", "-o", "all.nnc", "-q", "-l", "1", cwd=tree)
    assert r.returncode == 0, r.stderr.decode()
    info = nn("info", "all.nnc", cwd=tree).stdout.decode()
    assert "data/a/deep/two.csv" in info and "4 members" in info
    out = tree / "out"
    r = nn("decompress", "all.nnc", "-o", str(out), cwd=tree)
    assert r.returncode == 0, r.stderr.decode()
    for rel in ["data/a/one.txt", "data/a/deep/two.csv", "data/empty.bin"]:
        assert (out / rel).read_bytes() == (tree / rel).read_bytes()
    assert (out / "single.txt").read_bytes() == (tree / "single.txt").read_bytes()
    r = nn("decompress", "all.nnc", "-o", str(out), cwd=tree)
    assert r.returncode == 1 and b"already exists" in r.stderr  # no overwrite without -f
    assert nn("decompress", "-f", "all.nnc", "-o", str(out), cwd=tree).returncode == 0


def test_report_costs_add_up_to_real_joint_size():
    datasets = [("first", [("first", TEXT[:6000])]), ("second", [("second", TEXT[6000:12000])])]
    buf = io.BytesIO()
    rep = joint_report(datasets, 1, out=buf)
    assert rep.joint_total == len(buf.getvalue())
    assert sum(d.joint for d in rep.datasets) == rep.joint_total
    assert rep.separate_total == sum(d.alone for d in rep.datasets)
    assert rep.datasets[0].alone == len(nncomp.compress(TEXT[:6000], 1))
    assert rep.datasets[1].saving > 0  # the second half is cheaper after the first


@pytest.mark.slow
def test_joint_of_one_dataset_is_its_plain_compression():
    rep = joint_report([("only", [("only", TEXT[:5000])])])
    assert rep.joint_total == rep.separate_total == len(nncomp.compress(TEXT[:5000]))
    assert rep.datasets[0].saving == 0


@pytest.mark.slow
def test_json_holds_every_figure(tree):
    r = nn("joint", "data", "single.txt", "--json", "-l", "1", cwd=tree)
    assert r.returncode == 0, r.stderr.decode()
    d = json.loads(r.stdout)
    assert {"level", "datasets", "separate_total", "joint_total", "saving", "saving_pct"} <= set(d)
    assert [x["name"] for x in d["datasets"]] == ["data", "single.txt"]
    for x in d["datasets"]:
        assert {"name", "size", "alone", "joint", "saving", "saving_pct", "learned"} <= set(x)
    assert sum(x["joint"] for x in d["datasets"]) == d["joint_total"]


@pytest.mark.slow
def test_ncd_matrix_shape_and_self_similarity():
    a, b = TEXT[:3000], bytes(range(256)) * 12
    ticks = []
    m = ncd_matrix([("a", a), ("a2", a), ("b", b)], 1, progress=ticks.append)
    assert sum(ticks) == 3 * len(a + a + b)  # what the command line's progress bar expects
    assert m["single"][0] == len(nncomp.compress(a, 1))
    # C(ab) codes a, then b always by a's model (mixed) with only a's statistics kept
    for i, j in ((0, 2), (2, 0)):
        x, y = (a, b)[i // 2], (a, b)[j // 2]
        c = nncomp.compressor(1, decide=False, segment=0)
        head = c.compress(x) + c.end_frame()
        c.restart_learning()
        assert m["pair"][i][j] == len(head + c.compress(y) + c.flush())
    assert m["ncd"][0][1] < m["ncd"][0][2]  # a is nearer to a copy of itself than to b
    # distances come from code lengths: each stream is its code length plus a header and the end's rounding
    for i in range(3):
        assert 0 < 8 * m["single"][i] - m["bits"][i] < 8 * 200
        for j in set(range(3)) - {i}:
            assert 0 < 8 * m["pair"][i][j] - m["pair_bits"][i][j] < 8 * 200
            assert m["conditional_bits"][i][j] == m["pair_bits"][i][j] - m["bits"][i]
    assert m["conditional_bits"][0][1] < m["bits"][1] / 4  # a copy of a costs little after a


@pytest.mark.slow
def test_matrix_prints_both_distances(tmp_path):
    (tmp_path / "a.txt").write_bytes(TEXT[:1500])
    (tmp_path / "b.txt").write_bytes(TEXT[:1500])
    (tmp_path / "c.bin").write_bytes(bytes(range(256)) * 6)
    r = nn("joint", "--matrix", "-l", "1", "-q", "a.txt", "b.txt", "c.bin", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ncd, cond = r.stdout.decode().split("C(column | row)")
    assert "NCD(row, column)" in ncd
    cells = {ln.split()[1]: [int(v.replace(",", "")) for v in ln.split()[2:-1] if v != "│"]
             for ln in cond.splitlines() if ln.split()[1:2] and ln.split()[1] in ("alone", "a.txt", "b.txt")}
    alone_b, b_after_a = cells["alone"][1], cells["a.txt"][0]  # row a.txt skips its own column
    assert b_after_a < alone_b / 4  # a copy costs little after the original


def test_restart_learning_keeps_the_statistics_and_forgets_what_was_learned():
    c = nncomp.compressor(2, decide=False, segment=0)
    with pytest.raises(ValueError):
        c.restart_learning()  # nothing coded yet
    c.compress(TEXT[:3000])
    c.end_frame()
    pred = c._at.engine.pred
    table, beta, delta = pred.ctx.table.clone(), pred.beta.clone(), pred.mixer.delta.clone()
    learned = {k: v.clone() for k, v in pred.net.params.items()}
    c.restart_learning()
    fresh = Predictor(c._at.engine.cfg, c._prior)  # the prior's fresh state, for the same settings
    assert torch.equal(pred.ctx.table, table) and table.any()
    for k, v in pred.net.params.items():
        assert torch.equal(v, fresh.net.params[k])
    assert any(not torch.equal(learned[k], v) for k, v in pred.net.params.items())
    assert torch.equal(pred.mixer.delta, fresh.mixer.delta) and not torch.equal(delta, pred.mixer.delta)
    assert torch.equal(pred.beta, fresh.beta) and not torch.equal(beta, pred.beta)


@pytest.mark.parametrize("path", ["../evil", "/etc/passwd", "a/../../b", "", "a//b", "./x", "a\\b"])
def test_hostile_member_paths_rejected(path):
    with pytest.raises(ValueError):
        container.build_header(nncomp.CodecConfig(), "none", 5, [(path, 1)])
    level, tag, d = container.unpack_header(container.build_header(nncomp.CodecConfig(), "none", 5, [("x", 1)]))
    d["members"] = [[path, 1]]
    forged = container.pack_header(level, tag, d)
    with pytest.raises(CorruptError, match="unsafe member path"):
        container.parse_header(forged)


def test_extract_refuses_symlink_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "link").symlink_to(outside)
    with pytest.raises(NNCError, match="outside"):
        extract(iter([b"abc"]), [("link/x", 3)], dest, force=False)
    assert not list(outside.iterdir())


def _frame_kinds(stream: bytes) -> list[tuple[int, int]]:
    """(offset, kind byte) of every frame of a stream."""
    return [(pos, stream[pos]) for pos, _ in container.frame_heads(stream)]


@pytest.mark.slow
def test_new_dataset_flag_marks_boundaries():
    a, b = TEXT[:6000], TEXT[6000:12000]
    c = nncomp.compressor(1, segment=0)
    stream = c.compress(a) + c.end_frame() + c.compress(b) + c.flush()
    kinds = _frame_kinds(stream)
    assert [k & container.NEW_DATASET for _, k in kinds] == [0, container.NEW_DATASET]
    assert nncomp.decompress(stream) == a + b
    # plain compression never sets it, however many frames
    plain = nncomp.compress(a + b, config=replace(nncomp.config.level_config(1), frame_size=4096))
    assert len(_frame_kinds(plain)) == 3 and all(k & container.NEW_DATASET == 0 for _, k in _frame_kinds(plain))


def test_a_joint_stream_never_costs_more_than_its_datasets_alone():
    rng = random.Random(32)
    noise = rng.randbytes(3000)
    datasets = [("text", TEXT[:5000]), ("noise", noise), ("more", TEXT[5000:9000]), ("table", _table(150))]
    ticks = []
    rep = joint_report([(n, [(n, d)]) for n, d in datasets], 1, progress=ticks.append)
    assert sum(ticks) == 2 * sum(len(d) for _, d in datasets)  # each byte alone and in the joint stream, once
    overhead = len(nncomp.compress(b"", 1))  # a header and an end record, which the datasets share in joint
    assert rep.joint_total <= rep.separate_total - (len(datasets) - 1) * overhead
    assert rep.datasets[0].learned is None and all(d.learned is not None for d in rep.datasets[1:])
    assert all(d.saving >= 0 for d in rep.datasets[1:])


def test_a_dataset_starts_afresh_where_what_came_before_would_mislead_it():
    a, b = random.Random(5).randbytes(8000), TEXT[:300]
    c = nncomp.compressor(1, segment=0)
    stream = c.compress(a) + c.end_frame() + c.compress(b) + c.flush()
    assert c.starts == [False]  # after noise, a line of text is cheapest from the prior's fresh state alone
    heads = container.frame_heads(stream)
    assert [h.fresh for _, h in heads] == [False, True] and heads[1][1].frame.new_dataset
    d = describe(io.BytesIO(stream))
    assert (d["datasets"], d["fresh"]) == (2, 1)
    assert nncomp.decompress(stream) == a + b
    alone = nncomp.compress(b, 1)
    (pos, head), (pos_alone, head_alone) = heads[1], container.frame_heads(alone)[0]
    assert stream[pos + 1 : pos + container.FRAME_HEAD.size + head.pay_len] == \
        alone[pos_alone + 1 : pos_alone + container.FRAME_HEAD.size + head_alone.pay_len]  # b's frame as alone
    # without the flag the decoder goes on from what it learned, predicts otherwise and must notice
    forged = stream[:pos] + bytes([stream[pos] & ~container.FRESH]) + stream[pos + 1 :]
    with pytest.raises(CorruptError):
        nncomp.decompress(forged)
    # a fresh start is only ever the first frame of a dataset
    alone_forged = alone[:pos_alone] + bytes([alone[pos_alone] | container.FRESH]) + alone[pos_alone + 1 :]
    with pytest.raises(CorruptError, match="fresh start"):
        nncomp.decompress(alone_forged)


def test_a_dataset_is_coded_by_what_came_before_mixed_with_a_fresh_model():
    a, b = TEXT[:6000], b"".join(b"%d,%d,%d\n" % (i, i * i % 97, i * 7 % 13) for i in range(800))
    c = nncomp.compressor(1, segment=0)
    stream = c.compress(a) + c.end_frame() + c.compress(b) + c.flush()
    assert c.starts == [True]
    heads = container.frame_heads(stream)
    assert [(h.mixed, h.fresh) for _, h in heads] == [(False, False), (True, False)]
    assert heads[1][1].frame.new_dataset
    assert describe(io.BytesIO(stream))["mixed"] == 1
    assert nncomp.decompress(stream) == a + b
    # the mixture codes the table smaller than either of its models would alone (in code lengths:
    # payloads round to the coder's 4-byte words, and a few bytes' difference can vanish in them)
    def table_bits(parts: list[bytes], **kw) -> float:
        bits = []
        c = nncomp.compressor(1, segment=0, on_frame=lambda n, w, costs: bits.append(float(costs.sum())), **kw)
        b"".join(c.compress(p) + c.end_frame() for p in parts) + c.flush()
        return bits[-1]

    mixed = table_bits([a, b])
    assert mixed < table_bits([a, b], decide=False, mix=False) and mixed < table_bits([b])
    # without the flag the decoder codes with the stream's model alone and must notice
    pos = heads[1][0]
    forged = stream[:pos] + bytes([stream[pos] & ~container.MIXED]) + stream[pos + 1 :]
    with pytest.raises(CorruptError):
        nncomp.decompress(forged)
    # a mixed start is only ever the first frame of a later dataset, and never also a fresh one
    for flags, at in ((container.MIXED, heads[0][0]), (container.MIXED | container.FRESH, pos)):
        bad = stream[:at] + bytes([stream[at] | flags]) + stream[at + 1 :]
        with pytest.raises(CorruptError, match="mixed start"):
            nncomp.decompress(bad)


def _table(rows: int) -> bytes:
    return b"".join(struct.pack(">HHI", i, (i * 7) % 50, 1000 + 3 * i) for i in range(rows))

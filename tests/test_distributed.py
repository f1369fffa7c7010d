"""Segments on a real Dask cluster (LocalCluster, worker processes): the same bytes as a local run."""

import io
import subprocess
import sys

import pytest

import nncomp

from .conftest import SAMPLE, TINY, nncomp_env

distributed_lib = pytest.importorskip("distributed")
from nncomp import distributed  # noqa: E402  (only with Dask installed)

DATA = SAMPLE.read_bytes()[:20000]
SEG = 4096

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with distributed_lib.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as c, distributed_lib.Client(c) as client:
        yield c, client


def test_a_cluster_writes_the_bytes_of_a_local_run_and_decodes_them(cluster, tmp_path):
    _, client = cluster
    src = tmp_path / "in.txt"
    src.write_bytes(DATA)
    local = nncomp.compress(DATA, level=1, segment=SEG)
    assert distributed.visible(client, str(src))
    for shared in (True, False):  # workers read their segments from the file, or receive them
        out = io.BytesIO()
        assert distributed.compress_file(client, src, out, level=1, segment=SEG, shared=shared) == (len(DATA), len(local))
        assert out.getvalue() == local
    packed = tmp_path / "in.txt.nnc"
    packed.write_bytes(local)
    back = io.BytesIO()
    assert distributed.decompress_file(client, packed, back)[1] == len(DATA)
    assert back.getvalue() == DATA


def test_a_custom_prior_travels_to_the_workers(cluster):
    """Settings that are not a level's and the seeded prior of no model: the worker codes what this process would."""
    _, client = cluster
    c = nncomp.compressor(config=TINY, segment=SEG, size=len(DATA), pool=lambda args: distributed.DaskPool(client, args))
    packed = c.compress(DATA) + c.flush()
    assert packed == nncomp.compress(DATA, config=TINY, segment=SEG)
    assert b"".join(nncomp.iter_decompress([packed], pool=lambda args: distributed.DaskPool(client, args))) == DATA


def test_damage_found_by_a_worker_is_an_error(cluster):
    _, client = cluster
    packed = bytearray(nncomp.compress(DATA, config=TINY, segment=SEG))
    packed[len(packed) // 2] ^= 0x10
    with pytest.raises(nncomp.NNCError):
        b"".join(nncomp.iter_decompress([bytes(packed)], pool=lambda args: distributed.DaskPool(client, args)))


def test_command_line_scheduler(cluster, tmp_path):
    c, _ = cluster
    src = tmp_path / "in.txt"
    src.write_bytes(DATA)
    run = lambda *a: subprocess.run([sys.executable, "-m", "nncomp", *a], capture_output=True, env=nncomp_env(),
                                    cwd=tmp_path)
    r = run("compress", "-q", "-l", "1", "--segment", "4K", "--scheduler", c.scheduler_address, str(src))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "in.txt.nnc").read_bytes() == nncomp.compress(DATA, level=1, segment=SEG)
    r = run("decompress", "-q", "--scheduler", c.scheduler_address, "-o", str(tmp_path / "out"), str(src) + ".nnc")
    assert r.returncode == 0 and (tmp_path / "out").read_bytes() == DATA
    r = run("compress", "-q", "--scheduler", "tcp://127.0.0.1:9", "-o", str(tmp_path / "x.nnc"), str(src))
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"scheduler" in r.stderr
    assert not (tmp_path / "x.nnc").exists()

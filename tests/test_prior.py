"""Priors: trained with the codec's arithmetic, saved without pickle, named by hash in every header."""

import subprocess
import sys

import pytest

import nncomp
from nncomp import UnsupportedError
from nncomp.prior import ModelFileError, Prior
from nncomp.tools.train import train_prior

from .conftest import SAMPLE, TINY, nncomp_env

TEXT = SAMPLE.read_bytes()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("prior")
    (d / "train.txt").write_bytes(TEXT[:16000])
    res = train_prior([d / "train.txt"], TINY, None, budget=30000, chunk=4096, holdout_every=4, holdout_max=4096)
    path = d / "tiny.nncm"
    path.write_bytes(res.prior.to_bytes())
    return res, path


@pytest.mark.slow
def test_training_lowers_held_out_cost(trained):
    res, _ = trained
    assert res.bytes_seen >= 30000
    assert res.holdout_bpb_after < res.holdout_bpb_before


def test_file_round_trip_keeps_id(trained):
    res, path = trained
    loaded = Prior.load(path)
    assert loaded.id == res.prior.id and loaded.id.startswith("p")
    assert all((loaded.params[k] == res.prior.params[k]).all() for k in loaded.params)


def test_tampered_or_truncated_model_rejected(trained, tmp_path):
    _, path = trained
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x40
    with pytest.raises(ModelFileError, match="hash"):
        Prior.parse(bytes(raw))
    with pytest.raises(ModelFileError, match="truncated|unexpected"):
        Prior.parse(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="not an nncomp model"):
        Prior.parse(b"\x80\x04K\x01.")  # a pickle is not a model file


def test_stream_names_its_prior(trained):
    res, _ = trained
    data = TEXT[16000:20000]
    packed = nncomp.compress(data, model=res.prior, config=TINY)
    assert nncomp.decompress(packed, models=[res.prior]) == data
    with pytest.raises(UnsupportedError, match=res.prior.id):
        nncomp.decompress(packed)
    assert len(packed) < len(nncomp.compress(data, config=TINY))  # the prior helps on similar text


def test_explicit_settings_start_from_the_levels_prior_where_it_fits():
    import io
    from dataclasses import replace

    from nncomp.config import level_config
    from nncomp.tools.info import describe

    def model(stream):
        return describe(io.BytesIO(stream))["model"]

    data = TEXT[:1000]
    plain = nncomp.compress(data, 5)
    assert nncomp.compress(data, config=level_config(5)) == plain
    other = replace(level_config(5), hash_bits=12)
    fitted, bare = nncomp.compress(data, config=other), nncomp.compress(data, config=other, model="none")
    assert model(fitted) == model(plain) != "none" and model(bare) == "none"
    assert len(fitted) < len(bare) and nncomp.decompress(fitted) == data
    assert model(nncomp.compress(data, config=TINY)) == "none"  # another network: the prior does not fit


@pytest.mark.slow
def test_cli_train_and_use_custom_model(tmp_path):
    (tmp_path / "a.txt").write_bytes(TEXT[:12000])
    (tmp_path / "b.txt").write_bytes(TEXT[12000:14000])

    def nn(*args):
        return subprocess.run([sys.executable, "-m", "nncomp", *args], cwd=tmp_path, capture_output=True,
                              env=nncomp_env(COLUMNS="200"), timeout=600)

    r = nn("train", "a.txt", "-o", "my.nncm", "--model", "none")  # one chunk: nothing left to train on
    assert r.returncode == 1 and b"too little training data" in r.stderr and not (tmp_path / "my.nncm").exists()
    r = nn("train", "a.txt", "-o", "my.nncm", "--model", "none", "--chunk", "2048", "--budget", "6000", "--log", "curve.tsv")
    assert r.returncode == 0, r.stderr.decode()
    assert b"bits/byte" in r.stderr and (tmp_path / "curve.tsv").read_text().count("\n") >= 2
    assert nn("train", "a.txt", "-o", "my.nncm", "--budget", "1000").returncode == 1  # exists, no -f
    assert nn("compress", "-q", "--model", "my.nncm", "b.txt").returncode == 0
    r = nn("decompress", "-c", "b.txt.nnc")
    assert r.returncode == 1 and b"--model" in r.stderr
    r = nn("decompress", "-c", "--model", "my.nncm", "b.txt.nnc")
    assert r.returncode == 0 and r.stdout == TEXT[12000:14000]

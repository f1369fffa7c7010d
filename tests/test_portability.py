"""Files decode under another thread count and CPU instruction set, in separate processes."""

import hashlib
import subprocess
import sys

import pytest

from .conftest import SAMPLE, nncomp_env

DATA = SAMPLE.read_bytes()[:12000]

CONFIGS = {
    "T1-default-isa": (["-T", "1"], {"ATEN_CPU_CAPABILITY": "default"}),
    "T2-best-isa": (["-T", "2"], {}),
}


def _run(args, env, data):
    r = subprocess.run([sys.executable, "-m", "nncomp", *args], input=data, capture_output=True,
                       env=nncomp_env(**env), timeout=600)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


@pytest.fixture(scope="module")
def packed():
    return {name: _run(["compress", "-q", "-c", "-", *flags], env, DATA) for name, (flags, env) in CONFIGS.items()}


def test_compressed_bytes_identical_across_configurations(packed):
    digests = {name: hashlib.sha256(p).hexdigest() for name, p in packed.items()}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("enc,dec", [("T1-default-isa", "T2-best-isa"), ("T2-best-isa", "T1-default-isa")])
def test_decode_in_other_configuration(packed, enc, dec):
    flags, env = CONFIGS[dec]
    assert _run(["decompress", "-q", "-c", "-", *flags], env, packed[enc]) == DATA

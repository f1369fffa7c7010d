"""Files decode under another thread or worker count, CPU instruction set (torch's kernels, MKL's and
numba's) and implementation of the context work and decoding step (torch operations or compiled
loops), in separate processes."""

import hashlib
import platform
import subprocess
import sys

import pytest

from .conftest import SAMPLE, nncomp_env

DATA = SAMPLE.read_bytes()[:12000]
SEGMENT = 4096  # three segments: -T 3 codes two in worker processes and the last one in its own

# torch's own kernels without vector extensions, MKL's (which picks its code itself) capped at AVX2
LOWER_ISA = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
# The segments are below kernels.MIN_BYTES: the compiled loops are asked for where they should code.
CONFIGS = {
    "T1-default-isa": (["-T", "1"], {**LOWER_ISA, "NUMBA_CPU_NAME": "generic", "NNCOMP_KERNELS": "1"}),
    "T3-best-isa": (["-T", "3"], {"NNCOMP_KERNELS": "1"}),
    "T1-torch-loops": (["-T", "1"], {"NNCOMP_KERNELS": "0"}),
}


def _python(argv, data, env=None):
    """Standard output of `python argv...` fed data, in a fresh process with the project importable."""
    r = subprocess.run([sys.executable, *argv], input=data, capture_output=True, env=nncomp_env(**(env or {})),
                       timeout=600)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def _run(args, env, data):
    return _python(["-m", "nncomp", *args], data, env)


@pytest.fixture(scope="module")
def packed():
    return {name: _run(["compress", "-q", "-c", "--segment", str(SEGMENT), "-", *flags], env, DATA)
            for name, (flags, env) in CONFIGS.items()}


@pytest.mark.slow
def test_compressed_bytes_identical_across_configurations(packed):
    digests = {name: hashlib.sha256(p).hexdigest() for name, p in packed.items()}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("enc,dec", [("T1-default-isa", "T3-best-isa"), ("T3-best-isa", "T1-torch-loops"),
                                     ("T1-torch-loops", "T1-default-isa")])
@pytest.mark.slow
def test_decode_in_other_configuration(packed, enc, dec):
    flags, env = CONFIGS[dec]
    assert _run(["decompress", "-q", "-c", "-", *flags], env, packed[enc]) == DATA


# compress as the command line does a pipe (an input of unknown size, cut every SEGMENT bytes)
_LIBRARY = """import sys, nncomp
data = sys.stdin.buffer.read()
if sys.argv[1] == "compress":
    c = nncomp.compressor(threads=2, segment=int(sys.argv[2]))
    sys.stdout.buffer.write(c.compress(data) + c.flush())
else:
    sys.stdout.buffer.write(nncomp.decompress(data, threads=2))
"""


def _library(verb: str, data: bytes, *args: str) -> bytes:
    """nncomp.compress / decompress in a plain Python process, with torch on two threads: the command
    line's heap settings (nncomp/heap.py: freed memory kept and reused, so stale buffer contents are
    not zeros) and its single thread are absent."""
    return _python(["-c", _LIBRARY, verb, *args], data)


@pytest.mark.slow
def test_library_process_matches_command_line(packed):
    lib = _library("compress", DATA, str(SEGMENT))
    assert lib == packed["T3-best-isa"]
    assert _library("decompress", packed["T1-default-isa"]) == DATA


def test_heap_setting_taken_by_glibc():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert _python(["-c", "from nncomp.heap import keep_freed_memory as k; print(k())"], b"").strip() == b"True"


# a joint stream of two datasets, the second coded by the mixture of both models (nncomp/mixture.py)
_JOINT = """import sys, nncomp
data, threads = sys.stdin.buffer.read(), int(sys.argv[2])
if sys.argv[1] == "compress":
    c = nncomp.compressor(1, threads=threads, segment=0)
    sys.stdout.buffer.write(c.compress(data[:6000]) + c.end_frame() + c.compress(data[6000:]) + c.flush())
else:
    sys.stdout.buffer.write(nncomp.decompress(data, threads=threads))
"""


@pytest.mark.slow
def test_mixed_joint_stream_identical_and_decodable_across_configurations():
    from nncomp import container

    data = DATA[:6000] + b"".join(b"%d,%d\n" % (i, i * i % 97) for i in range(600))
    one = _python(["-c", _JOINT, "compress", "1"], data, LOWER_ISA)
    two = _python(["-c", _JOINT, "compress", "2"], data)
    assert one == two
    assert [h.mixed for _, h in container.frame_heads(one)] == [False, True]
    assert _python(["-c", _JOINT, "decompress", "2"], one) == data
    assert _python(["-c", _JOINT, "decompress", "1"], two, LOWER_ISA) == data

"""Shared fixtures: a tiny codec configuration for fast tests and the evaluation corpus, if present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from nncomp.config import CodecConfig
from nncomp.model import ModelConfig

# The suite runs in two processes (`make test`): with torch's threads each, waiting threads would
# spin against the other process's (issue 31). Tests of other thread counts set their own.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "corpus" / "eval"
SAMPLE = ROOT / "samples" / "sample.txt"

# Small enough to code a few KB per second even one lane at a time; frames of 2 KiB so that
# multi-frame streams, lanes of unequal length and stored frames all occur in short inputs.
TINY = CodecConfig(
    model=ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16),
    orders=(1, 2, 3),
    hash_bits=10,
    lanes=8,
    min_lane=64,
    frame_size=2048,
)


@pytest.fixture
def tiny() -> CodecConfig:
    return TINY


def eval_files(max_bytes: int) -> list[Path]:
    """Files of ../shared/corpus/eval up to max_bytes (empty when the corpus is absent)."""
    if not EVAL.is_dir():
        return []
    return sorted(p for p in EVAL.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv" and p.stat().st_size <= max_bytes)


def nncomp_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # a test process that runs torch on several threads (train, the library on two) shares the cores
    # with the other test process: its threads sleep while they wait instead of spinning
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(extra)
    return env

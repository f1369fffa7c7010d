"""Pretrained priors (.nncm files): weights that online adaptation starts from, loaded without pickle.

    magic "NNCM" | version u8 | json length u32 | JSON | float32 little-endian tensors, in JSON order

The JSON records the transformer's shape, the context orders the mixer was trained with, each
tensor's name and shape, and provenance. A prior's id is a hash of the JSON's shape fields and every
tensor byte; .nnc headers name the prior by this id, so a decoder can tell whether it has the right one.
Parsing is strict: sizes are checked against the declared shapes before anything is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .contexts.counts import TOTAL_BUCKETS
from .errors import NNCError
from .model import ModelConfig, param_shapes

MAGIC = b"NNCM"
VERSION = 1
MAX_JSON = 1 << 20
MAX_BYTES = 1 << 28  # the largest model validate() allows is about 150 MB of float32 weights
SHAPE_FIELDS = ("d_model", "n_layer", "n_head", "d_mlp")


class ModelFileError(NNCError):
    """A model file that is missing, malformed, or does not fit the settings it is used with."""


@dataclass
class Prior:
    shape: dict  # the ModelConfig fields that fix the weights' shapes
    orders: tuple[int, ...]
    params: dict[str, torch.Tensor]
    alpha: torch.Tensor  # mixer weights (len(orders), TOTAL_BUCKETS): one per order and total-count bucket
    info: dict = field(default_factory=dict)  # provenance: data, bytes seen, losses

    def __post_init__(self):
        # weights are stored as float32: round them now so a saved and reloaded prior is the same prior
        self.params = {k: v.float().double() for k, v in self.params.items()}
        self.alpha = self.alpha.float().double()

    @property
    def id(self) -> str:
        h = hashlib.sha256(json.dumps({"shape": self.shape, "orders": list(self.orders)}, sort_keys=True).encode())
        for name, t in self._tensors():
            h.update(name.encode())
            h.update(t.contiguous().numpy().astype("<f4").tobytes())
        return "p" + h.hexdigest()[:16]

    def _tensors(self):
        return [*sorted(self.params.items()), ("alpha", self.alpha)]

    def fits(self, cfg: ModelConfig, orders: tuple[int, ...]) -> bool:
        return all(getattr(cfg, k) == v for k, v in self.shape.items()) and tuple(orders) == tuple(self.orders)

    def to_bytes(self) -> bytes:
        tensors = self._tensors()
        meta = {"shape": self.shape, "orders": list(self.orders), "tensors": [[n, list(t.shape)] for n, t in tensors],
                "info": self.info, "id": self.id}
        body = json.dumps(meta, sort_keys=True).encode()
        parts = [MAGIC + bytes([VERSION]) + struct.pack(">I", len(body)) + body]
        parts += [t.contiguous().numpy().astype("<f4").tobytes() for _, t in tensors]
        return b"".join(parts)

    @classmethod
    def load(cls, path: str | Path) -> "Prior":
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_BYTES + 1)  # bounded: a device such as /dev/zero has no size to check first
        except OSError as e:
            raise ModelFileError(f"cannot read model {path}: {e.strerror}") from None
        if len(raw) > MAX_BYTES:
            raise ModelFileError(f"invalid model file {path}: larger than {MAX_BYTES >> 20} MiB")
        return cls.parse(raw, str(path))

    @classmethod
    def parse(cls, raw: bytes, name: str = "model") -> "Prior":
        try:
            if raw[:4] != MAGIC or len(raw) < 9:
                raise ValueError("not an nncomp model file")
            if raw[4] != VERSION:
                raise ValueError(f"model format version {raw[4]} is not supported")
            (n,) = struct.unpack_from(">I", raw, 5)
            if n > MAX_JSON or 9 + n > len(raw):
                raise ValueError("bad header length")
            meta = json.loads(raw[9 : 9 + n])
            shape = {k: int(meta["shape"][k]) for k in SHAPE_FIELDS}
            cfg = ModelConfig(**shape)
            cfg.validate()
            orders = tuple(int(k) for k in meta["orders"])
            want = dict(param_shapes(cfg))
            want["alpha"] = (len(orders), TOTAL_BUCKETS)
            listed = [(str(t[0]), tuple(int(d) for d in t[1])) for t in meta["tensors"]]
            if dict(listed) != want or len(listed) != len(want):
                raise ValueError("tensors do not match the declared model shape")
            pos, tensors = 9 + n, {}
            for tname, tshape in listed:
                count = int(np.prod(tshape))
                if pos + 4 * count > len(raw):
                    raise ValueError("file is truncated")
                arr = np.frombuffer(raw, dtype="<f4", count=count, offset=pos).reshape(tshape)
                if not np.isfinite(arr).all():
                    raise ValueError(f"tensor {tname} holds non-finite values")
                tensors[tname] = torch.from_numpy(arr.astype(np.float64))
                pos += 4 * count
            if pos != len(raw):
                raise ValueError("unexpected bytes after the tensors")
            alpha = tensors.pop("alpha")
            prior = cls(shape, orders, tensors, alpha, meta.get("info", {}))
            if "id" in meta and meta["id"] != prior.id:
                raise ValueError("weights do not match the recorded hash")
            return prior
        except (ValueError, KeyError, TypeError, struct.error, RecursionError) as e:
            raise ModelFileError(f"invalid model file {name}: {e}") from None


BUILTIN = {"default": "default.nncm"}  # name -> file shipped in nncomp/models


@functools.lru_cache(maxsize=None)
def builtin(name: str) -> Prior | None:
    """A prior shipped with the package, or None if this installation lacks it."""
    f = resources.files("nncomp") / "models" / BUILTIN[name]
    if not f.is_file():
        return None
    return Prior.parse(f.read_bytes(), f"built-in {name}")


def find_builtin(model_id: str) -> Prior | None:
    for name in BUILTIN:
        p = builtin(name)
        if p is not None and p.id == model_id:
            return p
    return None

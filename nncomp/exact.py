"""The numerics contract: the only module that decides how numbers are computed on the coding path.

Everything the encoder and decoder must agree on is built from operations whose results are the
same bits on every machine, thread count, CPU instruction set and device:

* matrix products of integer-valued float tensors whose partial sums provably stay exact
  (below 2**24 in float32, 2**53 in float64): `exact_mm`;
* reductions over integers (int64 sums, maxima), which are exact in any order;
* element-wise +, -, *, / (correctly rounded by IEEE-754), round, floor, clamp, and `sqrt` here
  (torch.sqrt is not correctly rounded on every build: see there);
* integer tables built from integer arithmetic and Python's `decimal` module (software arithmetic,
  correctly rounded, identical everywhere), never from libm's exp/log.

Nothing else on the coding path may use transcendental functions, fused operations or
torch.compile. Offline code (reporting, plots) may.
"""

from __future__ import annotations

import decimal
import functools

import numpy as np
import torch

__all__ = [
    "EXP_BITS",
    "LOGIT_FRAC",
    "exact_dtype",
    "exact_mm",
    "f32_parts",
    "lookup",
    "quantize_grad",
    "requant",
    "sqrt",
    "exp2_table",
    "ilog2_fixed",
    "splitmix_uniform",
    "configure_torch",
]

F32_EXACT = 2**24  # every integer below this is exact in float32
F64_EXACT = 2**53  # ... and below this in float64

LOGIT_FRAC = 64  # output logits are fixed point: z / LOGIT_FRAC is a log2 probability ratio
EXP_BITS = 20  # the largest frequency in a coded distribution is 2**EXP_BITS
LOG2E = 1.4426950408889634  # log2(e) as a literal, so no libm call decides its last bit


def configure_torch() -> None:
    """Keep float32 products in full precision (no TF32, no reduced-precision kernels)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


# A product whose float32 partial sums could pass 2**24 runs as up to this many float32 products over
# consecutive parts of its k terms, each exact, added in float64 (exact: below 2**26), which is faster
# than one float64 product.
F32_PARTS = 4


@functools.lru_cache(maxsize=None)
def f32_parts(amax: float, bmax: float, k: int) -> int:
    """How exact_mm runs a product of k integer terms bounded by amax*bmax each: as this many float32
    products over consecutive parts of k whose partial sums stay below 2**24 (1: one product), or 0:
    in float64. Decided once per shape and bound; refuses bounds beyond float64's exact range."""
    per = int((F32_EXACT - 1) // (float(amax) * float(bmax)))  # terms per part whose sum stays exact
    parts = max(1, -(-k // per)) if per else 0
    if 1 <= parts <= F32_PARTS:
        return parts
    if float(amax) * float(bmax) * k < F64_EXACT:
        return 0
    raise ValueError(f"matrix product bound {float(amax) * float(bmax) * k:.3g} exceeds exact float64 range")


def exact_dtype(amax: float, bmax: float, k: int) -> torch.dtype:
    """The float type exact_mm multiplies in, for k integer terms bounded by amax*bmax each: float32
    (in up to F32_PARTS parts of k) where that is exact, else float64."""
    return torch.float32 if f32_parts(amax, bmax, k) else torch.float64


def exact_mm(a: torch.Tensor, b: torch.Tensor, amax: float, bmax: float, keep: bool = False) -> torch.Tensor:
    """a @ b for integer-valued a, b with |a| <= amax, |b| <= bmax; the result is exact, as float64
    (with `keep`, in the type of a product that ran as one: its integers are exact there too).

    Runs in float32 when every partial sum stays below 2**24, or as float32 products over parts of
    k that each do, added in float64 (the result is then float64); else in float64 (below 2**53).
    The bound is checked, not assumed: a product that could round is refused rather than silently
    inexact. A kept float32 result may only go through exact float32 operations (power-of-two
    scaling, round, clamp, comparisons) or be promoted to float64 by an operation with a float64 tensor.
    """
    k = a.shape[-1]
    parts = f32_parts(amax, bmax, k)
    dtype = torch.float32 if parts else torch.float64
    if a.dtype != dtype:  # (checked here: a no-op .to() still costs a dispatch, ~1 us, per operand)
        a = a.to(dtype)
    if b.dtype != dtype:
        b = b.to(dtype)
    if parts <= 1:
        c = torch.matmul(a, b)
        return c if keep else c.double()
    size = -(-k // parts)
    c = torch.matmul(a[..., :size], b[..., :size, :]).double()
    for j in range(size, k, size):
        c += torch.matmul(a[..., j : j + size], b[..., j : j + size, :])
    return c


def lookup(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table[idx] (rows of `table` picked by the integer tensor idx): the same values as advanced
    indexing, through index_select, which is several times faster on the CPU for the coder's tables.
    Small lookups in a 1-D table go through take, one operation where index_select needs two views
    around it (a decoding step makes dozens; from about 16K indices take is the slower)."""
    if idx.dim() == 1:
        return table.index_select(0, idx)
    if table.dim() == 1 and idx.numel() <= 1024 and idx.dtype == torch.int64:  # (take wants int64)
        return torch.take(table, idx)
    return table.index_select(0, idx.reshape(-1)).view(*idx.shape, *table.shape[1:])


def requant(x: torch.Tensor, shift: int, lo: float, hi: float) -> torch.Tensor:
    """round(x * 2**-shift) clamped to [lo, hi]: scaling by a power of two is exact."""
    return torch.mul(x, 2.0**-shift).round_().clamp_(lo, hi)


def sqrt(x: torch.Tensor, legacy: bool = False) -> torch.Tensor:
    """The square root of a float64 tensor, correctly rounded as IEEE-754 defines it: numpy's, the
    processor's own instruction, because torch.sqrt on the CPU may go through MKL's vector library,
    whose last bit depends on the instruction set (docs/decisions.md, Numerics). `legacy`: torch.sqrt,
    for streams whose settings lack config.CodecConfig.ieee_sqrt."""
    if legacy or x.device.type != "cpu":  # (CUDA's double-precision sqrt is correctly rounded)
        return torch.sqrt(x)
    return torch.from_numpy(np.sqrt(x.numpy()))


def quantize_grad(g: torch.Tensor, bits: int, out: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """Round a float gradient to integers of at most `bits` bits with a power-of-two scale.

    Returns (g_int, scale) with g ~= g_int * scale. The scale comes from the exact maximum and
    frexp (bit manipulation), so every machine picks the same one. `out`: a float64 tensor of g's
    shape to write g_int into (it may be g itself).
    """
    lo, hi = (float(v) for v in torch.aminmax(g)) if g.numel() else (0.0, 0.0)
    gmax = max(abs(lo), abs(hi))
    if gmax == 0.0 or not (np.isfinite(lo) and np.isfinite(hi)):
        return (torch.zeros_like(g, dtype=torch.float64) if out is None else out.zero_()), 1.0
    _, e = np.frexp(gmax)  # gmax = m * 2**e, 0.5 <= m < 1
    shift = bits - int(e)
    return torch.mul(g.double(), 2.0**shift, out=out).round_(), 2.0**-shift


_DECIMAL = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)


def _pow2(x: decimal.Decimal) -> decimal.Decimal:
    """2**x to 40 digits of correctly rounded decimal arithmetic: the one transcendental of the tables."""
    return _DECIMAL.exp(_DECIMAL.multiply(x, _DECIMAL.ln(decimal.Decimal(2))))


@functools.lru_cache(maxsize=None)
def _exp2_values(frac: int, size: int, top_bits: int) -> tuple[int, ...]:
    """round(2**top_bits * 2**(-i/frac)) for i < size: 2**(-i/frac) is a power of two times one of
    frac fractional powers, so a table needs frac exponentials, not size (a process start saves tens of
    milliseconds). tests/test_exact.py checks every table the codec uses against one exponential per entry."""
    top = decimal.Decimal(2**top_bits)
    scaled = [_DECIMAL.multiply(top, _pow2(_DECIMAL.divide(decimal.Decimal(-j), frac))) for j in range(frac)]
    out = []
    for i in range(size):
        q, j = divmod(i, frac)
        v = _DECIMAL.divide(scaled[j], decimal.Decimal(2**q))
        out.append(int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    return tuple(out)


def exp2_table(frac: int, size: int, top_bits: int) -> torch.Tensor:
    """Table T[i] = round(2**top_bits * 2**(-i / frac)), int64, identical on every machine."""
    return torch.tensor(_exp2_values(frac, size, top_bits), dtype=torch.int64)


@functools.lru_cache(maxsize=None)
def _log2_mantissa(bits: int, frac: int) -> tuple[int, ...]:
    """round(frac * log2(1 + i / 2**bits)) for i < 2**bits: entry i is the number of v in 1..frac with
    2**bits * 2**((v - 1/2) / frac) <= 2**bits + i, frac exponentials instead of 2**bits logarithms.
    No threshold is an integer (they are irrational), so the comparison decides the rounding exactly."""
    n = 2**bits
    thresholds = [_DECIMAL.multiply(decimal.Decimal(n), _pow2(_DECIMAL.divide(decimal.Decimal(2 * v - 1), 2 * frac)))
                  for v in range(1, frac + 1)]
    out, v = [], 0
    for i in range(n):
        while v < frac and thresholds[v] <= n + i:
            v += 1
        out.append(v)
    return tuple(out)


_MANT_BITS = 10


def ilog2_fixed(x: torch.Tensor, frac: int = LOGIT_FRAC) -> torch.Tensor:
    """round(frac * log2(x)) (to about 1/1000 bit) for integer tensors x >= 1, as int64.

    Splits x = 2**e * (1 + i/1024 + ...) with frexp, which is exact on integers below 2**53, and
    looks up the mantissa's logarithm in a decimal-built table.
    """
    table = torch.tensor(_log2_mantissa(_MANT_BITS, frac), dtype=torch.int64, device=x.device)
    m, e = torch.frexp(x.double())  # x = m * 2**e, 0.5 <= m < 1
    idx = torch.floor((m * 2.0 - 1.0) * (2.0**_MANT_BITS)).long()
    return (e.long() - 1) * frac + lookup(table, idx)


def splitmix_uniform(seed: int, n: int) -> np.ndarray:
    """n numbers uniform in [-1, 1) from splitmix64: a generator whose stream no library update changes."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(40)).astype(np.int64)  # 24 random bits
    return (top - 2**23).astype(np.float64) / 2.0**23

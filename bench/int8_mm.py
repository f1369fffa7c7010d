"""Would int8 products (torch._int_mm: int8 x int8 -> int32, exact) speed up the network's products?

The codec's products are integers held in floats (exact.exact_mm). int8 holds activations (|x| <= 127)
as they are, but weights (|w| <= 1023) need two base-256 digits and 16-bit gradients (|g| <= 2**16)
three, each digit another product whose results must be combined. This times, on this machine:
  1. one int8, float32 and float64 product at the training step's and the one-position step's shapes;
  2. the training step's weight-gradient product as it would run: the gradient split into three int8
     digits, one int8 product over them, combined in float64, against the float64 product it replaces;
  3. a one-position step's linear layer with the weight's digits prepared once, against float32.
Every int8 result is checked against the float64 product.

    python bench/int8_mm.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from nncomp.heap import keep_freed_memory


def bench(f, n: int) -> float:
    """Microseconds per call (two warm-up calls, then the mean of n)."""
    f(), f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e6


def ints(lo: int, hi: int, shape) -> torch.Tensor:
    return torch.randint(lo, hi + 1, shape, dtype=torch.int64)


def digits(x: torch.Tensor, n: int) -> torch.Tensor:
    """Base-256 digits in [-128, 127] of the integers x, stacked along a new first axis, as int8."""
    xi, out = x.to(torch.int32), []
    for _ in range(n - 1):
        hi = (xi + 128) >> 8  # floor((x + 128) / 256)
        out.append(xi - (hi << 8))
        xi = hi
    out.append(xi)
    return torch.stack(out).to(torch.int8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    print(f"torch {torch.__version__}, {args.threads} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}")

    print("\n1. one product, us per call (int8 | float32 | float64)")
    for m, k, n in [(2048, 128, 256), (256, 2048, 128), (2048, 256, 128), (64, 256, 128), (64, 128, 384)]:
        a, b = ints(-128, 127, (m, k)), ints(-128, 127, (k, n))
        a8, b8 = a.to(torch.int8), b.to(torch.int8)
        assert torch.equal(torch._int_mm(a8, b8).double(), a.double() @ b.double())
        reps = 30 if m * k * n > 1 << 20 else 300
        t8 = bench(lambda: torch._int_mm(a8, b8), reps)
        a32, b32, a64, b64 = a.float(), b.float(), a.double(), b.double()
        print(f"  ({m},{k}) x ({k},{n}): {t8:7.1f} | {bench(lambda: a32 @ b32, reps):7.1f} | {bench(lambda: a64 @ b64, reps):7.1f}")

    print("\n2. weight gradient x^T g over 2048 positions (x: 128 activations, g: 256 16-bit gradients)")
    x, g = ints(-127, 127, (2048, 128)), ints(-(2**16), 2**16, (2048, 256))
    x64, g64 = x.double(), g.double()
    ref = x64.T @ g64
    xt8 = x.to(torch.int8).T
    scale = torch.tensor([1.0, 256.0, 65536.0], dtype=torch.float64).view(1, 3, 1)

    def via_int8():
        d = digits(g64, 3).permute(1, 0, 2).reshape(2048, 3 * 256)  # (positions, digit, out)
        return (torch._int_mm(xt8, d).double().view(128, 3, 256) * scale).sum(1)

    assert torch.equal(via_int8(), ref)
    print(f"  float64 product {bench(lambda: x64.T @ g64, 30):7.1f} us; int8 route {bench(via_int8, 30):7.1f} us"
          f" (of which the digits {bench(lambda: digits(g64, 3), 30):7.1f} us)")

    print("\n3. one-position step, linear layer (lanes, k) x (k, n), weight digits prepared once")
    for lanes, k, n in [(32, 256, 128), (64, 256, 128), (64, 128, 384)]:
        xa, w = ints(-127, 127, (lanes, k)).float(), ints(-1023, 1023, (k, n))
        wd = digits(w.double(), 2)
        w8 = torch.cat([wd[0], wd[1]], 1)  # (k, 2n): low digit | high digit
        w32 = w.float()

        def step_int8():
            c = torch._int_mm(xa.to(torch.int8), w8)
            return torch.add(c[:, :n], c[:, n:], alpha=256).float()

        assert torch.equal(step_int8().double(), xa.double() @ w.double())
        print(f"  ({lanes},{k}) x ({k},{n}): int8 {bench(step_int8, 300):6.1f} us, float32 {bench(lambda: xa @ w32, 300):6.1f} us")


if __name__ == "__main__":
    main()

"""Bytes shaped like x86-64 code: instructions of a few kinds, with calls and jumps to a few dozen
functions by relative address, as a compiler lays them out (no assembler needed)."""

from __future__ import annotations

import random


def x86_like(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    targets = sorted(rng.randrange(0, 4 * n) for _ in range(24))
    out = bytearray()
    while len(out) < n:
        op = rng.random()
        if op < 0.25:  # call or jump to a function, relative to the next instruction
            out.append(0xE8 if op < 0.2 else 0xE9)
            out += ((rng.choice(targets) - (len(out) + 4)) & 0xFFFFFFFF).to_bytes(4, "little")
        elif op < 0.55:  # mov between registers and the stack
            out += bytes([0x48, 0x89, rng.choice([0x45, 0x5D, 0xC7, 0xE5]), rng.randrange(0, 64, 8)])
        elif op < 0.75:  # load a small constant
            out += bytes([0xB8 + rng.randrange(8)]) + rng.randrange(256).to_bytes(4, "little")
        elif op < 0.9:  # a short conditional jump
            out += bytes([rng.choice([0x74, 0x75, 0x7E]), rng.randrange(256)])
        else:  # push, pop, ret
            out.append(rng.choice([0x55, 0x5D, 0xC3, 0x53, 0x5B]))
    return bytes(out[:n])

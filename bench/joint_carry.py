"""What should a joint stream's next dataset keep of what the stream learned? Encoder-side code lengths.

    python bench/joint_carry.py paper1+paper2,progc+progp            # every variant
    python bench/joint_carry.py book1+book2 "keep (now),age8"        # some

For each pair A+B of Calgary files: B's model cost alone, and after A under each variant of
Predictor.new_dataset (what happens at the dataset boundary), at level 5, without headers. The
percentage is B's saving over the pair's cost alone. Prints one line per pair.
"""

import argparse
import copy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

from nncomp import api  # noqa: E402
from nncomp.codec import Engine, looks_binary  # noqa: E402
from nncomp.config import level_config  # noqa: E402
from nncomp.contexts import Frame  # noqa: E402
from nncomp.contexts.record import find_period  # noqa: E402
from nncomp.mixer import Mixer  # noqa: E402
from nncomp.model import Transformer  # noqa: E402

CALGARY = HERE.parent.parent / "shared" / "corpus" / "eval" / "calgary"
cfg = level_config(5)
prior = api.load_model("default")

def bits(eng, data, new):
    f = Frame(new, find_period(data), looks_binary(data))
    _, costs = eng.encode_frame(data, f, code=False, with_costs=True)
    return float(costs.sum()) / 8

def age(shift):
    def f(self):
        ctx = self.ctx
        rows = ctx.offsets.view(-1).tolist() + [len(ctx.table)]
        for k, hashed in enumerate(ctx.is_hashed.view(-1).tolist()):  # orders and the other sources' rows
            if hashed:
                ctx.table[rows[k] : rows[k + 1]] >>= shift
    return f

def reset_net(self):
    self.net = Transformer(self.net.cfg, prior.params)

def reset_mixer(self):
    self.mixer = Mixer(self.layout, prior.alpha)

def reset_counts(self):
    self.ctx.table.zero_()

VARIANTS = {"keep (now)": None, "age8": age(3), "age2": age(1), "age64": age(6),
            "reset counts": reset_counts, "reset net": reset_net, "reset mixer": reset_mixer}
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("pairs", help="A+B,C+D,...")
ap.add_argument("variants", nargs="?", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
args = ap.parse_args()
want = args.variants.split(",")
for pair in args.pairs.split(","):
    a, b = pair.split("+")
    A, B = (CALGARY / a).read_bytes(), (CALGARY / b).read_bytes()
    t0 = time.perf_counter()
    with torch.inference_mode():
        alone = bits(Engine(cfg, prior), B, False)
        eng = Engine(cfg, prior)
        ca = bits(eng, A, False)
        out = []
        for name in want:
            e = copy.deepcopy(eng)
            if VARIANTS[name] is not None:
                e.pred.new_dataset = VARIANTS[name].__get__(e.pred)
            after = bits(e, B, True)
            out.append(f"{name}: {after:,.0f} ({100 * (alone - after) / (ca + alone):+.2f} %)")
    print(f"{a}+{b}: A {ca:,.0f}, B alone {alone:,.0f}; B after A: " + "; ".join(out), f"({time.perf_counter() - t0:.0f} s)", flush=True)

"""Encoder and decoder sides of the predictor stay in lock-step, bit for bit, through learning."""

from dataclasses import replace

import pytest
import torch

from nncomp.config import CodecConfig
from nncomp.contexts import Frame
from nncomp.contexts.layout import RowLayout
from nncomp.exact import splitmix_uniform
from nncomp.model import ModelConfig, init_params
from nncomp.predictor import Predictor
from nncomp.prior import Prior

PLAIN = dict(match_bits=0, record=False, words=False, columns=False, sparse=False, bitmap=False, halve=False,
             lane_ctx=False)


def _settings(cfg: ModelConfig, orders=(1, 2, 3, 4), hash_bits=12, **kw) -> CodecConfig:
    """Every source but sparse and pixel rows, unless kw says otherwise."""
    flags = dict(match_bits=10, record=True, words=True, columns=True, sparse=False, bitmap=False, halve=True,
                 lane_ctx=True) | kw
    return CodecConfig(model=cfg, orders=orders, hash_bits=hash_bits, **flags)


def _lockstep(cfg: ModelConfig, data: bytes, lanes: int, blocks: int, short_last_lane: bool, period: int = 0,
              binary: bool = False, sparse: bool = False, bitmap: bool = False, prior: Prior | None = None,
              **settings):
    T = cfg.block
    x_all = torch.tensor(list(data[: lanes * T * blocks])).view(lanes, T * blocks)
    valid_all = torch.ones_like(x_all, dtype=torch.bool)
    if short_last_lane:
        valid_all[-1, T * blocks // 2 + 3 :] = False
        x_all[~valid_all] = 0
    settings = _settings(cfg, sparse=sparse, bitmap=bitmap, **settings)
    enc, dec = Predictor(settings, prior), Predictor(settings, prior)
    frame = Frame(period=period, binary=binary, pixels=bitmap)
    enc.start_frame(lanes, T * blocks, frame)
    dec.start_frame(lanes, T * blocks, frame)
    for b in range(blocks):
        x, valid = x_all[:, b * T : (b + 1) * T], valid_all[:, b * T : (b + 1) * T]
        freq = enc.predict_block(x, valid)
        assert (freq >= 1).all()
        enc.learn()
        dec.begin_block(T)
        for t in range(T):
            step = dec.predict_step()
            assert torch.equal(step, freq[:, t]), f"block {b} step {t} differs"
            dec.push(x[:, t], valid[:, t])
        dec.finish_block()
        dec.learn()
    for k, w in enc.net.params.items():
        assert torch.equal(w, dec.net.params[k]), k
    for k, w in enc.mixer.weights().items():
        assert torch.equal(w, dec.mixer.weights()[k]), k
    assert torch.equal(enc.beta, dec.beta)
    return enc


def test_batched_equals_stepwise_with_learning():
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    enc = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=False)
    fresh = Predictor(_settings(cfg))
    assert not torch.equal(enc.net.params["l0.qkv"], fresh.net.params["l0.qkv"])  # it learned
    assert not torch.equal(enc.beta, fresh.beta)  # and the match bonus learned from its hits


@pytest.mark.parametrize("mix_every", [4, 5])  # parts that divide the block, and a shorter last part
def test_batched_equals_stepwise_with_the_mixer_learning_within_blocks(mix_every):
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    enc = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=mix_every)
    once = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True)
    assert not torch.equal(enc.mixer.alpha, once.mixer.alpha)


def test_the_momentum_setting_is_every_online_steps_beta1():
    text = (b"The quick brown fox jumps over the lazy dog. " * 20)[: 4 * 16]
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    x = torch.tensor(list(text)).view(4, 16)
    valid = torch.ones_like(x, dtype=torch.bool)
    first = []  # Adam's first moments after one step from zero: (1 - beta1) * gradient
    for momentum in (0.0, 0.5):  # 0.0: the model's beta1, 0.9
        pred = Predictor(_settings(cfg, momentum=momentum))
        pred.start_frame(4, 16)
        pred.predict_block(x, valid)
        pred.learn()
        first.append([pred.net.adam["head"][0], pred.mixer.adam["alpha"][0], pred.beta_adam[0]])
    for plain, half in zip(*first):  # the network's, the mixer's, the bonuses'
        assert plain.abs().sum() > 0
        assert torch.allclose(half * 0.2, plain, rtol=1e-9, atol=0)


def test_the_bonuses_step_size_is_a_setting_both_sides_follow():
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    plain = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=4)
    smaller = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=4, bonus_lr=0.6)
    assert not torch.equal(smaller.beta, plain.beta)


def test_the_mixers_step_size_in_parts_is_a_setting_both_sides_follow():
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    share = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=4)  # sqrt(4/16) = 0.5
    same = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=4, mix_lr=0.5)
    smaller = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, mix_every=4, mix_lr=0.2)
    for k, w in share.mixer.weights().items():
        assert torch.equal(w, same.mixer.weights()[k]), k
    assert any(not torch.equal(w, smaller.mixer.weights()[k]) for k, w in share.mixer.weights().items())


def test_the_mixer_learns_as_each_part_of_a_block_ends():
    text = (b"The quick brown fox jumps over the lazy dog. " * 20)[: 4 * 16]
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    x = torch.tensor(list(text)).view(4, 16)
    valid = torch.ones_like(x, dtype=torch.bool)
    for every, moves in ((0, False), (4, True)):
        pred = Predictor(_settings(cfg, mix_every=every))
        pred.start_frame(4, 16)
        start = {k: w.clone() for k, w in pred.mixer.weights().items()}
        pred.predict_block(x, valid)  # before learn(): only parts that ended inside the block have learned
        changed = any(not torch.equal(w, start[k]) for k, w in pred.mixer.weights().items())
        assert changed == moves
        assert torch.equal(pred.net.params["l0.qkv"], Predictor(_settings(cfg, mix_every=every)).net.params["l0.qkv"])


def test_a_new_dataset_restarts_the_optimizer_and_keeps_what_was_learned():
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    p = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=False)
    learned = {k: w.clone() for k, w in p.net.params.items()}
    alpha, counts = p.mixer.alpha.clone(), p.ctx.table.clone()
    assert any(bool(m.any()) for m, _ in p.net.adam.values())
    p.start_frame(8, 16, Frame(new_dataset=False))  # a new frame of the same dataset keeps the moments
    assert any(bool(m.any()) for m, _ in p.net.adam.values())
    p.start_frame(8, 16, Frame(new_dataset=True))
    assert not any(bool(m.any()) or bool(v.any()) for m, v in p.net.adam.values())
    assert all(torch.equal(learned[k], w) for k, w in p.net.params.items())
    assert torch.equal(alpha, p.mixer.alpha) and torch.equal(counts, p.ctx.table)


def test_from_a_prior_the_lowest_layer_keeps_its_weights():
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[:8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=2, n_head=4, d_mlp=64, block=16)
    params = init_params(replace(cfg, seed=5))
    params["head"] = torch.from_numpy(splitmix_uniform(7, 256 * 32)).view(256, 32) * 0.3  # one that predicts something
    prior = Prior({}, (1, 2, 3, 4), params, torch.full((4, 16), 0.25))
    enc = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True, prior=prior)
    for k, w in enc.net.params.items():
        assert torch.equal(w, prior.params[k]) == (k == "emb" or k.startswith("l0.")), k
    # the same upper-layer gradients as a backward pass through every layer: stopping early changes nothing above
    net, L, T = enc.net, 3, cfg.block
    tok = torch.tensor(list(text[: L * T])).view(L, T)
    _, cache = net.forward(tok, None)
    g = torch.tensor([(7 * i) % 201 - 100 for i in range(L * T * 256)], dtype=torch.float64).view(L, T, 256)
    full, part = net.backward(cache, g, 2.0**-20), net.backward(cache, g, 2.0**-20, lowest=1)
    assert set(part) == {"head"} | {f"l1.{k}" for k in ("qkv", "proj", "fc1", "fc2")}
    for k, w in part.items():
        assert torch.equal(w, full[k]), k
    assert set(net.backward(cache, g, 2.0**-20, lowest=2)) == {"head"}


def test_batched_equals_stepwise_while_halving_full_rows(monkeypatch):
    from nncomp.contexts import counts

    monkeypatch.setattr(counts, "HALVE_BITS", 5)  # rows of more than 32 counts: halved all the time
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[: 8 * 16 * 6]
    cfg = ModelConfig(d_model=32, n_layer=1, n_head=4, d_mlp=64, block=16)
    enc = _lockstep(cfg, text, lanes=8, blocks=6, short_last_lane=True)
    assert 0 < int(enc.ctx.table[: 256].sum(-1).max()) < 64  # order-1 rows stay small


def test_batched_equals_stepwise_with_record_contexts():
    rows = b"".join(bytes([i % 256, 3, (7 * i) % 256, 0, 1]) for i in range(400))  # 5-byte records
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    enc = _lockstep(cfg, rows, lanes=4, blocks=5, short_last_lane=True, period=5)
    fresh = Predictor(_settings(cfg))
    for w, w0 in zip(enc.mixer.weights().values(), fresh.mixer.weights().values()):
        assert not torch.equal(w[1], w0[1])  # the weights of frames with records learned
        assert torch.equal(w[0], w0[0])  # and left the plain frames' weights alone
    record = enc.layout.slices(binary=False, records=True)["record"]
    assert not torch.equal(enc.mixer.alpha[1, :, record], fresh.mixer.alpha[1, :, record])  # the record rows too


def test_binary_frames_learn_their_own_weights_from_a_silent_transformer():
    code = bytes((i * 37) % 251 if i % 3 else 0 for i in range(4 * 16 * 5))
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    fresh = Predictor(_settings(cfg))
    assert (fresh.mixer.gamma[2:] == 0).all() and (fresh.mixer.gamma[:2] == 1).all()  # mixer.GAMMA_INIT
    enc = _lockstep(cfg, code, lanes=4, blocks=5, short_last_lane=True, binary=True)
    assert enc.mix == 2
    for w, w0 in zip(enc.mixer.weights().values(), fresh.mixer.weights().values()):
        assert not torch.equal(w[2], w0[2])  # the binary frames' weights learned
        assert all(torch.equal(w[k], w0[k]) for k in (0, 1, 3))  # the others' did not


def test_binary_frames_count_sparse_contexts_in_lockstep():
    from nncomp.contexts.counts import SPARSE

    code = bytes((i * 37) % 251 if i % 2 else 0x4E for i in range(4 * 16 * 5))  # 2-byte units
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    n = len(SPARSE)
    fresh = Predictor(_settings(cfg, sparse=True))
    for period in (0, 6):
        enc = _lockstep(cfg, code, lanes=4, blocks=5, short_last_lane=True, period=period, binary=True, sparse=True)
        assert enc.ctx.n_sparse == n and enc.ctx.table[int(enc.ctx.offsets[-n]) :].sum() > 0  # counted
        rows = enc.layout.slices(binary=True, records=bool(period))["sparse"]
        assert rows.stop - rows.start == n
        for k in range(rows.start, rows.stop):  # every sparse row's weights learned
            assert not torch.equal(enc.mixer.alpha[enc.mix, :, k], fresh.mixer.alpha[enc.mix, :, k]), (period, k)
        start = 0.0 if period else 0.25  # layout.SILENT: with records they start silent
        assert (fresh.mixer.alpha[enc.mix, :, rows] == start).all()
    text = (b"The quick brown fox jumps over the lazy dog. " * 200)[: 4 * 16 * 4]
    enc = _lockstep(cfg, text, lanes=4, blocks=4, short_last_lane=False, sparse=True)
    assert enc.ctx.table[int(enc.ctx.offsets[-n]) :].sum() == 0  # text frames leave them alone


def test_sparse_contexts_index_the_bytes_they_name():
    from nncomp.contexts.counts import SPARSE, ContextModel

    assert SPARSE == ((2,), (2, 3), (1, 3), (3, 4))  # the expectations below are written for these
    ctx = ContextModel((1,), hash_bits=10, sparse=True)
    hist = torch.tensor([0x0A0B0C0D0E], dtype=torch.int64)  # last byte 0x0E, then 0x0D, 0x0C, 0x0B
    rows = ctx.rows(hist, sparse=True)[0][1:, 0] - ctx.offsets[-4:].view(-1)
    assert rows.tolist() == [0x0D, 0x0D + (0x0C << 8), 0x0E + (0x0C << 8), 0x0C + (0x0B << 8)]
    assert ctx.rows(hist)[0].shape[0] == 1  # only when asked


def test_match_context_names_the_predicted_byte_and_its_length():
    from nncomp.contexts.counts import ContextModel
    from nncomp.contexts.match import MIN_LEN, MatchModel

    data = b"abcdefghij" * 2
    mm = MatchModel(10)
    mm.start_frame(Frame(), 1, len(data))
    hist, ctx = torch.zeros(1, dtype=torch.int64), []
    for b in data:
        mm.guess()
        ctx.append(int(mm.contexts(hist)[0, 0]))
        sym = torch.tensor([b])
        before, hist = hist, ContextModel.push(hist, sym)
        mm.push(before, hist, sym, torch.tensor([True]))
    assert MIN_LEN == 6  # the second copy's match starts after its first 6 bytes, predicting b"ghij"
    assert ctx[:16] == [0] * 16  # no match yet: no byte, length 0, not active
    # predicted byte | bit length of the verified length << 8 | active << 12 (length 0, 1, 2, 3)
    assert ctx[16:] == [ord("g") | 1 << 12, ord("h") | 1 << 8 | 1 << 12, ord("i") | 2 << 8 | 1 << 12,
                        ord("j") | 2 << 8 | 1 << 12]


def test_batched_equals_stepwise_with_ended_lane():
    data = bytes(range(256)) * 8
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=8)
    _lockstep(cfg, data, lanes=4, blocks=4, short_last_lane=True)


def test_learning_lowers_cost():
    """Online learning must pay off: later blocks of repetitive text cost fewer bits."""
    cfg = ModelConfig(d_model=32, n_layer=1, n_head=2, d_mlp=64, block=16)
    pred = Predictor(CodecConfig(model=cfg, orders=(1, 2), hash_bits=10, **PLAIN))
    text = (b"abcdefghij" * 1000)[: 4 * 16 * 20]
    x_all = torch.tensor(list(text)).view(4, -1)
    pred.start_frame(4, 16 * 20)
    costs = []
    for b in range(20):
        x = x_all[:, b * 16 : (b + 1) * 16]
        freq = pred.predict_block(x, torch.ones_like(x, dtype=torch.bool))
        p = freq.gather(-1, x.unsqueeze(-1)).squeeze(-1) / freq.sum(-1)
        costs.append(float(-torch.log2(p).mean()))
        pred.learn()
    assert costs[-1] < 0.5 < costs[0]


def test_full_rows_are_halved():
    from nncomp.contexts.counts import HALVE_BITS, ContextModel

    ctx, keep = ContextModel((1,), hash_bits=10, halve=True), ContextModel((1,), hash_bits=10)
    rows, _ = ctx.rows(torch.tensor([ord("a")], dtype=torch.int64))
    sym, valid = torch.tensor([ord("b")]), torch.tensor([True])
    limit = 2**HALVE_BITS  # a total of this many has HALVE_BITS + 1 bits
    for c in (ctx, keep):
        c.table[rows[0, 0], ord("c")] = 3
        for _ in range(limit - 3):
            c.update(rows, c.features(rows)[1], sym, valid)
    assert int(ctx.table[rows[0, 0]].sum()) == limit  # 3 of 'c' and limit - 3 of 'b': not halved yet
    ctx.update(rows, ctx.features(rows)[1], sym, valid)  # counted at a total of `limit`: then halved
    assert ctx.table[rows[0, 0], ord("b")] == (limit - 2) // 2 and ctx.table[rows[0, 0], ord("c")] == 1
    keep.update(rows, keep.features(rows)[1], sym, valid)  # a model that does not halve just counts
    assert int(keep.table[rows[0, 0]].sum()) == limit + 1


def _run_match(rows: list[bytes], own_first: bool = True, m=None):
    """Feed a frame's lanes (equal-length byte strings) through a MatchModel (a new one, or m after
    the frames it coded); per step (predicted, active, length bucket)."""
    from nncomp.contexts.counts import ContextModel
    from nncomp.contexts.match import MatchModel

    lanes, length = len(rows), len(rows[0])
    m = m or MatchModel(20)  # large enough that 200 contexts never collide
    m.start_frame(Frame(binary=not own_first), lanes, length)
    hist = torch.zeros(lanes, dtype=torch.int64)
    out = []
    for t in range(length):
        sym, bucket, active = m.guess()
        here = m.ptr[active] - m.base  # negative: in the earlier frames' bytes
        assert bool((here // lanes < t).all()), "a match points at a byte not coded yet"
        out.append((sym.clone(), active.clone(), bucket.clone()))
        x = torch.tensor([r[t] for r in rows])
        new = ContextModel.push(hist, x)
        m.push(hist, new, x, torch.ones(lanes, dtype=torch.bool))
        hist = new
    return out


def test_match_model_predicts_repeats_in_its_lane_and_across_lanes():
    period = b"The quick brown fox jumps over the lazy dog; "  # no 6-byte context repeats inside it
    a = period * 3
    b = bytes((7 * i + 3) % 251 for i in range(len(period))) + period * 2  # lane 1 repeats lane 0's text later
    steps = _run_match([a, b])
    n = len(period)
    for t in range(n + 6, 3 * n):  # lane 0, second and third period: every byte predicted
        sym, active, _ = steps[t]
        assert active[0] and sym[0] == a[t], t
    assert steps[3 * n - 1][2][0] >= 5  # verified length grew (bit length of ~2n)
    hits = sum(bool(steps[t][1][1]) and steps[t][0][1] == b[t] for t in range(n + 6, 2 * n))
    assert hits >= n - 6 - 1  # lane 1 found lane 0's earlier text


def test_match_model_looks_in_its_own_lane_first():
    a = b"abcdefX" + bytes(range(100, 120)) + b"abcdefZ"  # lane 0 repeats "abcdef"
    b = bytes(range(130, 140)) + b"abcdefY" + bytes(range(140, 157))  # lane 1 wrote it since, before Y
    steps = _run_match([a, b])
    assert steps[16][1][1] and steps[16][0][1] == ord("X")  # lane 1 has no past of its own: lane 0's
    sym, active, _ = steps[33]
    assert active[0] and sym[0] == ord("X")  # lane 0: its own last "abcdef", not lane 1's more recent one
    sym, active, _ = _run_match([a, b], own_first=False)[33]  # binary frames: the most recent anywhere
    assert active[0] and sym[0] == ord("Y")


def test_match_model_finds_repeats_in_the_frames_before():
    from nncomp.contexts.match import MatchModel

    period = b"The quick brown fox jumps over the lazy dog; "
    m = MatchModel(20)
    _run_match([bytes(range(100, 140)), period + bytes(range(140, 180))], m=m)  # lane after lane: period, then 140..
    lanes = [bytes(range(1, 31)) + period[:40], bytes(range(31, 61)) + period[:40]]
    steps = _run_match(lanes, m=m)
    for t in range(30 + 6, 70):  # after the period's first 6 bytes, each lane follows the earlier frame
        sym, active, _ = steps[t]
        assert active.all() and [int(v) for v in sym] == [lanes[0][t], lanes[1][t]], t
    # a match that reaches the end of the earlier bytes ends there
    m = MatchModel(20)
    _run_match([bytes(range(100, 140)) + period], m=m)
    steps = _run_match([period + b"zzzzzz"], m=m)
    assert steps[len(period) - 1][1][0] and not steps[len(period)][1][0]


def test_match_model_ignores_unrepeated_data():
    steps = _run_match([bytes(range(1, 201))])
    assert not any(bool(active[0]) for _, active, _ in steps)


def test_binary_frames_of_images_add_pixel_rows_in_lockstep():
    image = bytes(min(255, (x * 3 + y * 5) // 4) for y in range(40) for x in range(32))  # 32-byte rows
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=16)
    enc = _lockstep(cfg, image, lanes=2, blocks=5, short_last_lane=True, period=32, binary=True, sparse=True,
                    bitmap=True)
    assert enc.pixels and int(enc.bitmap.counts().sum()) > 0
    fresh = Predictor(_settings(cfg, sparse=True, bitmap=True))
    pixels = enc.layout.slices(binary=True, records=True, pixels=True)["bitmap"]
    assert pixels.stop == enc.layout.rows  # the last rows
    assert not torch.equal(enc.mixer.alpha[3, :, pixels], fresh.mixer.alpha[3, :, pixels])


def test_the_layout_names_the_rows_of_every_kind_of_frame():
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, d_mlp=32, block=8)
    settings = _settings(cfg, sparse=True, bitmap=True)
    layout = RowLayout.of(settings)
    assert layout == RowLayout(orders=4, words=3, lane=1, column=3, match=1, record=3, sparse=4, bitmap=2)
    assert RowLayout.of(_settings(cfg, **PLAIN)) == RowLayout(orders=4)
    for binary, period, groups in ((False, 0, "orders words lane column match"),
                                   (False, 5, "orders words lane column match record"),
                                   (True, 0, "orders words lane column match sparse"),
                                   (True, 5, "orders words lane column match record sparse"),
                                   (True, 20, "orders words lane column match record sparse bitmap")):
        pred = Predictor(settings)
        pred.start_frame(2, 64, Frame(period=period, binary=binary, pixels=period == 20))
        speaking = layout.speaking(binary, bool(period), pred.pixels)
        assert " ".join(speaking) == groups
        n = sum(s.stop - s.start for s in layout.slices(binary, bool(period), pred.pixels).values())
        for b in range(8):  # the rows the predictor scores, position after position
            pos = pred._context_step(b, 8, torch.tensor([b, b + 1]), torch.tensor([True, True]))
            assert pos.f.shape[0] == n == pos.cells.alpha.shape[0], (binary, period)

"""The mixer picks its weights by context and learns them in the right direction."""

from pathlib import Path

import torch

from nncomp.exact import LOGIT_FRAC, quantize_grad
from nncomp.contexts.counts import N_BUCKETS
from nncomp.contexts.layout import ALPHA_INIT, RowLayout
from nncomp.mixer import N_MATCH, N_SETS, PRIOR_GAMMA, Mixer
from nncomp.model import GRAD_BITS, ModelConfig


def test_weight_set_follows_seen_orders_and_match_state():
    mixer = Mixer(RowLayout(orders=3))
    buckets = torch.tensor([[0, 3, 3, 4], [0, 0, 2, 4], [0, 0, 1, 4]])  # (K=3 orders, L=4 lanes)
    match_len = torch.tensor([-1, 0, 5, 20])  # none; just found; verified 5 bytes; 20 bytes
    hist = torch.tensor([ord("a"), ord(" "), ord("a") | ord("b") << 8, ord("\n")])
    cells = mixer.cells(buckets, hist, match_len)
    # seen orders 0, 1, 3, 3; match states 0, 1, 2, 3
    assert cells.set.tolist() == [0 * N_MATCH + 0, 1 * N_MATCH + 1, 3 * N_MATCH + 2, 3 * N_MATCH + 3]
    assert mixer.cells(buckets, hist, None).set.tolist() == [0, 4, 12, 12]  # no match model: state 0
    pairs = (cells.delta[0] // (3 * N_BUCKETS)).tolist()  # row 0, bucket 0: the pair of byte classes
    assert pairs[0] // 16 == pairs[2] // 16 and pairs[0] != pairs[2]  # both end in 'a'; the byte before differs
    assert pairs[0] // 16 != pairs[1] // 16 != pairs[3] // 16  # a letter, a space, a newline
    assert (cells.alpha < mixer.alpha[0].numel()).all() and (cells.delta < mixer.delta[0].numel()).all()


def _train_gamma(truth: int, favoured: int, steps: int = 60, mixer: Mixer | None = None) -> float:
    """Gamma after training on a transformer that always favours `favoured` by 10 bits."""
    mixer = mixer or Mixer(RowLayout(orders=1))
    cfg = ModelConfig()
    L, T = 4, 8
    zh = torch.zeros(L, T, 256, dtype=torch.float64)
    zh[..., favoured] = 10 * LOGIT_FRAC
    f = torch.zeros(T, 1, L, 256, dtype=torch.float64)  # time first, as the predictor's block buffer
    buckets = torch.zeros(1, L, T, dtype=torch.int64)
    cells = mixer.cells(buckets[..., 0], torch.zeros(L, dtype=torch.int64), None)
    cells = type(cells).stack([cells] * T)
    for _ in range(steps):
        z = mixer.net_logits(0, cells.set, zh) / LOGIT_FRAC * 0.6931471805599453
        g = torch.softmax(z, -1) - torch.nn.functional.one_hot(torch.full((L, T), truth), 256).double()
        gq, sc = quantize_grad(g / (L * T), GRAD_BITS)
        mixer.learn(0, gq, sc, f, cells, zh, cfg)
    return float(mixer.gamma[0, int(cells.set[0, 0])])


def test_misleading_transformer_loses_weight_and_a_good_one_gains():
    assert _train_gamma(truth=1, favoured=0) < 0.5
    assert _train_gamma(truth=1, favoured=1) > 1.5
    assert Mixer(RowLayout(orders=1)).gamma.shape == (4, N_SETS)


def test_a_priors_network_starts_text_frames_lower_and_moves_its_weight_in_half_steps():
    fresh = Mixer(RowLayout(orders=1))
    primed = Mixer(RowLayout(orders=1), prior_alpha=torch.full((1, 16), 0.5, dtype=torch.float64))
    assert (fresh.gamma[:2] == 1).all() and (primed.gamma[:2] == PRIOR_GAMMA).all()  # text frames
    assert (fresh.gamma[2:] == 0).all() and (primed.gamma[2:] == 0).all()  # binary frames: no prior there
    # one Adam step moves a weight by lr * its scale whatever the gradient's size: half as far from a prior
    up_fresh = _train_gamma(truth=1, favoured=1, steps=1) - 1.0
    up_primed = _train_gamma(truth=1, favoured=1, steps=1, mixer=primed) - PRIOR_GAMMA
    assert up_fresh > 0.01 and abs(up_primed - up_fresh / 2) < 1e-6 * up_fresh


def test_lane_rows_start_silent_only_in_binary_frames_with_records():
    m = Mixer(RowLayout(orders=2, lane=1, record=1))  # rows: 2 orders, the lane row, the record row
    binary_records = 3  # Predictor.mix of binary frames with records
    assert (m.alpha[binary_records, :, 2] == 0).all()  # the record contexts see each lane's bytes there
    assert (m.alpha[:binary_records, :, 2] == ALPHA_INIT).all() and (m.alpha[binary_records, :, 1] == ALPHA_INIT).all()


def test_byte_weights_follow_the_last_byte():
    m = Mixer(RowLayout(orders=2), byte_weights=True)
    buckets = torch.zeros(2, 3, dtype=torch.int64)
    hist = torch.tensor([7, 9, 7 | 1 << 8])  # lanes 0 and 2 end in the same byte
    assert Mixer(RowLayout(orders=2)).cells(buckets, hist, None).byte is None  # not asked for
    cells = m.cells(buckets, hist, None)
    assert torch.equal(cells.byte[:, 0], cells.byte[:, 2]) and not torch.equal(cells.byte[:, 0], cells.byte[:, 1])
    f = torch.ones(2, 3, 256, dtype=torch.float64)
    for mix in range(4):  # every kind of frame
        before = m.context_logits(mix, cells, f)
        m.byte_delta[mix].view(-1)[cells.byte[:, 0]] = 1.0  # the weights learned after byte 7
        after = m.context_logits(mix, cells, f)
        assert (after[0] > before[0]).all() and (after[2] > before[2]).all() and torch.equal(after[1], before[1])


def test_byte_weights_change_the_stream_and_both_settings_decode():
    from dataclasses import replace

    import nncomp
    from nncomp import container
    from nncomp.config import level_config

    binary = b"".join(bytes([i % 5, 0, i * 7 % 256, 1, i % 3]) for i in range(300))
    text = (Path(__file__).resolve().parent.parent / "samples" / "sample.txt").read_bytes()[:1500]
    on = level_config(5)
    off = replace(on, byte_weights=False)
    assert on.byte_weights and not level_config(1).byte_weights
    for data in (binary, text):
        a, b = nncomp.compress(data, config=on), nncomp.compress(data, config=off)
        assert nncomp.decompress(a) == data == nncomp.decompress(b)
        # the headers name different settings, and the first frames after them differ too
        frame_a, frame_b = (x[container.header_length(x[: container.HEADER_FIXED]):][:200] for x in (a, b))
        assert frame_a != frame_b


def test_lazy_pair_steps_move_only_the_pairs_met():
    """With lazy_pairs, a step leaves the pair weights and moments of pairs its positions did not meet
    as they were, though their moments would move them; without, every pair steps."""
    from nncomp.mixer import N_PAIRS

    L, T = 2, 4
    f = torch.zeros((T, 2, L, 256), dtype=torch.float32)  # time first, as the predictor's block buffer
    f[..., 65] = 100.0  # both rows scored the 'A' that came
    zh = torch.zeros(L, T, 256, dtype=torch.float64)
    g = torch.full((L, T, 256), 1.0 / 256, dtype=torch.float64)
    g[..., 65] -= 1.0  # every position was an 'A'
    gq, sc = quantize_grad(g / (L * T), GRAD_BITS)
    moved = {}
    for lazy in (False, True):
        m = Mixer(RowLayout(orders=2), lazy_pairs=lazy)
        hist = torch.tensor([ord("a") | ord("b") << 8, ord("a") | ord("b") << 8])  # one pair of classes in both lanes
        cells = type(m.cells(torch.ones(2, L, dtype=torch.int64), hist, None)).stack(
            [m.cells(torch.ones(2, L, dtype=torch.int64), hist, None)] * T)
        met = int(cells.delta[0, 0, 0]) // (m.rows * N_BUCKETS)
        other = (met + 1) % N_PAIRS
        m.adam["delta"][0][0, other] = 1e-3  # momentum left from earlier steps
        m.adam["delta"][1][0, other] = 1e-6
        m.learn(0, gq, sc, f, cells, zh, ModelConfig())
        assert (m.delta[0, met] != 0).any()  # the pair met learned
        moved[lazy] = bool((m.delta[0, other] != 0).any())
    assert moved == {False: True, True: False}

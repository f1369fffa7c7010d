"""The context model's kernels (see kernels.py), compiled by numba and cached on disk.

Each mirrors one method of the count table (contexts/counts.py), a source (contexts/match.py,
words.py, columns.py), the mixer (mixer.py), the predictor's learning step (predictor.py) or the
transformer's decoding step (model.py), and says which; arrays are numpy views of the model's torch tensors, so the kernels read and write the same
memory.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .contexts.counts import (CLAIM, CLAIM_BELOW, COUNT_CAP, HALVE_BITS, MAX_ROWS, OWN, RUN_AGREE, RUN_CLASSES,
                              TOTAL_BUCKETS)

_RUN_LOWEST = -(1 << 15)  # below every run value: a row's first write in a step replaces it
# The other modules' constants the kernels read. numba keeps a global's value in its cached machine
# code and checks only this file's date and size, so kernels.load() compares these with `baked`.
CONSTANTS = (CLAIM, CLAIM_BELOW, COUNT_CAP, HALVE_BITS, MAX_ROWS, OWN, RUN_AGREE, RUN_CLASSES, TOTAL_BUCKETS)


@njit(cache=True, nogil=True)
def baked():
    """CONSTANTS as the cached machine code holds them."""
    return CONSTANTS


@njit(cache=True, nogil=True)
def features(table, checks, use_checks, rows, check, log_table, f, bucket, owner, top):
    """ContextModel.features: scores f (K, L, 256), buckets, owners (with checks) and top counts
    (K, L), written into the given arrays."""
    K, L = rows.shape
    # touch every row first: independent loads, which the processor overlaps (the rows are scattered
    # over a table far larger than the caches, so each is a miss)
    touched = 0
    for k in range(K):
        for l in range(L):
            for s in range(0, 256, 32):
                touched += table[rows[k, l], s]
    for k in range(K):
        for l in range(L):
            r = rows[k, l]
            total = 0
            most = 0
            for s in range(256):
                c = table[r, s]
                total += c
                if c > most:
                    most = c
            mine = True
            if use_checks:
                mine = checks[r] == check[k, l]
                owner[k, l] = OWN if mine else (CLAIM if total < CLAIM_BELOW else 0)
            if mine:
                for s in range(256):
                    f[k, l, s] = log_table[table[r, s]]
            else:  # another context's row reads as unseen
                total = 0
                most = 0
                for s in range(256):
                    f[k, l, s] = log_table[0]
            e = 0  # bit length of the total
            t = total
            while t:
                e += 1
                t >>= 1
            b = min(e, TOTAL_BUCKETS - 1)
            if most == total and total > 0:
                b += TOTAL_BUCKETS
            bucket[k, l] = b
            top[k, l] = most
    return touched


@njit(cache=True, nogil=True)
def run_guess(table, runs, rows, bucket, owner, use_owner, top, binary, base, sym, guess_bucket, active, v):
    """ContextModel.run_guess: each row's run as a guess (sym, guess_bucket, active) and the runs as
    read (v), all (K, L)."""
    K, L = rows.shape
    for k in range(K):
        first = (k + binary * MAX_ROWS) * (RUN_AGREE * RUN_CLASSES) + base - 1
        for l in range(L):
            r = rows[k, l]
            x = np.int64(runs[r])
            s = x & 255
            run = x >> 8
            v[k, l] = x
            sym[k, l] = s
            active[k, l] = 1 if run > 0 and (not use_owner or owner[k, l] == OWN) else 0
            if bucket[k, l] >= TOTAL_BUCKETS:
                agree = 0
            elif table[r, s] == top[k, l]:
                agree = RUN_CLASSES
            else:
                agree = 2 * RUN_CLASSES
            guess_bucket[k, l] = first + agree + max(run, 1)


@njit(cache=True, nogil=True)
def update(table, checks, runs, rows, bucket, sym, valid, check, owner, use_owner, v, use_v, halve):
    """ContextModel.update (with _update_runs where runs has entries): count sym (L,) in the valid
    lanes' rows (K, L), in the torch path's phases. v: the runs as read (use_v), else read here."""
    K, L = rows.shape
    if runs.size:
        if not use_v:
            v = np.empty((K, L), np.int64)
            for k in range(K):
                for l in range(L):
                    v[k, l] = runs[rows[k, l]]
        nowhere = runs.size - 1  # the entry that takes the writes of rows another context holds
        for k in range(K):
            for l in range(L):
                if valid[l]:
                    r = rows[k, l] if not use_owner or owner[k, l] > 0 else nowhere
                    runs[r] = _RUN_LOWEST
        for k in range(K):
            for l in range(L):
                if valid[l]:
                    x = v[k, l]
                    same = (x & 255) == sym[l] and x > 255
                    r = rows[k, l]
                    if use_owner:
                        same = same and owner[k, l] == OWN
                        if owner[k, l] <= 0:
                            r = nowhere
                    new = ((min((x >> 8) + 1, RUN_CLASSES) if same else 1) << 8) | sym[l]
                    if new > runs[r]:
                        runs[r] = new
    if use_owner:  # rows taken over start empty, with the highest claimant's check
        for k in range(K):
            for l in range(L):
                if valid[l] and owner[k, l] == CLAIM:
                    r = rows[k, l]
                    for s in range(256):
                        table[r, s] = 0
                    checks[r] = 0
        for k in range(K):
            for l in range(L):
                if valid[l] and owner[k, l] == CLAIM and check[k, l] > checks[rows[k, l]]:
                    checks[rows[k, l]] = check[k, l]
    for k in range(K):
        for l in range(L):
            if valid[l] and (not use_owner or owner[k, l] > 0):
                r = rows[k, l]
                c = table[r, sym[l]] + 1
                table[r, sym[l]] = min(c, COUNT_CAP)
    if halve:  # each full row once
        full = np.empty(K * L, np.int64)
        n = 0
        for k in range(K):
            for l in range(L):
                if valid[l] and bucket[k, l] % TOTAL_BUCKETS > HALVE_BITS:
                    full[n] = rows[k, l]
                    n += 1
        full = np.sort(full[:n])
        for i in range(n):
            if i == 0 or full[i] != full[i - 1]:
                for s in range(256):
                    table[full[i], s] >>= 1


@njit(cache=True, nogil=True)
def _hash(ctx, tag, bits, shift):
    """contexts.counts.hash_context (before its mask: _mixed) of one context value below 2**56."""
    h = (ctx & 0xFFFFFF) * 2654435761 + (ctx >> 24) * 2246822519 + tag * 97531
    return h ^ (h >> shift)


@njit(cache=True, nogil=True)
def _bit_length(x):
    e = 0
    while x:
        e += 1
        x >>= 1
    return e


@njit(cache=True, nogil=True)
def match_guess(buf, ptr, length, n_len, sym, bucket, active, ctx, verified):
    """MatchModel.guess, contexts and verified: per lane (L,), written into the given arrays."""
    for l in range(len(ptr)):
        on = ptr[l] >= 0
        sym[l] = buf[ptr[l]] if on else 0
        bucket[l] = min(_bit_length(length[l]), n_len - 1)
        active[l] = on
        ctx[l] = sym[l] | bucket[l] << 8 | np.int64(on) << 12
        verified[l] = length[l] if on else -1


@njit(cache=True, nogil=True)
def match_push(buf, table, own, salt, own_first, ptr, length, guessed, before, after, sym, valid, base, t, bits,
               min_len):
    """MatchModel.push: record this step's bytes and move the matches on (ptr and length in place);
    returns how many lanes were valid."""
    L = len(ptr)
    keep = (1 << bits) - 1
    ctx_mask = (1 << (8 * min_len)) - 1
    n = 0
    miss = np.zeros(L, np.bool_)
    for l in range(L):
        pos = base + t * L + l
        buf[pos] = sym[l]
        hit = valid[l] and ptr[l] >= 0 and guessed[l] == sym[l]
        miss[l] = valid[l] and not hit
        if hit:
            length[l] += 1
            p = ptr[l]
            if p < base:
                nxt = p + 1
                if nxt == base:
                    nxt = -1
            else:
                nxt = p + L
            ptr[l] = nxt
        elif miss[l]:
            length[l] = 0
            ptr[l] = -1
    for l in range(L):  # every lane's write before any lane's lookup
        if valid[l]:
            n += 1
            key = _hash(before[l] & ctx_mask, 0, bits, 31) & keep
            pos = base + t * L + l + 1
            if pos > table[key]:
                table[key] = pos
            if own_first and pos > own[key ^ salt[l]]:
                own[key ^ salt[l]] = pos
    for l in range(L):
        if miss[l]:
            key = _hash(after[l] & ctx_mask, 0, bits, 31) & keep
            cand = table[key] - 1
            if own_first:
                mine = own[key ^ salt[l]] - 1
                if mine >= 0:
                    cand = mine
            if cand >= 0:
                ptr[l] = cand
    return n


@njit(cache=True, nogil=True)
def columns_contexts(buf, pos, cur, prev, field, hist, none, out):
    """ColumnContext.contexts into out (3, L)."""
    for l in range(len(pos)):
        line, prev_line = cur[l, 0], prev[l, 0]
        col = pos[l] - line
        above = buf[l, prev_line + col] if prev_line >= 0 and prev_line + col < line else none
        k = field[l]
        start, end = prev[l, k], prev[l, k + 1] - 1  # end: its separator
        at = start + (pos[l] - cur[l, k])
        in_field = buf[l, at] if start >= 0 and at < end else none
        last = hist[l] & 255
        out[0, l] = above | min(col, 255) << 9
        out[1, l] = above | last << 9
        out[2, l] = in_field | k << 9 | last << 14


@njit(cache=True, nogil=True)
def columns_push(buf, pos, cur, prev, field, sym, valid, separator, fields):
    """ColumnContext.push, in place."""
    flat = buf.reshape(-1)
    length = buf.shape[1]
    for l in range(len(pos)):
        flat[l * length + pos[l]] = sym[l]  # an ended lane writes its 0 one past its last byte
        if valid[l]:
            pos[l] += 1
        newline = valid[l] and sym[l] == 10
        ends = (valid[l] and separator[sym[l]] and field[l] < fields - 1) or newline
        if ends:
            cur[l, field[l] + 1] = pos[l]
        if newline:
            field[l] = 0
            for j in range(cur.shape[1]):
                prev[l, j] = cur[l, j]
                cur[l, j] = -1
            cur[l, 0] = pos[l]
        elif ends:
            field[l] += 1


@njit(cache=True, nogil=True)
def words_contexts(word, prev, prev2, hist, out):
    """WordContext.contexts into out (3, L)."""
    low48 = (1 << 48) - 1
    for l in range(len(word)):
        w2 = word[l] ^ prev[l] * 0x2545F491
        out[0, l] = word[l] | (hist[l] & 255) << 32
        out[1, l] = w2 & low48
        out[2, l] = (w2 ^ prev2[l] * 0x3C6EF372) & low48


@njit(cache=True, nogil=True)
def words_push(word, prev, prev2, sym, letter, fold, mask):
    """WordContext.push, in place."""
    for l in range(len(word)):
        s = sym[l]
        w = word[l]
        if not letter[s] and w != 0:
            prev2[l] = prev[l]
            prev[l] = w
        word[l] = ((w * 0x2F0F3 + fold[s] + 1) ^ (w >> 17)) & mask if letter[s] else 0


@njit(cache=True, nogil=True)
def context_rows(hist, extra, masks, tags, is_hashed, row_masks, offsets, hash_bits, use_checks, sparse_shift,
                 sparse_mask, rows, check):
    """ContextModel.rows into rows and check (K, L): the orders' rows, then extra's (E, L), then, if
    sparse_shift has entries, the sparse contexts' (in the table's last rows)."""
    n_orders, n_extra, n_sparse = len(masks), len(extra), len(sparse_shift)
    for i in range(n_orders + n_extra):
        for l in range(len(hist)):
            c = hist[l] & masks[i] if i < n_orders else extra[i - n_orders, l]
            if is_hashed[i]:
                m = _hash(c, tags[i], 0, 29)
                rows[i, l] = (m & row_masks[i]) + offsets[i]
                if use_checks:  # from the hash's bits above any row's
                    check[i, l] = (m >> hash_bits) % 255 + 1
            else:
                rows[i, l] = c + offsets[i]
                if use_checks:
                    check[i, l] = 0
    for j in range(n_sparse):
        i = n_orders + n_extra + j
        for l in range(len(hist)):
            b0 = (hist[l] >> sparse_shift[j, 0]) & sparse_mask[j, 0]
            b1 = (hist[l] >> sparse_shift[j, 1]) & sparse_mask[j, 1]
            rows[i, l] = b0 + (b1 << 8) + offsets[len(offsets) - n_sparse + j]
            if use_checks:
                check[i, l] = 0


@njit(cache=True, nogil=True)
def mixer_cells(buckets, hist, match_len, n_orders, n_rows, n_buckets, n_seen, n_match, match_edges, pair,
                alpha, delta, sets, byte_cell):
    """Mixer.cells into alpha, delta and byte_cell (K, L) (byte_cell: with byte weights, if it has
    entries) and sets (L,); match_len empty: no match model."""
    K, L = buckets.shape
    size = n_rows * n_buckets
    for l in range(L):
        seen = 0
        for k in range(n_orders):
            if buckets[k, l] > 0:
                seen += 1
        state = 0
        if len(match_len):
            for e in match_edges:
                if match_len[l] >= e:
                    state += 1
        s = min(seen, n_seen - 1) * n_match + state
        sets[l] = s
        p = pair[hist[l] & 0xFFFF]
        for k in range(K):
            cell = k * n_buckets + buckets[k, l]
            alpha[k, l] = cell + s * size
            delta[k, l] = cell + p * size
            if byte_cell.size:
                byte_cell[k, l] = k + (hist[l] & 255) * n_rows


@njit(cache=True, nogil=True, inline="always")
def _adam_at(w, m, v, i, g, beta1, beta2, lr):
    """model.adam_step at element i, from its gradient g: the torch path's operations in its order
    (np.sqrt is the processor's correctly rounded root, as exact.sqrt)."""
    m[i] = m[i] * beta1 + g * (1.0 - beta1)
    v[i] = v[i] * beta2 + g * g * (1.0 - beta2)
    w[i] = w[i] - m[i] * lr / (np.sqrt(v[i]) + 1e-12)


@njit(cache=True, nogil=True)
def adam(w, m, v, g, beta1, beta2, lr):
    """model.adam_step on flat float64 arrays."""
    for i in range(w.size):
        _adam_at(w, m, v, i, g[i], beta1, beta2, lr)


@njit(cache=True, nogil=True)
def weight_step(w, m, v, acc, cell, dots, scale, block, beta1, beta2, lr):
    """Mixer.learn's step of one kind of weight (flat w and its moments m, v): the dots (T, K, L)
    summed into their positions' cells (K, L, T) (exact: integers), times scale, then Adam on every
    weight (block 0) or only on the blocks of `block` weights some cell is in (Mixer._pair_step).
    acc: zeros of w's size, left zeros."""
    K, L, T = cell.shape
    for k in range(K):
        for l in range(L):
            for t in range(T):
                acc[cell[k, l, t]] += dots[t, k, l]
    if block == 0:
        for i in range(w.size):
            _adam_at(w, m, v, i, acc[i] * scale, beta1, beta2, lr)
            acc[i] = 0.0
        return
    met = np.zeros(w.size // block, np.bool_)
    for k in range(K):
        for l in range(L):
            for t in range(T):
                met[cell[k, l, t] // block] = True
    for p in range(met.size):
        if met[p]:
            for i in range(p * block, (p + 1) * block):
                _adam_at(w, m, v, i, acc[i] * scale, beta1, beta2, lr)
                acc[i] = 0.0


@njit(cache=True, nogil=True)
def set_sums(gq, zh, s, out):
    """Mixer.learn's gradient of the transformer's weight per set, unscaled: the sum over positions
    (L, T) of gq . zh (integers: exact in any order) added into out[s]."""
    L, T, S = gq.shape
    for l in range(L):
        for t in range(T):
            acc = 0.0
            for j in range(S):
                acc += gq[l, t, j] * zh[l, t, j]
            out[s[l, t]] += acc


@njit(cache=True, nogil=True)
def guess_sums(gq, symbol, bucket, active, out):
    """Predictor._learn_mixer's gradient of the bonuses, unscaled: gq at each guessed symbol times
    active, added into out[bucket]; guesses (R, L, T)."""
    R, L, T = symbol.shape
    for r in range(R):
        for l in range(L):
            for t in range(T):
                out[bucket[r, l, t]] += gq[l, t, symbol[r, l, t]] * active[r, l, t]


@njit(cache=True, nogil=True)
def coding_grad(freq, x, valid, bits, g):
    """Predictor._grad and exact.quantize_grad in one pass and a rounding: the integer gradient g
    (L, T, 256) of the mean loss at the logits of positions x (L, T) coded with freq, by the torch
    path's operations; returns its scale (0.0 where no position is valid, and g is not written)."""
    L, T, S = freq.shape
    n = 0
    for l in range(L):
        for t in range(T):
            if valid[l, t]:
                n += 1
    if n == 0:
        return 0.0
    share = 1.0 / n
    lo, hi = np.inf, -np.inf
    for l in range(L):
        for t in range(T):
            total = 0.0  # of integers: exact
            for j in range(S):
                total += freq[l, t, j]
            keep = (1.0 if valid[l, t] else 0.0) * share
            for j in range(S):
                p = freq[l, t, j] / total
                if j == x[l, t]:
                    p = p + -1.0
                p = p * keep
                g[l, t, j] = p
                lo = min(lo, p)
                hi = max(hi, p)
    top = max(abs(lo), abs(hi))
    if top == 0.0 or not (np.isfinite(lo) and np.isfinite(hi)):
        g[:] = 0.0
        return 1.0
    shift = bits - math.frexp(top)[1]
    up = math.ldexp(1.0, shift)
    for l in range(L):
        for t in range(T):
            for j in range(S):
                g[l, t, j] = np.rint(g[l, t, j] * up)
    return math.ldexp(1.0, -shift)


# Reassociation is safe here: every product and partial sum is an integer well inside float64's exact
# range, so any order gives the same sum, and it lets the loop run in vector registers.
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def mixer_dots(f, gq, dots):
    """Mixer.learn's d loss / d weight of each row at each position: dots (T, K, L) = the sum over
    symbols of scores f (T, K, L, 256) times the gradient gq (L, T, 256) (integers below 2**11 and
    2**17: products below 2**28, exact sums of 256)."""
    T, K, L, S = f.shape
    for t in range(T):
        for k in range(K):
            for l in range(L):
                acc = 0.0
                for s in range(S):
                    acc += f[t, k, l, s] * gq[l, t, s]
                dots[t, k, l] = acc


@njit(cache=True, nogil=True)
def context_logits(alpha, delta, byte, alpha_cell, delta_cell, byte_cell, f, unit, alpha_max, out):
    """Mixer.context_logits into out (L, 256): each row's weight (alpha + byte (if byte_cell has
    entries) + delta, each rounded to 1/unit), clamped, times its scores f (K, L, 256), summed over
    rows and floored at 1/unit; exact (integer products below 2**25 over a few dozen rows, in float64)."""
    K, L = alpha_cell.shape
    for l in range(L):
        for s in range(256):
            out[l, s] = 0.0
        for k in range(K):
            w = np.rint(alpha[alpha_cell[k, l]] * unit)
            if byte_cell.size:
                w += np.rint(byte[byte_cell[k, l]] * unit)
            w += np.rint(delta[delta_cell[k, l]] * unit)
            w = min(max(w, 0.0), alpha_max)
            if w != 0.0:
                for s in range(256):
                    out[l, s] += w * f[k, l, s]
        for s in range(256):
            out[l, s] = np.floor(out[l, s] / unit)


# -- the transformer's decoding step (model.Transformer.step), between its matrix products --------
# A product arrives as its float32 parts (P, L, n), each exact (exact.f32_parts); their sum is exact
# in float64. Scales and bounds are arguments, so a cached kernel never holds an old constant.


@njit(cache=True, nogil=True, inline="always")  # (a call per entry would cost more than its work)
def _product(raw, l, c):
    """Entry (l, c) of a product given as its float32 parts (P, L, n): their sum in float64, exact."""
    a = 0.0
    for j in range(raw.shape[0]):
        a += raw[j, l, c]
    return a


@njit(cache=True, nogil=True, inline="always")
def _requant(raw, l, c, w_scale, lo, hi):
    """exact.requant of a product's entry (l, c): rint(entry * w_scale) within [lo, hi]."""
    return min(max(np.rint(_product(raw, l, c) * w_scale), lo), hi)


@njit(cache=True, nogil=True)
def _net_norm(x, act_max, y32, y_keep, r_keep, t, keep):
    """Transformer._norm of each row of x (L, d): y32 (L, d) the normed integers for the next product;
    with keep, also y_keep[:, t] and r_keep[:, t, 0]. The same IEEE operations: an exact sum of
    squares, a division by d, sqrt, a division, a product, rint."""
    L, d = x.shape
    for l in range(L):
        ss = 0.0
        for i in range(d):
            ss += x[l, i] * x[l, i]
        r = 32.0 / np.sqrt(ss / d + 1.0)
        for i in range(d):
            v = min(max(np.rint(x[l, i] * r), -act_max), act_max)
            y32[l, i] = v
            if keep:
                y_keep[l, t, i] = v
        if keep:
            r_keep[l, t, 0] = r


@njit(cache=True, nogil=True)
def net_embed(emb, tok, x, act_max, y32, y_keep, r_keep, tok_keep, t, keep):
    """The step's input: x (L, d) = emb[tok], then the first layer's norm (_net_norm)."""
    L, d = x.shape
    for l in range(L):
        tok_keep[l, t] = tok[l]
        for i in range(d):
            x[l, i] = emb[tok[l], i]
    _net_norm(x, act_max, y32, y_keep, r_keep, t, keep)


@njit(cache=True, nogil=True)
def net_requant(raw, w_scale, lo, hi, out32, keep_out, t, keep):
    """exact.requant of a product (P, L, n) into out32 (L, n) (and keep_out[:, t] with keep)."""
    P, L, n = raw.shape
    for l in range(L):
        for c in range(n):
            v = _requant(raw, l, c, w_scale, lo, hi)
            out32[l, c] = v
            if keep:
                keep_out[l, t, c] = v


@njit(cache=True, nogil=True)
def net_residual(x, raw, w_scale, res_max, act_max, y32, y_keep, r_keep, t, keep):
    """x += requant(raw) within +-res_max (the residual stream's add, _linear's bound then the
    stream's), then the next norm (_net_norm)."""
    P, L, d = raw.shape
    for l in range(L):
        for i in range(d):
            v = _requant(raw, l, i, w_scale, -res_max, res_max)
            x[l, i] = min(max(x[l, i] + v, -res_max), res_max)
    _net_norm(x, act_max, y32, y_keep, r_keep, t, keep)


@njit(cache=True, nogil=True)
def net_attend(raw, w_scale, act_max, k8, v8, pos, slopes, scale, table, o32, qkv_keep, p_keep, tot_keep, o_keep, t, keep):
    """Transformer._attend for one query per lane at position pos: requantizes the qkv product raw
    (P, L, 3d), stores this position's key and value in k8 and v8 (L, H, Tk, hd) (integers up to
    act_max, in int8), and attends over keys 0..pos; o32 (L, d) the heads' outputs side by side.
    Keys after pos are masked in the torch path (weight 0), so they are skipped here and their
    weights written as 0.

    Scores and the weighted sums of values are integer sums, exact in int32 (below 127 * 127 * 512
    and 2**10 * 127 * 512 for every shape ModelConfig.validate allows); the scaled score is
    floored in float64 and the ALiBi bias (integer slopes) subtracted, in int64 (the torch path's
    float64 integers, exactly); weights come from the integer table; their total is exact in float64,
    and the sums are divided by it and rounded."""
    L, H, tk, hd = k8.shape
    d = H * hd
    n = pos + 1
    top = table.shape[0] - 1
    qf = np.empty(raw.shape[2], np.float64)
    qkv = np.empty(raw.shape[2], np.int32)
    sc = np.empty(n, np.int32)
    z = np.empty(n, np.int64)
    acc = np.empty(hd, np.int32)
    for l in range(L):
        if raw.shape[0] == 1:  # (one part: a loop without the parts' sum, which compiles to vector code)
            for c in range(raw.shape[2]):
                qf[c] = min(max(np.rint(np.float64(raw[0, l, c]) * w_scale), -act_max), act_max)
        else:
            for c in range(raw.shape[2]):
                qf[c] = _requant(raw, l, c, w_scale, -act_max, act_max)
        for c in range(raw.shape[2]):
            qkv[c] = np.int32(qf[c])
        if keep:
            for c in range(raw.shape[2]):
                qkv_keep[l, t, c] = qf[c]
        for h in range(H):
            q = qkv[h * hd : (h + 1) * hd]
            k8[l, h, pos] = qkv[d + h * hd : d + (h + 1) * hd]
            v8[l, h, pos] = qkv[2 * d + h * hd : 2 * d + (h + 1) * hd]
            for j in range(n):
                row = k8[l, h, j]
                s = np.int32(0)
                for i in range(hd):
                    s += q[i] * np.int32(row[i])
                sc[j] = s
            # (each loop alone, so that the compiler makes vector code of it)
            for j in range(n):
                z[j] = np.int64(np.floor(np.float64(sc[j]) * scale)) - slopes[h] * (pos - j)
            mx = z[0]
            for j in range(1, n):
                mx = max(mx, z[j])
            tot = 0.0
            acc[:] = 0
            for j in range(n):
                w = table[min(mx - z[j], top)]
                tot += w
                if keep:
                    p_keep[l, h, t, j] = w
                if w != 0.0:
                    wi = np.int32(w)
                    row = v8[l, h, j]
                    for i in range(hd):
                        acc[i] += wi * np.int32(row[i])
            if keep:
                for j in range(n, tk):
                    p_keep[l, h, t, j] = 0.0
                tot_keep[l, h, t, 0] = tot
            for i in range(hd):
                o = np.rint(np.float64(acc[i]) / tot)
                o32[l, h * hd + i] = o
                if keep:
                    o_keep[l, t, h * hd + i] = o


@njit(cache=True, nogil=True)
def net_head(raw, scale, z):
    """Transformer._head's logits from its product raw (P, L, 256): floor(product * scale)."""
    P, L, n = raw.shape
    for l in range(L):
        for c in range(n):
            z[l, c] = np.floor(_product(raw, l, c) * scale)

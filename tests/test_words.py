"""Word contexts: a lane's word so far and the word before it, whatever came earlier."""

import torch

from nncomp.contexts import Frame
from nncomp.contexts.words import WordContext


def _contexts_after(texts: list[bytes]) -> torch.Tensor:
    """Word contexts of each lane after feeding it its text (all texts of equal length)."""
    w = WordContext()
    w.start_frame(Frame(), len(texts), len(texts[0]))
    for t in range(len(texts[0])):
        sym = torch.tensor([s[t] for s in texts])
        w.push(None, None, sym, torch.ones(len(texts), dtype=torch.bool))
    hist = torch.tensor([s[-1] for s in texts])
    return w.contexts(hist)


def test_same_words_give_same_contexts_whatever_came_before():
    c = _contexts_after([b"xyz; the quic", b"12 / THE Quic", b"...  the quic", b"qq.  the quip"])
    assert c[1, 0] == c[1, 1] == c[1, 2]  # "the" then "quic", case folded, earlier bytes forgotten
    assert c[1, 3] != c[1, 0]  # "quip" is another word
    assert c[0, 0] == c[0, 2]  # (word so far, last byte)


def test_previous_word_matters_and_separators_end_words():
    c = _contexts_after([b"the cat sa", b"one cat sa", b"the cat-sa"])
    assert c[0, 0] == c[0, 1]  # (word so far, last byte) does not see the previous word
    assert c[1, 0] == c[1, 1]  # both lanes: previous word "cat", current "sa"
    assert c[1, 0] == c[1, 2]  # "-" ends a word like " " does


def test_between_words_the_context_is_the_last_word():
    a = _contexts_after([b"big cat ", b"fat cat "])
    b = _contexts_after([b"big dog ", b"big cat "])
    assert a[1, 0] == a[1, 1] and b[1, 0] != b[1, 1]


def test_the_third_context_sees_the_two_words_before():
    c = _contexts_after([b"a big cat sa", b"a fat cat sa", b"x big cat sa"])
    assert c[1, 0] == c[1, 1]  # bigram context: only "cat" before "sa"
    assert c[2, 0] != c[2, 1]  # trigram context: "big cat" against "fat cat"
    assert c[2, 0] == c[2, 2]  # ... and what came before "big" does not matter

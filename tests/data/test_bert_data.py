"""BERT pre-training data: masking statistics, sentence pairs, special tokens, bad input."""

import time

import numpy as np
import pytest

from keras_archs.data import DatasetUnavailableError, bert, datasets

SPECIALS = bert.BERT_SPECIAL_TOKENS
VOCAB = [*SPECIALS, *(f"w{i}" for i in range(994))]  # 1,000 ids, specials first
SEQUENCE_LENGTH = 64
CONTENT = SEQUENCE_LENGTH - 3


def _stream(size=200_000, seed=0):
    # No special token inside the stream, so every real, non-[CLS]/[SEP] slot is selectable.
    return np.random.default_rng(seed).integers(len(SPECIALS), len(VOCAB), size).astype("int32")


def _collect(ds):
    batches = list(ds.as_numpy_iterator())
    x = {k: np.concatenate([b[0][k] for b in batches]) for k in batches[0][0]}
    y = {k: np.concatenate([b[1][k] for b in batches]) for k in batches[0][1]}
    w = {k: np.concatenate([b[2][k] for b in batches]) for k in batches[0][2]}
    return x, y, w


@pytest.fixture(scope="module")
def sample():
    stream = _stream()
    ds = bert.bert_pretraining_dataset(stream, VOCAB, SEQUENCE_LENGTH, 512, seed=7)
    return stream, _collect(ds)


def _ids(token):
    return SPECIALS.index(token)


def test_masking_statistics(sample):
    _, (x, y, w) = sample
    n_examples = len(x["token_ids"])
    assert n_examples > 3000
    mask = x["padding_mask"].astype(bool)
    selectable = mask.sum() - 3 * n_examples  # [CLS] and two [SEP] per example
    chosen = w["mlm"] > 0
    rate = chosen.sum() / selectable
    assert abs(rate - 0.15) < 0.005, rate
    # Which replacement each chosen position received.
    at = np.take_along_axis(x["token_ids"], x["mask_positions"], axis=1)[chosen]
    labels = y["mlm"][chosen]
    masked = np.mean(at == _ids("[MASK]"))
    same = np.mean(at == labels)
    random = np.mean((at != labels) & (at != _ids("[MASK]")))
    assert abs(masked - 0.8) < 0.01, masked
    assert abs(same - 0.1) < 0.01, same  # includes random draws equal to the original (1/994)
    assert abs(random - 0.1) < 0.01, random
    # Random replacements are ordinary tokens, never special ones.
    assert not np.isin(at[(at != labels) & (at != _ids("[MASK]"))], np.arange(6)).any()


def test_special_and_padding_positions_never_chosen(sample):
    _, (x, y, w) = sample
    chosen = w["mlm"] > 0
    pos = x["mask_positions"]
    assert (x["padding_mask"][np.arange(len(pos))[:, None], pos][chosen] == 1).all()
    assert not np.isin(y["mlm"][chosen], [_ids(t) for t in SPECIALS]).any()
    # Positions are distinct within an example; unused slots carry weight 0 and label 0.
    for p, c in zip(pos[:500], chosen[:500]):
        assert len(set(p[c])) == c.sum()
    assert (y["mlm"][~chosen] == 0).all()
    # Some examples were short (padded), so [PAD] positions existed to be avoided.
    assert (x["padding_mask"] == 0).any()


def test_pairs_layout_and_next_sentence_labels(sample):
    stream, (x, y, w) = sample
    ids = x["token_ids"].copy()
    chosen = w["mlm"] > 0
    rows = np.repeat(np.arange(len(ids))[:, None], chosen.shape[1], 1)
    ids[rows[chosen], x["mask_positions"][chosen]] = y["mlm"][chosen]  # undo the masking
    nsp = y["nsp"]
    assert abs(nsp.mean() - 0.5) < 0.03
    seps_ok = follows = 0
    for i in range(len(ids)):
        real = x["padding_mask"][i].sum()
        seg = x["segment_ids"][i]
        row = ids[i]
        assert row[0] == _ids("[CLS]") and row[real - 1] == _ids("[SEP]")
        assert (row[real:] == _ids("[PAD]")).all() and (seg[real:] == 0).all()
        len_a = int(np.sum(seg[:real] == 0)) - 2
        assert row[len_a + 1] == _ids("[SEP]") and (seg[len_a + 2 : real] == 1).all()
        seps_ok += 1
        start = i * CONTENT
        a, b = row[1 : len_a + 1], row[len_a + 2 : real - 1]
        assert (a == stream[start : start + len_a]).all()
        is_next = (b == stream[start + len_a : start + len_a + b.size]).all()
        assert is_next == bool(nsp[i]), i
        follows += is_next
    assert seps_ok == len(ids) and 0.45 < follows / len(ids) < 0.55


def test_seeded_and_deterministic():
    stream = _stream(20_000)

    def first(seed):
        ds = bert.bert_pretraining_dataset(stream, VOCAB, 32, 64, seed=seed)
        return next(iter(ds.as_numpy_iterator()))[0]["token_ids"]

    assert np.array_equal(first(3), first(3))
    assert not np.array_equal(first(3), first(4))


def test_bad_input():
    stream = _stream(20_000)
    with pytest.raises(ValueError, match=r"\['\[CLS\]', '\[MASK\]'\]"):
        vocab = [t for t in VOCAB if t not in ("[CLS]", "[MASK]")]
        bert.bert_pretraining_dataset(stream, vocab, 32, 8)
    for rate in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="masking_rate"):
            bert.bert_pretraining_dataset(stream, VOCAB, 32, 8, masking_rate=rate)
    with pytest.raises(ValueError, match="max_predictions"):
        bert.bert_pretraining_dataset(stream, VOCAB, 32, 8, max_predictions=33)
    with pytest.raises(ValueError, match="token stream"):
        bert.bert_pretraining_dataset(stream[:100], VOCAB, 32, 8)
    with pytest.raises(ValueError, match=r"short_seq_prob must be a number in \[0.0, 1.0\]"):
        bert.bert_pretraining_dataset(stream, VOCAB, 32, 8, short_seq_prob=1.5)
    with pytest.raises(ValueError, match="sequence_length must be an integer >= 8"):
        bert.bert_pretraining_dataset(stream, VOCAB, 4, 8)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        bert.bert_pretraining_dataset(stream, VOCAB, 32, 8, shuffle="yes")


def test_classification_dataset_layout():
    import keras_hub

    tok = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=VOCAB, lowercase=False, dtype="int32")
    texts = ["w1 w2 w3", "w4", "w1 w1 w1 w1 w1 w1 w1 w1 w1 w1"]
    ds = bert.bert_classification_dataset(texts, [1, 0, 1], tok, 8, 3)
    x, labels = next(iter(ds.as_numpy_iterator()))
    assert x["token_ids"].tolist() == [
        [3, 7, 8, 9, 4, 0, 0, 0],
        [3, 10, 4, 0, 0, 0, 0, 0],
        [3, 7, 7, 7, 7, 7, 7, 4],  # truncated, still ends with [SEP]
    ]
    assert x["padding_mask"].tolist() == [[1] * 5 + [0] * 3, [1] * 3 + [0] * 5, [1] * 8]
    assert (x["segment_ids"] == 0).all() and labels.tolist() == [1, 0, 1]


def test_imdb_reviews_fails_fast_offline(monkeypatch):
    monkeypatch.setattr(datasets, "is_online", lambda *a, **k: False)
    start = time.time()
    with pytest.raises(DatasetUnavailableError, match="python_stdlib"):
        bert.imdb_reviews_texts(data_dir="/nonexistent-tfds-dir")
    assert time.time() - start < 30

"""The text pipeline: python_stdlib split, keras-hub tokenizers, packed windows."""

import time

import numpy as np
import pytest

from keras_archs.data import DatasetUnavailableError, load_dataset, text


def test_stdlib_split_is_by_file_disjoint_and_seeded():
    train, val = text.python_stdlib_files(validation_split=0.1, seed=0)
    assert len(train) > 300 and len(val) > 30
    assert not set(train) & set(val)
    assert abs(len(val) / (len(train) + len(val)) - 0.1) < 0.01
    assert (train, val) == text.python_stdlib_files(validation_split=0.1, seed=0)
    assert val != text.python_stdlib_files(validation_split=0.1, seed=1)[1]
    assert not any("site-packages" in p or "/test/" in p for p in train + val)


def test_byte_tokenizer_round_trips_and_ends_every_file():
    paths = text.python_stdlib_files()[0][:5]
    texts = text.read_texts(paths)
    tok = text.make_tokenizer("byte")
    ids = text.tokenize_texts(texts, tok)
    expected = b"".join(s.encode("utf-8") + b"\x00" for s in texts)
    np.testing.assert_array_equal(ids, np.frombuffer(expected, np.uint8))
    assert (ids == tok.end_token_id).sum() == len(texts)
    assert tok.decode(tok.encode("def f(x):\n    return x  # é")) == "def f(x):\n    return x  # é"


def test_pack_windows_gives_shifted_targets_and_covers_the_stream():
    stream = np.arange(1000, dtype="int32") % 97
    ds = text.pack_windows(stream, sequence_length=16, batch_size=8)
    xs, ys = [], []
    for x, y in ds:
        assert set(x) == {"token_ids", "padding_mask"}
        assert (x["padding_mask"].numpy() == 1).all()
        xs.append(x["token_ids"].numpy())
        ys.append(y.numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == ((1000 - 17) // 16 + 1, 16)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(x[3], stream[48:64])
    np.testing.assert_array_equal(y[3], stream[49:65])
    shuffled = next(iter(text.pack_windows(stream, 16, 8, shuffle=True, seed=0)))[0]
    assert shuffled["token_ids"].shape == (8, 16)


def test_load_dataset_python_stdlib_bundle():
    bundle = load_dataset("python_stdlib", batch_size=4, sequence_length=32, max_files=3)
    x, y = next(iter(bundle.train))
    assert x["token_ids"].shape == (4, 32) and y.shape == (4, 32)
    assert bundle.model_kwargs == {"vocabulary_size": 256, "max_sequence_length": 32}
    assert bundle.num_classes == 256


def test_wordpiece_learned_offline_and_bad_vocabulary():
    texts = text.read_texts(text.python_stdlib_files()[0][:4])
    tok = text.make_tokenizer("wordpiece", texts, vocabulary_size=300)
    assert 200 < tok.vocabulary_size <= 300
    assert tok.decode(tok.encode("def foo(x): return x")) == "def foo ( x ) : return x"
    with pytest.raises(ValueError, match=r"vocabulary_size.*special tokens.*got vocabulary_size=3"):
        text.make_tokenizer("wordpiece", texts, vocabulary_size=3)
    with pytest.raises(TypeError, match=r"vocabulary_size must be an integer; got.*None"):
        text.make_tokenizer("wordpiece", texts)
    with pytest.raises(ValueError, match=r"tokenizer must be one of.*got tokenizer='bpe'"):
        text.make_tokenizer("bpe")


def test_text_loader_refuses_unknown_options():
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'seq_len' for dataset"):
        load_dataset("python_stdlib", seq_len=32)
    with pytest.raises(ValueError, match="validation_split must be a number in"):
        text.python_stdlib_files(validation_split=1.0)


@pytest.mark.parametrize(
    "name, alternative",
    [("tiny_shakespeare", "python_stdlib"), ("ted_hrlr_translate/pt_to_en", "addition")],
)
def test_tfds_text_sets_fail_fast_offline_naming_the_alternative(name, alternative):
    from keras_archs.data import is_online

    if is_online():
        pytest.skip("network reachable: the tensorflow-datasets path would download")
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match=alternative):
        load_dataset(name, batch_size=4)
    assert time.perf_counter() - start < 20

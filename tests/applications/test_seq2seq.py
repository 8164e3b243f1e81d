"""Seq2Seq: teacher forcing, greedy decoding (consistent, compiled once), bad input,
reload, `keras-archs train seq2seq`, and 3-digit addition with and without attention."""

import keras
import numpy as np
import pytest

from keras_archs import cli
from keras_archs.applications import Seq2Seq
from keras_archs.applications.seq2seq import greedy_decode
from tests.utils import SHARED_CPU_SLACK, load_module

START, END, PAD = 1, 2, 0


def _model(attention=None, cell="lstm", **kwargs):
    keras.utils.set_random_seed(0)
    return Seq2Seq(12, units=16, embedding_dim=8, attention=attention, cell=cell, **kwargs)


def _teacher_forced_argmax(model, source, tokens):
    """Arg-max of the training graph fed [start, generated tokens ...]: what greedy
    decoding must reproduce step by step."""
    decoder_inputs = np.concatenate([np.full((len(tokens), 1), START), tokens[:, :-1]], axis=1)
    probs = model({"encoder_inputs": source, "decoder_inputs": decoder_inputs.astype("int32")})
    return np.argmax(keras.ops.convert_to_numpy(probs), axis=-1)


@pytest.mark.parametrize(
    ("attention", "cell"), [(None, "lstm"), ("bahdanau", "lstm"), ("luong", "gru"), (None, "gru")]
)
def test_greedy_decode_matches_the_teacher_forced_graph(attention, cell):
    model = _model(attention, cell)
    source = np.random.default_rng(1).integers(3, 12, (6, 5)).astype("int32")
    tokens = greedy_decode(model, source, max_length=7)
    assert tokens.shape == (6, 7) and tokens.dtype == np.int32
    expected = _teacher_forced_argmax(model, source, tokens)
    for row, exp in zip(tokens, expected):
        ends = np.flatnonzero(row == END)
        stop = ends[0] + 1 if len(ends) else len(row)
        np.testing.assert_array_equal(row[:stop], exp[:stop])
        assert (row[stop:] == PAD).all()  # after the end token: padding


def test_attention_changes_the_model():
    counts = {a: _model(a).count_params() for a in (None, "bahdanau", "luong")}
    # luong (dot score) adds only the tanh combination layer; bahdanau also a scale vector.
    combine = (16 + 16) * 16 + 16
    assert counts["luong"] - counts[None] == combine
    assert counts["bahdanau"] - counts[None] == combine + 16


def test_decoder_stops_at_end_token_or_max_length():
    model = _model()
    # Force the output layer to always predict END: every sequence stops after one token.
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    bias[:] = -100.0
    bias[END] = 100.0
    logits.set_weights([np.zeros_like(kernel), bias])
    tokens = greedy_decode(model, np.full((3, 5), 4, "int32"), max_length=4)
    np.testing.assert_array_equal(tokens, [[END, PAD, PAD, PAD]] * 3)
    bias[:] = -100.0
    bias[7] = 100.0  # never END: runs to max_length
    logits.set_weights([np.zeros_like(kernel), bias])
    np.testing.assert_array_equal(
        greedy_decode(model, np.full((2, 5), 4, "int32"), 3), [[7] * 3] * 2
    )


def test_decoding_is_compiled_once_per_shape():
    if keras.backend.backend() == "torch":
        pytest.skip("Keras' torch backend predicts eagerly: nothing is traced or compiled")
    model = _model("luong")
    source = np.random.default_rng(0).integers(3, 12, (4, 5)).astype("int32")
    greedy_decode(model, source, 6)
    decoder = model._greedy_decoders[(6, START, END, PAD)]
    traces = decoder.traces
    for _ in range(3):
        greedy_decode(model, (source + 1) % 12, 6)  # new values, same shapes
    assert decoder.traces == traces
    if keras.backend.backend() == "tensorflow":
        assert decoder.predict_function.experimental_get_tracing_count() == 1


def test_decoding_after_reload(tmp_path):
    model = _model("bahdanau", encoder_max_length=5, decoder_max_length=4)
    path = tmp_path / "s2s.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    source = np.random.default_rng(2).integers(3, 12, (3, 5)).astype("int32")
    np.testing.assert_array_equal(
        greedy_decode(model, source, 5), greedy_decode(reloaded, source, 5)
    )


def test_bad_input():
    model = _model()
    source = np.full((2, 5), 3, "int32")
    with pytest.raises(ValueError, match="max_length must be an integer >= 1; got max_length=0"):
        greedy_decode(model, source, 0)
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 12\): min 3, max 12"):
        greedy_decode(model, np.array([[3, 12]]), 4)
    with pytest.raises(ValueError, match="2-D integer array"):
        greedy_decode(model, source.astype("float32"), 4)
    fixed = _model(encoder_max_length=5)
    with pytest.raises(ValueError, match=r"length 6, .* exactly encoder_max_length=5"):
        greedy_decode(fixed, np.full((2, 6), 3, "int32"), 4)
    for kwargs, message in [
        ({"cell": "rnn"}, "cell must be one of"),
        ({"attention": "dot"}, "attention must be one of"),
        ({"units": 0}, "units must be an integer >= 1"),
        ({"encoder_max_length": 0}, "encoder_max_length must be an integer >= 1 or None"),
    ]:
        with pytest.raises(ValueError, match=message):
            Seq2Seq(12, **kwargs)
    with pytest.raises(ValueError, match="vocabulary_size must be an integer >= 2"):
        Seq2Seq(1)


def test_keras_archs_train_seq2seq(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "seq2seq",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--data-arg",
        "num_train=256",
        "--data-arg",
        "num_test=64",
        "--data-arg",
        "digits=2",
    ]
    assert cli.main(argv) == 0
    assert "final validation accuracy" in capsys.readouterr().out
    model = keras.saving.load_model(out / "model.keras")
    assert model.get_layer("encoder_embedding").input_dim == 14
    assert model.output_shape == (None, 4, 14)  # 2 digits: start/end + up to 3 sum digits


def _recipe():
    return load_module("applications/seq2seq_addition.py")


@pytest.mark.slow
@pytest.mark.parametrize("attention", [None, "bahdanau"])
def test_learns_three_digit_addition(attention):
    """The recipe (`train("seq2seq", ...)` stopped at a held-out exact match) cut short at
    0.6: measured 0.68 (no attention) and 0.73 (Bahdanau) after 3 epochs, against 0.0075
    and 0.011 after the first. Its own target of 0.95 takes 6 epochs each
    (`python applications/seq2seq_addition.py`: 0.9575 and 0.953)."""
    result = _recipe().run(attention=attention, target=0.6, max_epochs=5, verbose=0)
    print(
        f"seq2seq attention={attention}: held-out exact match {result['exact_match']:.4f} "
        f"after {result['steps']} steps ({result['seconds']:.0f} s)"
    )
    assert result["exact_match"] >= 0.6
    assert result["epochs"] <= 4, result["epochs"]
    assert result["seconds"] < 150 * SHARED_CPU_SLACK

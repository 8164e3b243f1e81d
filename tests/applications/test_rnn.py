"""StackedRNN and BidirectionalRNN: the four input/output patterns, causality, bad input,
XLA training and the cuDNN XLA policy rule."""

import json

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.applications import BidirectionalRNN, StackedRNN
from keras_archs.training import choose_policy
from tests.utils import run_python

SEQUENCE_MODELS = ("stacked_rnn", "bidirectional_rnn", "tcn", "seq2seq")


@pytest.mark.parametrize("builder", [StackedRNN, BidirectionalRNN])
def test_input_output_patterns(builder):
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype("float32")
    # many-to-one
    model = builder(input_shape=(6, 3), units=5, num_layers=2, classes=4)
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)
    # synced many-to-many, any length when timesteps is None
    model = builder(
        input_shape=(None, 3), units=[5, 7], num_layers=2, output="sequence", output_dim=2
    )
    assert model(x).shape == (2, 6, 2)
    assert model(np.zeros((2, 11, 3), "float32")).shape == (2, 11, 2)
    # one-to-many
    model = builder(input_shape=(3,), output_length=9, output="sequence", output_dim=2)
    assert model(x[:, 0]).shape == (2, 9, 2)
    # token ids
    model = builder(input_shape=(6,), vocabulary_size=20, classes=3, num_layers=1)
    assert model(np.arange(12).reshape(2, 6)).shape == (2, 3)


@pytest.mark.parametrize(
    ("cell", "per_layer"),
    # Keras LSTM/GRU (reset_after) / SimpleRNN parameter counts of one layer
    [
        ("lstm", lambda i, u: 4 * (i * u + u * u + u)),
        ("gru", lambda i, u: 3 * (i * u + u * u + 2 * u)),
        ("simple", lambda i, u: i * u + u * u + u),
    ],
)
def test_each_layer_reads_the_whole_sequence_of_the_one_below(cell, per_layer):
    model = StackedRNN(cell=cell, input_shape=(6, 3), units=[5, 7, 4], num_layers=3)
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert [layer.return_sequences for layer in layers] == [True, True, False]
    assert model.count_params() == per_layer(3, 5) + per_layer(5, 7) + per_layer(7, 4)
    bi = BidirectionalRNN(cell=cell, input_shape=(6, 3), units=[5, 4], num_layers=2)
    # concat doubles the next layer's input width; two directions double the weights
    assert bi.count_params() == 2 * (per_layer(3, 5) + per_layer(10, 4))
    assert bi.output.shape == (None, 8)


@pytest.mark.parametrize(
    ("merge_mode", "width"), [("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)]
)
def test_merge_modes(merge_mode, width):
    model = BidirectionalRNN(
        input_shape=(5, 2), units=4, num_layers=2, merge_mode=merge_mode, output="sequence"
    )
    assert model(np.ones((1, 5, 2), "float32")).shape == (1, 5, width)


def _perturb_after(model, t, steps=10):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, steps, 3)).astype("float32")
    x2 = x.copy()
    x2[:, t + 1 :] += rng.standard_normal(x2[:, t + 1 :].shape).astype("float32")
    y, y2 = (keras.ops.convert_to_numpy(model(v)) for v in (x, x2))
    return np.abs(y[:, : t + 1] - y2[:, : t + 1]).max(), np.abs(
        y[:, t + 1 :] - y2[:, t + 1 :]
    ).max()


def test_bidirectional_is_not_causal_and_stacked_is():
    kwargs = {"input_shape": (10, 3), "units": 6, "num_layers": 2, "output": "sequence"}
    before, after = _perturb_after(StackedRNN(**kwargs), t=4)
    assert before == 0.0 and after > 1e-3
    before, after = _perturb_after(BidirectionalRNN(**kwargs), t=4)
    assert before > 1e-3  # the backward RNN carries the future into earlier outputs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_layers": 0}, "num_layers must be an integer >= 1; got num_layers=0"),
        ({"cell": "lstmm"}, "cell must be one of .*got cell='lstmm'"),
        ({"units": [4, 4, 4]}, "units must be one integer or a list of num_layers=2"),
        ({"output": "all"}, "output must be one of"),
        ({"classes": 3, "output_dim": 2}, "not both"),
        ({"input_shape": (6,)}, r"input_shape must be \(timesteps, features\)"),
        (
            {"vocabulary_size": 1, "input_shape": (6,)},
            "vocabulary_size must be an integer >= 2 or None",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StackedRNN(**{"input_shape": (6, 3), **kwargs})
    with pytest.raises(ValueError, match=message):
        BidirectionalRNN(**{"input_shape": (6, 3), **kwargs})
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        BidirectionalRNN(input_shape=(6, 3), merge_mode="max")


def test_cudnn_rnns_are_never_forced_into_xla_on_tensorflow_gpu():
    """Every registered model that contains an LSTM/GRU stays off XLA on TF GPU; the
    rule does not catch the convolutional TCN."""
    with_rnn = []
    for name in keras_archs.list_models():
        spec = keras_archs.registry.get_spec(name)
        if spec.task == "image_classification":
            continue
        model = spec.build(**spec.test_kwargs)
        if any(isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)) for layer in _walk(model)):
            with_rnn.append(name)
            assert choose_policy(name, backend="tensorflow", device="gpu").jit_compile is False
            assert choose_policy(name, backend="jax", device="gpu").jit_compile is True
        keras.backend.clear_session()
    assert {"stacked_rnn", "bidirectional_rnn", "seq2seq"} <= set(with_rnn)
    assert "tcn" not in with_rnn
    assert choose_policy("tcn", backend="tensorflow", device="gpu").jit_compile is True


def _walk(layer):
    yield layer
    for sub in getattr(layer, "_layers", []) or []:
        yield from _walk(sub)
    if isinstance(layer, keras.layers.Bidirectional):
        yield layer.forward_layer


XLA_TRAIN = """
import json, numpy as np, keras, keras_archs
from tests.utils import example_inputs
results = {}
for name in %r:
    spec = keras_archs.registry.get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model, batch_size=4)
    y = np.random.default_rng(0).uniform(0, 1, (4, *model.output.shape[1:])).astype("float32")
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    moved = np.mean([not np.array_equal(b, np.array(w))
                     for b, w in zip(before, model.trainable_weights)])
    results[name] = {"jit": bool(model.jit_compile), "loss": history, "moved": float(moved)}
print(json.dumps(results))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_sequence_models_train_with_xla_on_cpu(backend):
    out = run_python(XLA_TRAIN % (SEQUENCE_MODELS,), backend=backend, CUDA_VISIBLE_DEVICES="")
    results = json.loads(out.strip().splitlines()[-1])
    for name in SEQUENCE_MODELS:
        r = results[name]
        assert r["jit"] is True, (backend, name)
        assert all(np.isfinite(r["loss"])) and r["moved"] > 0.9, (backend, name, r)
        assert r["loss"][-1] < r["loss"][0], (backend, name, r)

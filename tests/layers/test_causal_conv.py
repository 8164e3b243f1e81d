import keras
import numpy as np
import pytest

from keras_archs.layers import CausalConv1D
from tests.layers.helpers import np_out, randomize_weights

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 24, 4)).astype("float32")


def _perturbed_after(x, t):
    x2 = x.copy()
    x2[:, t + 1 :] += RNG.normal(size=x2[:, t + 1 :].shape).astype("float32")
    return x2


@pytest.mark.parametrize("weight_norm", [False, True])
def test_causal_by_perturbation(weight_norm):
    layer = CausalConv1D(5, 3, dilation_rate=4, weight_norm=weight_norm)
    t = 11
    y, y2 = np_out(layer(X)), np_out(layer(_perturbed_after(X, t)))
    assert np.array_equal(y[:, : t + 1], y2[:, : t + 1])
    assert np.abs(y[:, t + 1] - y2[:, t + 1]).max() > 1e-3  # the future does reach step t+1
    assert y.shape == layer.compute_output_shape(X.shape) == (3, 24, 5)


def test_receptive_field_is_exact():
    layer = CausalConv1D(2, 3, dilation_rate=4)  # sees t, t-4, t-8
    base = np_out(layer(X))
    for s, seen in ((20 - 8, True), (20 - 9, False), (20 - 4, True), (20 - 5, False)):
        x2 = X.copy()
        x2[:, s] += 1.0
        changed = np.abs(np_out(layer(x2))[:, 20] - base[:, 20]).max() > 1e-6
        assert changed == seen, s


def test_equals_keras_causal_conv1d():
    layer = CausalConv1D(6, 5, dilation_rate=2)
    layer.build(X.shape)
    randomize_weights(layer)
    stock = keras.layers.Conv1D(6, 5, dilation_rate=2, padding="causal")
    stock.build(X.shape)
    stock.set_weights(layer.get_weights())
    assert np.abs(np_out(layer(X)) - np_out(stock(X))).max() < 1e-5


def test_weight_norm_is_g_times_v_over_norm():
    layer = CausalConv1D(6, 3, dilation_rate=2, weight_norm=True)
    layer.build(X.shape)
    assert [w.name for w in layer.weights] == ["kernel_v", "kernel_g", "bias"]
    v = np_out(layer.kernel_v)
    # g starts at ||v||, so the initial kernel is v itself.
    np.testing.assert_allclose(np_out(layer.kernel_g), np.linalg.norm(v, axis=(0, 1)), rtol=1e-5)
    randomize_weights(layer)
    v, g, b = (np_out(w) for w in layer.weights)
    stock = keras.layers.Conv1D(6, 3, dilation_rate=2, padding="causal")
    stock.build(X.shape)
    stock.set_weights([g * v / np.linalg.norm(v, axis=(0, 1)), b])
    assert np.abs(np_out(layer(X)) - np_out(stock(X))).max() < 1e-5
    # Scaling v leaves the output unchanged: only its direction counts.
    layer.kernel_v.assign(3.0 * v)
    assert np.abs(np_out(layer(X)) - np_out(stock(X))).max() < 1e-5
    assert layer.count_params() == 3 * 4 * 6 + 6 + 6


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 2, "kernel_size": 0}, "kernel_size"),
        ({"filters": 2, "kernel_size": 3, "dilation_rate": 0}, "dilation_rate"),
        ({"filters": 2, "kernel_size": 3, "kernel_initializer": "nope"}, "kernel_initializer"),
    ],
)
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        CausalConv1D(**kwargs)


@pytest.mark.parametrize(("kernel_size", "dilation_rate"), [(2, 3), (3, 2), (4, 1)])
@pytest.mark.parametrize("weight_norm", [False, True])
def test_same_padding_is_centred_and_non_causal(kernel_size, dilation_rate, weight_norm):
    """padding="same": total // 2 zeros before, the rest after (TensorFlow's and
    Conv1D(padding="same")'s split, so an even kernel looks one step further ahead)."""
    layer = CausalConv1D(3, kernel_size, dilation_rate, weight_norm=weight_norm, padding="same")
    layer.build(X.shape)
    randomize_weights(layer)
    if weight_norm:
        v, g, b = (np_out(w) for w in layer.weights)
        kernel = g * v / np.linalg.norm(v, axis=(0, 1))
    else:
        kernel, b = (np_out(w) for w in layer.weights)
    total = dilation_rate * (kernel_size - 1)
    assert (layer.left_padding, layer.right_padding) == (total // 2, total - total // 2)
    padded = np.pad(X, [(0, 0), (total // 2, total - total // 2), (0, 0)])
    expected = b + sum(
        padded[:, j * dilation_rate : j * dilation_rate + X.shape[1]] @ kernel[j]
        for j in range(kernel_size)
    )
    np.testing.assert_allclose(np_out(layer(X)), expected, atol=1e-5)
    stock = keras.layers.Conv1D(3, kernel_size, dilation_rate=dilation_rate, padding="same")
    stock.build(X.shape)
    stock.set_weights([kernel, b])
    np.testing.assert_allclose(np_out(stock(X)), expected, atol=1e-5)
    # A later input reaches an earlier output exactly when there is right padding.
    t = 11
    y, y2 = np_out(layer(X)), np_out(layer(_perturbed_after(X, t)))
    assert np.abs(y[:, t] - y2[:, t]).max() > 1e-3
    unseen = t + 1 - (total - total // 2)  # outputs before this see no step after t
    assert np.array_equal(y[:, :unseen], y2[:, :unseen])


def test_padding_config_and_old_configs():
    layer = CausalConv1D(2, 3, padding="same")
    assert layer.get_config()["padding"] == "same"
    old = CausalConv1D(2, 3).get_config()
    del old["padding"]  # saved before the option existed
    assert CausalConv1D.from_config(old).padding == "causal"
    message = "padding must be one of 'causal', 'same'; got padding='valid'"
    with pytest.raises(ValueError, match=message):
        CausalConv1D(2, 3, padding="valid")

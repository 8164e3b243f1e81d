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

"""AdaptiveAveragePooling2D: torch's bin rule, channels_last under any global data format."""

import keras
import numpy as np
import pytest

from keras_archs.layers import AdaptiveAveragePooling2D
from tests.harness import run_layer_test
from tests.layers.helpers import np_out


def _reference(x, out_h, out_w):
    """torch.nn.AdaptiveAvgPool2d's bins: floor(i*H/h) to ceil((i+1)*H/h)."""
    h, w = x.shape[1:3]
    y = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            y[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return y


@pytest.mark.parametrize(("size", "out"), [((13, 13), (6, 6)), ((5, 7), (3, 2)), ((2, 3), (6, 6))])
def test_matches_torch_bin_rule(size, out):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    layer = AdaptiveAveragePooling2D(out)
    y = np_out(layer(x))
    assert y.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, _reference(x, *out), atol=1e-5)


def test_generic_layer_checks():
    x = np.random.default_rng(1).normal(size=(2, 7, 5, 3)).astype("float32")
    run_layer_test(
        AdaptiveAveragePooling2D,
        {"output_size": (3, 2)},
        x,
        (2, 3, 2, 3),
        expected_output=_reference(x, 3, 2),
        atol=1e-5,
    )


def test_bad_output_size():
    with pytest.raises(ValueError, match="output_size must be an integer >= 1; got output_size=0"):
        AdaptiveAveragePooling2D(0)
    with pytest.raises(ValueError, match="output_size must be an int or a pair of ints"):
        AdaptiveAveragePooling2D((6, 6, 6))


def test_needs_static_channels_last_input():
    with pytest.raises(ValueError, match=r"channels_last \(batch, height, width, channels\)"):
        AdaptiveAveragePooling2D(2)(keras.Input((None, None, 3)))


def test_channels_last_under_a_channels_first_global_setting(tmp_path):
    """The layer reads (batch, height, width, channels) whatever the global setting says,
    also when a saved model is loaded under channels_first."""
    x = np.random.default_rng(0).normal(size=(2, 7, 5, 3)).astype("float32")
    inp = keras.Input(x.shape[1:])
    model = keras.Model(inp, AdaptiveAveragePooling2D((3, 2))(inp))
    path = str(tmp_path / "pool.keras")
    model.save(path)
    saved = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        loaded = keras.saving.load_model(path)
        y = np_out(AdaptiveAveragePooling2D((3, 2))(x))
    finally:
        keras.config.set_image_data_format(saved)
    np.testing.assert_allclose(y, _reference(x, 3, 2), atol=1e-5)
    np.testing.assert_allclose(np_out(loaded(x)), _reference(x, 3, 2), atol=1e-5)

"""LeNet-5: the paper's layout and count, any channels and sizes, bad input, channels_first."""

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.applications import LeNet5
from keras_archs.registry import get_spec


def test_reference_count_and_layout():
    model = keras_archs.create_model("lenet5")
    assert model.count_params() == 61_706
    assert model.input_shape == (None, 32, 32, 1)
    assert model.output_shape == (None, 10)
    # C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5: spatial size shrinks, maps grow.
    shapes = [model.get_layer(n).output.shape[1:] for n in ("c1", "s2", "c3", "s4")]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]


def test_any_channels_and_sizes():
    model = LeNet5(input_shape=(40, 48, 3), classes=5)
    assert model.output_shape == (None, 5)
    features = LeNet5(include_top=False, input_shape=(None, None, 2))
    y = features(np.zeros((1, 36, 36, 2), "float32"))
    assert tuple(y.shape) == (1, 6, 6, 16)
    pooled = LeNet5(include_top=False, pooling="max", input_shape=(32, 32, 1))
    assert pooled.output_shape == (None, 16)


def test_input_tensor():
    inputs = keras.Input((32, 32, 1))
    model = LeNet5(input_tensor=inputs)
    assert model.inputs[0] is inputs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (15, 32, 1)}, r"at least 16x16; got input_shape=\(15, 32, 1\)"),
        ({"classes": 0}, "classes must be an integer >= 1; got classes=0"),
        ({"input_shape": (32, 32)}, r"input_shape must be a tuple \(height, width, channels\)"),
        ({"input_shape": (None, None, 1)}, "spatial size must be fixed"),
        ({"pooling": "mean", "include_top": False}, "pooling must be one of"),
        ({"weights": "/no/such/file.weights.h5"}, "not an existing file"),
        ({"weights": "imagenet"}, "not available for this architecture"),
        ({"classifier_activation": "no_such_activation"}, "classifier_activation"),
        ({"data_format": "NCHW"}, "data_format must be one of .* got data_format='NCHW'"),
        (
            {"input_shape": (1, 15, 32), "data_format": "channels_first"},
            r"at least 16x16; got input_shape=\(1, 15, 32\) \(channels, height, width\)",
        ),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LeNet5(**kwargs)


def test_weights_file_round_trip(tmp_path):
    model = LeNet5()
    path = str(tmp_path / "lenet.weights.h5")
    model.save_weights(path)
    clone = LeNet5(weights=path)
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), clone.predict(x, verbose=0))
    wrong = str(tmp_path / "other.weights.h5")
    LeNet5(classes=7).save_weights(wrong)
    with pytest.raises(ValueError, match="Could not load weights"):
        LeNet5(weights=wrong)


def test_registered_without_weights_scaled_to_unit_range():
    spec = get_spec("lenet5")
    assert spec.preprocessing == "scale" and spec.weights is None


@pytest.mark.parametrize("kwargs", [{}, {"include_top": False, "pooling": "avg"}])
def test_channels_first_same_parameters_and_outputs(kwargs):
    keras.utils.set_random_seed(0)
    last = LeNet5(**kwargs)
    first = LeNet5(input_shape=(1, 32, 32), data_format="channels_first", **kwargs)
    assert tuple(first.input.shape) == (None, 1, 32, 32)
    assert first.count_params() == last.count_params()
    first.set_weights(last.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 1)).astype("float32")
    expected = last.predict(x, verbose=0)
    got = first.predict(np.transpose(x, (0, 3, 1, 2)), verbose=0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_channels_first_feature_maps():
    model = LeNet5(include_top=False, input_shape=(2, 32, 32), data_format="channels_first")
    assert model.output_shape == (None, 16, 5, 5)

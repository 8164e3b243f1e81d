import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.applications import LeNet5


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

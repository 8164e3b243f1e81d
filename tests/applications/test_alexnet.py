"""AlexNet: torchvision's layout weight for weight, its adaptive pooling, channels_first."""

import keras
import numpy as np
import pytest

from keras_archs.applications import AlexNet
from keras_archs.layers import AdaptiveAveragePooling2D
from keras_archs.registry import get_spec


def test_reference_count():
    assert AlexNet(weights=None).count_params() == 61_100_840


def test_minimum_size():
    assert AlexNet(input_shape=(63, 63, 3), classes=3).output_shape == (None, 3)
    with pytest.raises(ValueError, match=r"at least 63x63; got input_shape=\(62, 62, 3\)"):
        AlexNet(input_shape=(62, 62, 3))
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0.0, 1.0\)"):
        AlexNet(dropout=1.0)
    with pytest.raises(ValueError, match="data_format must be one of"):
        AlexNet(data_format="NCHW")


def test_keras_applications_argument_order():
    # name is the 8th positional argument, as in keras.applications; dropout follows.
    model = AlexNet(True, None, None, (63, 63, 3), None, 3, None, "positional", 0.1)
    assert model.name == "positional" and model.get_layer("drop6").rate == 0.1
    keras.backend.clear_session()


def test_registered_without_weights_scaled_to_unit_range():
    spec = get_spec("alexnet")
    assert spec.preprocessing == "scale" and spec.weights is None


@pytest.mark.parametrize("kwargs", [{"classes": 10}, {"include_top": False}])
def test_channels_first_same_parameters_and_outputs(kwargs):
    # The top's AdaptiveAveragePooling2D is channels_last only; the channels_first model
    # computes channels_last inside, so it needs no other layer.
    keras.utils.set_random_seed(0)
    last = AlexNet(input_shape=(63, 63, 3), **kwargs)
    first = AlexNet(input_shape=(3, 63, 63), data_format="channels_first", **kwargs)
    assert first.count_params() == last.count_params()
    first.set_weights(last.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 63, 63, 3)).astype("float32")
    expected = last.predict(x, verbose=0)
    got = first.predict(np.transpose(x, (0, 3, 1, 2)), verbose=0)
    if got.ndim == 4:
        got = np.transpose(got, (0, 2, 3, 1))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    keras.backend.clear_session()


def _torch_adaptive_bins(size, out):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


@pytest.mark.parametrize("size", [1, 4, 6, 13, 20])
def test_adaptive_pooling_follows_torch_bins(size):
    x = np.random.default_rng(size).standard_normal((2, size, size + 1, 3)).astype("float32")
    y = np.asarray(AdaptiveAveragePooling2D(6)(x))
    expected = np.zeros((2, 6, 6, 3), "float32")
    for i, (r0, r1) in enumerate(_torch_adaptive_bins(size, 6)):
        for j, (c0, c1) in enumerate(_torch_adaptive_bins(size + 1, 6)):
            expected[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="output_size"):
        AdaptiveAveragePooling2D(0)


def _torch_alexnet(num_classes):
    """torchvision.models.alexnet's layers, written out (torchvision is not a dependency)."""
    from torch import nn

    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
    )
    classifier = nn.Sequential(
        nn.Dropout(),
        nn.Linear(256 * 6 * 6, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(features, nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(), classifier)


@pytest.mark.parametrize("size", [63, 100])
def test_matches_torchvision_layout_weight_for_weight(size, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = _torch_alexnet(10).eval()
    convs = [m for m in reference.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in reference.modules() if isinstance(m, torch.nn.Linear)]
    model = AlexNet(input_shape=(size, size, 3), classes=10, classifier_activation=None)
    for name, conv in zip(["conv1", "conv2", "conv3", "conv4", "conv5"], convs):
        model.get_layer(name).set_weights(
            [conv.weight.detach().numpy().transpose(2, 3, 1, 0), conv.bias.detach().numpy()]
        )
    # torch flattens (C, 6, 6); Keras flattens (6, 6, C): permute fc6's input rows.
    fc6 = linears[0].weight.detach().numpy().reshape(4096, 256, 6, 6)
    fc6 = fc6.transpose(2, 3, 1, 0).reshape(256 * 36, 4096)
    model.get_layer("fc6").set_weights([fc6, linears[0].bias.detach().numpy()])
    for name, linear in zip(["fc7", "predictions"], linears[1:]):
        model.get_layer(name).set_weights(
            [linear.weight.detach().numpy().T, linear.bias.detach().numpy()]
        )
    # Through a weights file, as a user with converted weights would load them.
    path = str(tmp_path / "alexnet.weights.h5")
    model.save_weights(path)
    loaded = AlexNet(
        input_shape=(size, size, 3), classes=10, classifier_activation=None, weights=path
    )
    x = np.random.default_rng(1).standard_normal((2, size, size, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)

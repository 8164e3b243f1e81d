"""ResNet18..152 and ResNet50V2..152V2: pyramids, torchvision layout, keras.applications
names and preprocessing, training."""

import keras
import numpy as np
import pytest
from keras.applications import resnet as ka_resnet
from keras.applications import resnet_v2 as ka_resnet_v2

from keras_archs.applications import ResNet18, ResNet34, ResNet50, ResNet50V2, resnet
from keras_archs.registry import get_spec
from tests.applications.cnn_checks import (
    check_feature_pyramid,
    memorises,
)
from tests.weights.ka_files import randomize


def _v1(b2, b3, b4, b5):
    return {
        "P1": "conv1_relu",
        "P2": f"conv2_block{b2}_out",
        "P3": f"conv3_block{b3}_out",
        "P4": f"conv4_block{b4}_out",
        "P5": f"conv5_block{b5}_out",
    }


def _v2(b2, b3, b4):
    # V2 strides in the last block of a stage: stride 2**i ends at the block before it.
    return {
        "P1": "conv1_conv",
        "P2": f"conv2_block{b2}_out",
        "P3": f"conv3_block{b3}_out",
        "P4": f"conv4_block{b4}_out",
        "P5": "post_relu",
    }


_DEPTH_VERSION = {
    "resnet18": (18, 1),
    "resnet34": (34, 1),
    "resnet50": (50, 1),
    "resnet101": (101, 1),
    "resnet152": (152, 1),
    "resnet50_v2": (50, 2),
    "resnet101_v2": (101, 2),
    "resnet152_v2": (152, 2),
}
FEATURES = {
    "resnet18": _v1(2, 2, 2, 2),
    "resnet34": _v1(3, 4, 6, 3),
    "resnet50": _v1(3, 4, 6, 3),
    "resnet101": _v1(3, 4, 23, 3),
    "resnet152": _v1(3, 8, 36, 3),
    "resnet50_v2": _v2(2, 3, 5),
    "resnet101_v2": _v2(2, 3, 22),
    "resnet152_v2": _v2(2, 7, 35),
}


# Built and checked for strides: one model per block kind and stage layout; the deeper
# variants' layer names come from the same code path, checked against the registry only.
BUILT = ("resnet18", "resnet34", "resnet50", "resnet50_v2", "resnet152_v2")


@pytest.mark.parametrize("name", BUILT)
def test_feature_pyramid(name):
    check_feature_pyramid(name, FEATURES[name])
    keras.backend.clear_session()


def test_feature_layers_in_registry():
    for name, expected in FEATURES.items():
        assert get_spec(name).feature_layers == expected, name
        assert resnet.feature_layers(*_DEPTH_VERSION[name]) == expected


def _torch_resnet18(num_classes):
    """torchvision.models.resnet18's layers, written out (torchvision is not a dependency)."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + identity)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin, layers = 64, []
            for i, cout in enumerate((64, 128, 256, 512)):
                stride = 1 if i == 0 else 2
                layers.append(
                    nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
                )
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    return Net().eval()


def _copy_to_torch(model, net):
    import torch

    def conv(keras_name, module):
        kernel = keras.ops.convert_to_numpy(model.get_layer(keras_name).kernel)
        module.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())

    def bn(keras_name, module):
        layer = model.get_layer(keras_name)
        for attr, value in (
            ("weight", layer.gamma),
            ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance),
        ):
            getattr(module, attr).data = torch.from_numpy(keras.ops.convert_to_numpy(value))

    conv("conv1_conv", net.conv1)
    bn("conv1_bn", net.bn1)
    for stage in range(1, 5):
        for i, block in enumerate(getattr(net, f"layer{stage}"), start=1):
            prefix = f"conv{stage + 1}_block{i}"
            conv(f"{prefix}_1_conv", block.conv1)
            bn(f"{prefix}_1_bn", block.bn1)
            conv(f"{prefix}_2_conv", block.conv2)
            bn(f"{prefix}_2_bn", block.bn2)
            if block.downsample is not None:
                conv(f"{prefix}_0_conv", block.downsample[0])
                bn(f"{prefix}_0_bn", block.downsample[1])
    dense = model.get_layer("predictions")
    net.fc.weight.data = torch.from_numpy(keras.ops.convert_to_numpy(dense.kernel).T.copy())
    net.fc.bias.data = torch.from_numpy(keras.ops.convert_to_numpy(dense.bias))


def test_resnet18_matches_torchvision_layout():
    """Same weights, same outputs as torchvision's resnet18 (odd size: padding matters)."""
    torch = pytest.importorskip("torch")
    model = randomize(ResNet18(input_shape=(65, 65, 3), classes=10, classifier_activation=None))
    net = _torch_resnet18(10)
    _copy_to_torch(model, net)
    x = np.random.default_rng(0).standard_normal((2, 65, 65, 3)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    got = keras.ops.convert_to_numpy(model(x))
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_resnet18_34_have_no_convolution_bias():
    for builder in (ResNet18, ResNet34):
        model = builder(include_top=False, input_shape=(32, 32, 3))
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert convs and not any(c.use_bias for c in convs)
        assert all(layer.epsilon == 1e-5 for layer in model.layers if "bn" in layer.name)


def test_layer_names_match_keras_applications():
    ours = ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3))
    ref = keras.applications.ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert [(w.path, tuple(w.shape)) for w in ours.weights] == [
        (w.path, tuple(w.shape)) for w in ref.weights
    ]
    keras.backend.clear_session()


def test_preprocessing_modes_are_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(
        resnet.preprocess_input(x.copy()), ka_resnet.preprocess_input(x.copy())
    )
    np.testing.assert_array_equal(
        resnet.preprocess_input_v2(x.copy()), ka_resnet_v2.preprocess_input(x.copy())
    )
    np.testing.assert_allclose(resnet.preprocess_input_v2(x.copy()), x / 127.5 - 1, rtol=1e-6)
    with pytest.raises(ValueError, match="1000"):
        resnet.decode_predictions(np.zeros((2, 10)))
    # The registry's mode (what the export builds into the serving graph) is the same.
    for name, fn in (
        ("resnet50", resnet.preprocess_input),
        ("resnet50_v2", resnet.preprocess_input_v2),
    ):
        mode = get_spec(name).preprocessing
        np.testing.assert_array_equal(
            fn(x.copy()), keras.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)
        )


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize(
    "builder,jit_compile,steps",
    [(ResNet18, True, 5), (ResNet50, False, 8)],
    ids=["resnet18-xla", "resnet50-graph"],
)
def test_memorises_a_batch(builder, jit_compile, steps):
    keras.utils.set_random_seed(0)
    model = builder(weights=None, input_shape=(32, 32, 3), classes=4)
    first, last = memorises(model, (32, 32, 3), jit_compile, resnet.preprocess_input, steps)
    assert last < 0.5 * first, (first, last)

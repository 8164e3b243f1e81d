"""from_torchvision and weights="torchvision": torchvision's ten classification models
convert with their weights and BatchNorm statistics, to the same outputs and parameters.

Each torchvision model is built once, with random weights and BatchNorm statistics that
are neither torchvision's defaults nor each other's (so an array in the wrong place, a
transposition or flattening order left out, or a padding on the wrong side changes the
outputs), and its classifier scaled to logits of standard deviation 1, so that the 1e-4
agreement is tight relative to the outputs. Inputs are small where both models allow
(torchvision pools adaptively); VGG's flattening top needs 224x224 and Inception3's
auxiliary classifier 299x299, so those run one image, as AlexNet at 224 (its 6x6
pooling then pools a real 6x6 map).
"""

import os
import sys

import numpy as np
import pytest

# torchvision imports torch._dynamo, which loads triton's LLVM-based library when triton
# is installed; loaded after TensorFlow's (earlier test modules import it), that library
# crashes the interpreter. Nothing on a CPU needs triton, so torch is told it is absent.
if "torchvision" not in sys.modules:
    sys.modules.setdefault("triton", None)
torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import keras  # noqa: E402

from keras_archs.applications import (  # noqa: E402
    alexnet,
    densenet,
    inception_v1,
    inception_v3,
    mobilenet,
    resnet,
    vgg,
)
from keras_archs.convert import from_torchvision  # noqa: E402
from keras_archs.convert import torchvision as convert_torchvision  # noqa: E402
from keras_archs.weights import torchvision as tv_weights  # noqa: E402

# torchvision name -> (input size, batch).
CASES = {
    "resnet18": (64, 2),
    "resnet34": (64, 2),
    "resnet50": (64, 2),
    "densenet121": (64, 2),
    "mobilenet_v2": (64, 2),
    "googlenet": (64, 2),
    "alexnet": (224, 1),
    "vgg16": (224, 1),
    "vgg19": (224, 1),
    "inception_v3": (299, 1),
}
# The auxiliary classifiers (module attribute, module whose output it classifies).
AUX = {"googlenet": [("aux1", "inception4a"), ("aux2", "inception4d")],
       "inception_v3": [("AuxLogits", "Mixed_6e")]}  # fmt: skip
TOLERANCE = 1e-4


def _images(size, batch, seed):
    return np.random.default_rng(seed).standard_normal((batch, size, size, 3)).astype("float32")


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _last_linear(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]


def _torch_outputs(net, x, aux):
    """Eval-mode logits, then each auxiliary classifier's logits on its feature map."""
    seen = {}
    hooks = [
        getattr(net, source).register_forward_hook(lambda m, i, o, k=source: seen.update({k: o}))
        for _, source in aux
    ]
    with torch.no_grad():
        outputs = [net(_nchw(x)).numpy()]
        outputs += [getattr(net, head)(seen[source]).numpy() for head, source in aux]
    for hook in hooks:
        hook.remove()
    return outputs


def _random_torchvision(name, size, aux):
    """torchvision's `name` with random weights; BatchNorm statistics measured on random
    images (so activations stay near unit scale at any depth), then perturbed; every
    classifier scaled to logits of standard deviation 1."""
    torch.manual_seed(0)
    kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
    net = getattr(torchvision.models, name)(**kwargs)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average: the statistics of this one batch
        if norms:
            net.train()
            net(_nchw(_images(size, 2, seed=1)))
        for bn in norms:
            bn.momentum = 0.1
            bn.running_mean.add_(torch.randn_like(bn.running_mean) * 0.2 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.5, 1.5))
    net.eval()
    probe = _images(size, 2 if size < 224 else 1, seed=2)
    heads = [_last_linear(net)] + [_last_linear(getattr(net, head)) for head, _ in aux]
    with torch.no_grad():
        for head, out in zip(heads, _torch_outputs(net, probe, aux)):
            head.weight.div_(float(out.std()))
            head.bias.div_(float(out.std()))
    return net


def _parameter_counts(net):
    params = sum(p.numel() for p in net.parameters())
    statistics = sum(b.numel() for n, b in net.named_buffers() if n.endswith(("_mean", "_var")))
    return params, statistics


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _as_list(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


_MODULES = {}  # torchvision modules built for the conversion tests, reused below


def _module(name):
    """The module the conversion test built (or, run alone, a new one)."""
    if name not in _MODULES:
        _MODULES[name] = _random_torchvision(name, CASES[name][0], AUX.get(name, []))
    return _MODULES[name]


@pytest.mark.parametrize("name", list(CASES))
def test_converts_to_the_same_outputs_and_parameters(name):
    size, batch = CASES[name]
    aux = AUX.get(name, [])
    net = _random_torchvision(name, size, aux)
    _MODULES[name] = net
    model = from_torchvision(net, input_shape=(size, size, 3))

    params, statistics = _parameter_counts(net)
    assert _trainable(model) == params
    assert model.count_params() == params + statistics
    x = _images(size, batch, seed=3)
    expected = _torch_outputs(net, x, aux)
    got = _as_list(model(x, training=False))
    assert len(got) == len(expected) == 1 + len(aux)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert e.std() > 0.5  # logits of unit scale: the tolerance below is tight
        np.testing.assert_allclose(g, e, rtol=0, atol=TOLERANCE)
    keras.backend.clear_session()


def test_name_picks_the_model_and_channels_first_input():
    """name= is the registry's or torchvision's; channels_first takes torch's NCHW images."""
    net = _module("resnet18")
    model = from_torchvision(net, "resnet18", input_shape=(3, 40, 40), data_format="channels_first")
    x = _images(40, 2, seed=4)
    got = keras.ops.convert_to_numpy(model(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(got, _torch_outputs(net, x, [])[0], rtol=0, atol=TOLERANCE)
    keras.backend.clear_session()


@pytest.fixture
def no_building(monkeypatch):
    """Fails any keras_archs build: the errors below come before any tensor work."""

    def refuse(**kwargs):
        raise AssertionError("a keras_archs model was built")

    targets = {
        key: convert_torchvision._Target(refuse, target.names, target.options)
        for key, target in convert_torchvision._TARGETS.items()
    }
    monkeypatch.setattr(convert_torchvision, "_TARGETS", targets)


def test_unsupported_architecture_names_its_class_and_the_supported_list(no_building):
    with pytest.raises(TypeError, match=r"SqueezeNet.*") as info:
        from_torchvision(torchvision.models.squeezenet1_1())
    assert all(name in str(info.value) for name in convert_torchvision.SUPPORTED)
    with pytest.raises(TypeError, match="Linear"):
        from_torchvision(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="str"):
        from_torchvision("resnet18")


def test_a_module_of_another_size_names_both(no_building):
    net = _module("resnet18")
    with pytest.raises(ValueError, match=r"name='resnet34'.*\(2, 2, 2, 2\).*'resnet18'"):
        from_torchvision(net, name="resnet34")
    with pytest.raises(ValueError, match="name must be None or one of alexnet"):
        from_torchvision(net, name="resnet99")
    blocks = torchvision.models.resnet.BasicBlock
    small = torchvision.models.ResNet(blocks, [1, 1, 1, 1], num_classes=3)
    with pytest.raises(ValueError, match=r"BasicBlocks \(1, 1, 1, 1\).*none of.*resnet50"):
        from_torchvision(small)
    with pytest.raises(ValueError, match=r"\(1, 1, 1, 1\).*name='resnet18'"):
        from_torchvision(small, name="resnet18")
    bottleneck = torchvision.models.resnet.Bottleneck
    wide = torchvision.models.ResNet(bottleneck, [1, 1, 1, 1], width_per_group=128)
    with pytest.raises(ValueError, match="width 128"):
        from_torchvision(wide)
    with pytest.raises(ValueError, match="224 to 255"):
        from_torchvision(_module("vgg16"), input_shape=(64, 64, 3))


def test_batch_norm_epsilon_and_shapes_are_checked():
    """A state_dict holds no epsilon: from_torchvision passes each module's, compared with
    Keras' (1e-5 against keras.applications' 1.001e-5 would hardly show in outputs)."""
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    model = keras.Model(inputs, x)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1, bias=False), torch.nn.BatchNorm2d(2))
    names = {"0": "conv", "1": "bn"}
    before = keras.ops.convert_to_numpy(model.get_layer("conv").kernel)
    with pytest.raises(ValueError, match=r"eps=1e-05.*epsilon=1.001e-05"):
        tv_weights.load_torchvision_state_dict(model, net.state_dict(), names, epsilons={"1": 1e-5})
    wider = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1, bias=False), torch.nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match=r"'0'.*\(1, 1, 3, 4\).*'conv'.*\(1, 1, 3, 2\)"):
        tv_weights.load_torchvision_state_dict(model, wider.state_dict(), names)
    with pytest.raises(ValueError, match=r"'2' of .* has no counterpart"):
        tv_weights.load_torchvision_state_dict(model, {**net.state_dict(), "2.weight": 0}, names)
    # Nothing is assigned unless everything fits.
    assert np.array_equal(before, keras.ops.convert_to_numpy(model.get_layer("conv").kernel))
    tv_weights.load_torchvision_state_dict(model, net.state_dict(), names, epsilons={"1": 1.001e-5})
    got = keras.ops.convert_to_numpy(model.get_layer("conv").kernel)
    np.testing.assert_array_equal(got, net[0].weight.detach().numpy().transpose(2, 3, 1, 0))
    # torchvision's DenseNet file keeps the old key names, renamed on loading as torchvision does.
    old = "features.denseblock1.denselayer1.norm.1.running_var"
    assert tv_weights._renamed(old) == "features.denseblock1.denselayer1.norm1.running_var"


FILES = {
    "alexnet": alexnet.TORCHVISION_WEIGHTS["alexnet"],
    "googlenet": inception_v1.TORCHVISION_WEIGHTS["googlenet"],
    "inception_v3": inception_v3.TORCHVISION_WEIGHTS["inception_v3"],
    "resnet18": resnet.TORCHVISION_WEIGHTS["resnet18"],
    "resnet34": resnet.TORCHVISION_WEIGHTS["resnet34"],
    "resnet50": resnet.TORCHVISION_WEIGHTS["resnet50"],
    "vgg16": vgg.TORCHVISION_WEIGHTS["vgg16"],
    "vgg19": vgg.TORCHVISION_WEIGHTS["vgg19"],
    "densenet121": densenet.TORCHVISION_WEIGHTS["densenet121"],
    "mobilenet_v2": mobilenet.TORCHVISION_WEIGHTS["mobilenet_v2"],
}


def test_weight_files_are_torchvisions_defaults():
    assert set(FILES) == set(CASES) == set(convert_torchvision.SUPPORTED)
    for name, entry in FILES.items():
        assert entry["url"] == torchvision.models.get_model_weights(name).DEFAULT.url, name


def test_weights_torchvision_offline_names_the_file_and_the_ways_forward(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(tv_weights, "_reachable", lambda url, timeout=5.0: False)
    expected = os.path.join(str(tmp_path), "hub", "checkpoints", "googlenet-1378be20.pth")
    with pytest.raises(ConnectionError) as info:
        inception_v1.InceptionV1(weights="torchvision")
    message = str(info.value)
    assert "googlenet-1378be20.pth" in message and expected in message
    assert "from_torchvision" in message and "Place a copy" in message


def test_weights_torchvision_loads_torchs_hub_file(tmp_path, monkeypatch):
    """GoogLeNet as torchvision publishes it: transform_input on, auxiliary heads in the
    file but not in the model; the file is a random model's, under the exact name."""
    net = _module("googlenet")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(tv_weights, "_reachable", lambda url, timeout=5.0: False)
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(net.state_dict(), folder / "googlenet-1378be20.pth")
    model = inception_v1.InceptionV1(
        weights="torchvision", input_shape=(64, 64, 3), classifier_activation=None
    )
    net.transform_input = True
    try:
        x = _images(64, 2, seed=5)
        expected = _torch_outputs(net, x, [])[0]
    finally:
        net.transform_input = False
    got = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    with pytest.raises(ValueError, match="layout='torchvision'"):
        inception_v1.InceptionV1(weights="torchvision", layout="paper")
    with pytest.raises(ValueError, match=r"alpha must be 1\.0"):
        mobilenet.MobileNetV2(weights="torchvision", alpha=0.5)
    keras.backend.clear_session()

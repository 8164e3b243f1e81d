"""torchvision models -> keras_archs models with the same layout and weights.

`from_torchvision(module)` recognises a torchvision classification model from its class
and its sizes (block counts, widths), builds the keras_archs model in the same layout
(the family's `layout="torchvision"` where keras_archs' default differs) and copies every
parameter and BatchNorm running statistic, converting PyTorch's layouts to Keras' and
checking shapes and BatchNorm epsilons as it goes
(`keras_archs.weights.torchvision.load_torchvision_state_dict`).

The model takes the same images as the module, channels-last (or channels-first under
`data_format="channels_first"`), and returns the module's eval-mode outputs: the logits
(`classifier_activation=None`), then, for a module built with auxiliary classifiers, their
logits. Dropout and BatchNorm behave as in Keras (training only under `training=True`).

torchvision is only needed by the caller, who already holds a module; this file imports
neither torch nor torchvision. (In one process, import torchvision before TensorFlow:
with TensorFlow loaded first, torchvision's import of triton's LLVM-based library
crashes the interpreter.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from keras_archs.applications import (
    VGG16,
    VGG19,
    AlexNet,
    DenseNet121,
    InceptionV1,
    InceptionV3,
    MobileNetV2,
    ResNet18,
    ResNet34,
    ResNet50,
    alexnet,
    densenet,
    inception_v1,
    inception_v3,
    mobilenet,
    resnet,
    vgg,
)
from keras_archs.weights.torchvision import load_torchvision_state_dict


@dataclasses.dataclass(frozen=True)
class _Target:
    builder: Callable
    names: Callable  # (module) -> {torchvision module: keras_archs layer}
    options: dict = dataclasses.field(default_factory=dict)


def _aux(module, attribute):
    return getattr(module, attribute, None) is not None


_TARGETS = {
    "alexnet": _Target(AlexNet, lambda m: alexnet.torchvision_names()),
    "googlenet": _Target(
        InceptionV1,
        lambda m: inception_v1.torchvision_names(aux_logits=_aux(m, "aux1")),
        {"layout": "torchvision"},
    ),
    "inception_v3": _Target(
        InceptionV3,
        lambda m: inception_v3.torchvision_names(aux_logits=_aux(m, "AuxLogits")),
        {"layout": "torchvision"},
    ),
    "resnet18": _Target(ResNet18, lambda m: resnet.torchvision_names(18)),
    "resnet34": _Target(ResNet34, lambda m: resnet.torchvision_names(34)),
    "resnet50": _Target(
        ResNet50, lambda m: resnet.torchvision_names(50), {"layout": "torchvision"}
    ),
    "vgg16": _Target(VGG16, lambda m: vgg.torchvision_names("vgg16")),
    "vgg19": _Target(VGG19, lambda m: vgg.torchvision_names("vgg19")),
    "densenet121": _Target(
        DenseNet121,
        lambda m: densenet.torchvision_names((6, 12, 24, 16)),
        {"layout": "torchvision"},
    ),
    "mobilenet_v2": _Target(
        MobileNetV2, lambda m: mobilenet.torchvision_names_v2(), {"layout": "torchvision"}
    ),
}
SUPPORTED = tuple(_TARGETS)
# keras_archs' registry names for the same models.
_ALIASES = {"inception_v1": "googlenet"}


def _class_name(obj):
    return type(obj).__name__


def _children(module, class_name):
    return [m for m in module.modules() if _class_name(m) == class_name]


# Each recogniser reads a module of one torchvision class: the name of the supported model
# of that layout (None: none is), a description of its size for messages, and the builder
# arguments that the module decides (classes, dropout, auxiliary heads, ...).


def _resnet(module):
    block = _class_name(module.layer1[0])
    counts = tuple(len(getattr(module, f"layer{i}")) for i in range(1, 5))
    first = module.layer1[0]
    width = first.conv2.out_channels if block == "Bottleneck" else first.conv1.out_channels
    groups = first.conv2.groups
    size = f"a ResNet of {block}s {counts}"
    if width != 64 or groups != 1:
        size += f" with width {width}, groups {groups}"
    known = {
        ("BasicBlock", (2, 2, 2, 2)): "resnet18",
        ("BasicBlock", (3, 4, 6, 3)): "resnet34",
        ("Bottleneck", (3, 4, 6, 3)): "resnet50",
    }
    name = known.get((block, counts)) if width == 64 and groups == 1 else None
    return name, size, {"classes": module.fc.out_features}


_VGG_WIDTHS = (64, 128, 256, 512, 512)


def _vgg(module):
    stages, convs, widths = [], 0, []
    for layer in module.features:
        kind = _class_name(layer)
        if kind == "Conv2d":
            convs += 1
            widths.append(layer.out_channels)
        elif kind == "MaxPool2d":
            stages.append(convs)
            convs = 0
    stages = tuple(stages)
    batch_norm = bool(_children(module.features, "BatchNorm2d"))
    size = f"a VGG of {sum(stages)} convolutions in stages {stages}"
    size += " with BatchNorm" if batch_norm else ""
    expected_widths = [w for s, w in zip(stages, _VGG_WIDTHS) for _ in range(s)]
    name = {(2, 2, 3, 3, 3): "vgg16", (2, 2, 4, 4, 4): "vgg19"}.get(stages)
    if batch_norm or widths != expected_widths:
        name = None
    return name, size, {"classes": module.classifier[-1].out_features}


def _alexnet(module):
    widths = tuple(m.out_channels for m in _children(module.features, "Conv2d"))
    size = f"an AlexNet of convolutions {widths}"
    name = "alexnet" if widths == (64, 192, 384, 256, 256) else None
    dropout = _children(module.classifier, "Dropout")
    kwargs = {"classes": module.classifier[-1].out_features}
    if dropout:
        kwargs["dropout"] = dropout[0].p
    return name, size, kwargs


def _densenet(module):
    blocks = tuple(
        len(list(block.children()))
        for block in module.features.children()
        if _class_name(block) == "_DenseBlock"
    )
    layer = _children(module.features, "_DenseLayer")[0]
    growth = layer.conv2.out_channels
    stem = module.features.conv0.out_channels
    size = f"a DenseNet of blocks {blocks}, growth rate {growth}, {stem} stem channels"
    fits = growth == 32 and stem == 64 and layer.conv1.out_channels == 128
    name = "densenet121" if fits and blocks == (6, 12, 24, 16) else None
    return name, size, {"classes": module.classifier.out_features}


# torchvision's default MobileNetV2 (expansion, output channels, repeats, first stride).
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                 (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def _mobilenet_v2(module):
    blocks = [m for m in module.features if _class_name(m) == "InvertedResidual"]
    got = [(m.out_channels, m.stride) for m in blocks]
    expected = [(c, s if i == 0 else 1) for _, c, n, s in _MOBILENET_V2 for i in range(n)]
    stem = module.features[0][0].out_channels
    last = module.last_channel
    size = f"a MobileNetV2 of {len(blocks)} blocks, {stem} stem and {last} last channels"
    fits = got == expected and stem == 32 and last == 1280
    return ("mobilenet_v2" if fits else None), size, {"classes": module.classifier[-1].out_features}


def _googlenet(module):
    widths = {}
    for key in inception_v1.MODULES:
        block = getattr(module, f"inception{key}", None)
        if block is None or _class_name(block) != "Inception":
            widths[key] = None
            continue
        convs = [
            block.branch1.conv,
            block.branch2[0].conv,
            block.branch2[1].conv,
            block.branch3[0].conv,
            block.branch3[1].conv,
            block.branch4[1].conv,
        ]
        widths[key] = tuple(c.out_channels for c in convs)
        if block.branch3[1].conv.kernel_size != (3, 3):
            widths[key] = None
    fits = widths == inception_v1.MODULES
    aux = _aux(module, "aux1")
    size = "a GoogLeNet" + ("" if fits else " with other Inception modules than torchvision's")
    kwargs = {
        "classes": module.fc.out_features,
        "aux_logits": aux,
        "transform_input": bool(module.transform_input),
        "dropout": module.dropout.p,
    }
    if aux:
        kwargs["aux_dropout"] = module.aux1.dropout.p
    return ("googlenet" if fits else None), size, kwargs


_INCEPTION_V3_BLOCKS = {
    "Mixed_5b": "InceptionA",
    "Mixed_5c": "InceptionA",
    "Mixed_5d": "InceptionA",
    "Mixed_6a": "InceptionB",
    "Mixed_6b": "InceptionC",
    "Mixed_6c": "InceptionC",
    "Mixed_6d": "InceptionC",
    "Mixed_6e": "InceptionC",
    "Mixed_7a": "InceptionD",
    "Mixed_7b": "InceptionE",
    "Mixed_7c": "InceptionE",
}


def _inception_v3(module):
    kinds = {k: _class_name(getattr(module, k, None)) for k in _INCEPTION_V3_BLOCKS}
    fits = kinds == _INCEPTION_V3_BLOCKS and module.Conv2d_1a_3x3.conv.out_channels == 32
    size = "an Inception3" + ("" if fits else " with other modules than torchvision's")
    kwargs = {
        "classes": module.fc.out_features,
        "aux_logits": _aux(module, "AuxLogits"),
        "transform_input": bool(module.transform_input),
    }
    return ("inception_v3" if fits else None), size, kwargs


_RECOGNISERS = {
    "ResNet": _resnet,
    "VGG": _vgg,
    "AlexNet": _alexnet,
    "DenseNet": _densenet,
    "MobileNetV2": _mobilenet_v2,
    "GoogLeNet": _googlenet,
    "Inception3": _inception_v3,
}


def _batch_norm_epsilons(module):
    return {
        name: float(m.eps)
        for name, m in module.named_modules()
        if _class_name(m) in ("BatchNorm2d", "BatchNorm1d")
    }


def _check_vgg_size(input_shape, data_format):
    import keras

    first = (data_format or keras.config.image_data_format()) == "channels_first"
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    spatial = shape[1:] if first else shape[:2]
    if len(shape) != 3 or any(not isinstance(d, int) or d // 32 != 7 for d in spatial):
        raise ValueError(
            "VGG's flattening top holds torchvision's classifier (25,088 = 7x7x512 inputs) "
            f"only for inputs of 224 to 255 pixels a side; got input_shape={input_shape!r}."
        )


def from_torchvision(module, name=None, *, input_shape=None, data_format=None):
    """The keras_archs model equivalent to a torchvision classification model, with its
    weights and BatchNorm statistics.

    Supported: torchvision's `alexnet`, `googlenet`, `inception_v3`, `resnet18`,
    `resnet34`, `resnet50`, `vgg16`, `vgg19`, `densenet121` and `mobilenet_v2` (any number
    of classes; GoogLeNet and Inception3 with or without auxiliary classifiers and
    `transform_input`).

    Args:
        module: a `torch.nn.Module` built by one of those torchvision functions.
        name: the model it should be (a name above, or "inception_v1" for GoogLeNet):
            a module of another size is refused. Default: recognised from the module.
        input_shape: the input shape of the Keras model, `(height, width, 3)`
            (`(3, height, width)` for channels_first); default the family's (224x224,
            299x299 for Inception3). Keras' heads fix the size: VGG's flattening top holds
            torchvision's classifier only at 224x224 (a 7x7 map), and Inception3's
            auxiliary classifier needs at least 299x299.
        data_format: "channels_last" or "channels_first" for the input; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model` whose output is the module's eval-mode output (logits); with
        auxiliary classifiers the outputs are `[logits, aux logits...]` (GoogLeNet's
        aux1 then aux2, as keras_archs' `aux_logits=True` orders them).

    Raises:
        TypeError: the module is not one of the supported architectures (its class named).
        ValueError: the module's size is not a supported model, or not `name`'s; or its
            arrays or BatchNorm epsilons do not fit the Keras layers.
    """
    kind = _class_name(module)
    supported = ", ".join(SUPPORTED)
    if kind not in _RECOGNISERS or not hasattr(module, "state_dict"):
        raise TypeError(
            f"from_torchvision converts torchvision's {supported}; got a {kind} "
            f"({type(module).__module__}.{type(module).__qualname__})."
        )
    if name is not None:
        if not isinstance(name, str) or _ALIASES.get(name, name) not in _TARGETS:
            raise ValueError(f"name must be None or one of {supported}; got name={name!r}.")
        name = _ALIASES.get(name, name)
    found, size, kwargs = _RECOGNISERS[kind](module)
    if found is None:
        raise ValueError(
            f"The {kind} module is {size}, which is none of the supported models "
            f"({supported})" + (f"; name={name!r} was asked for." if name else ".")
        )
    if name is not None and name != found:
        raise ValueError(
            f"name={name!r} does not fit the module: it is {size}, i.e. torchvision's "
            f"{found!r}, not {name!r}."
        )
    if found in ("vgg16", "vgg19") and input_shape is not None:
        _check_vgg_size(input_shape, data_format)
    target = _TARGETS[found]
    model = target.builder(
        weights=None,
        input_shape=input_shape,
        data_format=data_format,
        classifier_activation=None,
        **target.options,
        **kwargs,
    )
    return load_torchvision_state_dict(
        model,
        module.state_dict(),
        target.names(module),
        epsilons=_batch_norm_epsilons(module),
        source=f"the torchvision {kind} module",
    )

"""InceptionV1, alias GoogLeNet (Szegedy et al., 2014).

Reference:
- [Going Deeper with Convolutions](https://arxiv.org/abs/1409.4842) (CVPR 2015)

Table 1 of the paper: a 7x7/2 convolution, max-pool, 1x1 and 3x3 convolutions,
max-pool, then nine Inception modules (3a, 3b | 4a..4e | 5a, 5b) separated by
max-pools, global average pooling, 40% dropout and a linear classifier. Layers follow
torchvision's `googlenet` (BatchNormalization with epsilon 1e-3 after every convolution,
no convolution bias, max-pools that round up) except that the "5x5" branch really is
5x5 (torchvision uses 3x3 there): 7,005,832 trainable parameters, 13,385,816 with the
two auxiliary classifiers. `layout="torchvision"` builds torchvision's `googlenet`
itself (3x3 in that branch, max-pools with PyTorch's `ceil_mode` windows at every input
size), which holds its weights (`weights="torchvision"`): 6,624,904 trainable parameters,
13,004,888 with the auxiliary classifiers.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import AdaptiveAveragePooling2D, InceptionModule
from keras_archs.registry import register_model
from keras_archs.validation import check_bool, check_rate
from keras_archs.weights.torchvision import torchvision_file

# keras.applications publishes no GoogLeNet file; torchvision's weights use a 3x3 "5x5"
# branch, so they fit layout="torchvision" only.
WEIGHTS: dict = {}
TORCHVISION_WEIGHTS = {"googlenet": torchvision_file("googlenet-1378be20.pth")}

FEATURE_LAYERS = {
    "P1": "conv1_relu",
    "P2": "conv3_relu",
    "P3": "inception3b",
    "P4": "inception4e",
    "P5": "inception5b",
}

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_EPS = 1e-3
_LAYOUTS = ("paper", "torchvision")


def preprocess_input(x, data_format=None):
    """Inception preprocessing ("tf": scaled to [-1, 1]), as keras.applications' Inception."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def _conv_bn(x, filters, kernel_size, name, strides=1):
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=_EPS, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def torchvision_names(include_top=True, aux_logits=False):
    """torchvision module -> layer of the torchvision layout: `conv1.conv` -> `conv1_conv`,
    `inception3a.branch2.1.bn` -> `inception3a_branch3x3_bn`, `aux1.fc2` ->
    `aux1_predictions`, `fc` -> `predictions`."""
    names = {}
    for conv in ("conv1", "conv2", "conv3"):
        names.update({f"{conv}.conv": f"{conv}_conv", f"{conv}.bn": f"{conv}_bn"})
    branches = {
        "branch1": "branch1x1",
        "branch2.0": "branch3x3_reduce",
        "branch2.1": "branch3x3",
        "branch3.0": "branch5x5_reduce",
        "branch3.1": "branch5x5",
        "branch4.1": "branch_pool_proj",
    }
    for key in MODULES:
        for theirs, ours in branches.items():
            for part in ("conv", "bn"):
                names[f"inception{key}.{theirs}.{part}"] = f"inception{key}_{ours}_{part}"
    for aux in ("aux1", "aux2"):
        head = {"conv.conv": "proj_conv", "conv.bn": "proj_bn", "fc1": "fc", "fc2": "predictions"}
        for theirs, ours in head.items():
            names[f"{aux}.{theirs}"] = f"{aux}_{ours}" if aux_logits else None
    names["fc"] = "predictions" if include_top else None
    return names


def _max_pool(x, pool_size, name):
    # "same" pads bottom/right only: the windows of PyTorch's ceil_mode=True pooling
    # wherever the input size is even (as at 224x224).
    return keras.layers.MaxPooling2D(pool_size, strides=2, padding="same", name=name)(x)


def _max_pool_ceil(x, pool_size, name):
    """PyTorch's MaxPool2d(pool_size, 2, ceil_mode=True) at any size: one row and column
    added at the bottom/right give ceil((size - pool_size) / 2) + 1 windows. They are
    zeros, and the pooled maps are ReLU outputs (>= 0), so the maxima are unchanged."""
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size, strides=2, name=name)(x)


def _module(x, key):
    return InceptionModule(*MODULES[key], bn_epsilon=_EPS, name=f"inception{key}")(x)


def _torch_module(x, key):
    """torchvision's Inception module: the branches of `InceptionModule`, but a 3x3
    convolution in the "5x5" branch (torchvision's known deviation, kept for its weights)."""
    f1, r3, f3, r5, f5, pool_proj = MODULES[key]
    name = f"inception{key}"
    b1 = _conv_bn(x, f1, 1, f"{name}_branch1x1")
    b2 = _conv_bn(x, r3, 1, f"{name}_branch3x3_reduce")
    b2 = _conv_bn(b2, f3, 3, f"{name}_branch3x3")
    b3 = _conv_bn(x, r5, 1, f"{name}_branch5x5_reduce")
    b3 = _conv_bn(b3, f5, 3, f"{name}_branch5x5")
    b4 = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_branch_pool")(x)
    b4 = _conv_bn(b4, pool_proj, 1, f"{name}_branch_pool_proj")
    return keras.layers.Concatenate(name=name)([b1, b2, b3, b4])


def _aux_head(x, build, dropout, name):
    """Section 5: 4x4 average pool, 1x1 conv (128), FC 1024, 70% dropout, classifier."""
    x = AdaptiveAveragePooling2D(4, name=f"{name}_pool")(x)
    x = _conv_bn(x, 128, 1, f"{name}_proj")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return _image.classifier(
        x, build.classes, build.classifier_activation, name=f"{name}_predictions"
    )


def _inception_v1(
    *, aux_logits, dropout, aux_dropout, weights, name, layout, transform_input, **args
):
    """The one builder: stem, nine Inception modules, optional auxiliary heads, the top."""
    # GoogLeNet's own arguments, checked before `_image.prepare` makes the input.
    layout = _image.resolve_layout(layout, weights, default="paper", choices=_LAYOUTS)
    torch_layout = layout == "torchvision"
    transform_input = _image.resolve_transform_input(transform_input, weights)
    check_rate("dropout", dropout)
    check_rate("aux_dropout", aux_dropout)
    check_bool("aux_logits", aux_logits)
    include_top = check_bool("include_top", args["include_top"])
    features_only = check_bool("features_only", args["features_only"])
    if aux_logits and (not include_top or features_only):
        raise ValueError(
            "aux_logits=True adds auxiliary classifiers and needs include_top=True "
            f"and features_only=False; got include_top={include_top}, "
            f"features_only={features_only}."
        )
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=224,
        min_size=32,
        imagenet=WEIGHTS.get("inception_v1"),
        torchvision=TORCHVISION_WEIGHTS["googlenet"] if torch_layout else None,
    ) as build:
        x = build.x
        if transform_input:
            x = _image.transform_input(x)
        max_pool = _max_pool_ceil if torch_layout else _max_pool
        module = _torch_module if torch_layout else _module
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=_EPS, name="conv1_bn")(x)
        x = keras.layers.Activation("relu", name="conv1_relu")(x)
        x = max_pool(x, 3, "pool1")
        x = _conv_bn(x, 64, 1, "conv2")
        x = _conv_bn(x, 192, 3, "conv3")
        x = max_pool(x, 3, "pool2")
        x = module(x, "3a")
        x = module(x, "3b")
        x = max_pool(x, 3, "pool3")
        x = module(x, "4a")
        aux = []
        if aux_logits:
            aux.append(_aux_head(x, build, aux_dropout, "aux1"))
        for key in ("4b", "4c", "4d"):
            x = module(x, key)
        if aux_logits:
            aux.append(_aux_head(x, build, aux_dropout, "aux2"))
        x = module(x, "4e")
        x = max_pool(x, 2, "pool4")
        x = module(x, "5a")
        x = module(x, "5b")
        return build.finish(
            x,
            top=_image.average_top(dropout=dropout),
            extra_outputs=aux,
            feature_layers=FEATURE_LAYERS,
            torchvision_names=torchvision_names(build.include_top, aux_logits),
        )


@register_model(
    "inception_v1",
    family="inception",
    paper="Szegedy et al., Going Deeper with Convolutions, CVPR",
    year=2014,
    default_input_shape=(224, 224, 3),
    min_input_size=32,
    task="image_classification",
    reference_params=7_005_832,
    params_kind="trainable",
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    aliases=("googlenet",),
    feature_layers=FEATURE_LAYERS,
    weights=WEIGHTS.get("inception_v1"),
    preprocessing="tf",
)
def InceptionV1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v1",
    features_only=False,
    aux_logits=False,
    dropout=0.4,
    aux_dropout=0.7,
    data_format=None,
    layout=None,
    transform_input=None,
):
    """InceptionV1 (GoogLeNet): modules run 1x1, 3x3, 5x5 convolutions and pooling in parallel.

    Szegedy et al. (2014): cheap 1x1 convolutions reduce the channels before the 3x3
    and 5x5 branches, so a 22-layer network costs less than AlexNet; two auxiliary
    classifiers (after 4a and 4d) add gradient signal during training.

    Args:
        include_top: whether to include global average pooling, dropout and the classifier.
        weights: None, the path to a weights file (no ImageNet file in keras.applications)
            or "torchvision": torchvision's ImageNet file from torch's hub cache,
            converted (layout "torchvision"; its auxiliary heads are untrained, as in
            torchvision).
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` for
            channels_first), at least 32x32; default 224x224x3 with the top, any size
            without.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: activation of the output layer(s).
        name: model name.
        features_only: return a model whose outputs are the dict {"P1".."P5"} of
            feature maps at strides 2..32 (the top and `pooling` are ignored).
        aux_logits: with `include_top=True`, add the two auxiliary classifiers: the
            model then has three outputs `[main, aux1, aux2]`, for training (the paper
            weights the auxiliary losses by 0.3); build with `aux_logits=False` for
            inference, with the same layer names.
        dropout: dropout rate before the classifier, in [0, 1).
        aux_dropout: dropout rate in the auxiliary classifiers, in [0, 1).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.
        layout: None or "paper" (the paper's 5x5 convolutions, 7,005,832 trainable
            parameters, 13,385,816 with `aux_logits`) or "torchvision": torchvision's
            `googlenet`, a 3x3 convolution in the "5x5" branch and max-pools with
            PyTorch's `ceil_mode` windows, 6,624,904 trainable parameters (6,639,464 in
            all), 13,004,888 with `aux_logits` (13,019,960 in all). None means
            "torchvision" with `weights="torchvision"`.
        transform_input: torchvision's `transform_input`: rescale inputs normalized with
            the ImageNet mean and standard deviation (torchvision's preprocessing) to
            [-1, 1]-scaled ones, per channel, first (3 channels). None means True with
            `weights="torchvision"`, as torchvision sets it with its weights.

    Returns:
        A `keras.Model`.
    """
    return _inception_v1(**locals())

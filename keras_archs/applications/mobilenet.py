"""MobileNet (Howard et al., 2017) and MobileNetV2 (Sandler et al., 2018).

References:
- [MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications](
    https://arxiv.org/abs/1704.04861)
- [MobileNetV2: Inverted Residuals and Linear Bottlenecks](
    https://arxiv.org/abs/1801.04381) (CVPR 2018)

MobileNet: a 3x3 convolution, then 13 `DepthwiseSeparableConv2D` blocks (ReLU6,
order "mobilenet"), thinned by the width multiplier `alpha`; its classifier is a 1x1
convolution, as in keras.applications (4,253,864 parameters at alpha 1).
MobileNetV2: 17 inverted residual blocks (1x1 expansion, 3x3 depthwise, linear 1x1
projection, identity shortcut when shapes match), then a 1x1 convolution to 1280
channels (3,538,984 parameters at alpha 1). Layer names follow keras.applications, so
its ImageNet files load into both. MobileNetV2's `layout="torchvision"` is torchvision's
`mobilenet_v2` with the same layers: stride-2 convolutions padded symmetrically (one
pixel on every side; keras.applications pads bottom/right only), BatchNormalization
epsilon 1e-5, dropout 0.2 before the classifier; torchvision's weights load into it
(`weights="torchvision"`).
"""

import warnings

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DepthwiseSeparableConv2D
from keras_archs.registry import register_model
from keras_archs.validation import check_float, check_int
from keras_archs.weights.imagenet import KERAS_APPLICATIONS_URL
from keras_archs.weights.torchvision import torchvision_file

_V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
_V1_SIZES = (128, 160, 192, 224)
_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_V2_SIZES = (96, 128, 160, 192, 224)
_V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}


def _ka_file(stem):
    # keras.applications publishes these files without hashes (it passes no file_hash).
    return {
        "origin": "keras.applications",
        "url": f"{KERAS_APPLICATIONS_URL}{stem}.h5",
        "md5": None,
        "url_notop": f"{KERAS_APPLICATIONS_URL}{stem}_no_top.h5",
        "md5_notop": None,
    }


# keras.applications' ImageNet files, one per (width multiplier, input size):
# "mobilenet_{alpha}_{rows}" and "mobilenet_v2_{alpha}_{rows}", alpha as a float.
WEIGHTS = {
    **{
        f"mobilenet_{alpha}_{rows}": _ka_file(
            f"mobilenet/mobilenet_{_V1_ALPHA_TEXT[alpha]}_{rows}_tf"
        )
        for alpha in _V1_ALPHAS
        for rows in _V1_SIZES
    },
    **{
        f"mobilenet_v2_{alpha}_{rows}": _ka_file(
            f"mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}"
        )
        for alpha in _V2_ALPHAS
        for rows in _V2_SIZES
    },
}

# torchvision's ImageNet file (its default `Weights`, IMAGENET1K_V2), for MobileNetV2 at
# alpha 1 in layout="torchvision".
TORCHVISION_WEIGHTS = {"mobilenet_v2": torchvision_file("mobilenet_v2-7ebf99e0.pth")}

# Stride 2**i.
FEATURE_LAYERS = {
    "P1": "conv_pw_1",
    "P2": "conv_pw_3",
    "P3": "conv_pw_5",
    "P4": "conv_pw_11",
    "P5": "conv_pw_13",
}
FEATURE_LAYERS_V2 = {
    "P1": "expanded_conv_project_BN",
    "P2": "block_2_add",
    "P3": "block_5_add",
    "P4": "block_12_add",
    "P5": "out_relu",
}
# MobileNet: (pointwise filters at alpha 1, stride) of blocks 1..13.
_V1_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *[(512, 1)] * 5,
    (1024, 2),
    (1024, 1),
)
# MobileNetV2: (expansion, output filters at alpha 1, stride) of blocks 0..16.
_V2_BLOCKS = (
    (1, 16, 1),
    (6, 24, 2),
    (6, 24, 1),
    (6, 32, 2),
    (6, 32, 1),
    (6, 32, 1),
    (6, 64, 2),
    *[(6, 64, 1)] * 3,
    *[(6, 96, 1)] * 3,
    (6, 160, 2),
    (6, 160, 1),
    (6, 160, 1),
    (6, 320, 1),
)


def preprocess_input(x, data_format=None):
    """keras.applications' MobileNet preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def mobilenet_name_map():
    """keras.applications layer names -> leaf paths of the `DepthwiseSeparableConv2D` blocks."""
    mapping = {}
    for i in range(1, len(_V1_BLOCKS) + 1):
        mapping[f"conv_dw_{i}"] = f"conv_pw_{i}/depthwise"
        mapping[f"conv_dw_{i}_bn"] = f"conv_pw_{i}/depthwise_bn"
        mapping[f"conv_pw_{i}"] = f"conv_pw_{i}/pointwise"
        mapping[f"conv_pw_{i}_bn"] = f"conv_pw_{i}/pointwise_bn"
    return mapping


def _imagenet_rows(input_shape, sizes):
    """The input size of the ImageNet file for a channels_last `input_shape`: its own
    when square with a published file, else 224 (keras.applications' fallback)."""
    rows, cols = input_shape[:2]
    return rows if rows == cols and rows in sizes else 224


def _imagenet_entry(version, alpha, input_shape):
    """The `WEIGHTS` entry for `alpha` and the checked input shape (channels_last)."""
    sizes = _V1_SIZES if version == 1 else _V2_SIZES
    rows = _imagenet_rows(input_shape, sizes)
    if input_shape[0] != input_shape[1] or input_shape[0] not in sizes:
        warnings.warn(
            f"MobileNet{'V2' if version == 2 else ''}: `input_shape` is undefined or "
            f"non-square, or its size is not in {list(sizes)}; the weights for input shape "
            "(224, 224) will be loaded.",
            # The caller of MobileNet(V2): it -> _mobilenet -> prepare -> the lambda -> here.
            stacklevel=6,
        )
    prefix = "mobilenet_" if version == 1 else "mobilenet_v2_"
    return WEIGHTS[f"{prefix}{float(alpha)}_{rows}"]


def _default_size(input_shape, sizes, data_format):
    """keras.applications' default size: a given square size with a published file, else
    224 (`input_shape` in `data_format` order)."""
    if isinstance(input_shape, (tuple, list)) and len(input_shape) == 3:
        first = data_format == "channels_first"
        rows, cols = tuple(input_shape)[1:] if first else tuple(input_shape)[:2]
        if rows == cols and rows in sizes:
            return rows
    return 224


def _v1_trunk(x, alpha, depth_multiplier):
    """The 3x3 stem and 13 depthwise separable blocks (Howard et al., table 1)."""
    x = keras.layers.Conv2D(
        int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1"
    )(x)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (filters, stride) in enumerate(_V1_BLOCKS, start=1):
        if stride == 2:
            # keras.applications pads bottom/right only, then convolves "valid".
            x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{i}")(x)
        x = DepthwiseSeparableConv2D(
            int(filters * alpha),
            3,
            strides=stride,
            depth_multiplier=depth_multiplier,
            padding="same" if stride == 1 else "valid",
            activation="relu6",
            order="mobilenet",
            name=f"conv_pw_{i}",
        )(x)
    return x


def _v1_top(dropout):
    """keras.applications' MobileNet top: the classifier is a 1x1 convolution on the
    globally pooled features (so its file's "conv_preds" kernel loads as it is)."""

    def top(x, classes, classifier_activation):
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling2d")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = keras.layers.Reshape((classes,), name="reshape_2")(x)
        return keras.layers.Activation(classifier_activation, name="predictions")(x)

    return top


def _make_divisible(v, divisor=8, min_value=None):
    # The TF-slim rounding keras.applications uses: nearest multiple, never below 90 %.
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _bn(name, epsilon=1e-3):
    return keras.layers.BatchNormalization(epsilon=epsilon, momentum=0.999, name=name)


def torchvision_names_v2(include_top=True):
    """torchvision module -> layer of MobileNetV2's torchvision layout: `features.0.0` ->
    `Conv1`, `features.2.conv.1.0` -> `block_1_depthwise`, ..., `classifier.1` ->
    `predictions`."""
    names = {"features.0.0": "Conv1", "features.0.1": "bn_Conv1"}
    for block_id in range(len(_V2_BLOCKS)):
        conv = f"features.{block_id + 1}.conv"
        prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
        parts = ["depthwise", "depthwise_BN", "project", "project_BN"]
        if block_id:  # the 1x1 expansion (block 0 has expansion 1, and none)
            parts = ["expand", "expand_BN", *parts]
        keys = (
            [".0.0", ".0.1", ".1.0", ".1.1", ".2", ".3"]
            if block_id
            else [".0.0", ".0.1", ".1", ".2"]
        )
        names.update({conv + k: prefix + part for k, part in zip(keys, parts)})
    last = f"features.{len(_V2_BLOCKS) + 1}"
    names.update({f"{last}.0": "Conv_1", f"{last}.1": "Conv_1_bn"})
    names["classifier.1"] = "predictions" if include_top else None
    return names


def _inverted_residual(x, expansion, filters, stride, alpha, block_id, torch_layout):
    """Sandler et al. (2018), figure 3b: expand 1x1 -> depthwise 3x3 -> linear project 1x1."""
    in_channels = x.shape[-1]
    out_channels = _make_divisible(int(filters * alpha), 8)
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    eps = 1e-5 if torch_layout else 1e-3
    inputs = x
    if block_id:
        x = keras.layers.Conv2D(
            expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = _bn(f"{prefix}expand_BN", eps)(x)
        x = keras.layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        # PyTorch pads one pixel on every side; keras.applications centres like TF's "same".
        padding = 1 if torch_layout else _image.correct_pad(x, 3)
        x = keras.layers.ZeroPadding2D(padding, name=f"{prefix}pad")(x)
    x = keras.layers.DepthwiseConv2D(
        3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(f"{prefix}depthwise_BN", eps)(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = keras.layers.Conv2D(
        out_channels, 1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _bn(f"{prefix}project_BN", eps)(x)
    if in_channels == out_channels and stride == 1:
        return keras.layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _v2_trunk(x, alpha, torch_layout):
    """The 3x3 stem, 17 inverted residual blocks and the 1x1 convolution to 1280 channels
    (Sandler et al., table 2)."""
    eps = 1e-5 if torch_layout else 1e-3
    stem = _make_divisible(32 * alpha, 8)
    if torch_layout:
        x = keras.layers.ZeroPadding2D(1, name="Conv1_pad")(x)
        x = keras.layers.Conv2D(stem, 3, strides=2, use_bias=False, name="Conv1")(x)
    else:
        x = keras.layers.Conv2D(stem, 3, strides=2, padding="same", use_bias=False, name="Conv1")(x)
    x = _bn("bn_Conv1", eps)(x)
    x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (expansion, filters, stride) in enumerate(_V2_BLOCKS):
        x = _inverted_residual(x, expansion, filters, stride, alpha, block_id, torch_layout)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = keras.layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn", eps)(x)
    return keras.layers.ReLU(6.0, name="out_relu")(x)


def _mobilenet(
    version, *, alpha, weights, name, depth_multiplier=1, dropout=None, layout=None, **args
):
    """The one builder: the width and ImageNet rules of both versions, then `_image`
    makes the input, the version's trunk runs, and `_image` finishes the model."""
    alphas, sizes = (_V1_ALPHAS, _V1_SIZES) if version == 1 else (_V2_ALPHAS, _V2_SIZES)
    alpha = check_float("alpha", alpha, minimum=0, exclusive_minimum=True)
    torch_layout = version == 2 and _image.resolve_layout(layout, weights) == "torchvision"
    if weights == "torchvision" and alpha != 1.0:
        raise ValueError(
            "With weights='torchvision', alpha must be 1.0 (torchvision's ImageNet weights "
            f"are for width 1.0); got alpha={alpha!r}. Use weights=None."
        )
    if weights == "imagenet" and alpha not in alphas:
        raise ValueError(
            f"With weights='imagenet', alpha must be one of {list(alphas)} (the widths "
            f"with published ImageNet weights); got alpha={alpha!r}. Use weights=None."
        )
    if version == 1:
        depth_multiplier = check_int("depth_multiplier", depth_multiplier, minimum=1)
        if weights == "imagenet" and depth_multiplier != 1:
            raise ValueError(
                "depth_multiplier must be 1 with weights='imagenet' (the published files); "
                f"got depth_multiplier={depth_multiplier!r}. Use weights=None."
            )
        dropout = check_float("dropout", dropout, minimum=0, maximum=1, exclusive_maximum=True)
    data_format = _image.resolve_data_format(args.pop("data_format"))
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        data_format=data_format,
        default_size=_default_size(args["input_shape"], sizes, data_format),
        min_size=32,
        imagenet=lambda input_shape: _imagenet_entry(version, alpha, input_shape),
        torchvision=TORCHVISION_WEIGHTS["mobilenet_v2"] if torch_layout else None,
    ) as build:
        if name is None:  # keras.applications' name: the width and the weights' input size
            rows = build.input_shape[0]
            if weights == "imagenet":
                rows = _imagenet_rows(build.input_shape, sizes)
            stem = "mobilenet" if version == 1 else "mobilenetv2"
            build.name = f"{stem}_{alpha:0.2f}_{rows}"
        if version == 1:
            x = _v1_trunk(build.x, alpha, depth_multiplier)
            return build.finish(
                x,
                top=_v1_top(dropout),
                feature_layers=FEATURE_LAYERS,
                name_map=mobilenet_name_map(),
            )
        x = _v2_trunk(build.x, alpha, torch_layout)
        # torchvision's classifier drops 20 % of the pooled features while training.
        top = _image.average_top(
            pool_name="global_average_pooling2d", dropout=0.2 if torch_layout else None
        )
        return build.finish(
            x,
            top=top,
            feature_layers=FEATURE_LAYERS_V2,
            torchvision_names=torchvision_names_v2(build.include_top),
        )


# Arguments are keras.applications' (`input_shape`, `alpha`, ..., `include_top`,
# `weights`: None, "imagenet" or a path; `input_tensor`, `pooling`, `classes`,
# `classifier_activation`, `name`), in its order, plus `features_only` (return the
# {"P1".."P5"} feature pyramid at strides 2..32 instead of the top) and `data_format`
# (default: `keras.config.image_data_format()`).


@register_model(
    "mobilenet",
    family="mobilenet",
    paper="Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto & Adam, MobileNets: "
    "Efficient Convolutional Neural Networks for Mobile Vision Applications, arXiv",
    year=2017,
    default_input_shape=(224, 224, 3),
    min_input_size=32,
    task="image_classification",
    reference_params=4_253_864,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10, "alpha": 0.25},
    feature_layers=FEATURE_LAYERS,
    weights=WEIGHTS["mobilenet_1.0_224"],
    preprocessing="tf",
    model_names=("mobilenet_?.??_*",),  # keras.applications' names: alpha and input size
)
def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    features_only=False,
    data_format=None,
):
    """MobileNet: factorize each convolution into a per-channel 3x3 and a 1x1 pointwise one.

    Howard et al. (2017): depthwise separable convolutions cost about 1/9 of a full
    3x3 convolution; `alpha` thins every layer and `depth_multiplier` multiplies the
    depthwise channels.

    Args:
        input_shape: `(height, width, channels)` (channels first under "channels_first"),
            at least 32x32; default 224x224x3 (a square size in 128, 160, 192, 224 picks
            the matching ImageNet file).
        alpha: width multiplier > 0; with ImageNet weights one of 0.25, 0.5, 0.75, 1.0.
        depth_multiplier: integer >= 1, depthwise channel multiplier (1 with ImageNet).
        dropout: dropout rate before the classifier, in [0, 1).
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`).
        name: model name; default `mobilenet_{alpha:.2f}_{rows}` as in keras.applications.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _mobilenet(1, **locals())


@register_model(
    "mobilenet_v2",
    family="mobilenet",
    paper="Sandler, Howard, Zhu, Zhmoginov & Chen, MobileNetV2: Inverted Residuals and "
    "Linear Bottlenecks, CVPR",
    year=2018,
    default_input_shape=(224, 224, 3),
    min_input_size=32,
    task="image_classification",
    reference_params=3_538_984,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10, "alpha": 0.35},
    feature_layers=FEATURE_LAYERS_V2,
    weights=WEIGHTS["mobilenet_v2_1.0_224"],
    preprocessing="tf",
    model_names=("mobilenetv2_?.??_*",),
)
def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    features_only=False,
    data_format=None,
    layout=None,
):
    """MobileNetV2: inverted residuals, shortcuts between thin linear bottlenecks expanded inside.

    Sandler et al. (2018): each block expands its narrow input 6x with a 1x1
    convolution, filters it depthwise, and projects it back without a non-linearity
    (ReLU would destroy information in the low-dimensional bottleneck).

    Args:
        input_shape: `(height, width, channels)` (channels first under "channels_first"),
            at least 32x32; default 224x224x3 (a square size in 96, 128, 160, 192, 224
            picks the matching ImageNet file).
        alpha: width multiplier > 0; with ImageNet weights one of 0.35, 0.5, 0.75, 1.0,
            1.3, 1.4.
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`); `weights`
            may also be "torchvision" (torchvision's ImageNet file from torch's hub cache,
            converted; alpha 1.0).
        name: model name; default `mobilenetv2_{alpha:.2f}_{rows}` as in keras.applications.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.
        layout: None or "keras" (keras.applications' layout) or "torchvision":
            torchvision's `mobilenet_v2` (stride-2 convolutions padded one pixel on every
            side, BatchNormalization epsilon 1e-5, dropout 0.2 before the classifier),
            with the same parameter counts (at alpha 1: 3,504,872 trainable, 3,538,984 in
            all). None means "torchvision" with `weights="torchvision"`.

    Returns:
        A `keras.Model`.
    """
    return _mobilenet(2, **locals())

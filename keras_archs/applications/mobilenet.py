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
its ImageNet files load into both.
"""

import warnings

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DepthwiseSeparableConv2D
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import register_imagenet_weights

_V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
_V1_SIZES = (128, 160, 192, 224)
_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_V2_SIZES = (96, 128, 160, 192, 224)
_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
_V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}

# keras.applications publishes these files without hashes (it passes no file_hash).
for _alpha in _V1_ALPHAS:
    for _rows in _V1_SIZES:
        _stem = f"{_URL}mobilenet/mobilenet_{_V1_ALPHA_TEXT[_alpha]}_{_rows}_tf"
        register_imagenet_weights(
            f"mobilenet_{_alpha}_{_rows}", f"{_stem}.h5", None, f"{_stem}_no_top.h5", None
        )
for _alpha in _V2_ALPHAS:
    for _rows in _V2_SIZES:
        _stem = f"{_URL}mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
        register_imagenet_weights(
            f"mobilenet_v2_{_alpha}_{_rows}",
            f"{_stem}{float(_alpha)}_{_rows}.h5",
            None,
            f"{_stem}{float(_alpha)}_{_rows}_no_top.h5",
            None,
        )

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


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_alpha(alpha, weights, allowed):
    if not _is_number(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be a number > 0 (the width multiplier); got alpha={alpha!r}.")
    if weights == "imagenet" and float(alpha) not in allowed:
        raise ValueError(
            f"With weights='imagenet', alpha must be one of {list(allowed)} (the widths "
            f"with published ImageNet weights); got alpha={alpha!r}. Use weights=None."
        )


def _check_dropout(dropout):
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1); got dropout={dropout!r}.")


def _weights_rows(input_shape, sizes, model_name):
    """The input size of the ImageNet file to load: keras.applications falls back to 224,
    with a warning, when the input is not square or its size has no file."""
    rows, cols = input_shape[:2]
    if rows == cols and rows in sizes:
        return rows
    warnings.warn(
        f"{model_name}: `input_shape` is undefined or non-square, or its size is not in "
        f"{list(sizes)}; the weights for input shape (224, 224) will be loaded.",
        stacklevel=3,
    )
    return 224


def _default_size(input_shape, sizes):
    if isinstance(input_shape, (tuple, list)) and len(input_shape) == 3:
        rows, cols = input_shape[:2]
        if rows == cols and rows in sizes:
            return rows
    return 224


def mobilenet_name_map():
    """keras.applications layer names -> leaf paths of the `DepthwiseSeparableConv2D` blocks."""
    mapping = {}
    for i in range(1, len(_V1_BLOCKS) + 1):
        mapping[f"conv_dw_{i}"] = f"conv_pw_{i}/depthwise"
        mapping[f"conv_dw_{i}_bn"] = f"conv_pw_{i}/depthwise_bn"
        mapping[f"conv_pw_{i}"] = f"conv_pw_{i}/pointwise"
        mapping[f"conv_pw_{i}_bn"] = f"conv_pw_{i}/pointwise_bn"
    return mapping


def _common_checks(weights, include_top, input_tensor, input_shape, pooling, classes, act, sizes):
    input_shape = _image.check_image_args(
        weights=weights,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=act,
        default_size=_default_size(input_shape, sizes),
        min_size=32,
        imagenet_available=True,
    )
    return input_shape


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
):
    """MobileNet: factorize each convolution into a per-channel 3x3 and a 1x1 pointwise one.

    Howard et al. (2017): depthwise separable convolutions cost about 1/9 of a full
    3x3 convolution; `alpha` thins every layer and `depth_multiplier` multiplies the
    depthwise channels.

    Args:
        input_shape: `(height, width, channels)`, at least 32x32; default `(224, 224, 3)`
            (a square size in 128, 160, 192, 224 picks the matching ImageNet file).
        alpha: width multiplier > 0; with ImageNet weights one of 0.25, 0.5, 0.75, 1.0.
        depth_multiplier: integer >= 1, depthwise channel multiplier (1 with ImageNet).
        dropout: dropout rate before the classifier, in [0, 1).
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`).
        name: model name; default `mobilenet_{alpha:.2f}_{rows}` as in keras.applications.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.

    Returns:
        A `keras.Model`.
    """
    include_top, pooling = _image.features_only_args(features_only, include_top, pooling)
    _check_alpha(alpha, weights, _V1_ALPHAS)
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int):
        raise ValueError(
            f"depth_multiplier must be an integer >= 1; got depth_multiplier={depth_multiplier!r}."
        )
    if depth_multiplier < 1 or (weights == "imagenet" and depth_multiplier != 1):
        accepted = "1 with weights='imagenet'" if weights == "imagenet" else "an integer >= 1"
        raise ValueError(
            f"depth_multiplier must be {accepted}; got depth_multiplier={depth_multiplier!r}."
        )
    _check_dropout(dropout)
    input_shape = _common_checks(
        weights, include_top, input_tensor, input_shape, pooling, classes,
        classifier_activation, _V1_SIZES,
    )  # fmt: skip
    rows = input_shape[0]
    if weights == "imagenet":
        rows = _weights_rows(input_shape, _V1_SIZES, "MobileNet")
    weights = _image.resolve_weights(weights, f"mobilenet_{float(alpha)}_{rows}", include_top)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"

    img_input = _image.image_input(input_shape, input_tensor)
    x = keras.layers.Conv2D(
        int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1"
    )(img_input)
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
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling2d")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = keras.layers.Reshape((classes,), name="reshape_2")(x)
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    elif not features_only:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    model = _image.load_weights(model, weights, name_map=mobilenet_name_map())
    return _image.feature_model(model, FEATURE_LAYERS, name) if features_only else model


def _make_divisible(v, divisor=8, min_value=None):
    # The TF-slim rounding keras.applications uses: nearest multiple, never below 90 %.
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _bn(name):
    return keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)


def _inverted_residual(x, expansion, filters, stride, alpha, block_id):
    """Sandler et al. (2018), figure 3b: expand 1x1 -> depthwise 3x3 -> linear project 1x1."""
    in_channels = x.shape[-1]
    out_channels = _make_divisible(int(filters * alpha), 8)
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    inputs = x
    if block_id:
        x = keras.layers.Conv2D(
            expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = keras.layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = keras.layers.ZeroPadding2D(_image.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = keras.layers.DepthwiseConv2D(
        3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = keras.layers.Conv2D(
        out_channels, 1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == out_channels and stride == 1:
        return keras.layers.Add(name=f"{prefix}add")([inputs, x])
    return x


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
):
    """MobileNetV2: inverted residuals, shortcuts between thin linear bottlenecks expanded inside.

    Sandler et al. (2018): each block expands its narrow input 6x with a 1x1
    convolution, filters it depthwise, and projects it back without a non-linearity
    (ReLU would destroy information in the low-dimensional bottleneck).

    Args:
        input_shape: `(height, width, channels)`, at least 32x32; default `(224, 224, 3)`
            (a square size in 96, 128, 160, 192, 224 picks the matching ImageNet file).
        alpha: width multiplier > 0; with ImageNet weights one of 0.35, 0.5, 0.75, 1.0,
            1.3, 1.4.
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`).
        name: model name; default `mobilenetv2_{alpha:.2f}_{rows}` as in keras.applications.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.

    Returns:
        A `keras.Model`.
    """
    include_top, pooling = _image.features_only_args(features_only, include_top, pooling)
    _check_alpha(alpha, weights, _V2_ALPHAS)
    input_shape = _common_checks(
        weights, include_top, input_tensor, input_shape, pooling, classes,
        classifier_activation, _V2_SIZES,
    )  # fmt: skip
    rows = input_shape[0]
    if weights == "imagenet":
        rows = _weights_rows(input_shape, _V2_SIZES, "MobileNetV2")
    weights = _image.resolve_weights(weights, f"mobilenet_v2_{float(alpha)}_{rows}", include_top)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"

    img_input = _image.image_input(input_shape, input_tensor)
    x = keras.layers.Conv2D(
        _make_divisible(32 * alpha, 8), 3, strides=2, padding="same", use_bias=False, name="Conv1"
    )(img_input)
    x = _bn("bn_Conv1")(x)
    x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (expansion, filters, stride) in enumerate(_V2_BLOCKS):
        x = _inverted_residual(x, expansion, filters, stride, alpha, block_id)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = keras.layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = keras.layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
        x = _image.classifier(x, classes, classifier_activation)
    elif not features_only:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    model = _image.load_weights(model, weights)
    return _image.feature_model(model, FEATURE_LAYERS_V2, name) if features_only else model

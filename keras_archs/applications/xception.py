"""Xception (Chollet, 2017), in keras.applications' layout.

Reference:
- [Xception: Deep Learning with Depthwise Separable Convolutions](
    https://arxiv.org/abs/1610.02357) (CVPR 2017)

Entry flow (two plain convolutions, three residual blocks of separable convolutions
with strided 1x1 shortcuts), middle flow (eight residual blocks of three 728-filter
separable convolutions), exit flow (one more strided block, then 1536 and 2048-filter
separable convolutions). Each "ReLU -> SeparableConv2D -> BatchNormalization" is one
`DepthwiseSeparableConv2D(order="xception")`. keras.applications' ImageNet files load
into it (22,910,480 parameters; its shortcut layers carry automatic names and are
matched in creation order, see `keras_archs.weights.keras_applications`).
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DepthwiseSeparableConv2D
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import keras_applications_file

# keras.applications' ImageNet files (same URLs, hashes and cache names).
WEIGHTS = {
    "xception": keras_applications_file(
        "xception",
        "xception",
        "0a58e3b7378bc2990ea3b43d5981f1f6",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
}

# Stride 2**i (the first convolution is "valid", so P1 is 2 pixels smaller than size/2).
FEATURE_LAYERS = {
    "P1": "block1_conv2_act",
    "P2": "block2_add",
    "P3": "block3_add",
    "P4": "block12_add",
    "P5": "block14_sepconv2_act",
}


def preprocess_input(x, data_format=None):
    """keras.applications' Xception preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def _sep(x, filters, name, activation="relu"):
    """[ReLU ->] SeparableConv2D 3x3 -> BatchNormalization, named like keras.applications."""
    return DepthwiseSeparableConv2D(filters, 3, activation=activation, order="xception", name=name)(
        x
    )


def name_map():
    """keras.applications layer names -> leaf paths of the separable blocks."""
    blocks = [(2, 2), (3, 2), (4, 2), *[(b, 3) for b in range(5, 13)], (13, 2), (14, 2)]
    mapping = {}
    for block, n in blocks:
        for i in range(1, n + 1):
            layer = f"block{block}_sepconv{i}"
            mapping[layer] = f"{layer}/separable"
            mapping[f"{layer}_bn"] = f"{layer}/bn"
    return mapping


def _strided_block(x, filters, block, first_activation="relu"):
    """Two separable convolutions, 3x3/2 max-pool, plus a strided 1x1 shortcut."""
    f1, f2 = filters
    residual = keras.layers.Conv2D(
        f2, 1, strides=2, padding="same", use_bias=False, name=f"block{block}_shortcut_conv"
    )(x)
    residual = keras.layers.BatchNormalization(name=f"block{block}_shortcut_bn")(residual)
    x = _sep(x, f1, f"block{block}_sepconv1", activation=first_activation)
    x = _sep(x, f2, f"block{block}_sepconv2")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
    return keras.layers.Add(name=f"block{block}_add")([x, residual])


def _entry_flow(x):
    """Two plain 3x3 convolutions (the first strided and "valid"), three strided blocks."""
    x = keras.layers.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(x)
    x = keras.layers.BatchNormalization(name="block1_conv1_bn")(x)
    x = keras.layers.Activation("relu", name="block1_conv1_act")(x)
    x = keras.layers.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = keras.layers.BatchNormalization(name="block1_conv2_bn")(x)
    x = keras.layers.Activation("relu", name="block1_conv2_act")(x)
    # block1_conv2_act already applied the ReLU the first separable convolution would.
    x = _strided_block(x, (128, 128), 2, first_activation=None)
    x = _strided_block(x, (256, 256), 3)
    return _strided_block(x, (728, 728), 4)


def _middle_flow(x):
    """Eight residual blocks of three 728-filter separable convolutions."""
    for block in range(5, 13):
        residual = x
        for i in (1, 2, 3):
            x = _sep(x, 728, f"block{block}_sepconv{i}")
        x = keras.layers.Add(name=f"block{block}_add")([x, residual])
    return x


def _exit_flow(x):
    """One more strided block, then 1536 and 2048-filter separable convolutions."""
    x = _strided_block(x, (728, 1024), 13)
    x = _sep(x, 1536, "block14_sepconv1", activation=None)
    x = keras.layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sep(x, 2048, "block14_sepconv2", activation=None)
    return keras.layers.Activation("relu", name="block14_sepconv2_act")(x)


def _xception(*, weights, name, **args):
    """The one builder: entry, middle and exit flows, then `_image` finishes the model."""
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=299,
        min_size=71,
        imagenet=WEIGHTS["xception"],
    ) as build:
        x = _exit_flow(_middle_flow(_entry_flow(build.x)))
        return build.finish(x, feature_layers=FEATURE_LAYERS, name_map=_NAME_MAP)


_NAME_MAP = name_map()


@register_model(
    "xception",
    family="xception",
    paper="Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR",
    year=2017,
    default_input_shape=(299, 299, 3),
    min_input_size=71,
    task="image_classification",
    reference_params=22_910_480,
    test_kwargs={"input_shape": (71, 71, 3), "classes": 10},
    feature_layers=FEATURE_LAYERS,
    weights=WEIGHTS["xception"],
    preprocessing="tf",
)
def Xception(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
    features_only=False,
    data_format=None,
):
    """Xception: extreme Inception, fully decoupling cross-channel and spatial correlations.

    Chollet (2017): every Inception module is replaced by depthwise separable
    convolutions (a per-channel spatial filter, then a 1x1 across channels), stacked
    in 36 layers with residual connections.

    Args:
        include_top: whether to include the global-average-pooled classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path.
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` under
            channels_first), at least 71x71; default `(299, 299, 3)`.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.
        data_format: "channels_last" or "channels_first" for the input and the feature
            maps; default `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _xception(**locals())

"""InceptionV3 (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, 2015), keras.applications' layout.

Reference:
- [Rethinking the Inception Architecture for Computer Vision](
    https://arxiv.org/abs/1512.00567) (CVPR 2016)

A stem of plain convolutions, three 35x35 modules (5x5 as its own branch, 3x3 doubled),
a grid reduction, four 17x17 modules whose 7x7 convolutions are factorized into 1x7 and
7x1 (`FactorizedConv2D`), a second grid reduction and two 8x8 modules with expanded
1x3 / 3x1 filter banks. Every convolution is bias-free and followed by
BatchNormalization without scale and ReLU, as in keras.applications, whose ImageNet
files load into it (23,851,784 parameters; keras.applications names its layers
automatically, so the weights are matched in creation order, see
`keras_archs.weights.keras_applications`).
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import FactorizedConv2D
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import keras_applications_file

# keras.applications' ImageNet files (same URLs, hashes and cache names).
WEIGHTS = {
    "inception_v3": keras_applications_file(
        "inception_v3",
        "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}

FEATURE_LAYERS = {
    "P1": "stem_conv3_relu",
    "P2": "stem_conv5_relu",
    "P3": "mixed2",
    "P4": "mixed7",
    "P5": "mixed10",
}


def preprocess_input(x, data_format=None):
    """keras.applications' Inception preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def _conv_bn(x, filters, kernel_size, name, strides=1, padding="same"):
    """keras.applications' conv2d_bn: bias-free conv -> BatchNormalization(scale=False) -> ReLU."""
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(scale=False, epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _factorized(x, filters, n, intermediate, order, name):
    return FactorizedConv2D(
        filters,
        n,
        intermediate_filters=intermediate,
        order=order,
        bn_scale=False,
        bn_epsilon=1e-3,
        name=name,
    )(x)


def _avg_pool_branch(x, filters, name):
    b = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return _conv_bn(b, filters, 1, f"{name}_proj")


def _module_35(x, pool_filters, name):
    """Figure 5: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg-pool -> 1x1."""
    b1 = _conv_bn(x, 64, 1, f"{name}_branch1x1")
    b5 = _conv_bn(x, 48, 1, f"{name}_branch5x5_1")
    b5 = _conv_bn(b5, 64, 5, f"{name}_branch5x5_2")
    b3 = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1")
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_2")
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_3")
    bp = _avg_pool_branch(x, pool_filters, f"{name}_branch_pool")
    return keras.layers.Concatenate(name=name)([b1, b5, b3, bp])


def _reduction_35_to_17(x, name):
    b3 = _conv_bn(x, 384, 3, f"{name}_branch3x3", strides=2, padding="valid")
    bd = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1")
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_2")
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_3", strides=2, padding="valid")
    bp = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    return keras.layers.Concatenate(name=name)([b3, bd, bp])


def _module_17(x, c, name):
    """Figure 6: 7x7 convolutions factorized into 1x7 and 7x1."""
    b1 = _conv_bn(x, 192, 1, f"{name}_branch1x1")
    b7 = _conv_bn(x, c, 1, f"{name}_branch7x7_1")
    b7 = _factorized(b7, 192, 7, c, "1xn_first", f"{name}_branch7x7_2")
    bd = _conv_bn(x, c, 1, f"{name}_branch7x7dbl_1")
    bd = _factorized(bd, c, 7, c, "nx1_first", f"{name}_branch7x7dbl_2")
    bd = _factorized(bd, 192, 7, c, "nx1_first", f"{name}_branch7x7dbl_3")
    bp = _avg_pool_branch(x, 192, f"{name}_branch_pool")
    return keras.layers.Concatenate(name=name)([b1, b7, bd, bp])


def _reduction_17_to_8(x, name):
    b3 = _conv_bn(x, 192, 1, f"{name}_branch3x3_1")
    b3 = _conv_bn(b3, 320, 3, f"{name}_branch3x3_2", strides=2, padding="valid")
    b7 = _conv_bn(x, 192, 1, f"{name}_branch7x7x3_1")
    b7 = _factorized(b7, 192, 7, 192, "1xn_first", f"{name}_branch7x7x3_2")
    b7 = _conv_bn(b7, 192, 3, f"{name}_branch7x7x3_3", strides=2, padding="valid")
    bp = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    return keras.layers.Concatenate(name=name)([b3, b7, bp])


def _module_8(x, name):
    """Figure 7: expanded filter banks, 1x3 and 3x1 side by side."""
    b1 = _conv_bn(x, 320, 1, f"{name}_branch1x1")
    b3 = _conv_bn(x, 384, 1, f"{name}_branch3x3")
    b3 = keras.layers.Concatenate(name=f"{name}_branch3x3_cat")(
        [
            _conv_bn(b3, 384, (1, 3), f"{name}_branch3x3_1x3"),
            _conv_bn(b3, 384, (3, 1), f"{name}_branch3x3_3x1"),
        ]
    )
    bd = _conv_bn(x, 448, 1, f"{name}_branch3x3dbl_1")
    bd = _conv_bn(bd, 384, 3, f"{name}_branch3x3dbl_2")
    bd = keras.layers.Concatenate(name=f"{name}_branch3x3dbl_cat")(
        [
            _conv_bn(bd, 384, (1, 3), f"{name}_branch3x3dbl_1x3"),
            _conv_bn(bd, 384, (3, 1), f"{name}_branch3x3dbl_3x1"),
        ]
    )
    bp = _avg_pool_branch(x, 192, f"{name}_branch_pool")
    return keras.layers.Concatenate(name=name)([b1, b3, bd, bp])


def _inception_v3(*, weights, name, **args):
    """The one builder: the stem, 35x35, 17x17 and 8x8 modules with two grid reductions."""
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=299,
        min_size=75,
        imagenet=WEIGHTS["inception_v3"],
    ) as build:
        x = _conv_bn(build.x, 32, 3, "stem_conv1", strides=2, padding="valid")
        x = _conv_bn(x, 32, 3, "stem_conv2", padding="valid")
        x = _conv_bn(x, 64, 3, "stem_conv3")
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
        x = _conv_bn(x, 80, 1, "stem_conv4", padding="valid")
        x = _conv_bn(x, 192, 3, "stem_conv5", padding="valid")
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)
        for i, pool_filters in enumerate((32, 64, 64)):
            x = _module_35(x, pool_filters, f"mixed{i}")
        x = _reduction_35_to_17(x, "mixed3")
        for i, c in enumerate((128, 160, 160, 192), start=4):
            x = _module_17(x, c, f"mixed{i}")
        x = _reduction_17_to_8(x, "mixed8")
        x = _module_8(x, "mixed9")
        x = _module_8(x, "mixed10")
        return build.finish(x, feature_layers=FEATURE_LAYERS)


@register_model(
    "inception_v3",
    family="inception",
    paper="Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, Rethinking the Inception "
    "Architecture for Computer Vision, CVPR",
    year=2015,
    default_input_shape=(299, 299, 3),
    min_input_size=75,
    task="image_classification",
    reference_params=23_851_784,
    test_kwargs={"input_shape": (75, 75, 3), "classes": 10},
    feature_layers=FEATURE_LAYERS,
    weights=WEIGHTS["inception_v3"],
    preprocessing="tf",
)
def InceptionV3(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
    features_only=False,
    data_format=None,
):
    """InceptionV3: large convolutions factorized into small and asymmetric ones (7x7 -> 1x7, 7x1).

    Szegedy et al. (2015): Inception modules whose 5x5 and 7x7 convolutions are replaced
    by stacks of 3x3 and 1xn/nx1 convolutions, grid reductions that pool and convolve in
    parallel, and BatchNormalization throughout.

    Args:
        include_top: whether to include global average pooling and the classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path.
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` for
            channels_first), at least 75x75; default 299x299x3 with the top or ImageNet
            weights, any size otherwise.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return a model whose outputs are the dict {"P1".."P5"} of
            feature maps at strides of about 2..32 (the top and `pooling` are ignored).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _inception_v3(**locals())

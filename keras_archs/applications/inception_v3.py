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

`layout="torchvision"` is torchvision's `inception_v3`, which holds its weights
(`weights="torchvision"`): BatchNormalization with a scale, the average-pooling branches
dividing by 9 at the borders too (PyTorch counts the zero padding), dropout 0.5 before
the classifier; `aux_logits=True` adds the auxiliary classifier on the 17x17 grid
(section 4 of the paper) in the layout's BatchNormalization, and `transform_input`
torchvision's input rescaling.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import FactorizedConv2D
from keras_archs.registry import register_model
from keras_archs.validation import check_bool
from keras_archs.weights.imagenet import keras_applications_file
from keras_archs.weights.torchvision import torchvision_file

# keras.applications' ImageNet files (same URLs, hashes and cache names).
WEIGHTS = {
    "inception_v3": keras_applications_file(
        "inception_v3",
        "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}

# torchvision's ImageNet file (its default `Weights`), for layout="torchvision".
TORCHVISION_WEIGHTS = {"inception_v3": torchvision_file("inception_v3_google-0cc3c7bd.pth")}

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


def torchvision_names(include_top=True, aux_logits=False):
    """torchvision module -> leaf path of the torchvision layout: `Conv2d_1a_3x3.conv` ->
    `stem_conv1_conv`, `Mixed_6b.branch7x7_3.bn` -> `mixed4_branch7x7_2/bn_b`, ..."""
    names = {}

    def unit(theirs, ours):
        names.update({f"{theirs}.conv": f"{ours}_conv", f"{theirs}.bn": f"{ours}_bn"})

    def factorized(first, second, ours):  # two torchvision convolutions, one FactorizedConv2D
        for theirs, part in ((first, "a"), (second, "b")):
            names.update(
                {f"{theirs}.conv": f"{ours}/conv_{part}", f"{theirs}.bn": f"{ours}/bn_{part}"}
            )

    stem = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
    for i, theirs in enumerate(stem, start=1):
        unit(theirs, f"stem_conv{i}")
    for theirs, ours in (("Mixed_5b", "mixed0"), ("Mixed_5c", "mixed1"), ("Mixed_5d", "mixed2")):
        for b in ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2"):
            unit(f"{theirs}.{b}", f"{ours}_{b}")
        unit(f"{theirs}.branch3x3dbl_3", f"{ours}_branch3x3dbl_3")
        unit(f"{theirs}.branch_pool", f"{ours}_branch_pool_proj")
    for b in ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"):
        unit(f"Mixed_6a.{b}", f"mixed3_{b}")
    for theirs, i in (("Mixed_6b", 4), ("Mixed_6c", 5), ("Mixed_6d", 6), ("Mixed_6e", 7)):
        ours = f"mixed{i}"
        unit(f"{theirs}.branch1x1", f"{ours}_branch1x1")
        unit(f"{theirs}.branch7x7_1", f"{ours}_branch7x7_1")
        factorized(f"{theirs}.branch7x7_2", f"{theirs}.branch7x7_3", f"{ours}_branch7x7_2")
        unit(f"{theirs}.branch7x7dbl_1", f"{ours}_branch7x7dbl_1")
        factorized(f"{theirs}.branch7x7dbl_2", f"{theirs}.branch7x7dbl_3", f"{ours}_branch7x7dbl_2")
        factorized(f"{theirs}.branch7x7dbl_4", f"{theirs}.branch7x7dbl_5", f"{ours}_branch7x7dbl_3")
        unit(f"{theirs}.branch_pool", f"{ours}_branch_pool_proj")
    unit("Mixed_7a.branch3x3_1", "mixed8_branch3x3_1")
    unit("Mixed_7a.branch3x3_2", "mixed8_branch3x3_2")
    unit("Mixed_7a.branch7x7x3_1", "mixed8_branch7x7x3_1")
    factorized("Mixed_7a.branch7x7x3_2", "Mixed_7a.branch7x7x3_3", "mixed8_branch7x7x3_2")
    unit("Mixed_7a.branch7x7x3_4", "mixed8_branch7x7x3_3")
    for theirs, ours in (("Mixed_7b", "mixed9"), ("Mixed_7c", "mixed10")):
        for t, o in (
            ("branch1x1", "branch1x1"),
            ("branch3x3_1", "branch3x3"),
            ("branch3x3_2a", "branch3x3_1x3"),
            ("branch3x3_2b", "branch3x3_3x1"),
            ("branch3x3dbl_1", "branch3x3dbl_1"),
            ("branch3x3dbl_2", "branch3x3dbl_2"),
            ("branch3x3dbl_3a", "branch3x3dbl_1x3"),
            ("branch3x3dbl_3b", "branch3x3dbl_3x1"),
            ("branch_pool", "branch_pool_proj"),
        ):
            unit(f"{theirs}.{t}", f"{ours}_{o}")
    unit("AuxLogits.conv0", "aux_conv0")
    unit("AuxLogits.conv1", "aux_conv1")
    names["AuxLogits.fc"] = "aux_predictions"
    if not aux_logits:
        names.update({k: None for k in names if k.startswith("AuxLogits.")})
    names["fc"] = "predictions" if include_top else None
    return names


def _conv_bn(x, filters, kernel_size, name, strides=1, padding="same", scale=False):
    """keras.applications' conv2d_bn: bias-free conv -> BatchNormalization(scale=False) -> ReLU
    (torchvision's BasicConv2d with `scale=True`)."""
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(scale=scale, epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _factorized(x, filters, n, intermediate, order, name, scale):
    return FactorizedConv2D(
        filters,
        n,
        intermediate_filters=intermediate,
        order=order,
        bn_scale=scale,
        bn_epsilon=1e-3,
        name=name,
    )(x)


def _avg_pool_branch(x, filters, name, torch_layout):
    if torch_layout:
        # PyTorch's avg_pool2d(3, 1, padding=1) counts the zero padding (divides by 9).
        b = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        b = keras.layers.AveragePooling2D(3, strides=1, name=f"{name}_pool")(b)
    else:
        b = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return _conv_bn(b, filters, 1, f"{name}_proj", scale=torch_layout)


def _module_35(x, pool_filters, name, tv):
    """Figure 5: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg-pool -> 1x1."""
    b1 = _conv_bn(x, 64, 1, f"{name}_branch1x1", scale=tv)
    b5 = _conv_bn(x, 48, 1, f"{name}_branch5x5_1", scale=tv)
    b5 = _conv_bn(b5, 64, 5, f"{name}_branch5x5_2", scale=tv)
    b3 = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1", scale=tv)
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_2", scale=tv)
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_3", scale=tv)
    bp = _avg_pool_branch(x, pool_filters, f"{name}_branch_pool", tv)
    return keras.layers.Concatenate(name=name)([b1, b5, b3, bp])


def _reduction_35_to_17(x, name, tv):
    b3 = _conv_bn(x, 384, 3, f"{name}_branch3x3", strides=2, padding="valid", scale=tv)
    bd = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1", scale=tv)
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_2", scale=tv)
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_3", strides=2, padding="valid", scale=tv)
    bp = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    return keras.layers.Concatenate(name=name)([b3, bd, bp])


def _module_17(x, c, name, tv):
    """Figure 6: 7x7 convolutions factorized into 1x7 and 7x1."""
    b1 = _conv_bn(x, 192, 1, f"{name}_branch1x1", scale=tv)
    b7 = _conv_bn(x, c, 1, f"{name}_branch7x7_1", scale=tv)
    b7 = _factorized(b7, 192, 7, c, "1xn_first", f"{name}_branch7x7_2", tv)
    bd = _conv_bn(x, c, 1, f"{name}_branch7x7dbl_1", scale=tv)
    bd = _factorized(bd, c, 7, c, "nx1_first", f"{name}_branch7x7dbl_2", tv)
    bd = _factorized(bd, 192, 7, c, "nx1_first", f"{name}_branch7x7dbl_3", tv)
    bp = _avg_pool_branch(x, 192, f"{name}_branch_pool", tv)
    return keras.layers.Concatenate(name=name)([b1, b7, bd, bp])


def _reduction_17_to_8(x, name, tv):
    b3 = _conv_bn(x, 192, 1, f"{name}_branch3x3_1", scale=tv)
    b3 = _conv_bn(b3, 320, 3, f"{name}_branch3x3_2", strides=2, padding="valid", scale=tv)
    b7 = _conv_bn(x, 192, 1, f"{name}_branch7x7x3_1", scale=tv)
    b7 = _factorized(b7, 192, 7, 192, "1xn_first", f"{name}_branch7x7x3_2", tv)
    b7 = _conv_bn(b7, 192, 3, f"{name}_branch7x7x3_3", strides=2, padding="valid", scale=tv)
    bp = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    return keras.layers.Concatenate(name=name)([b3, b7, bp])


def _module_8(x, name, tv):
    """Figure 7: expanded filter banks, 1x3 and 3x1 side by side."""
    b1 = _conv_bn(x, 320, 1, f"{name}_branch1x1", scale=tv)
    b3 = _conv_bn(x, 384, 1, f"{name}_branch3x3", scale=tv)
    b3 = keras.layers.Concatenate(name=f"{name}_branch3x3_cat")(
        [
            _conv_bn(b3, 384, (1, 3), f"{name}_branch3x3_1x3", scale=tv),
            _conv_bn(b3, 384, (3, 1), f"{name}_branch3x3_3x1", scale=tv),
        ]
    )
    bd = _conv_bn(x, 448, 1, f"{name}_branch3x3dbl_1", scale=tv)
    bd = _conv_bn(bd, 384, 3, f"{name}_branch3x3dbl_2", scale=tv)
    bd = keras.layers.Concatenate(name=f"{name}_branch3x3dbl_cat")(
        [
            _conv_bn(bd, 384, (1, 3), f"{name}_branch3x3dbl_1x3", scale=tv),
            _conv_bn(bd, 384, (3, 1), f"{name}_branch3x3dbl_3x1", scale=tv),
        ]
    )
    bp = _avg_pool_branch(x, 192, f"{name}_branch_pool", tv)
    return keras.layers.Concatenate(name=name)([b1, b3, bd, bp])


def _aux_head(x, build, tv):
    """Section 4's auxiliary classifier on the 17x17 grid (torchvision's InceptionAux):
    5x5/3 average pool, 1x1 convolution (128), 5x5 convolution (768), global pooling,
    classifier."""
    x = keras.layers.AveragePooling2D(5, strides=3, name="aux_pool")(x)
    x = _conv_bn(x, 128, 1, "aux_conv0", scale=tv)
    x = _conv_bn(x, 768, 5, "aux_conv1", padding="valid", scale=tv)
    x = keras.layers.GlobalAveragePooling2D(name="aux_avg_pool")(x)
    return _image.classifier(x, build.classes, build.classifier_activation, name="aux_predictions")


# The smallest input whose 17x17 grid (mixed7) still fits the auxiliary head's 5x5/3
# pooling and 5x5 convolution.
_AUX_MIN_SIZE = 299


def _inception_v3(*, weights, name, layout, aux_logits, transform_input, **args):
    """The one builder: the stem, 35x35, 17x17 and 8x8 modules with two grid reductions."""
    tv = _image.resolve_layout(layout, weights) == "torchvision"
    transform_input = _image.resolve_transform_input(transform_input, weights)
    check_bool("aux_logits", aux_logits)
    include_top = check_bool("include_top", args["include_top"])
    features_only = check_bool("features_only", args["features_only"])
    if aux_logits and (not include_top or features_only):
        raise ValueError(
            "aux_logits=True adds the auxiliary classifier and needs include_top=True and "
            f"features_only=False; got include_top={include_top}, features_only={features_only}."
        )
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=299,
        min_size=75,
        imagenet=WEIGHTS["inception_v3"],
        torchvision=TORCHVISION_WEIGHTS["inception_v3"] if tv else None,
    ) as build:
        if aux_logits and min(build.input_shape[:2]) < _AUX_MIN_SIZE:
            raise ValueError(
                f"aux_logits=True needs inputs of at least {_AUX_MIN_SIZE}x{_AUX_MIN_SIZE} (the "
                "auxiliary head pools the 17x17 grid 5x5 and convolves 5x5); got "
                f"input_shape={args['input_shape']!r}."
            )
        x = build.x
        if transform_input:
            x = _image.transform_input(x)
        x = _conv_bn(x, 32, 3, "stem_conv1", strides=2, padding="valid", scale=tv)
        x = _conv_bn(x, 32, 3, "stem_conv2", padding="valid", scale=tv)
        x = _conv_bn(x, 64, 3, "stem_conv3", scale=tv)
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
        x = _conv_bn(x, 80, 1, "stem_conv4", padding="valid", scale=tv)
        x = _conv_bn(x, 192, 3, "stem_conv5", padding="valid", scale=tv)
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)
        for i, pool_filters in enumerate((32, 64, 64)):
            x = _module_35(x, pool_filters, f"mixed{i}", tv)
        x = _reduction_35_to_17(x, "mixed3", tv)
        for i, c in enumerate((128, 160, 160, 192), start=4):
            x = _module_17(x, c, f"mixed{i}", tv)
        aux = [_aux_head(x, build, tv)] if aux_logits else []
        x = _reduction_17_to_8(x, "mixed8", tv)
        x = _module_8(x, "mixed9", tv)
        x = _module_8(x, "mixed10", tv)
        # torchvision's classifier drops half the pooled features while training.
        top = _image.average_top(dropout=0.5 if tv else None)
        return build.finish(
            x,
            top=top,
            extra_outputs=aux,
            feature_layers=FEATURE_LAYERS,
            torchvision_names=torchvision_names(build.include_top, aux_logits),
        )


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
    layout=None,
    aux_logits=False,
    transform_input=None,
):
    """InceptionV3: large convolutions factorized into small and asymmetric ones (7x7 -> 1x7, 7x1).

    Szegedy et al. (2015): Inception modules whose 5x5 and 7x7 convolutions are replaced
    by stacks of 3x3 and 1xn/nx1 convolutions, grid reductions that pool and convolve in
    parallel, and BatchNormalization throughout.

    Args:
        include_top: whether to include global average pooling and the classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once), a path,
            or "torchvision" (torchvision's ImageNet file from torch's hub cache,
            converted into layout "torchvision").
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
        layout: None or "keras" (keras.applications' layout, 23,851,784 parameters) or
            "torchvision": torchvision's `inception_v3` (BatchNormalization with scale,
            average pools that count the zero padding, dropout 0.5 before the
            classifier), 23,834,568 trainable parameters (23,869,000 in all). None means
            "torchvision" with `weights="torchvision"`.
        aux_logits: with `include_top=True` and inputs of at least 299x299, add the
            auxiliary classifier on the 17x17 grid: the model then has two outputs
            `[main, aux]`, for training: 27,161,264 trainable parameters (27,197,488 in
            all) in layout "torchvision", 27,179,376 in keras.applications' layout.
        transform_input: torchvision's `transform_input`: rescale inputs normalized with
            the ImageNet mean and standard deviation to [-1, 1]-scaled ones, per channel,
            first (3 channels). None means True with `weights="torchvision"`, as
            torchvision sets it with its weights.

    Returns:
        A `keras.Model`.
    """
    return _inception_v3(**locals())

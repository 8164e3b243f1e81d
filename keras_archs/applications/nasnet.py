"""NASNet-A (Zoph, Vasudevan, Shlens & Le, 2018): NASNetMobile, NASNetLarge and `NASNet(...)`.

Reference:
- [Learning Transferable Architectures for Scalable Image Recognition](
    https://arxiv.org/abs/1707.07012) (CVPR 2018)

A strided 3x3 stem, two stem Reduction cells, then three stacks of `num_blocks`
Normal cells separated by Reduction cells (filters multiplied by `filter_multiplier`
at each), as keras.applications builds them. Each cell combines five pairs of
operations (separable convolutions, average/max pooling, identity) applied to the
two previous cells' outputs; every "ReLU -> SeparableConv2D -> BatchNormalization"
is one `DepthwiseSeparableConv2D(order="xception")`. keras.applications' ImageNet
files load into it (5,326,716 / 88,949,818 parameters).

Unlike keras.applications, whether a cell's previous-previous input must be reduced
is decided from the cell structure (it comes from before a Reduction cell), not by
comparing spatial sizes, so the model also builds and runs for `(None, None, C)`
inputs (keras.applications' does not). Only ImageNet weights need a fixed input size:
the padding before strided operations depends on whether each size is odd (see `_pad`).
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DepthwiseSeparableConv2D
from keras_archs.registry import register_model
from keras_archs.validation import check_bool, check_int
from keras_archs.weights.imagenet import KERAS_APPLICATIONS_URL


def _ka_file(stem, md5, md5_notop):
    url = f"{KERAS_APPLICATIONS_URL}nasnet/NASNet-{stem}"
    return {
        "origin": "keras.applications",
        "url": f"{url}.h5",
        "md5": md5,
        "url_notop": f"{url}-no-top.h5",
        "md5_notop": md5_notop,
        # keras.applications caches these files under names that differ from the URLs'.
        "file": f"nasnet_{stem}.h5",
        "file_notop": f"nasnet_{stem}_no_top.h5",
    }


WEIGHTS = {
    "nasnet_mobile": _ka_file(
        "mobile", "020fb642bf7360b370c678b08e0adf61", "1ed92395b5b598bdda52abe5c0dbfd63"
    ),
    "nasnet_large": _ka_file(
        "large", "11577c9a518f0070763c2b964a382f17", "d81d89dc07e6e56530c4e77faddd61b5"
    ),
}

# The two configurations with published weights, and their ImageNet input sizes.
_CONFIGS = {
    "nasnet_mobile": dict(
        penultimate_filters=1056,
        num_blocks=4,
        stem_block_filters=32,
        skip_reduction=False,
        filter_multiplier=2,
    ),
    "nasnet_large": dict(
        penultimate_filters=4032,
        num_blocks=6,
        stem_block_filters=96,
        skip_reduction=True,
        filter_multiplier=2,
    ),
}
_SIZES = {"nasnet_mobile": 224, "nasnet_large": 331}
_BN = dict(momentum=0.9997, epsilon=1e-3)


def feature_layers(num_blocks):
    """Stride 2**i: stem, first stem Reduction cell, the last Normal cell of each stack."""
    return {
        "P1": "stem_bn1",
        "P2": "reduction_concat_stem_1",
        "P3": f"normal_concat_{num_blocks - 1}",
        "P4": f"normal_concat_{2 * num_blocks}",
        "P5": "final_relu",
    }


def preprocess_input(x, data_format=None):
    """keras.applications' NASNet preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def _pad(x, kernel_size):
    """The padding before a stride-2 "valid" operation.

    Fixed sizes: keras.applications' `correct_pad` (TF "same" alignment, which depends on
    whether the size is odd). Unknown sizes: symmetric, `kernel_size // 2` per side, so
    every branch of a cell halves to ceil(size / 2) whatever the size (keras.applications
    pads as for even sizes there, and its NASNet then fails on odd ones); this equals
    `correct_pad` for odd sizes and is shifted by one pixel for even ones.
    """
    if x.shape[1] is None or x.shape[2] is None:
        return ((kernel_size // 2,) * 2,) * 2
    return _image.correct_pad(x, kernel_size)


class _Builder:
    """Builds the cells and records the file-name -> leaf-path map of the separable blocks."""

    def __init__(self):
        self.name_map = {}

    def sep_block(self, x, filters, kernel_size, strides, block_id):
        """keras.applications' `_separable_conv_block`: two ReLU-SepConv-BN, the first strided."""
        if strides == 2:
            # Padding before the ReLU equals padding after it: ReLU(0) = 0.
            pad = _pad(x, kernel_size)
            x = keras.layers.ZeroPadding2D(pad, name=f"separable_conv_1_pad_{block_id}")(x)
        for i in (1, 2):
            name = f"separable_conv_{i}_{block_id}"
            x = DepthwiseSeparableConv2D(
                filters,
                kernel_size,
                strides=strides if i == 1 else 1,
                padding="valid" if (i == 1 and strides == 2) else "same",
                order="xception",
                bn_momentum=_BN["momentum"],
                bn_epsilon=_BN["epsilon"],
                name=name,
            )(x)
            self.name_map[name] = f"{name}/separable"
            self.name_map[f"separable_conv_{i}_bn_{block_id}"] = f"{name}/bn"
        return x

    @staticmethod
    def _conv_bn(x, filters, conv_name, bn_name):
        x = keras.layers.Conv2D(
            filters, 1, padding="same", use_bias=False, kernel_initializer="he_normal",
            name=conv_name,
        )(x)  # fmt: skip
        return keras.layers.BatchNormalization(name=bn_name, **_BN)(x)

    def adjust(self, p, p_stride, ip, ip_stride, filters, block_id):
        """Brings the previous-previous cell's output `p` to `ip`'s size and `filters`."""
        if p is None:
            return ip
        if p_stride != ip_stride:  # factorized reduction: two offset 1x1/2 paths
            p = keras.layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
            p1 = keras.layers.AveragePooling2D(1, 2, name=f"adjust_avg_pool_1_{block_id}")(p)
            p1 = keras.layers.Conv2D(
                filters // 2, 1, padding="same", use_bias=False,
                kernel_initializer="he_normal", name=f"adjust_conv_1_{block_id}",
            )(p1)  # fmt: skip
            p2 = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"adjust_pad_{block_id}")(p)
            p2 = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"adjust_crop_{block_id}")(p2)
            p2 = keras.layers.AveragePooling2D(1, 2, name=f"adjust_avg_pool_2_{block_id}")(p2)
            p2 = keras.layers.Conv2D(
                filters // 2, 1, padding="same", use_bias=False,
                kernel_initializer="he_normal", name=f"adjust_conv_2_{block_id}",
            )(p2)  # fmt: skip
            p = keras.layers.Concatenate(name=f"adjust_concat_{block_id}")([p1, p2])
            return keras.layers.BatchNormalization(name=f"adjust_bn_{block_id}", **_BN)(p)
        if p.shape[-1] != filters:
            p = keras.layers.Activation("relu", name=f"adjust_relu_{block_id}")(p)
            return self._conv_bn(
                p, filters, f"adjust_conv_projection_{block_id}", f"adjust_bn_{block_id}"
            )
        return p

    def normal_cell(self, ip, p, filters, block_id):
        """Figure 4 (left), NASNet-A Normal cell: keeps the size; returns (output, ip)."""
        (ip, ip_stride), (p, p_stride) = ip, p
        p = self.adjust(p, p_stride, ip, ip_stride, filters, block_id)
        h = keras.layers.Activation("relu", name=f"normal_relu_1_{block_id}")(ip)
        h = self._conv_bn(h, filters, f"normal_conv_1_{block_id}", f"normal_bn_1_{block_id}")
        sep, add = self.sep_block, keras.layers.Add

        def avg(name):
            return keras.layers.AveragePooling2D(3, strides=1, padding="same", name=name)

        x1 = add(name=f"normal_add_1_{block_id}")(
            [sep(h, filters, 5, 1, f"normal_left1_{block_id}"),
             sep(p, filters, 3, 1, f"normal_right1_{block_id}")]
        )  # fmt: skip
        x2 = add(name=f"normal_add_2_{block_id}")(
            [sep(p, filters, 5, 1, f"normal_left2_{block_id}"),
             sep(p, filters, 3, 1, f"normal_right2_{block_id}")]
        )  # fmt: skip
        x3 = add(name=f"normal_add_3_{block_id}")([avg(f"normal_left3_{block_id}")(h), p])
        x4 = add(name=f"normal_add_4_{block_id}")(
            [avg(f"normal_left4_{block_id}")(p), avg(f"normal_right4_{block_id}")(p)]
        )
        x5 = add(name=f"normal_add_5_{block_id}")(
            [sep(h, filters, 3, 1, f"normal_left5_{block_id}"), h]
        )
        x = keras.layers.Concatenate(name=f"normal_concat_{block_id}")([p, x1, x2, x3, x4, x5])
        return (x, ip_stride), (ip, ip_stride)

    def reduction_cell(self, ip, p, filters, block_id):
        """Figure 4 (right), NASNet-A Reduction cell: halves the size; returns (output, ip)."""
        (ip, ip_stride), (p, p_stride) = ip, (p if p is not None else (None, None))
        p = self.adjust(p, p_stride, ip, ip_stride, filters, block_id)
        h = keras.layers.Activation("relu", name=f"reduction_relu_1_{block_id}")(ip)
        h = self._conv_bn(h, filters, f"reduction_conv_1_{block_id}", f"reduction_bn_1_{block_id}")
        h3 = keras.layers.ZeroPadding2D(_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)
        sep, add = self.sep_block, keras.layers.Add

        def pool(kind, name, strides=2, padding="valid"):
            cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
            return cls(3, strides=strides, padding=padding, name=name)

        x1 = add(name=f"reduction_add_1_{block_id}")(
            [sep(h, filters, 5, 2, f"reduction_left1_{block_id}"),
             sep(p, filters, 7, 2, f"reduction_right1_{block_id}")]
        )  # fmt: skip
        x2 = add(name=f"reduction_add_2_{block_id}")(
            [pool("max", f"reduction_left2_{block_id}")(h3),
             sep(p, filters, 7, 2, f"reduction_right2_{block_id}")]
        )  # fmt: skip
        x3 = add(name=f"reduction_add3_{block_id}")(
            [pool("avg", f"reduction_left3_{block_id}")(h3),
             sep(p, filters, 5, 2, f"reduction_right3_{block_id}")]
        )  # fmt: skip
        x4 = add(name=f"reduction_add_4_{block_id}")(
            [x2, pool("avg", f"reduction_left4_{block_id}", 1, "same")(x1)]
        )
        x5 = add(name=f"reduction_add4_{block_id}")(
            [sep(x1, filters, 3, 1, f"reduction_left4_{block_id}"),
             pool("max", f"reduction_right5_{block_id}")(h3)]
        )  # fmt: skip
        x = keras.layers.Concatenate(name=f"reduction_concat_{block_id}")([x2, x3, x4, x5])
        return (x, 2 * ip_stride), (ip, ip_stride)


def _imagenet_entry(key, input_shape):
    """The `WEIGHTS` entry of `key` for the checked input shape (channels_last)."""
    if None in input_shape[:2]:
        raise ValueError(
            "With weights='imagenet' NASNet needs a fixed input size (its strided "
            "operations' padding depends on it); got an input of size "
            f"{input_shape[0]}x{input_shape[1]}. Pass a fixed input_shape, or weights=None."
        )
    return WEIGHTS[key]


def _nasnet(
    *,
    penultimate_filters,
    num_blocks,
    stem_block_filters,
    skip_reduction,
    filter_multiplier,
    weights,
    name,
    default_size=None,
    sized_without_top=False,
    **args,
):
    """The one builder: stem, two stem Reduction cells, three stacks of Normal cells with
    Reduction cells between them; `_image` makes the input and finishes the model.

    `sized_without_top`: without `input_shape` and `input_tensor`, the input is
    `default_size` square also without the top (keras.applications' NASNetMobile).
    """
    num_blocks = check_int("num_blocks", num_blocks, minimum=1)
    stem_block_filters = check_int("stem_block_filters", stem_block_filters, minimum=1)
    filter_multiplier = check_int("filter_multiplier", filter_multiplier, minimum=1)
    penultimate_filters = check_int("penultimate_filters", penultimate_filters, minimum=1)
    check_bool("skip_reduction", skip_reduction)
    divisor = 24 * filter_multiplier**2
    if penultimate_filters % divisor:
        raise ValueError(
            "penultimate_filters must be a multiple of 24 * filter_multiplier**2 (the last "
            "cells concatenate 6 branches of penultimate_filters // 24 filters, and the stem "
            f"cells use that divided by filter_multiplier**2) = {divisor}; got "
            f"penultimate_filters={penultimate_filters}."
        )
    config = dict(
        penultimate_filters=penultimate_filters,
        num_blocks=num_blocks,
        stem_block_filters=stem_block_filters,
        skip_reduction=skip_reduction,
        filter_multiplier=filter_multiplier,
    )
    key = next((k for k, c in _CONFIGS.items() if c == config), None)
    if weights == "imagenet" and key is None:
        raise ValueError(
            "weights='imagenet' exists only for the NASNetMobile (penultimate_filters=1056, "
            "num_blocks=4, stem_block_filters=32, skip_reduction=False) and NASNetLarge "
            "(4032, 6, 96, True) configurations, filter_multiplier=2; got "
            f"penultimate_filters={penultimate_filters}, num_blocks={num_blocks}, "
            f"stem_block_filters={stem_block_filters}, skip_reduction={skip_reduction}, "
            f"filter_multiplier={filter_multiplier}. Use weights=None."
        )
    if default_size is None:
        default_size = _SIZES.get(key, 331)
    default_size = check_int("default_size", default_size, minimum=32)
    # keras.applications' default input is default_size square with the top (and for
    # NASNetMobile without it); a given (None, None, C) shape is accepted also with the
    # top, since the cells need no fixed size and global pooling ends the network.
    unsized = args["input_shape"] is None and args["input_tensor"] is None
    with_top = args["include_top"] is True and args["features_only"] is False
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=default_size,
        min_size=32,
        imagenet=None if key is None else (lambda input_shape: _imagenet_entry(key, input_shape)),
        require_fixed_shape=unsized and (with_top or sized_without_top),
    ) as build:
        b = _Builder()
        filters = penultimate_filters // 24
        x = keras.layers.Conv2D(
            stem_block_filters, 3, strides=2, padding="valid", use_bias=False,
            kernel_initializer="he_normal", name="stem_conv1",
        )(build.x)  # fmt: skip
        x = keras.layers.BatchNormalization(name="stem_bn1", **_BN)(x)
        # Cells pass (tensor, stride) pairs so that `adjust` knows when to reduce.
        x, p = b.reduction_cell((x, 2), None, filters // filter_multiplier**2, "stem_1")
        x, p = b.reduction_cell(x, p, filters // filter_multiplier, "stem_2")
        for stack in range(3):
            if stack:
                width = filters * filter_multiplier**stack
                x, p0 = b.reduction_cell(x, p, width, f"reduce_{stack * num_blocks}")
                p = p if skip_reduction else p0
            for i in range(num_blocks):
                block_id = f"{i}" if stack == 0 else f"{stack * num_blocks + i + 1}"
                x, p = b.normal_cell(x, p, filters * filter_multiplier**stack, block_id)
        x = keras.layers.Activation("relu", name="final_relu")(x[0])
        return build.finish(
            x,
            top=_image.average_top(pool_name="global_average_pooling2d"),
            feature_layers=feature_layers(num_blocks),
            name_map=b.name_map,
        )


def NASNet(
    input_shape=None,
    penultimate_filters=4032,
    num_blocks=6,
    stem_block_filters=96,
    skip_reduction=True,
    filter_multiplier=2,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    default_size=None,
    classifier_activation="softmax",
    name="NASNet",
    features_only=False,
    data_format=None,
):
    """NASNet-A: a Normal and a Reduction cell found by reinforcement-learned search, stacked.

    Zoph et al. (2018): the cells were searched on CIFAR-10 and transfer to ImageNet
    by stacking more of them with more filters; keras.applications' `NASNet` builder.

    Args:
        input_shape: `(height, width, channels)` (channels first under "channels_first"),
            at least 32x32; fixed with ImageNet weights. Default `default_size` square
            with 3 channels with the top (or ImageNet weights), any size without it.
        penultimate_filters: filters of the last cells' concatenation; a multiple of
            `24 * filter_multiplier**2`.
        num_blocks: Normal cells in each of the three stacks (N in the paper).
        stem_block_filters: filters of the stem convolution.
        skip_reduction: whether a cell after a Reduction cell takes, as its second input,
            the output of the cell before that Reduction cell (NASNetLarge) instead of
            the Reduction cell's input.
        filter_multiplier: filter growth at each Reduction cell.
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`). ImageNet
            weights exist for the NASNetMobile and NASNetLarge configurations only.
        default_size: default input size, at least 32 (331, or 224 for NASNetMobile's
            configuration).
        name: model name.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _nasnet(**locals())


_COMMON = dict(
    family="nasnet",
    paper="Zoph, Vasudevan, Shlens & Le, Learning Transferable Architectures for Scalable "
    "Image Recognition, CVPR",
    year=2018,
    min_input_size=32,
    task="image_classification",
    preprocessing="tf",
)


@register_model(
    "nasnet_mobile",
    default_input_shape=(224, 224, 3),
    reference_params=5_326_716,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=feature_layers(4),
    weights=WEIGHTS["nasnet_mobile"],
    **_COMMON,
)
def NASNetMobile(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_mobile",
    features_only=False,
    data_format=None,
):
    """NASNetMobile: searched Normal and Reduction cells, stacked 4 per stage, for mobile budgets.

    Zoph et al. (2018), NASNet-A (4 @ 1056): `NASNet(penultimate_filters=1056,
    num_blocks=4, stem_block_filters=32, skip_reduction=False)`, ImageNet size 224. As in
    keras.applications the input defaults to 224x224 also without the top. Other
    arguments as `NASNet`.
    """
    return _nasnet(
        **_CONFIGS["nasnet_mobile"], default_size=224, sized_without_top=True, **locals()
    )


@register_model(
    "nasnet_large",
    default_input_shape=(331, 331, 3),
    reference_params=88_949_818,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=feature_layers(6),
    weights=WEIGHTS["nasnet_large"],
    **_COMMON,
)
def NASNetLarge(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_large",
    features_only=False,
    data_format=None,
):
    """NASNetLarge: searched Normal and Reduction cells, stacked 6 per stage at 4032 filters.

    Zoph et al. (2018), NASNet-A (6 @ 4032): `NASNet(penultimate_filters=4032,
    num_blocks=6, stem_block_filters=96, skip_reduction=True)`, ImageNet size 331.
    Other arguments as `NASNet`.
    """
    return _nasnet(**_CONFIGS["nasnet_large"], default_size=331, **locals())

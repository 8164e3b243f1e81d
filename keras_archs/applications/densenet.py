"""DenseNet121, DenseNet169 and DenseNet201 (Huang, Liu, van der Maaten & Weinberger, 2017).

Reference:
- [Densely Connected Convolutional Networks](https://arxiv.org/abs/1608.06993) (CVPR 2017)

DenseNet-BC in keras.applications' layout: a 7x7 stem, four `DenseBlock`s (growth rate
32, 1x1 bottleneck to 128 channels) separated by `TransitionBlock`s (compression 0.5,
2x2 average pooling), then BatchNormalization, ReLU and a global-average-pooled
classifier. keras.applications' ImageNet files load into it (8,062,504 / 14,307,880 /
20,242,984 parameters); its per-layer names map onto the blocks' sublayers
(`conv2_block1_1_conv` -> `conv2/layer_0_conv1`).
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DenseBlock, TransitionBlock
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import register_imagenet_weights

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
# keras.applications' files and MD5 hashes (with top, without top).
for _key, _md5, _md5_notop in (
    ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    ("densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
):
    _stem = f"{_URL}{_key}_weights_tf_dim_ordering_tf_kernels"
    register_imagenet_weights(_key, f"{_stem}.h5", _md5, f"{_stem}_notop.h5", _md5_notop)

_BLOCKS = {
    "densenet121": (6, 12, 24, 16),
    "densenet169": (6, 12, 32, 32),
    "densenet201": (6, 12, 48, 32),
}
_EPS = 1.001e-5
# Stride 2**i: stem ReLU, then the output of each dense block (the last one normalized).
FEATURE_LAYERS = {"P1": "conv1_relu", "P2": "conv2", "P3": "conv3", "P4": "conv4", "P5": "relu"}


def preprocess_input(x, data_format=None):
    """keras.applications' DenseNet preprocessing ("torch": [0, 1] then ImageNet mean/std)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def name_map(blocks):
    """keras.applications layer names -> leaf paths of the nested blocks."""
    mapping = {}
    parts = (("0_bn", "bn1"), ("1_conv", "conv1"), ("1_bn", "bn2"), ("2_conv", "conv2"))
    for stage, n in enumerate(blocks, start=2):
        for i in range(n):
            for theirs, ours in parts:
                mapping[f"conv{stage}_block{i + 1}_{theirs}"] = f"conv{stage}/layer_{i}_{ours}"
        if stage < 5:
            mapping[f"pool{stage}_bn"] = f"pool{stage}/bn"
            mapping[f"pool{stage}_conv"] = f"pool{stage}/conv"
    return mapping


def DenseNet(
    blocks,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet",
    features_only=False,
):
    """DenseNet-BC with `blocks` layers in its four dense blocks (keras.applications' `DenseNet`).

    ImageNet weights exist for the DenseNet121/169/201 block counts only. Other arguments
    as `DenseNet121`.
    """
    blocks = tuple(blocks) if isinstance(blocks, (list, tuple)) else blocks
    if (
        not isinstance(blocks, tuple)
        or len(blocks) != 4
        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in blocks)
    ):
        raise ValueError(
            f"blocks must be four integers >= 1 (layers per dense block); got blocks={blocks!r}."
        )
    variant = next((k for k, v in _BLOCKS.items() if v == blocks), None)
    if weights == "imagenet" and variant is None:
        raise ValueError(
            "weights='imagenet' exists for blocks (6, 12, 24, 16), (6, 12, 32, 32) and "
            f"(6, 12, 48, 32) only; got blocks={blocks!r}. Use weights=None."
        )
    return _densenet(
        variant or blocks,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        features_only,
    )


def _densenet(
    variant,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    features_only,
):
    include_top, pooling, input_shape, weights, img_input = _image.prepare(
        features_only=features_only,
        weights=weights,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_size=224,
        min_size=32,
        weights_key=variant,
    )
    blocks = _BLOCKS[variant] if isinstance(variant, str) else variant
    x = keras.layers.ZeroPadding2D(((3, 3), (3, 3)), name="zero_padding2d")(img_input)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_EPS, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name="zero_padding2d_1")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, n in enumerate(blocks, start=2):
        x = DenseBlock(n, growth_rate=32, bottleneck_width=4, bn_epsilon=_EPS, name=f"conv{stage}")(
            x
        )
        if stage < 5:
            x = TransitionBlock(0.5, bn_epsilon=_EPS, name=f"pool{stage}")(x)
    x = keras.layers.BatchNormalization(epsilon=_EPS, name="bn")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = _image.classifier(x, classes, classifier_activation)
    elif not features_only:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    model = _image.load_weights(model, weights, name_map=name_map(blocks))
    return _image.feature_model(model, FEATURE_LAYERS, name) if features_only else model


_COMMON = dict(
    family="densenet",
    paper="Huang, Liu, van der Maaten & Weinberger, Densely Connected Convolutional Networks, CVPR",
    year=2017,
    default_input_shape=(224, 224, 3),
    min_input_size=32,
    task="image_classification",
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=FEATURE_LAYERS,
)

_ARGS_DOC = """
    Args:
        include_top: whether to include the global-average-pooled classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path
            (keras.applications' legacy `.h5` layout or a Keras 3 weights file).
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)`, at least 32x32; any channel count
            with `weights=None`; `(None, None, C)` allowed without the top.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return a model whose outputs are the dict {"P1".."P5"} of
            feature maps at strides 2..32 (the top and `pooling` are ignored).

    Returns:
        A `keras.Model`.
"""


@register_model("densenet121", reference_params=8_062_504, **_COMMON)
def DenseNet121(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet121",
    features_only=False,
):
    """DenseNet121: each layer receives the concatenated feature maps of all layers before it.

    Huang et al. (2017), DenseNet-BC with dense blocks of 6, 12, 24 and 16 layers.
    """
    return _densenet(
        "densenet121",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        features_only,
    )


@register_model("densenet169", reference_params=14_307_880, **_COMMON)
def DenseNet169(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet169",
    features_only=False,
):
    """DenseNet169: dense connectivity (every layer sees all earlier maps), blocks 6-12-32-32.

    Huang et al. (2017), DenseNet-BC. Arguments as `DenseNet121`.
    """
    return _densenet(
        "densenet169",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        features_only,
    )


@register_model("densenet201", reference_params=20_242_984, **_COMMON)
def DenseNet201(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet201",
    features_only=False,
):
    """DenseNet201: dense connectivity (every layer sees all earlier maps), blocks 6-12-48-32.

    Huang et al. (2017), DenseNet-BC. Arguments as `DenseNet121`.
    """
    return _densenet(
        "densenet201",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        features_only,
    )


DenseNet121.__doc__ += _ARGS_DOC

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
from keras_archs.validation import is_int
from keras_archs.weights.imagenet import keras_applications_file

# keras.applications' ImageNet files (same URLs, hashes and cache names).
WEIGHTS = {
    "densenet121": keras_applications_file(
        "densenet",
        "densenet121",
        "9d60b8095a5708f2dcce2bca79d332c7",
        "30ee3e1110167f948a6b9946edeeb738",
    ),
    "densenet169": keras_applications_file(
        "densenet",
        "densenet169",
        "d699b8f76981ab1b30698df4c175e90b",
        "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    "densenet201": keras_applications_file(
        "densenet",
        "densenet201",
        "1ceb130c1ea1b78c3bf6114dbdfd8807",
        "c13680b51ded0fb44dff2d8f86ac8bb1",
    ),
}

# Layers per dense block of the variants with published weights.
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


def _stem(x):
    """7x7/2 convolution, BatchNormalization, ReLU, 3x3/2 max-pool (keras.applications' names)."""
    x = keras.layers.ZeroPadding2D(((3, 3), (3, 3)), name="zero_padding2d")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_EPS, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name="zero_padding2d_1")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def _dense_stages(x, blocks):
    """Four dense blocks (growth 32, bottleneck 4 x 32), halved by a transition between them."""
    for stage, n in enumerate(blocks, start=2):
        x = DenseBlock(n, growth_rate=32, bottleneck_width=4, bn_epsilon=_EPS, name=f"conv{stage}")(
            x
        )
        if stage < 5:
            x = TransitionBlock(0.5, bn_epsilon=_EPS, name=f"pool{stage}")(x)
    # DenseNet-BC normalizes the concatenated maps once more before the classifier.
    x = keras.layers.BatchNormalization(epsilon=_EPS, name="bn")(x)
    return keras.layers.Activation("relu", name="relu")(x)


_PAPER = "Huang, Liu, van der Maaten & Weinberger, Densely Connected Convolutional Networks, CVPR"


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
    data_format=None,
):
    """DenseNet-BC with `blocks` layers in its four dense blocks (keras.applications' `DenseNet`).

    The family's one builder: DenseNet121/169/201 call it with their block counts.
    ImageNet weights exist for those three block counts only.

    Args:
        blocks: four integers >= 1, the layers of each dense block.
        include_top: whether to include the global-average-pooled classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path
            (keras.applications' legacy `.h5` layout or a Keras 3 weights file).
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` under
            channels_first), at least 32x32; any channel count with `weights=None`;
            `(None, None, C)` allowed without the top.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return a model whose outputs are the dict {"P1".."P5"} of
            feature maps at strides 2..32 (the top and `pooling` are ignored).
        data_format: "channels_last" or "channels_first" for the input and the feature
            maps; default `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    if (
        not isinstance(blocks, (list, tuple))
        or len(blocks) != 4
        or not all(is_int(b) and b >= 1 for b in blocks)
    ):
        raise ValueError(
            f"blocks must be four integers >= 1 (layers per dense block); got blocks={blocks!r}."
        )
    blocks = tuple(int(b) for b in blocks)
    key = next((k for k, v in _BLOCKS.items() if v == blocks), None)
    if weights == "imagenet" and key is None:
        raise ValueError(
            "weights='imagenet' exists for blocks (6, 12, 24, 16), (6, 12, 32, 32) and "
            f"(6, 12, 48, 32) only; got blocks={blocks!r}. Use weights=None."
        )
    with _image.prepare(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        features_only=features_only,
        data_format=data_format,
        default_size=224,
        min_size=32,
        imagenet=WEIGHTS.get(key),
    ) as build:
        x = _stem(build.x)
        x = _dense_stages(x, blocks)
        return build.finish(x, feature_layers=FEATURE_LAYERS, name_map=name_map(blocks))


def _register(name, reference_params):
    return register_model(
        name,
        family="densenet",
        paper=_PAPER,
        year=2017,
        default_input_shape=(224, 224, 3),
        min_input_size=32,
        task="image_classification",
        reference_params=reference_params,
        test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
        feature_layers=FEATURE_LAYERS,
        weights=WEIGHTS[name],
        preprocessing="torch",
    )


# The registered variants: `DenseNet` with keras.applications' block counts; arguments
# as `DenseNet` (without `blocks`).


@_register("densenet121", 8_062_504)
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
    data_format=None,
):
    """DenseNet121: each layer receives the concatenated feature maps of all layers before it.

    Huang et al. (2017), DenseNet-BC with dense blocks of 6, 12, 24 and 16 layers.
    Arguments as `DenseNet`.
    """
    return DenseNet(_BLOCKS["densenet121"], **locals())


@_register("densenet169", 14_307_880)
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
    data_format=None,
):
    """DenseNet169: dense connectivity (every layer sees all earlier maps), blocks 6-12-32-32.

    Huang et al. (2017), DenseNet-BC. Arguments as `DenseNet`.
    """
    return DenseNet(_BLOCKS["densenet169"], **locals())


@_register("densenet201", 20_242_984)
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
    data_format=None,
):
    """DenseNet201: dense connectivity (every layer sees all earlier maps), blocks 6-12-48-32.

    Huang et al. (2017), DenseNet-BC. Arguments as `DenseNet`.
    """
    return DenseNet(_BLOCKS["densenet201"], **locals())

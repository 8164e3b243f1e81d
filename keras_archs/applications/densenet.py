"""DenseNet121, DenseNet169 and DenseNet201 (Huang, Liu, van der Maaten & Weinberger, 2017).

Reference:
- [Densely Connected Convolutional Networks](https://arxiv.org/abs/1608.06993) (CVPR 2017)

DenseNet-BC in keras.applications' layout: a 7x7 stem, four `DenseBlock`s (growth rate
32, 1x1 bottleneck to 128 channels) separated by `TransitionBlock`s (compression 0.5,
2x2 average pooling), then BatchNormalization, ReLU and a global-average-pooled
classifier. keras.applications' ImageNet files load into it (8,062,504 / 14,307,880 /
20,242,984 parameters); its per-layer names map onto the blocks' sublayers
(`conv2_block1_1_conv` -> `conv2/layer_0_conv1`). torchvision's `densenet121` has the same
layers with BatchNormalization epsilon 1e-5 instead of 1.001e-5: `layout="torchvision"`
(same parameter counts) holds its weights (`weights="torchvision"`).
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DenseBlock, TransitionBlock
from keras_archs.registry import register_model
from keras_archs.validation import is_int
from keras_archs.weights.imagenet import keras_applications_file
from keras_archs.weights.torchvision import torchvision_file

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

# torchvision's ImageNet file (its default `Weights`), for layout="torchvision".
TORCHVISION_WEIGHTS = {"densenet121": torchvision_file("densenet121-a639ec97.pth")}

# Layers per dense block of the variants with published weights.
_BLOCKS = {
    "densenet121": (6, 12, 24, 16),
    "densenet169": (6, 12, 32, 32),
    "densenet201": (6, 12, 48, 32),
}
_EPS = 1.001e-5
# torchvision's BatchNorm2d default.
_TORCH_EPS = 1e-5
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


def torchvision_names(blocks, include_top=True):
    """torchvision module -> leaf path: `features.denseblock1.denselayer1.norm1` ->
    `conv2/layer_0_bn1`, `features.transition1.conv` -> `pool2/conv`, ..."""
    names = {"features.conv0": "conv1_conv", "features.norm0": "conv1_bn"}
    parts = (("norm1", "bn1"), ("conv1", "conv1"), ("norm2", "bn2"), ("conv2", "conv2"))
    for b, n in enumerate(blocks, start=1):
        for j in range(n):
            for theirs, ours in parts:
                names[f"features.denseblock{b}.denselayer{j + 1}.{theirs}"] = (
                    f"conv{b + 1}/layer_{j}_{ours}"
                )
        if b < len(blocks):
            names[f"features.transition{b}.norm"] = f"pool{b + 1}/bn"
            names[f"features.transition{b}.conv"] = f"pool{b + 1}/conv"
    names["features.norm5"] = "bn"
    names["classifier"] = "predictions" if include_top else None
    return names


def _stem(x, eps):
    """7x7/2 convolution, BatchNormalization, ReLU, 3x3/2 max-pool (keras.applications' names)."""
    x = keras.layers.ZeroPadding2D(((3, 3), (3, 3)), name="zero_padding2d")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=eps, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name="zero_padding2d_1")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def _dense_stages(x, blocks, eps):
    """Four dense blocks (growth 32, bottleneck 4 x 32), halved by a transition between them."""
    for stage, n in enumerate(blocks, start=2):
        x = DenseBlock(n, growth_rate=32, bottleneck_width=4, bn_epsilon=eps, name=f"conv{stage}")(
            x
        )
        if stage < 5:
            x = TransitionBlock(0.5, bn_epsilon=eps, name=f"pool{stage}")(x)
    # DenseNet-BC normalizes the concatenated maps once more before the classifier.
    x = keras.layers.BatchNormalization(epsilon=eps, name="bn")(x)
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
    layout=None,
):
    """DenseNet-BC with `blocks` layers in its four dense blocks (keras.applications' `DenseNet`).

    The family's one builder: DenseNet121/169/201 call it with their block counts.
    ImageNet weights exist for those three block counts only.

    Args:
        blocks: four integers >= 1, the layers of each dense block.
        include_top: whether to include the global-average-pooled classifier.
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path
            (keras.applications' legacy `.h5` layout or a Keras 3 weights file); for
            blocks (6, 12, 24, 16) also "torchvision" (torchvision's `densenet121` file from
            torch's hub cache, converted).
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
        layout: None or "keras" (keras.applications' BatchNormalization epsilon 1.001e-5)
            or "torchvision" (torchvision's 1e-5, the layout its weights hold); the same
            layers and parameter counts (DenseNet121: 7,978,856 trainable, 8,062,504 in
            all). None means "torchvision" with `weights="torchvision"`.

    Returns:
        A `keras.Model`.
    """
    layout = _image.resolve_layout(layout, weights)
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
        torchvision=TORCHVISION_WEIGHTS.get(key) if layout == "torchvision" else None,
    ) as build:
        eps = _TORCH_EPS if layout == "torchvision" else _EPS
        x = _stem(build.x, eps)
        x = _dense_stages(x, blocks, eps)
        return build.finish(
            x,
            feature_layers=FEATURE_LAYERS,
            name_map=name_map(blocks),
            torchvision_names=torchvision_names(blocks, build.include_top),
        )


def _register(name, reference_params):
    # The other sizes repeat the smallest one's blocks, more of them per stage.
    same_blocks_as = None if name == "densenet121" else "densenet121"
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
        same_blocks_as=same_blocks_as,
        preprocessing="torch",
    )


# The registered variants: `DenseNet` with keras.applications' block counts; arguments
# as `DenseNet` (without `blocks`), `layout="torchvision"` included.


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
    layout=None,
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
    layout=None,
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
    layout=None,
):
    """DenseNet201: dense connectivity (every layer sees all earlier maps), blocks 6-12-48-32.

    Huang et al. (2017), DenseNet-BC. Arguments as `DenseNet`.
    """
    return DenseNet(_BLOCKS["densenet201"], **locals())

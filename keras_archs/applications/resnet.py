"""ResNet (He et al., 2015) and ResNetV2 (He et al., 2016).

References:
- [Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385) (CVPR 2016)
- [Identity Mappings in Deep Residual Networks](https://arxiv.org/abs/1603.05027) (ECCV 2016)

- ResNet18 and ResNet34: basic blocks (two 3x3 convolutions) in torchvision's layout,
  no convolution bias and BatchNormalization (epsilon 1e-5), strided 3x3 convolutions
  padded symmetrically like PyTorch, so torchvision's ImageNet weights can be converted:
  11,689,512 and 21,797,672 trainable parameters.
- ResNet50/101/152: bottleneck blocks (1x1, 3x3, 1x1) in keras.applications' layout and
  names (convolution bias, stride on the first 1x1): 25,636,712 / 44,707,176 / 60,419,944.
- ResNet50V2/101V2/152V2: pre-activation bottleneck blocks (BatchNormalization and ReLU
  before each convolution), keras.applications' layout: 25,613,800 / 44,675,560 / 60,380,648.

Shortcuts are the identity when shapes match and a 1x1 projection otherwise.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.registry import register_model

_BLOCKS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
_FILTERS = (64, 128, 256, 512)


def preprocess_input(x, data_format=None):
    """keras.applications' ResNet (v1) preprocessing ("caffe": RGB->BGR, mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def preprocess_input_v2(x, data_format=None):
    """keras.applications' ResNetV2 preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def feature_layers(depth, version):
    """Layer of each pyramid level P1..P5 (stride 2**i)."""
    blocks = _BLOCKS[depth]
    if version == 1:
        stages = [f"conv{s}_block{n}_out" for s, n in zip(range(2, 6), blocks)]
        return dict(zip(("P1", "P2", "P3", "P4", "P5"), ["conv1_relu", *stages]))
    # V2 strides in the last block of a stage, so stride 2**i ends one block earlier.
    stages = [f"conv{s}_block{n - 1}_out" for s, n in zip(range(2, 5), blocks)]
    return dict(zip(("P1", "P2", "P3", "P4", "P5"), ["conv1_conv", *stages, "post_relu"]))


def _bn(x, name, epsilon):
    return keras.layers.BatchNormalization(axis=-1, epsilon=epsilon, name=name)(x)


def _conv3x3_torch(x, filters, stride, name):
    # PyTorch pads 1 on every side; for stride 2 "same" would pad only bottom/right.
    if stride == 1:
        return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=name)(x)


def _basic_block(x, filters, stride, name):
    """torchvision's BasicBlock: 3x3 (stride) -> BN -> ReLU -> 3x3 -> BN, + shortcut."""
    eps = 1e-5
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_0_conv"
        )(x)
        shortcut = _bn(shortcut, f"{name}_0_bn", eps)
    x = _conv3x3_torch(x, filters, stride, f"{name}_1_conv")
    x = _bn(x, f"{name}_1_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv3x3_torch(x, filters, 1, f"{name}_2_conv")
    x = _bn(x, f"{name}_2_bn", eps)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _bottleneck_block(x, filters, stride, name):
    """keras.applications' v1 bottleneck: 1x1 (stride) -> 3x3 -> 1x1 (4x), + shortcut."""
    eps = 1.001e-5
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn", eps)
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(x, f"{name}_1_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(x, f"{name}_2_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(x, f"{name}_3_bn", eps)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _preact_block(x, filters, stride, name):
    """keras.applications' v2 block: BN -> ReLU, then 1x1 -> 3x3 (stride) -> 1x1 (4x)."""
    eps = 1.001e-5
    preact = _bn(x, f"{name}_preact_bn", eps)
    preact = keras.layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if x.shape[-1] != 4 * filters:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(
            preact
        )
    elif stride > 1:
        # Identity on a strided grid: keep every other position (a 1x1 max-pool).
        shortcut = keras.layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    else:
        shortcut = x
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(x, f"{name}_1_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_2_pad")(x)
    x = keras.layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(x, f"{name}_2_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return keras.layers.Add(name=f"{name}_out")([shortcut, x])


def _stages(x, depth, version):
    for stage, (blocks, filters) in enumerate(zip(_BLOCKS[depth], _FILTERS), start=2):
        for i in range(1, blocks + 1):
            name = f"conv{stage}_block{i}"
            if version == 2:
                # keras.applications' V2 strides in the last block of stages 2..4.
                stride = 2 if (i == blocks and stage < 5) else 1
                x = _preact_block(x, filters, stride, name)
            else:
                stride = 2 if (i == 1 and stage > 2) else 1
                block = _basic_block if depth < 50 else _bottleneck_block
                x = block(x, filters, stride, name)
    return x


def _resnet(
    depth,
    version,
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
    imagenet_key = None if depth < 50 else f"resnet{depth}{'v2' if version == 2 else ''}"
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
        weights_key=imagenet_key,
    )
    torch_layout = depth < 50
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(img_input)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=not torch_layout, name="conv1_conv")(x)
    if version == 1:
        x = _bn(x, "conv1_bn", 1e-5 if torch_layout else 1.001e-5)
        x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _stages(x, depth, version)
    if version == 2:
        x = _bn(x, "post_bn", 1.001e-5)
        x = keras.layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = _image.classifier(x, classes, classifier_activation)
    else:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    model = _image.load_weights(model, weights)
    if features_only:
        return _image.feature_model(model, feature_layers(depth, version), name)
    return model


_V1_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR"
_V2_PAPER = "He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV"


def _register(name, depth, version, reference_params, params_kind="total"):
    return register_model(
        name,
        family="resnet" if version == 1 else "resnet_v2",
        paper=_V1_PAPER if version == 1 else _V2_PAPER,
        year=2015 if version == 1 else 2016,
        default_input_shape=(224, 224, 3),
        min_input_size=32,
        task="image_classification",
        reference_params=reference_params,
        params_kind=params_kind,
        test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
        feature_layers=feature_layers(depth, version),
    )


_ARGS_DOC = """
    Args:
        include_top: whether to include global average pooling and the classifier.
        weights: {weights}
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)`, at least 32x32; default `(224, 224, 3)`
            with the top, `(None, None, 3)` without.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return a model whose outputs are the dict {{"P1".."P5"}} of
            feature maps at strides 2..32 (the top and `pooling` are ignored).

    Returns:
        A `keras.Model`.
"""
_WEIGHTS_NONE = "None or the path to a weights file (no keras.applications ImageNet file)."
_WEIGHTS_IMAGENET = 'None, "imagenet" (keras.applications\' file) or the path to a file.'


def _make(depth, version, weights_default, reference_params, params_kind, idea):
    suffix = "V2" if version == 2 else ""
    builder_name = f"ResNet{depth}{suffix}"
    registry_name = f"resnet{depth}{'_v2' if version == 2 else ''}"
    default_name = f"resnet{depth}{'v2' if version == 2 else ''}"  # keras.applications' name

    def builder(
        include_top=True,
        weights=weights_default,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
        features_only=False,
    ):
        return _resnet(
            depth,
            version,
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

    builder.__name__ = builder.__qualname__ = builder_name
    weights_doc = _WEIGHTS_IMAGENET if weights_default else _WEIGHTS_NONE
    builder.__doc__ = idea + "\n" + _ARGS_DOC.format(weights=weights_doc)
    builder.__module__ = __name__
    return _register(registry_name, depth, version, reference_params, params_kind)(builder)


_BASIC = (
    "{}: residual learning, each block of two 3x3 convolutions adds its input back "
    "(x + F(x)), so depth no longer hurts optimisation.\n\n"
    "He et al. (2015), basic blocks in torchvision's layout ({} blocks per stage)."
)
_BOTTLENECK = (
    "{}: residual learning with bottleneck blocks (1x1 reduce, 3x3, 1x1 expand) that add "
    "their input back, making very deep networks trainable.\n\n"
    "He et al. (2015), keras.applications' layout ({} blocks per stage)."
)
_PREACT = (
    "{}: pre-activation residual blocks (BatchNormalization and ReLU before each "
    "convolution) keep a clean identity path from input to output.\n\n"
    "He et al. (2016), keras.applications' layout ({} blocks per stage)."
)

ResNet18 = _make(18, 1, None, 11_689_512, "trainable", _BASIC.format("ResNet18", "2-2-2-2"))
ResNet34 = _make(34, 1, None, 21_797_672, "trainable", _BASIC.format("ResNet34", "3-4-6-3"))
ResNet50 = _make(50, 1, "imagenet", 25_636_712, "total", _BOTTLENECK.format("ResNet50", "3-4-6-3"))
ResNet101 = _make(
    101, 1, "imagenet", 44_707_176, "total", _BOTTLENECK.format("ResNet101", "3-4-23-3")
)
ResNet152 = _make(
    152, 1, "imagenet", 60_419_944, "total", _BOTTLENECK.format("ResNet152", "3-8-36-3")
)
ResNet50V2 = _make(50, 2, "imagenet", 25_613_800, "total", _PREACT.format("ResNet50V2", "3-4-6-3"))
ResNet101V2 = _make(
    101, 2, "imagenet", 44_675_560, "total", _PREACT.format("ResNet101V2", "3-4-23-3")
)
ResNet152V2 = _make(
    152, 2, "imagenet", 60_380_648, "total", _PREACT.format("ResNet152V2", "3-8-36-3")
)

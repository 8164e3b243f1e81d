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
  With `layout="torchvision"`, torchvision's "ResNet v1.5" instead (stride on the 3x3,
  no convolution bias, epsilon 1e-5, symmetric padding), whose weights convert:
  25,557,032 / 44,549,160 / 60,192,808 trainable parameters.
- ResNet50V2/101V2/152V2: pre-activation bottleneck blocks (BatchNormalization and ReLU
  before each convolution), keras.applications' layout: 25,613,800 / 44,675,560 / 60,380,648.

Shortcuts are the identity when shapes match and a 1x1 projection otherwise.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import keras_applications_file
from keras_archs.weights.torchvision import torchvision_file

# keras.applications' ImageNet files (same URLs, hashes and cache names). ResNet18/34
# have ImageNet weights only in torchvision, whose layout they follow.
WEIGHTS = {
    "resnet50": keras_applications_file(
        "resnet", "resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"
    ),
    "resnet101": keras_applications_file(
        "resnet",
        "resnet101",
        "f1aeb4b969a6efcfb50fad2f0c20cfc5",
        "88cf7a10940856eca736dc7b7e228a21",
    ),
    "resnet152": keras_applications_file(
        "resnet",
        "resnet152",
        "100835be76be38e30d865e96f2aaae62",
        "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    "resnet50v2": keras_applications_file(
        "resnet",
        "resnet50v2",
        "3ef43a0b657b3be2300d5770ece849e0",
        "fac2f116257151a9d068a22e544a4917",
    ),
    "resnet101v2": keras_applications_file(
        "resnet",
        "resnet101v2",
        "6343647c601c52e1368623803854d971",
        "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    "resnet152v2": keras_applications_file(
        "resnet",
        "resnet152v2",
        "a49b44d1979771252814e80f8ec446f9",
        "ed17cf2e0169df9d443503ef94b23b33",
    ),
}

# torchvision's ImageNet files (its default `Weights` of each model), for the
# torchvision layout: ResNet18/34 always, ResNet50 with layout="torchvision".
TORCHVISION_WEIGHTS = {
    "resnet18": torchvision_file("resnet18-f37072fd.pth"),
    "resnet34": torchvision_file("resnet34-b627a593.pth"),
    "resnet50": torchvision_file("resnet50-11ad3fa6.pth"),
}

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


def torchvision_names(depth, include_top=True):
    """torchvision module -> layer of the torchvision layout (`ResNet18`/`34`, or
    `layout="torchvision"`): `layer1.0.conv1` -> `conv2_block1_1_conv`, ..."""
    names = {"conv1": "conv1_conv", "bn1": "conv1_bn"}
    convs = 2 if depth < 50 else 3
    for stage, blocks in enumerate(_BLOCKS[depth], start=2):
        for i in range(blocks):
            theirs, ours = f"layer{stage - 1}.{i}", f"conv{stage}_block{i + 1}"
            for j in range(1, convs + 1):
                names[f"{theirs}.conv{j}"] = f"{ours}_{j}_conv"
                names[f"{theirs}.bn{j}"] = f"{ours}_{j}_bn"
            if i == 0 and (stage > 2 or depth >= 50):  # the projection shortcut
                names[f"{theirs}.downsample.0"] = f"{ours}_0_conv"
                names[f"{theirs}.downsample.1"] = f"{ours}_0_bn"
    names["fc"] = "predictions" if include_top else None
    return names


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


def _bottleneck_block_torch(x, filters, stride, name):
    """torchvision's Bottleneck ("ResNet v1.5"): 1x1 -> 3x3 (stride) -> 1x1 (4x), no
    convolution bias, epsilon 1e-5, + shortcut; keras.applications' layer names."""
    eps = 1e-5
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = keras.layers.Conv2D(
            4 * filters, 1, strides=stride, use_bias=False, name=f"{name}_0_conv"
        )(x)
        shortcut = _bn(shortcut, f"{name}_0_bn", eps)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(x)
    x = _bn(x, f"{name}_1_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv3x3_torch(x, filters, stride, f"{name}_2_conv")
    x = _bn(x, f"{name}_2_bn", eps)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, use_bias=False, name=f"{name}_3_conv")(x)
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


def _stages(x, depth, version, torch_layout):
    for stage, (blocks, filters) in enumerate(zip(_BLOCKS[depth], _FILTERS), start=2):
        for i in range(1, blocks + 1):
            name = f"conv{stage}_block{i}"
            if version == 2:
                # keras.applications' V2 strides in the last block of stages 2..4.
                stride = 2 if (i == blocks and stage < 5) else 1
                x = _preact_block(x, filters, stride, name)
            else:
                stride = 2 if (i == 1 and stage > 2) else 1
                if depth < 50:
                    block = _basic_block
                else:
                    block = _bottleneck_block_torch if torch_layout else _bottleneck_block
                x = block(x, filters, stride, name)
    return x


def _resnet(depth, version, *, weights, name, layout=None, **args):
    """The one builder: stem, four stages of blocks, then `_image` finishes the model.

    ResNet18/34 are in torchvision's layout; ResNet50/101/152 in keras.applications'
    unless `layout="torchvision"` (V2 has no `layout`)."""
    key = f"resnet{depth}{'v2' if version == 2 else ''}"
    if depth >= 50 and version == 1:
        layout = _image.resolve_layout(layout, weights)
    torch_layout = depth < 50 or layout == "torchvision"
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=224,
        min_size=32,
        imagenet=WEIGHTS.get(key),
        torchvision=TORCHVISION_WEIGHTS.get(key) if torch_layout else None,
    ) as build:
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(build.x)
        x = keras.layers.Conv2D(64, 7, strides=2, use_bias=not torch_layout, name="conv1_conv")(x)
        if version == 1:
            x = _bn(x, "conv1_bn", 1e-5 if torch_layout else 1.001e-5)
            x = keras.layers.Activation("relu", name="conv1_relu")(x)
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        x = _stages(x, depth, version, torch_layout)
        if version == 2:
            x = _bn(x, "post_bn", 1.001e-5)
            x = keras.layers.Activation("relu", name="post_relu")(x)
        names = torchvision_names(depth, build.include_top) if torch_layout else None
        return build.finish(
            x, feature_layers=feature_layers(depth, version), torchvision_names=names
        )


_V1_PAPER = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR"
_V2_PAPER = "He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV"


# The deeper sizes repeat a smaller size's blocks: basic blocks from ResNet-18,
# bottleneck blocks from ResNet-50.
_SAME_BLOCKS_AS = {34: 18, 101: 50, 152: 50}


def _register(name, depth, version, reference_params, params_kind="total"):
    key = f"resnet{depth}{'v2' if version == 2 else ''}"
    same = _SAME_BLOCKS_AS.get(depth)
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
        weights=WEIGHTS.get(key),
        preprocessing="caffe" if version == 1 else "tf",
        same_blocks_as=same and f"resnet{same}{'_v2' if version == 2 else ''}",
    )


# The registered variants. Arguments are keras.applications' (`include_top`, `weights`:
# None, "imagenet" where keras.applications has the file, or a path; `input_tensor`,
# `input_shape`, `pooling`, `classes`, `classifier_activation`, `name`), plus
# `features_only` (return the {"P1".."P5"} feature pyramid at strides 2..32 instead of
# the top) and `data_format` (default: `keras.config.image_data_format()`).
# weights="torchvision" loads torchvision's ImageNet file (ResNet18, ResNet34, and
# ResNet50 in its torchvision layout), see `keras_archs.weights.torchvision`.


@_register("resnet18", 18, 1, 11_689_512, "trainable")
def ResNet18(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet18",
    features_only=False,
    data_format=None,
):
    """ResNet18: residual learning, each block of two 3x3 convolutions adds its input back
    (x + F(x)), so depth no longer hurts optimisation.

    He et al. (2015), basic blocks in torchvision's layout (2-2-2-2 blocks per stage).
    `weights="torchvision"` loads torchvision's ImageNet weights.
    """
    return _resnet(18, 1, **locals())


@_register("resnet34", 34, 1, 21_797_672, "trainable")
def ResNet34(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet34",
    features_only=False,
    data_format=None,
):
    """ResNet34: residual learning, each block of two 3x3 convolutions adds its input back
    (x + F(x)), so depth no longer hurts optimisation.

    He et al. (2015), basic blocks in torchvision's layout (3-4-6-3 blocks per stage).
    `weights="torchvision"` loads torchvision's ImageNet weights.
    """
    return _resnet(34, 1, **locals())


@_register("resnet50", 50, 1, 25_636_712)
def ResNet50(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
    features_only=False,
    data_format=None,
    layout=None,
):
    """ResNet50: residual learning with bottleneck blocks (1x1 reduce, 3x3, 1x1 expand)
    that add their input back, making very deep networks trainable.

    He et al. (2015), keras.applications' layout (3-4-6-3 blocks per stage).
    `layout`: None or "keras" (that layout, 25,636,712 parameters) or "torchvision":
    torchvision's ResNet v1.5 (stride on the 3x3 convolution, no convolution bias,
    BatchNormalization epsilon 1e-5, symmetric padding), 25,557,032 trainable parameters
    (25,610,152 in all). `weights="torchvision"` (torchvision's ImageNet file) implies it.
    """
    return _resnet(50, 1, **locals())


@_register("resnet101", 101, 1, 44_707_176)
def ResNet101(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
    features_only=False,
    data_format=None,
    layout=None,
):
    """ResNet101: residual learning with bottleneck blocks (1x1 reduce, 3x3, 1x1 expand)
    that add their input back, making very deep networks trainable.

    He et al. (2015), keras.applications' layout (3-4-23-3 blocks per stage).
    `layout`: None or "keras" (that layout, 44,707,176 parameters) or "torchvision":
    torchvision's ResNet v1.5 (stride on the 3x3 convolution, no convolution bias,
    BatchNormalization epsilon 1e-5, symmetric padding), 44,549,160 trainable parameters
    (44,654,504 in all).
    """
    return _resnet(101, 1, **locals())


@_register("resnet152", 152, 1, 60_419_944)
def ResNet152(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
    features_only=False,
    data_format=None,
    layout=None,
):
    """ResNet152: residual learning with bottleneck blocks (1x1 reduce, 3x3, 1x1 expand)
    that add their input back, making very deep networks trainable.

    He et al. (2015), keras.applications' layout (3-8-36-3 blocks per stage).
    `layout`: None or "keras" (that layout, 60,419,944 parameters) or "torchvision":
    torchvision's ResNet v1.5 (stride on the 3x3 convolution, no convolution bias,
    BatchNormalization epsilon 1e-5, symmetric padding), 60,192,808 trainable parameters
    (60,344,232 in all).
    """
    return _resnet(152, 1, **locals())


@_register("resnet50_v2", 50, 2, 25_613_800)
def ResNet50V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
    features_only=False,
    data_format=None,
):
    """ResNet50V2: pre-activation residual blocks (BatchNormalization and ReLU before each
    convolution) keep a clean identity path from input to output.

    He et al. (2016), keras.applications' layout (3-4-6-3 blocks per stage).
    """
    return _resnet(50, 2, **locals())


@_register("resnet101_v2", 101, 2, 44_675_560)
def ResNet101V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
    features_only=False,
    data_format=None,
):
    """ResNet101V2: pre-activation residual blocks (BatchNormalization and ReLU before each
    convolution) keep a clean identity path from input to output.

    He et al. (2016), keras.applications' layout (3-4-23-3 blocks per stage).
    """
    return _resnet(101, 2, **locals())


@_register("resnet152_v2", 152, 2, 60_380_648)
def ResNet152V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
    features_only=False,
    data_format=None,
):
    """ResNet152V2: pre-activation residual blocks (BatchNormalization and ReLU before each
    convolution) keep a clean identity path from input to output.

    He et al. (2016), keras.applications' layout (3-8-36-3 blocks per stage).
    """
    return _resnet(152, 2, **locals())

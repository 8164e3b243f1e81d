"""VGG16 and VGG19 (Simonyan & Zisserman, 2014), in keras.applications' layout.

Reference:
- [Very Deep Convolutional Networks for Large-Scale Image Recognition](
    https://arxiv.org/abs/1409.1556) (ICLR 2015)

Five stages of 3x3 convolutions (64, 128, 256, 512, 512 filters), each closed by a
2x2 max-pool, then the 4096-4096 classifier. Layer names match keras.applications,
so its ImageNet files load unchanged: 138,357,544 (VGG16) and 143,667,240 (VGG19)
parameters. torchvision's `vgg16`/`vgg19` have the same layers (their adaptive 7x7
pooling is the identity at 224x224), so `weights="torchvision"` loads torchvision's
ImageNet weights as they are, the first classifier layer's rows reordered from
torch's channels-first flattening.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.registry import register_model
from keras_archs.weights.imagenet import keras_applications_file
from keras_archs.weights.torchvision import torchvision_file

# keras.applications' ImageNet files (same URLs, hashes and cache names).
WEIGHTS = {
    "vgg16": keras_applications_file(
        "vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"
    ),
    "vgg19": keras_applications_file(
        "vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"
    ),
}

# torchvision's ImageNet files (its default `Weights`), same layout.
TORCHVISION_WEIGHTS = {
    "vgg16": torchvision_file("vgg16-397923af.pth"),
    "vgg19": torchvision_file("vgg19-dcbb9e9d.pth"),
}

_STAGES = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_FILTERS = (64, 128, 256, 512, 512)
# Stride 2**i after each max-pool.
FEATURE_LAYERS = {f"P{i}": f"block{i}_pool" for i in range(1, 6)}


def preprocess_input(x, data_format=None):
    """keras.applications' VGG preprocessing ("caffe": RGB->BGR, ImageNet mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def torchvision_names(variant, include_top=True):
    """torchvision module -> layer: `features.0` -> `block1_conv1`, ..., `classifier.6` ->
    `predictions` (torchvision counts each ReLU and max-pool in `features`)."""
    names, index = {}, 0
    for stage, repeats in enumerate(_STAGES[variant], start=1):
        for i in range(1, repeats + 1):
            names[f"features.{index}"] = f"block{stage}_conv{i}"
            index += 2  # the convolution and its ReLU
        index += 1  # the max-pool
    top = {"classifier.0": "fc1", "classifier.3": "fc2", "classifier.6": "predictions"}
    names.update({k: v if include_top else None for k, v in top.items()})
    return names


def _stages(x, variant):
    """Five stages of same-padded 3x3 convolutions with ReLU, each closed by a 2x2 max-pool."""
    for stage, (repeats, filters) in enumerate(zip(_STAGES[variant], _FILTERS), start=1):
        for i in range(1, repeats + 1):
            x = keras.layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"block{stage}_conv{i}"
            )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
    return x


def _top(x, classes, classifier_activation):
    """VGG's classifier: the feature map flattened, two 4096-unit ReLU layers, the output.

    Flatten ties the top to one input size, which is why `prepare` asks for a fixed
    spatial size with `include_top=True`.
    """
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
    return _image.classifier(x, classes, classifier_activation)


def _vgg(variant, *, weights, name, **args):
    """The one builder: five convolution stages, then `_image` finishes the model."""
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=224,
        min_size=32,
        imagenet=WEIGHTS[variant],
        torchvision=TORCHVISION_WEIGHTS[variant],
    ) as build:
        x = _stages(build.x, variant)
        names = torchvision_names(variant, build.include_top)
        return build.finish(x, top=_top, feature_layers=FEATURE_LAYERS, torchvision_names=names)


def _register(name, reference_params):
    # The other sizes repeat the smallest one's blocks, more of them per stage.
    same_blocks_as = None if name == "vgg16" else "vgg16"
    return register_model(
        name,
        family="vgg",
        paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale "
        "Image Recognition, ICLR",
        year=2014,
        default_input_shape=(224, 224, 3),
        min_input_size=32,
        task="image_classification",
        reference_params=reference_params,
        test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
        feature_layers=FEATURE_LAYERS,
        weights=WEIGHTS[name],
        same_blocks_as=same_blocks_as,
        preprocessing="caffe",
    )


@_register("vgg16", 138_357_544)
def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
    features_only=False,
    data_format=None,
):
    """VGG16: depth from stacks of small 3x3 convolutions, two of which see as far as one 5x5.

    Simonyan & Zisserman (2014): 13 convolutions in five max-pooled stages, filters
    doubling from 64 to 512, then a 4096-4096 classifier.

    Args:
        include_top: whether to include the 4096-4096 classifier (needs a fixed size).
        weights: None, "imagenet" (keras.applications' file, downloaded once), a path, or
            "torchvision" (torchvision's ImageNet file from torch's hub cache, converted;
            the top then needs 224x224 inputs).
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` under
            channels_first), at least 32x32; default `(224, 224, 3)` with the top,
            `(None, None, 3)` without.
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
    return _vgg("vgg16", **locals())


@_register("vgg19", 143_667_240)
def VGG19(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg19",
    features_only=False,
    data_format=None,
):
    """VGG19: VGG16's small-3x3-convolution design made deeper, four convolutions per late stage.

    Simonyan & Zisserman (2014): 16 convolutions in five max-pooled stages, then a
    4096-4096 classifier. Arguments as `VGG16`.
    """
    return _vgg("vgg19", **locals())

"""VGG16 and VGG19 (Simonyan & Zisserman, 2014), in keras.applications' layout.

Reference:
- [Very Deep Convolutional Networks for Large-Scale Image Recognition](
    https://arxiv.org/abs/1409.1556) (ICLR 2015)

Five stages of 3x3 convolutions (64, 128, 256, 512, 512 filters), each closed by a
2x2 max-pool, then the 4096-4096 classifier. Layer names match keras.applications,
so its ImageNet files load unchanged: 138,357,544 (VGG16) and 143,667,240 (VGG19)
parameters.
"""

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.registry import register_model

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


def _vgg(
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
    x = img_input
    for stage, (repeats, filters) in enumerate(zip(_STAGES[variant], _FILTERS), start=1):
        for i in range(1, repeats + 1):
            x = keras.layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"block{stage}_conv{i}"
            )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
        x = _image.classifier(x, classes, classifier_activation)
    elif not features_only:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    model = _image.load_weights(model, weights)
    return _image.feature_model(model, FEATURE_LAYERS, name) if features_only else model


_COMMON = dict(
    family="vgg",
    paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale "
    "Image Recognition, ICLR",
    year=2014,
    default_input_shape=(224, 224, 3),
    min_input_size=32,
    task="image_classification",
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=FEATURE_LAYERS,
)


@register_model("vgg16", reference_params=138_357_544, **_COMMON)
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
):
    """VGG16: depth from stacks of small 3x3 convolutions, two of which see as far as one 5x5.

    Simonyan & Zisserman (2014): 13 convolutions in five max-pooled stages, filters
    doubling from 64 to 512, then a 4096-4096 classifier.

    Args:
        include_top: whether to include the 4096-4096 classifier (needs a fixed size).
        weights: None, "imagenet" (keras.applications' file, downloaded once) or a path.
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)`, at least 32x32; default `(224, 224, 3)`
            with the top, `(None, None, 3)` without.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the output layer.
        name: model name.
        features_only: return a model whose outputs are the dict {"P1".."P5"} of
            feature maps at strides 2..32 (the top and `pooling` are ignored).

    Returns:
        A `keras.Model`.
    """
    return _vgg(
        "vgg16",
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


@register_model("vgg19", reference_params=143_667_240, **_COMMON)
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
):
    """VGG19: VGG16's small-3x3-convolution design made deeper, four convolutions per late stage.

    Simonyan & Zisserman (2014): 16 convolutions in five max-pooled stages, then a
    4096-4096 classifier. Arguments as `VGG16`.
    """
    return _vgg(
        "vgg19",
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

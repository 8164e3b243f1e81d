"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), in torchvision's single-tower layout.

Reference:
- [ImageNet Classification with Deep Convolutional Neural Networks](
    https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks)
  (NeurIPS 2012)
- [One weird trick for parallelizing convolutional neural networks](
    https://arxiv.org/abs/1404.5997) (Krizhevsky 2014), the single-GPU variant
  torchvision implements: 64-192-384-256-256 convolutions.

Layers match torchvision's `alexnet` one for one (zero padding then a "valid"
convolution reproduces PyTorch's symmetric padding), so its 61,100,840 parameters
and its ImageNet weights carry over (`weights="torchvision"`).
"""

import keras

from keras_archs.applications import _image
from keras_archs.layers import AdaptiveAveragePooling2D
from keras_archs.registry import register_model
from keras_archs.validation import check_rate
from keras_archs.weights.torchvision import torchvision_file

# No keras.applications file; torchvision's ImageNet weights convert into this layout
# layer for layer (see the module docstring).
WEIGHTS: dict = {}
TORCHVISION_WEIGHTS = {"alexnet": torchvision_file("alexnet-owt-7be5be79.pth")}


def torchvision_names(include_top=True):
    """torchvision module -> layer (`features.0` -> `conv1`, ..., `classifier.6` ->
    `predictions`; torchvision counts each ReLU, max-pool and dropout)."""
    names = {f"features.{i}": f"conv{n}" for n, i in enumerate((0, 3, 6, 8, 10), start=1)}
    top = {"classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "predictions"}
    names.update({k: v if include_top else None for k, v in top.items()})
    return names


def _conv(x, filters, kernel_size, strides, padding, name):
    # PyTorch pads symmetrically; ZeroPadding2D + "valid" is the exact equivalent.
    x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, activation="relu", name=name)(
        x
    )


def _top(dropout):
    """torchvision's classifier: 6x6 adaptive pooling, then dropout-4096-dropout-4096-out."""

    def top(x, classes, classifier_activation):
        # torchvision's AdaptiveAvgPool2d((6, 6)): any input size gives 6x6x256 features.
        x = AdaptiveAveragePooling2D(6, name="adaptive_pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dropout(dropout, name="drop6")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
        x = keras.layers.Dropout(dropout, name="drop7")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
        return _image.classifier(x, classes, classifier_activation)

    return top


def _alexnet(*, dropout, weights, name, **args):
    """The one builder: five convolutions with three max-pools, then torchvision's top."""
    check_rate("dropout", dropout)
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=224,
        min_size=63,
        imagenet=WEIGHTS.get("alexnet"),
        torchvision=TORCHVISION_WEIGHTS["alexnet"],
    ) as build:
        x = _conv(build.x, 64, 11, 4, 2, "conv1")
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        x = _conv(x, 192, 5, 1, 2, "conv2")
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)
        x = _conv(x, 384, 3, 1, 1, "conv3")
        x = _conv(x, 256, 3, 1, 1, "conv4")
        x = _conv(x, 256, 3, 1, 1, "conv5")
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool5")(x)
        names = torchvision_names(build.include_top)
        return build.finish(x, top=_top(dropout), torchvision_names=names)


@register_model(
    "alexnet",
    family="alexnet",
    paper="Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep "
    "Convolutional Neural Networks, NeurIPS",
    year=2012,
    default_input_shape=(224, 224, 3),
    min_input_size=63,
    task="image_classification",
    reference_params=61_100_840,
    test_kwargs={"input_shape": (63, 63, 3), "classes": 10},
    train_defaults={
        "data": "digits",
        "input_shape": (63, 63, 1),
        # The paper's SGD recipe (batch 128, 90 ImageNet epochs) is untried on 1.4k
        # digits; Adam at 1e-4 trains them.
        "optimizer": "adam",
        "learning_rate": 1e-4,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "schedule": "constant",
        "epochs": 15,
        "batch_size": 32,
        "augment": "none",
    },
    weights=WEIGHTS.get("alexnet"),
    # No preprocess_input: pixels scaled to [0, 1], as `keras-archs train` feeds them.
    preprocessing="scale",
)
def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="alexnet",
    dropout=0.5,
    data_format=None,
):
    """AlexNet: a deep ReLU convolutional network regularised by dropout, trained on GPUs.

    Five convolutions whose filter counts grow with depth, ReLU instead of
    saturating units and dropout in the 4096-4096 classifier made the first deep
    network to win ImageNet (Krizhevsky et al., 2012).

    Args:
        include_top: whether to include the adaptive 6x6 pooling and the classifier.
        weights: None, the path to a weights file, or "torchvision" (torchvision's
            ImageNet file from torch's hub cache, converted).
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` for
            channels_first), at least 63x63; default 224x224x3.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: activation of the output layer.
        name: model name.
        dropout: dropout rate before each of the two 4096-unit layers, in [0, 1).
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _alexnet(**locals())

"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998).

Reference:
- [Gradient-Based Learning Applied to Document Recognition](
    http://vision.stanford.edu/cs598_spring07/papers/Lecun98.pdf) (Proc. IEEE 1998)

Layout of the paper: 32x32x1 input, C1 6@5x5, S2 2x2 subsampling, C3 16@5x5,
S4 2x2 subsampling, C5 120, F6 84, output. Subsampling is average pooling and
the squashing function tanh; C3 is fully connected to S2 (the paper's partial
connection table is a 1998 compute saving, not the idea), giving 61,706
parameters for 10 classes.
"""

import keras

from keras_archs.applications import _image
from keras_archs.registry import register_model

# No published weights.
WEIGHTS: dict = {}


def _top(x, classes, classifier_activation):
    """C5, F6 and the output: fully connected tanh layers on the flattened 5x5x16 maps."""
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(120, activation="tanh", name="c5")(x)
    x = keras.layers.Dense(84, activation="tanh", name="f6")(x)
    return _image.classifier(x, classes, classifier_activation)


def _lenet(*, weights, name, **args):
    """The one builder: two convolution + subsampling stages, then the C5-F6 classifier."""
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=32,
        min_size=16,
        default_channels=1,
        imagenet=WEIGHTS.get("lenet5"),
    ) as build:
        x = keras.layers.Conv2D(6, 5, activation="tanh", name="c1")(build.x)
        x = keras.layers.AveragePooling2D(2, name="s2")(x)
        x = keras.layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
        x = keras.layers.AveragePooling2D(2, name="s4")(x)
        return build.finish(x, top=_top)


@register_model(
    "lenet5",
    family="lenet",
    paper="LeCun et al., Gradient-Based Learning Applied to Document Recognition, Proc. IEEE",
    year=1998,
    default_input_shape=(32, 32, 1),
    min_input_size=16,
    task="image_classification",
    reference_params=61_706,
    test_kwargs={"input_shape": (32, 32, 1), "classes": 10},
    # `keras-archs train lenet5` (the README's first run): 30 epochs on the 1,438
    # training digits with the recipe's Adam, cosine-annealed, and random shifts of up to
    # 4 pixels (pad-and-crop; the paper's distortions): 0.983 to 0.989 validation
    # accuracy over seeds 0-2 in about 15 s on 2 cores (0.975 to 0.978 unaugmented).
    train_defaults={
        "data": "digits",
        "epochs": 30,
        "batch_size": 32,
        "learning_rate": 2e-3,
        "schedule": "cosine",
        "augment": "basic",
    },
    weights=WEIGHTS.get("lenet5"),
    # No preprocess_input: pixels scaled to [0, 1], as `keras-archs train` feeds them.
    preprocessing="scale",
)
def LeNet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="lenet5",
    data_format=None,
):
    """LeNet-5: spatial size shrinks with depth while the number of feature maps grows.

    Convolution and subsampling alternate, so each stage sees a wider field with
    coarser resolution and more channels (LeCun et al., 1998).

    Args:
        include_top: whether to include the C5-F6-output classifier.
        weights: None or the path to a weights file.
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)` (`(channels, height, width)` for
            channels_first), at least 16x16; default 32x32x1.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (default 10, the digits).
        classifier_activation: activation of the output layer.
        name: model name.
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.

    Returns:
        A `keras.Model`.
    """
    return _lenet(**locals())

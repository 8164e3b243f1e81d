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
    train_defaults={"data": "digits", "epochs": 20, "batch_size": 32, "learning_rate": 2e-3},
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
):
    """LeNet-5: spatial size shrinks with depth while the number of feature maps grows.

    Convolution and subsampling alternate, so each stage sees a wider field with
    coarser resolution and more channels (LeCun et al., 1998).

    Args:
        include_top: whether to include the C5-F6-output classifier.
        weights: None or the path to a weights file.
        input_tensor: optional tensor to use as the model input.
        input_shape: `(height, width, channels)`, at least 16x16; default `(32, 32, 1)`.
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classes: number of classes (default 10, the digits).
        classifier_activation: activation of the output layer.
        name: model name.

    Returns:
        A `keras.Model`.
    """
    input_shape = _image.check_image_args(
        weights=weights,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_size=32,
        min_size=16,
        default_channels=1,
    )
    img_input = _image.image_input(input_shape, input_tensor)
    x = keras.layers.Conv2D(6, 5, activation="tanh", name="c1")(img_input)
    x = keras.layers.AveragePooling2D(2, name="s2")(x)
    x = keras.layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = keras.layers.AveragePooling2D(2, name="s4")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(120, activation="tanh", name="c5")(x)
        x = keras.layers.Dense(84, activation="tanh", name="f6")(x)
        x = _image.classifier(x, classes, classifier_activation)
    else:
        x = _image.pool_features(x, pooling)
    model = _image.make_model(img_input, input_tensor, x, name)
    return _image.load_weights(model, weights)

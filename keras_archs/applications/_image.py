"""Shared argument checks, inputs and heads for the image builders.

Every image builder keeps the keras.applications signature and behaviour
(DESIGN.md rule 4). This module holds that behaviour once: argument validation
(raised before any tensor work), the input tensor, the pooling/classifier head
and weight loading. Only "channels_last" is supported.
"""

from __future__ import annotations

import os

import keras

_POOLINGS = (None, "avg", "max")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_image_args(
    *,
    weights,
    include_top,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    default_size,
    min_size,
    default_channels=3,
    imagenet_available=False,
    require_fixed_shape=None,
):
    """Validates builder arguments and returns the input shape to build with.

    Mirrors keras.applications' `obtain_input_shape`, but accepts any channel
    count when `weights` is None, and names the argument, the value and what is
    accepted in every error.

    Args:
        require_fixed_shape: whether the spatial size must be known (a Flatten
            top). Defaults to `include_top`.
    """
    if require_fixed_shape is None:
        require_fixed_shape = include_top
    allowed_weights = "None, 'imagenet' or the path to a weights file"
    if not imagenet_available:
        allowed_weights = "None or the path to a weights file"
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be {allowed_weights}; got weights={weights!r}.")
    if weights == "imagenet":
        if not imagenet_available:
            raise ValueError(
                "weights='imagenet' is not available for this architecture (no published "
                f"ImageNet weights in keras.applications' layout); use {allowed_weights}."
            )
    elif weights is not None and not os.path.isfile(weights):
        raise ValueError(
            f"weights must be {allowed_weights}; got weights={str(weights)!r}, "
            "which is not an existing file."
        )
    if not isinstance(include_top, bool):
        raise TypeError(f"include_top must be True or False; got include_top={include_top!r}.")
    if not _is_int(classes) or classes < 1:
        raise ValueError(f"classes must be an integer >= 1; got classes={classes!r}.")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "With weights='imagenet' and include_top=True, classes must be 1000 (the "
            f"ImageNet classes); got classes={classes}. Use include_top=False or weights=None."
        )
    if pooling not in _POOLINGS:
        raise ValueError(f"pooling must be one of None, 'avg' or 'max'; got pooling={pooling!r}.")
    if weights == "imagenet" and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "With weights='imagenet', classifier_activation must be None or 'softmax'; "
            f"got classifier_activation={classifier_activation!r}."
        )
    if classifier_activation is not None and not callable(classifier_activation):
        try:
            keras.activations.get(classifier_activation)
        except (ValueError, TypeError) as e:
            raise ValueError(
                "classifier_activation must be None, a callable or a Keras activation name; "
                f"got classifier_activation={classifier_activation!r}."
            ) from e

    if input_shape is None and input_tensor is not None:
        try:
            input_shape = tuple(keras.ops.shape(input_tensor)[1:])
        except Exception as e:
            raise ValueError(
                f"input_tensor must be a Keras or backend tensor; got {input_tensor!r}."
            ) from e
        input_shape = tuple(d if d is None else int(d) for d in input_shape)
    if input_shape is None:
        size = default_size if (require_fixed_shape or weights == "imagenet") else None
        return (size, size, default_channels)

    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "input_shape must be a tuple (height, width, channels) in channels_last order; "
            f"got input_shape={input_shape!r}."
        )
    input_shape = tuple(input_shape)
    height, width, channels = input_shape
    if channels is None or not _is_int(channels) or channels < 1:
        raise ValueError(
            "The channel count (last entry of input_shape) must be an integer >= 1; "
            f"got input_shape={input_shape!r}."
        )
    if weights == "imagenet" and channels != 3:
        raise ValueError(
            "With weights='imagenet' the input must have 3 channels; "
            f"got input_shape={input_shape!r}. Use weights=None for other channel counts."
        )
    for dim in (height, width):
        if dim is None:
            continue
        if not _is_int(dim) or dim < min_size:
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; got "
                f"input_shape={input_shape!r}."
            )
    if require_fixed_shape and (height is None or width is None):
        raise ValueError(
            "With include_top=True the spatial size must be fixed; got "
            f"input_shape={input_shape!r}. Pass a fixed size, or include_top=False."
        )
    return input_shape


def image_input(input_shape, input_tensor, name="input_layer"):
    """The model input: a new `keras.Input`, or one wrapping `input_tensor`."""
    if input_tensor is None:
        return keras.Input(shape=input_shape, name=name)
    if keras.backend.is_keras_tensor(input_tensor):
        return input_tensor
    return keras.Input(tensor=input_tensor, shape=input_shape, name=name)


def pool_features(x, pooling, name_prefix=""):
    """Global pooling for `include_top=False`, as keras.applications does it."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{name_prefix}avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{name_prefix}max_pool")(x)
    return x


def classifier(x, classes, classifier_activation, name="predictions"):
    return keras.layers.Dense(classes, activation=classifier_activation, name=name)(x)


def make_model(img_input, input_tensor, outputs, name):
    """A functional model whose inputs are `input_tensor`'s sources when it was given."""
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    return keras.Model(inputs, outputs, name=name)


def load_weights(model, weights, name_map=None):
    """Loads a weights file (a path) into `model`; None leaves the initialisation.

    `name_map` (file layer name -> model leaf path) is used for keras.applications'
    legacy `.h5` files; see `keras_archs.weights.keras_applications`.
    """
    if weights is None:
        return model
    from keras_archs.weights import load_weights_file

    load_weights_file(model, weights, name_map=name_map)
    return model


def resolve_weights(weights, weights_key, include_top):
    """`weights="imagenet"`: the cached keras.applications file of `weights_key` (downloaded
    on first use); any other value is returned unchanged."""
    if weights != "imagenet":
        return weights
    from keras_archs.weights.imagenet import fetch_imagenet_weights

    return fetch_imagenet_weights(weights_key, include_top)


def feature_model(model, feature_layers, name):
    """A model from `model`'s inputs to the dict {"P1": ..., "P5": ...} of `feature_layers`
    outputs (key -> layer name), as `features_only=True` builders return."""
    outputs = {key: model.get_layer(layer).output for key, layer in feature_layers.items()}
    return keras.Model(model.inputs, outputs, name=name)


def features_only_args(features_only, include_top, pooling):
    """(include_top, pooling) to build the trunk with: `features_only=True` drops the top
    and the pooling, whose outputs the feature pyramid replaces."""
    if not isinstance(features_only, bool):
        raise TypeError(
            f"features_only must be True or False; got features_only={features_only!r}."
        )
    return (False, None) if features_only else (include_top, pooling)


def prepare(*, features_only, weights_key, **args):
    """The common start of an ImageNet builder: validate every argument (`args` are
    `check_image_args`'s), resolve `weights="imagenet"` to the file of `weights_key`
    (None: no ImageNet weights), make the input.
    Returns (include_top, pooling, input_shape, weights, img_input)."""
    include_top, pooling = features_only_args(features_only, args["include_top"], args["pooling"])
    args.update(include_top=include_top, pooling=pooling)
    input_shape = check_image_args(**args, imagenet_available=weights_key is not None)
    weights = resolve_weights(args["weights"], weights_key, include_top)
    return (
        include_top,
        pooling,
        input_shape,
        weights,
        image_input(input_shape, args["input_tensor"]),
    )


def correct_pad(x, kernel_size):
    """keras.applications' `correct_pad`: the ZeroPadding2D before a stride-2 "valid"
    convolution that centres the kernel like TF's "same" (one pixel less on top/left for
    even or unknown sizes)."""
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    size = x.shape[1:3]
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    return ((k[0] // 2 - adjust[0], k[0] // 2), (k[1] // 2 - adjust[1], k[1] // 2))

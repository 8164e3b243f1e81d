"""The way into and out of every image builder: `prepare(...)` and `ImageBuild.finish(...)`.

Every image builder keeps keras.applications' signature and behaviour. This module
holds that behaviour once, so a family module contains only its architecture:

    with _image.prepare(include_top=..., weights=..., ..., default_size=224,
                        min_size=32, imagenet=WEIGHTS["resnet50"]) as build:
        x = _stem(build.x)          # build.x: the input, channels_last
        ...
        return build.finish(x, top=..., feature_layers=FEATURE_LAYERS)

`prepare` checks every argument before any tensor work (a `ValueError`/`TypeError`
naming the argument, the value and what is accepted), resolves `weights="imagenet"`
to keras.applications' cached file (and, for families in torchvision's layout,
`weights="torchvision"` to torchvision's file in torch's hub cache) and makes the
input. `finish` adds the top (or the global pooling), builds the `keras.Model`, loads
the weights and, with `features_only=True`, returns the feature pyramid instead.

Data format: the builders honour `keras.config.image_data_format()` (or their
`data_format` argument). Under "channels_first" the model takes (batch, channels,
height, width) inputs and returns channels-first feature maps, with the same layers,
parameter count and weight files as the channels_last model and, for the same weights,
the same outputs on transposed inputs. Inside, the network computes channels_last (one
transpose after the input, one before a feature-map output): the published weights,
the custom layers and the CPU kernels (oneDNN, XLA) are all channels_last, and one
layout inside means one set of layers to test. Layers are therefore created while the
`with` block holds the global setting at "channels_last"; it is restored on exit, also
when building fails.
"""

from __future__ import annotations

import os

import keras

from keras_archs.validation import check_bool, check_choice, is_int

_POOLINGS = (None, "avg", "max")
_DATA_FORMATS = ("channels_last", "channels_first")
# The named ImageNet weights: keras.applications' files and torchvision's, converted.
_PRETRAINED = ("imagenet", "torchvision")


def _check_weights(weights, imagenet_available, torchvision_available=False):
    accepted = "None, 'imagenet' or the path to a weights file"
    if not imagenet_available:
        accepted = "None or the path to a weights file"
    if torchvision_available:
        accepted += " (or 'torchvision': torchvision's ImageNet weights, converted)"
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be {accepted}; got weights={weights!r}.")
    if weights == "imagenet":
        if not imagenet_available:
            raise ValueError(
                "weights='imagenet' is not available for this architecture (no published "
                f"ImageNet weights in keras.applications' layout); use {accepted}."
            )
    elif weights == "torchvision":
        if not torchvision_available:
            raise ValueError(
                "weights='torchvision' is not available for this architecture or "
                "configuration (torchvision publishes no ImageNet weights in its layout); "
                f"use {accepted}."
            )
    elif weights is not None and not os.path.isfile(weights):
        raise ValueError(
            f"weights must be {accepted}; got weights={os.fspath(weights)!r}, "
            "which is not an existing file."
        )


def _check_head(weights, include_top, classes, classifier_activation):
    if not is_int(classes) or classes < 1:
        raise ValueError(f"classes must be an integer >= 1; got classes={classes!r}.")
    pretrained = weights in _PRETRAINED
    if pretrained and include_top and classes != 1000:
        raise ValueError(
            f"With weights={weights!r} and include_top=True, classes must be 1000 (the "
            f"ImageNet classes); got classes={classes}. Use include_top=False or weights=None."
        )
    if pretrained and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            f"With weights={weights!r}, classifier_activation must be None or 'softmax'; "
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


def _shape_of(input_tensor):
    try:
        shape = tuple(keras.ops.shape(input_tensor)[1:])
    except Exception as e:
        raise ValueError(
            f"input_tensor must be a Keras or backend tensor; got {input_tensor!r}."
        ) from e
    return tuple(d if d is None else int(d) for d in shape)


def check_input_shape(
    input_shape,
    input_tensor,
    *,
    weights,
    data_format,
    default_size,
    min_size,
    default_channels,
    require_fixed_shape,
):
    """The input shape to build with, in channels_last order (height, width, channels).

    Mirrors keras.applications' `obtain_input_shape`, but accepts any channel count
    when `weights` is None, and names the argument, the value and what is accepted.
    `input_shape` (and `input_tensor`'s shape) are read in `data_format` order.
    """
    first = data_format == "channels_first"
    order = "(channels, height, width)" if first else "(height, width, channels)"
    if input_shape is None and input_tensor is not None:
        input_shape = _shape_of(input_tensor)
    if input_shape is None:
        size = default_size if (require_fixed_shape or weights in _PRETRAINED) else None
        return (size, size, default_channels)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be a tuple {order} ({data_format}); got input_shape={input_shape!r}."
        )
    given = tuple(input_shape)
    height, width, channels = (given[1], given[2], given[0]) if first else given
    if channels is None or not is_int(channels) or channels < 1:
        raise ValueError(
            f"The channel count of input_shape {order} must be an integer >= 1; "
            f"got input_shape={given!r}."
        )
    if weights in _PRETRAINED and channels != 3:
        raise ValueError(
            f"With weights={weights!r} the input must have 3 channels; "
            f"got input_shape={given!r}. Use weights=None for other channel counts."
        )
    for dim in (height, width):
        if dim is not None and (not is_int(dim) or dim < min_size):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; got input_shape={given!r} "
                f"{order}."
            )
    if require_fixed_shape and (height is None or width is None):
        raise ValueError(
            "With include_top=True the spatial size must be fixed; got "
            f"input_shape={given!r}. Pass a fixed size, or include_top=False."
        )
    return (height, width, int(channels))


def resolve_data_format(data_format=None):
    """`data_format`, or `keras.config.image_data_format()` when None; checked."""
    if data_format is None:
        data_format = keras.config.image_data_format()
    return check_choice("data_format", data_format, _DATA_FORMATS)


class ImageBuild:
    """What `prepare` checked and made; `finish` closes the model with it.

    Attributes:
        x: the input as a channels_last tensor, where the network starts.
        input_shape: the checked input shape, channels_last (height, width, channels).
        include_top, pooling, classes, classifier_activation, name, features_only,
        data_format: the builder's arguments after checking (`features_only=True` sets
            `include_top=False` and `pooling=None`).
        weights: None or the path of the weights file to load.
        weights_origin: "torchvision" when `weights` is torchvision's `.pth` file (loaded
            along the family's `torchvision_names`), else None.
    """

    def __init__(self, *, args, input_shape, weights, data_format, weights_origin=None):
        self.include_top = args["include_top"]
        self.pooling = args["pooling"]
        self.classes = args["classes"]
        self.classifier_activation = args["classifier_activation"]
        self.name = args["name"]
        self.features_only = args["features_only"]
        self.input_tensor = args["input_tensor"]
        self.input_shape = input_shape
        self.weights = weights
        self.weights_origin = weights_origin
        self.data_format = data_format
        self._saved_format = None
        h, w, c = input_shape
        outer_shape = (c, h, w) if data_format == "channels_first" else input_shape
        self.inputs = _image_input(outer_shape, self.input_tensor)
        if data_format == "channels_first":
            self.x = keras.layers.Permute((2, 3, 1), name="to_channels_last")(self.inputs)
        else:
            self.x = self.inputs

    def __enter__(self):
        self._saved_format = keras.config.image_data_format()
        keras.config.set_image_data_format("channels_last")
        return self

    def __exit__(self, *exc):
        keras.config.set_image_data_format(self._saved_format)
        return False

    def _outer(self, x, name):
        """A channels_last feature map in the model's data format."""
        if self.data_format == "channels_first" and len(x.shape) == 4:
            return keras.layers.Permute((3, 1, 2), name=name)(x)
        return x

    def finish(
        self,
        x,
        *,
        top=None,
        extra_outputs=(),
        feature_layers=None,
        name_map=None,
        torchvision_names=None,
    ):
        """The model: top or pooling on `x`, weights loaded, or the feature pyramid.

        Args:
            x: the last feature map (channels_last).
            top: `top(x, classes, classifier_activation) -> output`, the layers from the
                last feature map to the class scores; default: global average pooling
                ("avg_pool") and the Dense classifier ("predictions").
            extra_outputs: further outputs with the top (GoogLeNet's auxiliary heads).
            feature_layers: {"P1": layer name, ...}: the feature pyramid that
                `features_only=True` returns (stride 2**i for "Pi").
            name_map: file layer name -> model leaf path, for keras.applications' legacy
                `.h5` files of families that nest those layers.
            torchvision_names: torchvision module name -> model leaf path (None: a module
                this model leaves out), for `weights="torchvision"`
                (`keras_archs.weights.torchvision.load_torchvision_state_dict`).
        """
        if self.include_top:
            outputs = (top or average_top())(x, self.classes, self.classifier_activation)
            if extra_outputs:
                outputs = [outputs, *extra_outputs]
        elif self.pooling == "avg":
            outputs = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif self.pooling == "max":
            outputs = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        else:
            outputs = self._outer(x, "to_channels_first")
        inputs = self.inputs
        if self.input_tensor is not None:
            inputs = keras.utils.get_source_inputs(self.input_tensor)
        model = keras.Model(inputs, outputs, name=self.name)
        if self.weights_origin == "torchvision":
            from keras_archs.weights.torchvision import load_torchvision_file

            if torchvision_names is None:
                raise ValueError(f"{self.name!r} names no layers for torchvision's weights.")
            load_torchvision_file(model, self.weights, torchvision_names)
        elif self.weights is not None:
            from keras_archs.weights import load_weights_file

            load_weights_file(model, self.weights, name_map=name_map)
        if not self.features_only:
            return model
        if not feature_layers:
            raise ValueError(f"features_only=True is not available for {self.name!r}.")
        pyramid = {
            key: self._outer(model.get_layer(layer).output, f"{key}_channels_first")
            for key, layer in feature_layers.items()
        }
        return keras.Model(model.input, pyramid, name=self.name)


def average_top(pool_name="avg_pool", dropout=None, dropout_name="dropout"):
    """The usual top: global average pooling, optional dropout, the Dense classifier."""

    def top(x, classes, classifier_activation):
        x = keras.layers.GlobalAveragePooling2D(name=pool_name)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=dropout_name)(x)
        return classifier(x, classes, classifier_activation)

    return top


def classifier(x, classes, classifier_activation, name="predictions"):
    """The Dense output layer every top ends in (keras.applications' "predictions")."""
    return keras.layers.Dense(classes, activation=classifier_activation, name=name)(x)


def _image_input(input_shape, input_tensor, name="input_layer"):
    if input_tensor is None:
        return keras.Input(shape=input_shape, name=name)
    if keras.backend.is_keras_tensor(input_tensor):
        return input_tensor
    return keras.Input(tensor=input_tensor, shape=input_shape, name=name)


def prepare(
    *,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    features_only=False,
    data_format=None,
    default_size,
    min_size,
    default_channels=3,
    imagenet=None,
    torchvision=None,
    require_fixed_shape=None,
):
    """Checks every builder argument and makes the input; returns an `ImageBuild`.

    Args:
        default_size: the input size when `input_shape` is not given (and the top needs
            a fixed size, or ImageNet weights are loaded).
        min_size: the smallest height and width the network accepts.
        default_channels: channels when `input_shape` is not given.
        imagenet: the family's `WEIGHTS` entry for this variant (None: no ImageNet
            weights), or a function from the checked channels_last input shape to it
            (MobileNet's files depend on the input size).
        torchvision: the family's `TORCHVISION_WEIGHTS` entry for this variant and
            configuration (None: `weights="torchvision"` is refused), see
            `keras_archs.weights.torchvision`.
        require_fixed_shape: whether the spatial size must be known (a Flatten top).
            Defaults to `include_top`.
    """
    check_bool("features_only", features_only)
    check_bool("include_top", include_top)
    if features_only:  # the pyramid replaces the top and the pooling
        include_top, pooling = False, None
    data_format = resolve_data_format(data_format)
    _check_weights(weights, imagenet is not None, torchvision is not None)
    _check_head(weights, include_top, classes, classifier_activation)
    check_choice("pooling", pooling, _POOLINGS)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string; got name={name!r}.")
    if require_fixed_shape is None:
        require_fixed_shape = include_top
    input_shape = check_input_shape(
        input_shape,
        input_tensor,
        weights=weights,
        data_format=data_format,
        default_size=default_size,
        min_size=min_size,
        default_channels=default_channels,
        require_fixed_shape=require_fixed_shape,
    )
    if weights == "imagenet":
        entry = imagenet(input_shape) if callable(imagenet) else imagenet
        from keras_archs.weights.imagenet import fetch_imagenet_weights

        weights = fetch_imagenet_weights(entry, include_top)
    origin = None
    if weights == "torchvision":
        from keras_archs.weights.torchvision import fetch_torchvision_weights

        weights, origin = fetch_torchvision_weights(torchvision), "torchvision"
    args = dict(
        include_top=include_top,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        features_only=features_only,
        input_tensor=input_tensor,
    )
    return ImageBuild(
        args=args,
        input_shape=input_shape,
        weights=weights,
        data_format=data_format,
        weights_origin=origin,
    )


def correct_pad(x, kernel_size):
    """keras.applications' `correct_pad`: the ZeroPadding2D before a stride-2 "valid"
    convolution that centres the kernel like TF's "same" (one pixel less on top/left for
    even or unknown sizes)."""
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    size = x.shape[1:3]
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    return ((k[0] // 2 - adjust[0], k[0] // 2), (k[1] // 2 - adjust[1], k[1] // 2))


LAYOUTS = ("keras", "torchvision")


def resolve_layout(layout, weights, default="keras", choices=LAYOUTS):
    """A family's `layout` argument, checked: `layout`, or when None "torchvision" for
    `weights="torchvision"` and `default` otherwise.

    The torchvision layout is the one torchvision's weights load into; keras.applications'
    files (`weights="imagenet"`) load into the family's default layout only.
    """
    if layout is None:
        layout = "torchvision" if weights == "torchvision" else default
    check_choice("layout", layout, choices)
    if weights == "torchvision" and layout != "torchvision":
        raise ValueError(
            "weights='torchvision' loads into layout='torchvision' (or layout=None); "
            f"got layout={layout!r}."
        )
    if weights == "imagenet" and layout == "torchvision":
        raise ValueError(
            "weights='imagenet' (keras.applications' files) does not load into "
            f"layout='torchvision'; use weights='torchvision', or layout={default!r}."
        )
    return layout


def resolve_transform_input(transform_input, weights):
    """torchvision's default: `transform_input` when given, else whether torchvision's
    weights are loaded (torchvision's googlenet and inception_v3 set it with them)."""
    if transform_input is None:
        return weights == "torchvision"
    return check_bool("transform_input", transform_input)


# torchvision's `transform_input`: inputs normalized with the ImageNet mean and standard
# deviation become inputs scaled to [-1, 1], the range Google's ported weights expect.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def transform_input(x, name="transform_input"):
    """torchvision's GoogLeNet / Inception3 `transform_input` on a channels_last RGB map:
    channel c becomes x * std[c] / 0.5 + (mean[c] - 0.5) / 0.5."""
    if x.shape[-1] != 3:
        raise ValueError(
            "transform_input=True rescales the three RGB channels; got an input with "
            f"{x.shape[-1]} channels."
        )
    # (1, 1, 3)-shaped factors broadcast over the channels_last map under either global
    # data format (Rescaling reshapes 1-D factors for channels_first).
    scale = [[[s / 0.5 for s in _IMAGENET_STD]]]
    offset = [[[(m - 0.5) / 0.5 for m in _IMAGENET_MEAN]]]
    return keras.layers.Rescaling(scale, offset=offset, name=name)(x)

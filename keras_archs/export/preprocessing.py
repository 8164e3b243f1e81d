"""How an exported image classifier turns 0-255 pixels into what the model expects.

TensorFlow Serving clients send pixels, not a model's input convention, so the image
signatures apply the preprocessing inside the graph. The convention is registry data:
each image family registers keras.applications' `preprocess_input` mode as
`ModelSpec.preprocessing` ("caffe": RGB to BGR, ImageNet mean subtracted; "tf": scaled
to [-1, 1]; "torch": scaled to [0, 1], ImageNet mean and std; "scale": x / 255). The
export never infers it from layer names or a family module.

The spec of a model is the registry name given (`name=`, CLI `--name`) or, for a model
built with its builder's default name, `keras_archs.registry.find_by_model_name`; a
model with neither needs an explicit `preprocessing=`. A `model.keras` that `keras-archs
train` wrote has its run's `run.json` beside it, which names the model and the
preprocessing its training pipeline applied (`trained_with`); the CLI's "auto" uses it.
"""

from __future__ import annotations

import json
import os

from keras_archs.registry import find_by_model_name, get_spec
from keras_archs.validation import check_choice

# keras.applications' modes, "scale", and "none" (pixels passed unchanged).
MODES = ("caffe", "tf", "torch", "scale", "none")
# "auto": the registry's mode. None: no image signatures (the model's own inputs).
PREPROCESSING_CHOICES = ("auto", *MODES, None)


def trained_with(model_path):
    """What the training run of a model file recorded: `{"model": registry name,
    "preprocessing": mode}` from the `run.json` beside it (written by `keras-archs
    train`), or {} when there is none or it is not such a file."""
    record = os.path.join(os.path.dirname(os.path.abspath(model_path)), "run.json")
    try:
        with open(record) as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(config, dict) or not str(config.get("format", "")).startswith(
        "keras_archs.train/"
    ):
        return {}
    found = {"model": config.get("model")}
    if config.get("preprocessing") in MODES:
        found["preprocessing"] = config["preprocessing"]
    return found


def model_spec(model, name=None):
    """The registry spec of `model`: that of `name` if given, else the spec whose builder's
    default name is `model.name` exactly (`find_by_model_name`), else None."""
    if name is not None:
        return get_spec(name)
    return find_by_model_name(model.name)


def takes_images(model):
    """True when `model` has one float input of rank 4 (a batch of images)."""
    inputs = model.inputs
    return len(inputs) == 1 and len(inputs[0].shape) == 4 and "float" in str(inputs[0].dtype)


def image_data_format(model):
    """ "channels_first" when the model's input feeds a `Permute((2, 3, 1))` (how the image
    builders take channels-first input and compute channels_last), else "channels_last"."""
    import keras

    source = model.inputs[0]
    for layer in model.layers:
        if isinstance(layer, keras.layers.Permute) and tuple(layer.dims) == (2, 3, 1):
            try:
                if layer.input is source:
                    return "channels_first"
            except (AttributeError, ValueError):  # a layer called more than once
                continue
    return "channels_last"


def check_preprocessing(preprocessing):
    """One of `PREPROCESSING_CHOICES` or a callable."""
    if not callable(preprocessing):
        check_choice("preprocessing", preprocessing, PREPROCESSING_CHOICES)
    return preprocessing


def serving_preprocessing(model, name=None, preprocessing="auto"):
    """The preprocessing the image signatures of `model` apply, or None without them.

    Returns one of `MODES` or the callable given, for a model served through `images`
    and `image_bytes` signatures; None for a model served by its own inputs (a text or
    sequence model, or `preprocessing=None`).

    Args:
        model: a Functional `keras.Model`.
        name: its registry name, when it is not found from `model.name`.
        preprocessing: "auto" (the registry's mode for a registered image classifier;
            the model's own inputs for any other registered model), one of `MODES`, a
            callable on float32 0-255 pixels, or None.

    Raises ValueError when "auto" cannot tell (a model that takes images but is not
    found in the registry, or whose registry entry has no mode), when a mode is given
    for a model that does not take images, and when "caffe" or "torch" (RGB statistics)
    meets a model without 3 channels.
    """
    check_preprocessing(preprocessing)
    if preprocessing is None:
        return None
    spec = model_spec(model, name)
    if preprocessing == "auto":
        if spec is not None and spec.task != "image_classification":
            return None
        if not takes_images(model):
            return None
        if spec is None:
            raise ValueError(
                f"model={model.name!r} takes images, but how it expects its pixels is "
                "unknown: it is not found in the registry by its name. Pass name= (CLI "
                "--name) a registry name, or preprocessing= (CLI --preprocessing) one of "
                f"{', '.join(map(repr, MODES))} (a model trained by `keras-archs train` "
                "takes 'scale')."
            )
        if spec.preprocessing is None:
            raise ValueError(
                f"The registry entry {spec.name!r} of model={model.name!r} has no "
                f"preprocessing mode; pass preprocessing= one of {', '.join(map(repr, MODES))}."
            )
        mode = spec.preprocessing
    else:
        if not takes_images(model):
            raise ValueError(
                f"preprocessing={preprocessing!r} applies to image models (one float input "
                f"of rank 4); model={model.name!r} takes "
                f"{[tuple(t.shape) for t in model.inputs]}. Use preprocessing='auto' or None."
            )
        mode = preprocessing
    from keras_archs.data.images import RGB_MODES

    if mode in RGB_MODES:
        axis = 1 if image_data_format(model) == "channels_first" else -1
        channels = model.inputs[0].shape[axis]
        if channels != 3:
            raise ValueError(
                f"preprocessing {mode!r} normalises 3 (RGB) channels but model={model.name!r} "
                f"takes {channels}; pass preprocessing='scale', 'tf', 'none' or a callable."
            )
    return mode


def preprocess_images(images, mode, data_format="channels_last"):
    """Applies `mode` (one of `MODES`, or a callable) to 0-255 pixels.

    A TensorFlow tensor gives a tensor (the serving graph uses this); a NumPy array
    gives a new array through keras.applications' NumPy code, so a test can compare the
    graph with an independent computation.
    """
    if callable(mode):
        return mode(images)
    check_choice("mode", mode, MODES)
    check_choice("data_format", data_format, ("channels_last", "channels_first"))
    if mode == "none":
        return images
    if mode == "scale":
        return images / 255.0
    import keras
    import numpy as np

    if isinstance(images, np.ndarray):
        images = images.astype("float32")  # keras' NumPy path works in place: copy
    return keras.applications.imagenet_utils.preprocess_input(
        images, data_format=data_format, mode=mode
    )

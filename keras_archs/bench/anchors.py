"""The library a user would otherwise pick for each model: the benchmark's anchor.

keras.applications for the image classifiers it also has (built with random weights,
`weights=None`), keras-hub's backbones for GPT and BERT at the same configuration. An
anchor is built exactly as its users build it, and compiled with Keras' defaults
(`jit_compile="auto"`, the float32 policy) unless a measurement asks for other settings.
"""

from __future__ import annotations

import importlib.util

from keras_archs.registry import get_spec

# Registry name -> keras.applications builder of the same architecture and layout.
KERAS_APPLICATIONS = {
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "inception_v3": "InceptionV3",
    "mobilenet": "MobileNet",
    "mobilenet_v2": "MobileNetV2",
    "nasnet_large": "NASNetLarge",
    "nasnet_mobile": "NASNetMobile",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnet50_v2": "ResNet50V2",
    "resnet101_v2": "ResNet101V2",
    "resnet152_v2": "ResNet152V2",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "xception": "Xception",
}
# Registry family -> keras-hub model of the same configuration (the backbone under the
# head keras_archs' model has: GPT's logits come from GPT2CausalLM's tied embedding).
KERAS_HUB = {"gpt": "GPT2CausalLM", "bert": "BertBackbone"}


def anchor_name(name: str) -> str | None:
    """The anchor of registry model `name` ("keras.applications.ResNet50", ...), or None."""
    spec = get_spec(name)
    if spec.name in KERAS_APPLICATIONS:
        return f"keras.applications.{KERAS_APPLICATIONS[spec.name]}"
    if spec.family in KERAS_HUB:
        return f"keras_hub.models.{KERAS_HUB[spec.family]}"
    return None


def anchor_available(name: str) -> bool:
    """Whether the anchor exists and its library is installed."""
    anchor = anchor_name(name)
    return anchor is not None and (
        anchor.startswith("keras.") or importlib.util.find_spec("keras_hub") is not None
    )


def build_anchor(name: str, *, input_shape=None, classes=1000, model_kwargs=None):
    """The anchor model of `name`, random weights, at `input_shape` (images) or at the
    text model's configuration `model_kwargs` (keras-hub's backbone arguments)."""
    import keras

    spec = get_spec(name)
    if spec.name in KERAS_APPLICATIONS:
        builder = getattr(keras.applications, KERAS_APPLICATIONS[spec.name])
        return builder(weights=None, input_shape=tuple(input_shape), classes=classes)
    import keras_hub

    config = dict(model_kwargs)
    if spec.family == "gpt":
        backbone = keras_hub.models.GPT2Backbone(**config)
        return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    return keras_hub.models.BertBackbone(**config)

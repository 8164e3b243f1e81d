"""Converters from other libraries' models to keras_archs models with the same weights.

They import the families they build; nothing in keras_archs imports them back.
"""

from keras_archs.convert.keras_hub import from_keras_hub
from keras_archs.convert.torchvision import from_torchvision

__all__ = ["from_keras_hub", "from_torchvision"]

"""Weight files: loading local files into keras_archs models.

Later additions (ImageNet downloads, keras.applications and keras-hub converters)
live in this package too, so every family shares one mapping.
"""

from keras_archs.weights.keras_hub import from_keras_hub
from keras_archs.weights.loading import load_weights_file

__all__ = ["from_keras_hub", "load_weights_file"]

"""Weight files: loading local files into keras_archs models.

Later additions (ImageNet downloads, keras.applications and keras-hub converters)
live in this package too, so every family shares one mapping.
"""

from keras_archs.weights.loading import load_weights_file

__all__ = ["load_weights_file"]

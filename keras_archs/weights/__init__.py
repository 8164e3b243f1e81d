"""Weight files as data: loading local files, keras.applications' ImageNet downloads.

This package reads the registry (each model's `weights` entry) and imports no family:
the converters from other libraries' models, which must build keras_archs models, are
in `keras_archs.convert`.
"""

from keras_archs.weights.loading import load_weights_file

__all__ = ["load_weights_file"]

"""keras_archs: a Keras 3 model zoo of the classic deep-learning architectures."""

__version__ = "0.1.0"

from keras_archs import applications, layers
from keras_archs.registry import create_model, list_models, model_info

__all__ = ["__version__", "applications", "create_model", "layers", "list_models", "model_info"]

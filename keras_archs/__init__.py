"""keras_archs: a Keras 3 model zoo of the classic deep-learning architectures."""

__version__ = "0.1.0"

from keras_archs.quiet import quiet_if_command as _quiet_if_command

with _quiet_if_command():  # the CLI's output without TensorFlow's C++ start-up lines
    from keras_archs import applications, layers
    from keras_archs.registry import create_model, list_models, model_info

    # Registers the learning-rate schedules a trained `model.keras` (optimizer
    # included) refers to, so it reloads after `import keras_archs` alone.
    from keras_archs.training import recipes as _recipes  # noqa: F401

__all__ = ["__version__", "applications", "create_model", "layers", "list_models", "model_info"]

"""keras_archs: a Keras 3 model zoo of the classic deep-learning architectures."""

__version__ = "0.1.0"

from keras_archs.quiet import quiet_if_command as _quiet_if_command

with _quiet_if_command():  # the CLI's output without TensorFlow's C++ start-up lines
    from keras_archs import applications, layers
    from keras_archs.registry import create_model, list_models

    # Registers the learning-rate schedules a trained `model.keras` (optimizer
    # included) refers to, so it reloads after `import keras_archs` alone.
    from keras_archs.training import recipes as _recipes  # noqa: F401


def model_info(name: str) -> dict:
    """Metadata of `name`: family, paper, year, default_input_shape, min_input_size, task,
    reference_params, ..., and `flops`: forward floating-point operations of one example
    at the default input (a multiply-add counts 2), counted from the built model's layers
    (`keras_archs.bench.count_flops`); None where the registry leaves the size open. The
    first call for a model builds it once to count them."""
    from keras_archs.bench.flops import model_flops
    from keras_archs.registry import get_spec

    return {**get_spec(name).info(), "flops": model_flops(name)}


__all__ = ["__version__", "applications", "create_model", "layers", "list_models", "model_info"]

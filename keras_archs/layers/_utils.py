"""Argument checks and small helpers shared by the custom layers."""

import keras


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {name}={value!r}.")
    return value


def check_positive_int_or_none(name, value):
    return None if value is None else check_positive_int(name, value)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {name}={value!r}.")
    return value


def check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a float in [0, 1); got {name}={value!r}.")
    return float(value)


def check_positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number; got {name}={value!r}.")
    return float(value)


def gelu_approximate(x):
    """GELU with the tanh approximation (GPT-2 and keras-hub's `gelu_approximate`)."""
    return keras.activations.gelu(x, approximate=True)


def get_activation(name, value, allow_none=True):
    """Resolves an activation name or callable, raising a ValueError naming `name`.

    Besides Keras' own names this accepts "gelu_approximate" (tanh GELU), which
    GPT-2 needs and Keras has only as an argument of `gelu`.
    """
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name} must be an activation name or callable; got {name}=None.")
    if value == "gelu_approximate":
        return gelu_approximate
    try:
        fn = keras.activations.get(value)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} must be a Keras activation name (e.g. 'relu', 'gelu', "
            f"'gelu_approximate') or a callable; got {name}={value!r}."
        ) from e
    if fn is None:
        raise ValueError(f"{name}={value!r} is not a known activation.")
    return fn


def serialize_activation(value):
    """Config form of an activation argument: names stay names."""
    if value is None or isinstance(value, str):
        return value
    return keras.activations.serialize(value)


def check_pair(name, value):
    """An int or a pair of positive ints, as a tuple of two."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints; got {name}={value!r}.")
    for v in value:
        check_positive_int(name, v)
    return tuple(value)


def check_normalization(value, choices=("batch_norm", None)):
    return check_choice("normalization", value, choices)


def serialize_initializer(value):
    """Config form of an initializer argument: names stay names."""
    if value is None or isinstance(value, str):
        return value
    return keras.initializers.serialize(keras.initializers.get(value))


def check_initializer(name, value):
    try:
        keras.initializers.get(value)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} must be a Keras initializer name, config or instance; got {name}={value!r}."
        ) from e
    return value


def concrete_values(x):
    """`x` as a numpy array when its values exist now (an eager call), else None.

    While a backend traces (tf.function, jax.jit, torch.compile) or Keras builds a
    functional graph there are no values to check; the checks that use this then
    stay silent rather than adding work to the compiled step.
    """
    import numpy as np

    if isinstance(x, np.ndarray):
        return x
    if keras.backend.is_keras_tensor(x):
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow" and not hasattr(x, "numpy"):  # a graph (symbolic) tensor
        return None
    if backend == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    if backend == "torch":
        import torch

        if torch.compiler.is_compiling():
            return None
    return keras.ops.convert_to_numpy(x)


def check_ids_below(ids, limit, argument, limit_name):
    """Raises ValueError if concrete integer `ids` leave [0, limit) (gathers past the end
    of an embedding table clamp or fill silently on some backends instead of failing)."""
    values = concrete_values(ids)
    if values is None or values.size == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= limit:
        raise ValueError(
            f"{argument} must be in [0, {limit}) for {limit_name}={limit}; got values from "
            f"{low} to {high}."
        )

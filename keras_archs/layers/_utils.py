"""Small helpers shared by the custom layers: activations, initializers, id checks.

Argument checks come from `keras_archs.validation`; the layers import them from there.
`check_ids_below` stays here: it checks tensor values at call time, not arguments.
"""

import keras


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


def serialize_initializer(value):
    """Config form of an initializer argument: names stay names."""
    if value is None or isinstance(value, str):
        return value
    return keras.initializers.serialize(keras.initializers.get(value))


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

"""Preset and dtype resolution shared by the keras-hub-style text builders (GPT, BERT).

A builder takes `preset="..."` and/or keras-hub's argument names; the preset's
configuration is the starting point and every argument given (not None) overrides it.
Its `dtype` is a dtype policy, as keras-hub's backbones take it.
"""

import keras

from keras_archs.validation import check_choice, check_positive_int, check_rate


def resolve(model, presets, defaults, preset, given, example):
    """The checked configuration of `model` from `presets[preset]` (or `defaults`) and
    the arguments `given`; every key of a preset is needed."""
    check_choice("preset", preset, (*presets, None))
    config = dict(presets[preset]) if preset else dict(defaults)
    config.update({k: v for k, v in given.items() if v is not None})
    required = next(iter(presets.values()))
    missing = [k for k in required if k not in config]
    if missing:
        raise ValueError(f"{model} needs {', '.join(missing)} (or a preset such as {example!r}).")
    for key in required:
        if key != "dropout":
            config[key] = check_positive_int(key, config[key])
    config["dropout"] = check_rate("dropout", config["dropout"])
    if config["hidden_dim"] % config["num_heads"]:
        raise ValueError(
            f"num_heads must divide hidden_dim; got num_heads={config['num_heads']} and "
            f"hidden_dim={config['hidden_dim']}."
        )
    return config


def resolve_dtype(dtype):
    """The builders' `dtype` argument as keras-hub's backbones take it: None (the global
    policy), a dtype policy name ("float32", "bfloat16", "mixed_bfloat16", ...) or a
    `keras.DTypePolicy`; returned as a policy. A quantized policy is refused: a model is
    built in float and then quantized (`model.quantize("int8")`), and each layer's
    config records what was quantized."""
    if dtype is None:
        return None
    accepted = (
        "a float dtype policy name such as 'float32', 'bfloat16' or 'mixed_bfloat16', or "
        "a keras.DTypePolicy"
    )
    try:
        policy = keras.dtype_policies.get(dtype)
    except (ValueError, TypeError):
        policy = None
    if (
        policy is None
        or isinstance(policy, keras.dtype_policies.DTypePolicyMap)
        or not keras.backend.is_float_dtype(policy.compute_dtype)
    ):
        raise ValueError(f"dtype must be {accepted}; got dtype={dtype!r}.")
    if policy.quantization_mode is not None:
        raise ValueError(
            f"dtype must be {accepted}; got the quantized policy dtype={dtype!r}. Build the "
            f"model in float, then call model.quantize({policy.quantization_mode!r})."
        )
    return policy

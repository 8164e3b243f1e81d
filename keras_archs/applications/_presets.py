"""Preset resolution shared by the keras-hub-style text builders (GPT, BERT).

A builder takes `preset="..."` and/or keras-hub's argument names; the preset's
configuration is the starting point and every argument given (not None) overrides it.
"""

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

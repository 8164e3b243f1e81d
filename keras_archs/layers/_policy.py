"""The dtype policies of the sublayers a custom layer builds in `build()`.

Keras' `Layer.get_config` records a layer's own dtype policy, not those of the sublayers
it creates in `build()`. After `model.quantize("int8")` those sublayers (the Dense,
EinsumDense and Embedding layers inside attention, feed-forward and embedding layers)
hold int8 policies; a layer rebuilt from its config would make them float again, and
their int8 variables would not load. So a custom layer's config records its quantized
sublayers in its `dtype` entry: a `keras.dtype_policies.DTypePolicyMap` whose default is
the layer's own policy and whose keys are the sublayers' paths below the layer
("self_attention/attention/query"), as keras-hub's backbones record theirs in the
backbone config. The keys are relative, so the config does not depend on the layer's
name or on where the layer sits (a model, a nested model, a name scope).

A layer given such a map (`split_dtype` in its `__init__`) computes in the map's default
and hands each sublayer its entry (`sublayer_dtype` in `build()`), so every sublayer is
built quantized before its weights load.
"""

import keras

_Map = keras.dtype_policies.DTypePolicyMap


def split_dtype(dtype):
    """A custom layer's `dtype` argument as (its own policy, its sublayers' recorded
    policies or None): a `DTypePolicyMap` splits into its default and itself."""
    if dtype is None:
        return None, None
    policy = keras.dtype_policies.get(dtype)
    if isinstance(policy, _Map):
        return policy.default_policy, policy
    return dtype, None


def sublayer_dtype(layer, name, absolute=False):
    """The `dtype` to build `layer`'s sublayer `name` with: the layer's own policy, or the
    sublayer's recorded one, as a map over the entries below it when there are any (keyed
    relative to the sublayer, or by absolute path with `absolute=True`: a Keras layer
    such as MultiHeadAttention hands its map on to its own sublayers, which read it by
    their `path`)."""
    policies = getattr(layer, "_sublayer_policies", None)
    if not policies:
        return layer.dtype_policy
    own = policies[name]  # the map's default (the layer's policy) when not recorded
    prefix = f"{name}/"
    below = {k[len(prefix) :]: v for k, v in policies.items() if k.startswith(prefix)}
    if not below:
        return own
    if absolute:
        below = {f"{layer.path}/{name}/{k}": v for k, v in below.items()}
    return _Map(own, below)


def _own_policy(layer):
    """The policy a layer computes in (its entry when it holds a path map)."""
    policy = layer.dtype_policy
    if isinstance(policy, _Map):
        return policy[layer.path] if layer.path else policy.default_policy
    return policy


def config_with_sublayer_policies(layer, config):
    """`config` (the layer's `get_config()`), its "dtype" a `DTypePolicyMap` of the
    quantized sublayers' policies when there are any; unchanged otherwise."""
    if layer.built:
        prefix = f"{layer.path}/"
        quantized = {
            sub.path[len(prefix) :]: _own_policy(sub)
            for sub in layer._flatten_layers(include_self=False)
            if sub.quantization_mode is not None and sub.path.startswith(prefix)
        }
        policies = _Map(layer.dtype_policy, quantized) if quantized else None
    else:  # rebuilt from a config and not built yet: what the config recorded
        policies = getattr(layer, "_sublayer_policies", None)
    if not policies:
        return config
    return {**config, "dtype": keras.dtype_policies.serialize(policies)}

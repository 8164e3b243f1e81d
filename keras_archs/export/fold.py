"""`fold_batch_norms`: a copy of a model for inference with BatchNormalization folded
into the convolution or dense layer before it.

At inference BatchNormalization is an affine map per channel with fixed statistics:
`y = (x - mean) * s + beta`, `s = gamma / sqrt(variance + epsilon)`. When `x` is the
output of a linear layer `x = W * u + b` and nothing else reads `x`, the pair is one
linear layer with `W' = W * s` (scaled along its output channels) and
`b' = (b - mean) * s + beta`. The folded model computes the same function up to
rounding with one layer where there were two. On a CPU this matters more than the
arithmetic saved suggests: TensorFlow fuses a convolution with its bias, ReLU and
residual addition into one oneDNN primitive, and under mixed precision the casts
around each BatchNormalization (Keras computes it in float32) disappear with it.

The copy is for prediction and serving only: it has no batch statistics to train with.
Only Keras' public model API is used (`clone_model`, `layer.input`, `layer.output`); a
pair is folded only when every condition that makes it exact can be checked, and any
other layer is copied unchanged with its weights.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_archs.layers import DepthwiseSeparableConv2D

# The linear layers a BatchNormalization folds into, by exact type: a subclass may
# compute its kernel otherwise (weight normalization, say). Their kernels' last axis is
# the output channel (SeparableConv's pointwise kernel's too), except the depthwise ones.
_LINEAR = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)


def _single(attribute, layer):
    """`layer.input` or `layer.output`, or None where the layer is called more than once
    (Keras raises there) or has no such tensor."""
    try:
        return getattr(layer, attribute)
    except (AttributeError, ValueError, RuntimeError):
        return None


def _channel_axis(layer, rank):
    if isinstance(layer, keras.layers.Dense):
        return rank - 1
    return 1 if layer.data_format == "channels_first" else rank - 1


def _foldable_source(layer):
    """Whether `layer` is a linear layer whose output channels a BatchNormalization
    can be folded into: one of `_LINEAR`, no activation, not quantized, no LoRA adapter."""
    if type(layer) not in _LINEAR:
        return False
    config = layer.get_config()
    quantized = getattr(layer.dtype_policy, "quantization_mode", None)
    return config.get("activation") == "linear" and not quantized and not config.get("lora_rank")


def _graph(model):
    """({tensor id: the layer making it}, {tensor id: how many read it}) of a Functional
    model, or None where that cannot be read from its layers' tensors (a subclassed or
    unbuilt model, or a layer called more than once)."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got model={type(model).__name__}.")
    if not _single("inputs", model) or not hasattr(model, "operations"):
        return None
    producer, readers = {}, {}
    for layer in model.layers:
        tensors = _single("input", layer), _single("output", layer)
        if tensors[0] is None or tensors[1] is None:
            return None
        for tensor in keras.tree.flatten(tensors[0]):
            readers[id(tensor)] = readers.get(id(tensor), 0) + 1
        for tensor in keras.tree.flatten(tensors[1]):
            producer[id(tensor)] = layer
    for tensor in keras.tree.flatten(model.outputs):
        readers[id(tensor)] = readers.get(id(tensor), 0) + 1
    return producer, readers


def foldable_pairs(model) -> dict:
    """{BatchNormalization layer name: the name of the layer folded into}, for every
    BatchNormalization among the layers of `model` that `fold_batch_norms` folds (those
    inside keras_archs' `DepthwiseSeparableConv2D` layers fold too, and are not listed)."""
    graph = _graph(model)
    return {} if graph is None else _pairs(model, *graph)


def _pairs(model, producer, readers):
    pairs = {}
    for bn in model.layers:
        if type(bn) is not keras.layers.BatchNormalization or getattr(bn, "renorm", False):
            continue
        x = bn.input
        source = producer.get(id(x))
        rank = len(x.shape)
        if (
            source is None
            or readers.get(id(x)) != 1
            or not _foldable_source(source)
            or bn.axis % rank != _channel_axis(source, rank)
            # The folded layer's output takes the normalization's dtype.
            or bn.compute_dtype != source.compute_dtype
        ):
            continue
        pairs[bn.name] = source.name
    return pairs


def _folded_weights(source, bn):
    """The folded layer's weights: its kernel(s) scaled per output channel, and a bias."""
    mean, variance = (bn.moving_mean.numpy().astype("float64"), bn.moving_variance.numpy())
    gamma = np.ones_like(mean) if bn.gamma is None else bn.gamma.numpy().astype("float64")
    beta = np.zeros_like(mean) if bn.beta is None else bn.beta.numpy().astype("float64")
    scale = gamma / np.sqrt(variance.astype("float64") + bn.epsilon)
    weights = [np.asarray(w, "float64") for w in source.get_weights()]
    bias = weights.pop() if source.use_bias else np.zeros_like(mean)
    if type(source) in _DEPTHWISE:
        # Kernel (..., in, multiplier): output channel c * multiplier + m.
        kernel = weights[0]
        weights[0] = kernel * scale.reshape(kernel.shape[-2:])
    else:
        # The last kernel's last axis is the output channel (SeparableConv: pointwise).
        weights[-1] = weights[-1] * scale
    weights.append((bias - mean) * scale + beta)
    dtypes = [w.dtype for w in source.weights]
    dtypes = dtypes if source.use_bias else [*dtypes, dtypes[-1]]
    return [w.astype(keras.backend.standardize_dtype(d)) for w, d in zip(weights, dtypes)]


# keras_archs' own layers that hold a convolution and its BatchNormalization: each pair's
# (convolution, normalization) attribute names, by the layer's `order`. With
# normalization=None and use_bias=True the layer is the folded pair, weight for weight.
_INNER_PAIRS = {
    "xception": (("separable", "bn"),),
    "mobilenet": (("depthwise", "depthwise_bn"), ("pointwise", "pointwise_bn")),
}


def _inner_folds(model):
    """Names of the model's `DepthwiseSeparableConv2D` layers whose normalizations fold."""
    return {
        layer.name
        for layer in model.layers
        if type(layer) is DepthwiseSeparableConv2D
        and layer.normalization == "batch_norm"
        # Its convolutions are plain Keras layers: the same conditions as for any other.
        and all(_foldable_source(getattr(layer, conv)) for conv, _ in _INNER_PAIRS[layer.order])
    }


def fold_batch_norms(model):
    """A copy of `model` for inference, with every BatchNormalization that directly
    follows a convolution or dense layer (with no activation, read by nothing else)
    folded into that layer, which gains a bias; a `DepthwiseSeparableConv2D` becomes the
    same layer without normalization, its convolutions folded. Same inputs, outputs and
    layer names otherwise; outputs equal up to rounding. Returns `model` itself when
    nothing folds (no such pair, or not a Functional model).
    """
    graph = _graph(model)
    if graph is None:
        return model
    pairs, inner = _pairs(model, *graph), _inner_folds(model)
    if not pairs and not inner:
        return model
    sources = set(pairs.values())

    def clone(layer):
        if layer.name in pairs:
            return layer  # never called: `call` below passes its input through
        config = layer.get_config()
        if layer.name in sources or layer.name in inner:
            config["use_bias"] = True
        if layer.name in inner:
            config["normalization"] = None
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in pairs:
            return args[0]
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    original = {layer.name: layer for layer in model.layers}
    bn_of = {source: bn for bn, source in pairs.items()}
    for layer in folded.layers:
        if not layer.weights:
            continue
        if layer.name in bn_of:
            bn = original[bn_of[layer.name]]
            layer.set_weights(_folded_weights(original[layer.name], bn))
        elif layer.name in inner:
            source = original[layer.name]
            for conv, bn in _INNER_PAIRS[source.order]:
                weights = _folded_weights(getattr(source, conv), getattr(source, bn))
                getattr(layer, conv).set_weights(weights)
        else:
            layer.set_weights(original[layer.name].get_weights())
    return folded

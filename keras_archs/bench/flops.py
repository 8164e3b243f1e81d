"""Forward floating-point operations (FLOPs) of a model, counted from its layers.

The cost of a model is the sum of its layers' costs, and a layer's cost follows from its
weights and the shapes it sees. `count_flops` runs one example (batch 1) through the
model symbolically: Keras traces the forward pass on shape-only tensors, so no data
flows (on torch, where that trace fails, Keras runs the pass once on a dummy example).
Every layer call on the way is seen, sublayers called inside a custom layer's `call`
included (a Transformer block's attention and feed-forward layers) and a functional
model used as a layer once per call, and a formula per layer type turns the shapes of
that call into multiply-adds. A multiply-add counts as 2 FLOPs. The calls are seen
through `keras.layers.Layer.__call__`, every layer's entry point, which a count wraps
while it runs and restores afterwards.

Counted, as the published multiply-add counts of these architectures count them (the
"mult-adds" of the ResNet and MobileNet papers, torchvision's model table):

- convolutions, 1-D to 3-D, grouped, depthwise, separable and transposed: every output
  position (every input position for a transposed convolution) multiplies its kernel;
- `Dense` on inputs of any rank and `EinsumDense` (the product of the sizes of the
  equation's indices);
- attention (`MultiHeadAttention`, and with it keras_archs' self- and cross-attention
  and Transformer blocks; `Attention`, `AdditiveAttention`): the projections are
  `EinsumDense` or `Dense` layers, plus the scores QK^T and the weighted values AV,
  `key_dim + value_dim` per head and query-key pair. A causal mask hides half of the
  query-key pairs, but the attention kernels compute them all, so none are left out;
- `SimpleRNN`, `LSTM`, `GRU` (and `RNN` over their cells, `Bidirectional` twice):
  the input and recurrent matmuls of the cell at every time step;
- an embedding called with `reverse=True`, the tied output projection (keras_archs'
  `TokenAndPositionEmbedding`, keras-hub's `ReversibleEmbedding`), and keras_archs'
  `CausalConv1D(weight_norm=True)`, which convolves with `keras.ops` directly.

Counted as 0: bias additions, normalization, activations and softmax, pooling,
residual additions, concatenations and embedding lookups: a few operations per
activation each, small beside the products above, and left out of the published
counts. A layer of any other type costs what the layers it calls cost.

`model_flops(name)` is the count of a registry model at its default input, which
`keras_archs.model_info(name)["flops"]` reports.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading

import keras

from keras_archs.layers import CausalConv1D, TokenAndPositionEmbedding
from keras_archs.registry import get_spec
from keras_archs.validation import is_int

__all__ = ["count_flops", "model_flops"]

# One count at a time: the counting wrapper is installed on `keras.layers.Layer` for
# the whole process while a count runs. Layer calls of other threads go through it
# unchanged, since each thread keeps its own count (None when it is not counting).
_LOCK = threading.Lock()
_STATE = threading.local()


def count_flops(model, input_shape=None):
    """Forward FLOPs of one example through `model`; a multiply-add counts 2.

    Args:
        model: a built `keras.Model` with known inputs (functional or Sequential).
        input_shape: the shape of one example without the batch axis, for models whose
            inputs leave sizes unknown (a text model's sequence length): every input
            with an unknown size takes it (a text model's token ids and masks share
            one shape). None: the model's own input shapes, which must be complete.

    Returns:
        The FLOPs as an int (see the module docstring for what counts).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "model must be a keras.Model (e.g. keras_archs.create_model('resnet50')); "
            f"got model={model!r} of type {type(model).__name__}."
        )
    inputs = _example_inputs(model, _checked_shape(input_shape))
    count = _Count()
    with _LOCK:
        original = vars(keras.layers.Layer)["__call__"]
        keras.layers.Layer.__call__ = _counting(original)
        _STATE.count = count
        try:
            _Forward(model, count).compute_output_spec(inputs)
        finally:
            _STATE.count = None
            keras.layers.Layer.__call__ = original
    return 2 * count.macs


def model_flops(name):
    """Forward FLOPs of registry model `name` at its default input, batch 1.

    The model is built as the registry's reference configuration (`reference_kwargs`,
    and `default_input_shape` for builders that take an `input_shape`); a text model
    reads one sequence of `default_input_shape` tokens, its `max_sequence_length`.
    None where the registry leaves the model's size open: a builder argument without a
    default (Seq2Seq's vocabulary comes from the data) or an input size it does not
    fix (TCN's sequence length). Counted once per process; only the number is kept.
    """
    return _registry_flops(get_spec(name).name)


@functools.cache  # lru_cache without a bound: one int per registry model
def _registry_flops(name):
    spec = get_spec(name)
    kwargs = dict(spec.reference_kwargs)
    parameters = inspect.signature(spec.builder).parameters
    if "input_shape" in parameters:
        kwargs.setdefault("input_shape", spec.default_input_shape)
    given = {**spec.builder_kwargs, **kwargs}
    required = [
        p.name
        for p in parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in given
    ]
    if required or None in spec.default_input_shape:
        return None
    model = spec.build(**kwargs)
    # Complete input shapes are the model's own (channels first under that data
    # format); the default shape only fills the sizes a text model leaves open.
    complete = all(None not in tuple(t.shape)[1:] for t in model.inputs)
    flops = count_flops(model, None if complete else spec.default_input_shape)
    # Only the number is cached: the model is freed here, and a later
    # keras.backend.clear_session() leaves the cache valid.
    del model
    return flops


def _checked_shape(input_shape):
    if input_shape is None:
        return None
    if (
        not isinstance(input_shape, (list, tuple))
        or not input_shape
        or not all(is_int(d) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "input_shape must be the shape of one example without the batch axis, a tuple "
            f"of positive integers such as (512,) or (224, 224, 3); got input_shape="
            f"{input_shape!r}."
        )
    return tuple(int(d) for d in input_shape)


def _example_inputs(model, input_shape):
    """Shape-only tensors of one example for every input, in the model's input structure."""
    inputs = getattr(model, "inputs", None) if model.built else None
    if not inputs:
        raise ValueError(
            "model must be built with known inputs (a functional model, or a Sequential "
            f"one that starts with keras.Input); got model={model.name!r}, which has none."
        )
    try:
        structure = model.input  # a functional model's own structure (dict, list, tensor)
    except AttributeError:  # a Sequential model has no node of its own to read it from
        structure = inputs if len(inputs) > 1 else inputs[0]
    examples = []
    for tensor in keras.tree.flatten(structure):
        shape = tuple(tensor.shape)[1:]
        if None in shape:
            if input_shape is None:
                raise ValueError(
                    f"Input {tensor.name!r} of model {model.name!r} has shape "
                    f"{tuple(tensor.shape)}, with sizes left unknown; pass input_shape, "
                    "the shape of one example without the batch axis."
                )
            if len(input_shape) != len(shape) or any(
                d is not None and d != given for d, given in zip(shape, input_shape)
            ):
                raise ValueError(
                    f"input_shape={input_shape!r} does not fit input {tensor.name!r} of "
                    f"model {model.name!r}, of shape {tuple(tensor.shape)} (batch first)."
                )
            shape = input_shape
        examples.append(keras.KerasTensor((1, *shape), dtype=tensor.dtype))
    return keras.tree.pack_sequence_as(structure, examples)


class _Count:
    """The multiply-adds seen so far, and how deep the calls are inside a recurrent layer
    (counted as a whole: its cell runs once per step, or inside a fused kernel)."""

    def __init__(self):
        self.macs = 0
        self.recurrent_depth = 0


class _Forward(keras.Operation):
    """The model's forward pass as one operation, so that Keras traces it: the default
    `compute_output_spec` runs `call` on the backend's shape-only tensors. (Calling the
    model on KerasTensors would not do: layers that declare their output shape are then
    never called, and neither are their sublayers.)"""

    def __init__(self, model, count):
        super().__init__(name="count_flops")
        self.model = model
        self.count = count

    def call(self, inputs):
        # The torch backend traces again on real tensors when its shape-only trace
        # fails; only the run that completes counts.
        self.count.macs = 0
        self.count.recurrent_depth = 0
        return self.model(inputs, training=False)


def _counting(original):
    """`keras.layers.Layer.__call__` that also adds each call's multiply-adds to the count."""

    @functools.wraps(original)
    def counting_call(layer, *args, **kwargs):
        count = getattr(_STATE, "count", None)
        if count is None or count.recurrent_depth:
            return original(layer, *args, **kwargs)
        recurrent = isinstance(layer, _RECURRENT)
        count.recurrent_depth += recurrent
        try:
            outputs = original(layer, *args, **kwargs)
        finally:
            count.recurrent_depth -= recurrent
        count.macs += _macs(layer, args, kwargs, outputs)
        return outputs

    return counting_call


def _macs(layer, args, kwargs, outputs):
    for types, formula in _FORMULAS:
        if isinstance(layer, types):
            return formula(layer, _arguments(layer, args, kwargs), outputs)
    return 0


def _arguments(layer, args, kwargs):
    """The call's arguments by name. `Layer.__call__` takes `training` and `mask` for any
    layer and passes them on only where `call` has them, so others are dropped here."""
    signature = inspect.signature(layer.call)
    kwargs = {k: v for k, v in kwargs.items() if k in signature.parameters}
    return signature.bind_partial(*args, **kwargs).arguments


def _shape(tensor):
    shape = tuple(tensor.shape)
    if None in shape:  # the example's shapes are complete, so the trace lost one
        raise ValueError(f"count_flops needs static shapes; a layer saw a tensor of {shape}.")
    return tuple(int(d) for d in shape)


def _first(arguments):
    return _shape(next(iter(arguments.values())))


def _size(variable):
    return math.prod(variable.shape)


def _positions(shape, data_format):
    """Batch times spatial positions of a convolution's input or output."""
    spatial = shape[1:-1] if data_format == "channels_last" else shape[2:]
    return shape[0] * math.prod(spatial)


def _convolution(layer, arguments, outputs):
    # Each output position multiplies the whole kernel: k^d x in/groups x filters, or
    # k^d x in x multiplier for a depthwise one.
    return _positions(_shape(outputs), layer.data_format) * _size(layer.kernel)


def _separable(layer, arguments, outputs):
    # The pointwise 1x1 convolution keeps the depthwise output's positions.
    kernels = _size(layer.depthwise_kernel) + _size(layer.pointwise_kernel)
    return _positions(_shape(outputs), layer.data_format) * kernels


def _transposed(layer, arguments, outputs):
    # Each input position scatters the whole kernel into the output.
    return _positions(_first(arguments), layer.data_format) * _size(layer.kernel)


def _dense(layer, arguments, outputs):
    return math.prod(_first(arguments)[:-1]) * _size(layer.kernel)


def _einsum_dense(layer, arguments, outputs):
    """The product of the sizes of every index of the equation (each is one loop)."""
    operands = layer.equation.split("->")[0].replace(" ", "")
    x_spec, kernel_spec = operands.split(",")
    shape = _first(arguments)
    head, _, tail = x_spec.partition("...")
    ellipsis = shape[len(head) : len(shape) - len(tail)] if "..." in x_spec else ()
    letters = head + tail
    sizes = dict(zip(letters, shape[: len(head)] + shape[len(shape) - len(tail) :]))
    sizes.update(zip(kernel_spec, layer.kernel.shape))
    return math.prod(ellipsis) * math.prod(sizes.values())


def _multi_head_attention(layer, arguments, outputs):
    """QK^T and AV of every head (the projections are the layer's EinsumDense sublayers)."""
    query, value = _shape(arguments["query"]), _shape(arguments["value"])
    axes = layer.attention_axes
    axes = range(1, len(query) - 1) if axes is None else [a % len(query) for a in axes]
    others = [d for i, d in enumerate(query[:-1]) if i not in axes]  # batch-like axes
    pairs = math.prod(query[a] for a in axes) * math.prod(value[a] for a in axes)
    return math.prod(others) * layer.num_heads * pairs * (layer.key_dim + layer.value_dim)


def _dot_attention(layer, arguments, outputs):
    """`Attention` / `AdditiveAttention` on [query, value(, key)]: a key-sized score and
    a value-sized weighted sum per query-key pair."""
    tensors = [_shape(t) for t in arguments["inputs"]]
    query, value = tensors[0], tensors[1]
    pairs = query[0] * math.prod(query[1:-1]) * math.prod(value[1:-1])
    return pairs * (query[-1] + value[-1])


def _cell_macs(cell, layer):
    """Multiply-adds of one time step of `cell`: its input and recurrent matmuls."""
    if isinstance(cell, keras.layers.StackedRNNCells):
        return sum(_cell_macs(c, layer) for c in cell.cells)
    if not isinstance(
        cell, (keras.layers.SimpleRNNCell, keras.layers.LSTMCell, keras.layers.GRUCell)
    ):
        raise ValueError(
            f"count_flops counts recurrent layers over SimpleRNNCell, LSTMCell and GRUCell; "
            f"layer {layer.name!r} runs a {type(cell).__name__}."
        )
    return _size(cell.kernel) + _size(cell.recurrent_kernel)


def _recurrent(layer, arguments, outputs):
    sequences = _first(arguments)  # (batch, timesteps, features)
    if isinstance(layer, keras.layers.Bidirectional):
        directions = (layer.forward_layer, layer.backward_layer)
    else:
        directions = (layer,)
    return sum(sequences[0] * sequences[1] * _cell_macs(d.cell, d) for d in directions)


def _tied_projection(layer, arguments, outputs):
    """An embedding called with `reverse=True` multiplies hidden states by its table
    (keras_archs' `TokenAndPositionEmbedding`, keras-hub's `ReversibleEmbedding`)."""
    if not arguments.get("reverse"):
        return 0  # a lookup
    table = layer.token_embedding if isinstance(layer, TokenAndPositionEmbedding) else layer
    return math.prod(_first(arguments)[:-1]) * _size(table.embeddings)


def _causal_convolution(layer, arguments, outputs):
    if not layer.weight_norm:
        return 0  # its `conv` sublayer counts
    return math.prod(_shape(outputs)[:-1]) * _size(layer.kernel_v)


_RECURRENT = (keras.layers.RNN, keras.layers.Bidirectional)
_FORMULAS = (
    (
        (
            keras.layers.Conv1D,
            keras.layers.Conv2D,
            keras.layers.Conv3D,
            keras.layers.DepthwiseConv1D,
            keras.layers.DepthwiseConv2D,
        ),
        _convolution,
    ),
    ((keras.layers.SeparableConv1D, keras.layers.SeparableConv2D), _separable),
    (
        (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose),
        _transposed,
    ),
    (keras.layers.Dense, _dense),
    (keras.layers.EinsumDense, _einsum_dense),
    (keras.layers.MultiHeadAttention, _multi_head_attention),
    ((keras.layers.Attention, keras.layers.AdditiveAttention), _dot_attention),
    (_RECURRENT, _recurrent),
    ((TokenAndPositionEmbedding, keras.layers.Embedding), _tied_projection),
    (CausalConv1D, _causal_convolution),
)

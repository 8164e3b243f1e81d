"""A drop-in replacement for keras-tcn's `TCN` layer, made of keras + keras.ops only."""

import random

import keras
from keras import ops

from keras_archs.layers._utils import (
    get_activation,
    serialize_activation,
    serialize_initializer,
)
from keras_archs.layers.causal_conv import PADDINGS
from keras_archs.layers.temporal_block import TemporalBlock
from keras_archs.validation import (
    check_bool,
    check_choice,
    check_initializer,
    check_int,
    check_int_sequence,
    check_positive_int,
    check_rate,
    is_int,
)

DEFAULT_DILATIONS = (1, 2, 4, 8, 16, 32)
_NORMALIZATION_FLAGS = (
    ("use_batch_norm", "batch_norm"),
    ("use_layer_norm", "layer_norm"),
    ("use_weight_norm", "weight_norm"),
)


def _check_initializer(name, value):
    """`check_initializer` without using up a draw of Python's `random`: an unseeded Keras
    initializer draws its seed when it is created, so checking one would shift every later
    draw and the same global seed would no longer give the weights that the same
    TemporalBlocks get without this layer (the TCN builder's weights before it used it)."""
    state = random.getstate()
    try:
        return check_initializer(name, value)
    finally:
        random.setstate(state)


def receptive_field(kernel_size, nb_stacks, dilations):
    """keras-tcn's receptive field: 1 + 2 (kernel_size - 1) nb_stacks sum(dilations)."""
    return 1 + 2 * (kernel_size - 1) * nb_stacks * sum(dilations)


def block_filters(nb_filters, dilations, use_skip_connections):
    """The filters of each block of a stack, checked: one integer for all, or a list with
    one per dilation (all equal when the skip connections sum the blocks' outputs)."""
    if is_int(nb_filters):
        return [check_positive_int("nb_filters", nb_filters)] * len(dilations)
    if not isinstance(nb_filters, (list, tuple)):
        raise ValueError(
            "nb_filters must be an integer >= 1 or a list of them, one per dilation; "
            f"got nb_filters={nb_filters!r}."
        )
    filters = list(check_int_sequence("nb_filters", nb_filters))
    if len(filters) != len(dilations):
        raise ValueError(
            "nb_filters must be an integer >= 1 or a list of them, one per dilation "
            f"({len(dilations)}); got nb_filters={nb_filters!r}."
        )
    if use_skip_connections and len(set(filters)) > 1:
        raise ValueError(
            "use_skip_connections=True sums the blocks' outputs, so nb_filters must be equal "
            f"for all blocks; got nb_filters={nb_filters!r}."
        )
    return filters


@keras.saving.register_keras_serializable(package="keras_archs")
class TCN(keras.layers.Layer):
    """Temporal Convolutional Network layer: keras-tcn's `TCN`, on any Keras 3 backend.

    Bai, Kolter & Koltun, "An Empirical Evaluation of Generic Convolutional and
    Recurrent Networks for Sequence Modeling" (2018). `nb_stacks` repetitions of
    one residual `TemporalBlock` per entry of `dilations` (named `residual_block_0`,
    `residual_block_1`, ...). The arguments, their defaults and their positional
    order are keras-tcn's (philipperemy/keras-tcn, 3.5.7; `use_weight_norm` sits
    where keras-tcn 3.4 had it), so `from keras_archs.layers import TCN` replaces
    `from tcn import TCN`; with the same weights the outputs are keras-tcn's.

    Input `(batch, time, channels)` (time may be None); output `(batch, time,
    filters)` with `return_sequences=True`, else `(batch, filters)`: the last step
    when causal, the middle step `time // 2` with `padding="same"` (as keras-tcn:
    the step whose receptive field is centred on the sequence). `filters` is the
    last block's. With `use_skip_connections` the output is the sum of every
    block's residual branch (keras-tcn's skip connections), else the last block's
    output.

    Args:
        nb_filters: filters of every block, or a list with one entry per dilation
            (all equal when `use_skip_connections`).
        kernel_size: size of the dilated convolution kernels (>= 2).
        nb_stacks: how many times the `dilations` stack of blocks is repeated.
        dilations: dilation of each block of a stack.
        padding: "causal" (no output sees a later input) or "same", which pads
            each convolution on both ends and so is NOT causal: an output also
            sees about half its receptive field of later steps.
        use_skip_connections: output the sum of the blocks' residual branches.
        dropout_rate: SpatialDropout1D rate after every convolution.
        return_sequences: return every step, or one (see above).
        activation: of the convolutions and the residual additions.
        kernel_initializer: of every convolution.
        use_batch_norm, use_layer_norm, use_weight_norm: one normalization, or
            none (weight normalization is the paper's; keras-tcn 3.5.7 has no
            `use_weight_norm`, 3.4 had it through TensorFlow Addons).
        go_backwards: process the time-reversed input. As keras-tcn (and Keras'
            RNNs), the output is NOT reversed back: with `return_sequences=True`
            step t of the output belongs to step `time - 1 - t` of the input.
            `keras.layers.Bidirectional` flips it back itself.
        return_state: kept for keras-tcn's API and for
            `keras.layers.Bidirectional`, which reads the attribute. A TCN has no
            recurrent state: like keras-tcn, the layer then returns its output
            alone, exactly as with False. (So leave it False inside
            `Bidirectional`, which would look for states after the output.)
        activate_residual: keras-tcn compatibility, see below. Default False.
        **kwargs: to `keras.layers.Layer` (`name`, `dtype`, ...).

    Where keras-tcn differs from the paper: keras-tcn's residual block applies
    `activation` once more to its residual branch after the second dropout (its
    `Act_Conv_Blocks` layer: ... -> activation -> dropout -> activation), and that
    re-activated branch is both added to the shortcut (then activated again, as
    in the paper) and returned as the skip tensor. This layer follows the paper
    by default; `activate_residual=True` adds that extra activation and gives
    keras-tcn's outputs for any activation. For ReLU (keras-tcn's default) the
    extra activation changes nothing (the branch is already >= 0), so the
    default gives keras-tcn's outputs too.

    `receptive_field` is keras-tcn's `1 + 2 (kernel_size - 1) nb_stacks
    sum(dilations)`; it is computed from the config, so it survives a `.keras`
    save and reload. Works inside `keras.layers.Bidirectional` (which clones
    the layer from its config with `go_backwards` flipped).
    """

    def __init__(
        self,
        nb_filters=64,
        kernel_size=3,
        nb_stacks=1,
        dilations=DEFAULT_DILATIONS,
        padding="causal",
        use_skip_connections=True,
        dropout_rate=0.0,
        return_sequences=False,
        activation="relu",
        kernel_initializer="he_normal",
        use_batch_norm=False,
        use_layer_norm=False,
        use_weight_norm=False,
        go_backwards=False,
        return_state=False,
        activate_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # A size-1 kernel has no temporal extent: the dilations would have nothing to space out.
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=2)
        self.nb_stacks = check_positive_int("nb_stacks", nb_stacks)
        self.dilations = list(check_int_sequence("dilations", dilations))
        self.padding = check_choice("padding", padding, PADDINGS)
        self.use_skip_connections = check_bool("use_skip_connections", use_skip_connections)
        self._block_filters = block_filters(nb_filters, self.dilations, use_skip_connections)
        self.nb_filters = int(nb_filters) if is_int(nb_filters) else list(self._block_filters)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.return_sequences = check_bool("return_sequences", return_sequences)
        get_activation("activation", activation, allow_none=False)
        self.activation = activation
        self.kernel_initializer = _check_initializer("kernel_initializer", kernel_initializer)
        self.use_batch_norm = check_bool("use_batch_norm", use_batch_norm)
        self.use_layer_norm = check_bool("use_layer_norm", use_layer_norm)
        self.use_weight_norm = check_bool("use_weight_norm", use_weight_norm)
        chosen = {flag: True for flag, _ in _NORMALIZATION_FLAGS if getattr(self, flag)}
        if len(chosen) > 1:
            raise ValueError(f"Only one normalization can be chosen; got {chosen}.")
        self.normalization = next(
            (norm for flag, norm in _NORMALIZATION_FLAGS if getattr(self, flag)), None
        )
        self.go_backwards = check_bool("go_backwards", go_backwards)
        self.return_state = check_bool("return_state", return_state)
        self.activate_residual = check_bool("activate_residual", activate_residual)
        self.stateful = False  # no recurrent state; keras.layers.Bidirectional reads it
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def receptive_field(self):
        return receptive_field(self.kernel_size, self.nb_stacks, self.dilations)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TCN needs a (batch, time, channels) input with known channels; "
                f"got input shape {input_shape}."
            )
        self.residual_blocks = []
        shape = tuple(input_shape)
        for _ in range(self.nb_stacks):
            for dilation, filters in zip(self.dilations, self._block_filters):
                block = TemporalBlock(
                    filters,
                    self.kernel_size,
                    dilation,
                    dropout_rate=self.dropout_rate,
                    normalization=self.normalization,
                    activation=self.activation,
                    kernel_initializer=self.kernel_initializer,
                    return_skip=True,
                    padding=self.padding,
                    activate_residual=self.activate_residual,
                    name=f"residual_block_{len(self.residual_blocks)}",
                    dtype=self.dtype_policy,
                )
                block.build(shape)
                self.residual_blocks.append(block)
                shape = (*shape[:-1], filters)

    def call(self, inputs, training=None, initial_state=None):
        if initial_state is not None:  # keras.layers.Bidirectional passes None
            raise ValueError(
                "TCN has no recurrent state, so it takes no initial_state; got "
                f"initial_state={initial_state!r}."
            )
        x = ops.flip(inputs, axis=1) if self.go_backwards else inputs
        skips = []
        for block in self.residual_blocks:
            x, skip = block(x, training=training)
            skips.append(skip)
        if self.use_skip_connections:
            x = skips[0]
            for skip in skips[1:]:
                x = x + skip
        if not self.return_sequences:
            # Causal: the last step, the only one that has seen the whole sequence.
            # "same": the middle step, as keras-tcn.
            x = x[:, -1, :] if self.padding == "causal" else x[:, ops.shape(x)[1] // 2, :]
        return x

    def compute_output_shape(self, input_shape):
        filters = self._block_filters[-1]
        if self.return_sequences:
            return (*input_shape[:-1], filters)
        return (input_shape[0], filters)

    def get_config(self):
        return {
            **super().get_config(),
            "nb_filters": self.nb_filters,
            "kernel_size": self.kernel_size,
            "nb_stacks": self.nb_stacks,
            "dilations": list(self.dilations),
            "padding": self.padding,
            "use_skip_connections": self.use_skip_connections,
            "dropout_rate": self.dropout_rate,
            "return_sequences": self.return_sequences,
            "activation": serialize_activation(self.activation),
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "use_batch_norm": self.use_batch_norm,
            "use_layer_norm": self.use_layer_norm,
            "use_weight_norm": self.use_weight_norm,
            "go_backwards": self.go_backwards,
            "return_state": self.return_state,
            "activate_residual": self.activate_residual,
        }

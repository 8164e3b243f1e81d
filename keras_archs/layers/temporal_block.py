"""The residual block of a Temporal Convolutional Network (TCN)."""

import keras

from keras_archs.layers._utils import (
    get_activation,
    serialize_activation,
    serialize_initializer,
)
from keras_archs.layers.causal_conv import PADDINGS, CausalConv1D
from keras_archs.validation import check_choice, check_positive_int, check_rate

_NORMALIZATIONS = ("batch_norm", "layer_norm", "weight_norm", None)


@keras.saving.register_keras_serializable(package="keras_archs")
class TemporalBlock(keras.layers.Layer):
    """TCN residual block: two dilated causal convolutions and a residual connection.

    Bai, Kolter & Koltun, "An Empirical Evaluation of Generic Convolutional and
    Recurrent Networks for Sequence Modeling" (2018), figure 1(b). Laid out as
    keras-tcn's `ResidualBlock` (so parameter counts match keras-tcn for the
    same configuration):

        residual = [CausalConv1D -> norm -> activation -> SpatialDropout1D] x 2
        shortcut = 1x1 Conv1D(inputs) if channels != filters else inputs
        output   = activation(residual + shortcut)

    `normalization` is "batch_norm", "layer_norm" (Keras defaults, as keras-tcn),
    "weight_norm" (on both causal convolutions, as the paper) or None.
    With `return_skip=True` the call returns `(output, residual)`: keras-tcn's
    skip-connection tensor (the residual branch before the addition).
    Sublayers: `conv_1`, `norm_1`, `dropout_1`, `conv_2`, `norm_2`, `dropout_2`,
    and `shortcut` (only when the channel count changes).

    `padding="same"` (keras-tcn's other option) pads both convolutions on both
    ends (see `CausalConv1D`): the block is then NOT causal. With
    `p = dilation_rate * (kernel_size - 1)` an output sees `2 * (p // 2)` earlier
    and `2 * (p - p // 2)` later steps (the same span, `receptive_field`, centred).
    The weights are the same as with "causal".

    `activate_residual=True` applies `activation` once more to the residual branch
    after its second dropout, before the addition and before it is returned as the
    skip tensor: keras-tcn's `ResidualBlock` does this (its `Act_Conv_Blocks`
    layer, so the branch ends activation -> dropout -> activation); the paper does
    not. For ReLU (or any activation with f(f(x)) == f(x) and f(x) >= 0, scaled
    by dropout) the two are identical.

    `receptive_field` is `1 + 2 * (kernel_size - 1) * dilation_rate`.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        dilation_rate,
        dropout_rate=0.0,
        normalization=None,
        activation="relu",
        use_bias=True,
        kernel_initializer="he_normal",
        return_skip=False,
        seed=None,
        padding="causal",
        activate_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.dilation_rate = check_positive_int("dilation_rate", dilation_rate)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.normalization = check_choice("normalization", normalization, _NORMALIZATIONS)
        get_activation("activation", activation, allow_none=False)
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.return_skip = bool(return_skip)
        self.seed = seed
        self.padding = check_choice("padding", padding, PADDINGS)
        self.activate_residual = bool(activate_residual)

    @property
    def receptive_field(self):
        return 1 + 2 * (self.kernel_size - 1) * self.dilation_rate

    def _norm(self, name, shape):
        if self.normalization == "batch_norm":
            layer = keras.layers.BatchNormalization(name=name, dtype=self.dtype_policy)
        elif self.normalization == "layer_norm":
            layer = keras.layers.LayerNormalization(name=name, dtype=self.dtype_policy)
        else:
            return None
        layer.build(shape)
        return layer

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TemporalBlock needs a (batch, time, channels) input with known channels; "
                f"got input shape {input_shape}."
            )
        self._act = get_activation("activation", self.activation)
        out_shape = (*input_shape[:-1], self.filters)
        for i, shape in ((1, input_shape), (2, out_shape)):
            conv = CausalConv1D(
                self.filters,
                self.kernel_size,
                dilation_rate=self.dilation_rate,
                use_bias=self.use_bias,
                weight_norm=self.normalization == "weight_norm",
                kernel_initializer=self.kernel_initializer,
                padding=self.padding,
                name=f"conv_{i}",
                dtype=self.dtype_policy,
            )
            conv.build(shape)
            setattr(self, f"conv_{i}", conv)
            setattr(self, f"norm_{i}", self._norm(f"norm_{i}", out_shape))
            seed = None if self.seed is None else self.seed + i
            dropout = keras.layers.SpatialDropout1D(
                self.dropout_rate, seed=seed, name=f"dropout_{i}", dtype=self.dtype_policy
            )
            setattr(self, f"dropout_{i}", dropout)
        self.shortcut = None
        if input_shape[-1] != self.filters:
            self.shortcut = keras.layers.Conv1D(
                self.filters,
                1,
                data_format="channels_last",  # (batch, time, channels) under any global setting
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                name="shortcut",
                dtype=self.dtype_policy,
            )
            self.shortcut.build(input_shape)

    def call(self, inputs, training=None):
        x = inputs
        for i in (1, 2):
            x = getattr(self, f"conv_{i}")(x)
            norm = getattr(self, f"norm_{i}")
            if norm is not None:
                x = norm(x, training=training)
            x = self._act(x)
            x = getattr(self, f"dropout_{i}")(x, training=training)
        if self.activate_residual:
            x = self._act(x)
        shortcut = inputs if self.shortcut is None else self.shortcut(inputs)
        output = self._act(x + shortcut)
        return (output, x) if self.return_skip else output

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[:-1], self.filters)
        return (shape, shape) if self.return_skip else shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "dropout_rate": self.dropout_rate,
            "normalization": self.normalization,
            "activation": serialize_activation(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "return_skip": self.return_skip,
            "seed": self.seed,
            "padding": self.padding,
            "activate_residual": self.activate_residual,
        }

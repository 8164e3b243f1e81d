"""Dilated causal 1-D convolution, optionally weight-normalized."""

import keras
from keras import ops

from keras_archs.layers._utils import serialize_initializer
from keras_archs.validation import check_choice, check_initializer, check_positive_int

PADDINGS = ("causal", "same")


@keras.saving.register_keras_serializable(package="keras_archs")
class CausalConv1D(keras.layers.Layer):
    """A dilated 1-D convolution whose output at step t sees only inputs at steps <= t.

    van den Oord et al., "WaveNet" (2016) and Bai, Kolter & Koltun, "An Empirical
    Evaluation of Generic Convolutional and Recurrent Networks for Sequence
    Modeling" (TCN, 2018), section 3.2: the input is left-padded with
    `dilation_rate * (kernel_size - 1)` zeros and convolved without padding, so
    the time length is kept and nothing leaks from the future.

    `padding="same"` (keras-tcn's non-causal option) splits those zeros between the
    two ends instead, `total // 2` before and the rest after, as TensorFlow's and
    `Conv1D(padding="same")`'s convention: the output at step t then also sees up to
    `total - total // 2` later steps, so the layer is NOT causal. The weights are the
    same in both modes.

    `weight_norm=True` reparameterizes the kernel as `g * v / ||v||` (Salimans &
    Kingma, "Weight Normalization", 2016; the TCN paper's choice), the norm taken
    per output filter over (kernel, input channels); `g` starts at `||v||`, so the
    initial kernel equals `v`. Weights: `kernel_v` (k, in, filters), `kernel_g`
    (filters,), `bias`. With `weight_norm=False` the sublayer `conv` is a plain
    `keras.layers.Conv1D(padding="valid")`, weight for weight equal to
    `Conv1D(padding="causal")`.

    Bidirectional use: this layer does NOT support `keras.layers.Bidirectional`
    (that wrapper needs an RNN-style `go_backwards`/`return_sequences` API, which a
    convolution does not have). For an anti-causal pass, reverse the time axis
    (`ops.flip(x, axis=1)`) before and after the layer.

    Input `(batch, time, channels)`; output `(batch, time, filters)`, whatever
    `keras.config.image_data_format()` says.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        dilation_rate=1,
        use_bias=True,
        weight_norm=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        padding="causal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.dilation_rate = check_positive_int("dilation_rate", dilation_rate)
        self.padding = check_choice("padding", padding, PADDINGS)
        self.use_bias = bool(use_bias)
        self.weight_norm = bool(weight_norm)
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = check_initializer("bias_initializer", bias_initializer)

    @property
    def left_padding(self):
        """Zeros before the first step: all of them when causal, half (rounded down) when "same"."""
        total = self.dilation_rate * (self.kernel_size - 1)
        return total if self.padding == "causal" else total // 2

    @property
    def right_padding(self):
        """Zeros after the last step: none when causal."""
        return self.dilation_rate * (self.kernel_size - 1) - self.left_padding

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "CausalConv1D needs a (batch, time, channels) input with known channels; "
                f"got input shape {input_shape}."
            )
        channels = input_shape[-1]
        if not self.weight_norm:
            self.conv = keras.layers.Conv1D(
                self.filters,
                self.kernel_size,
                dilation_rate=self.dilation_rate,
                padding="valid",
                # Explicit: this layer's inputs are (batch, time, channels) whatever the
                # global image_data_format, which build() may run under on reload.
                data_format="channels_last",
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer,
                name="conv",
                dtype=self.dtype_policy,
            )
            self.conv.build((input_shape[0], None, channels))
            return
        self.kernel_v = self.add_weight(
            name="kernel_v",
            shape=(self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.kernel_g = self.add_weight(name="kernel_g", shape=(self.filters,), initializer="ones")
        self.kernel_g.assign(self._v_norm(ops.convert_to_tensor(self.kernel_v)))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )

    @staticmethod
    def _v_norm(v):
        return ops.sqrt(ops.sum(ops.square(v), axis=(0, 1)))

    def call(self, inputs):
        x = ops.pad(inputs, [[0, 0], [self.left_padding, self.right_padding], [0, 0]])
        if not self.weight_norm:
            return self.conv(x)
        v = ops.cast(self.kernel_v, "float32")  # the norm in float32 even under mixed precision
        kernel = v * (ops.cast(self.kernel_g, "float32") / (self._v_norm(v) + 1e-12))
        kernel = ops.cast(kernel, x.dtype)
        y = ops.conv(
            x,
            kernel,
            strides=1,
            padding="valid",
            data_format="channels_last",
            dilation_rate=self.dilation_rate,
        )
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "weight_norm": self.weight_norm,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "bias_initializer": serialize_initializer(self.bias_initializer),
            "padding": self.padding,
        }

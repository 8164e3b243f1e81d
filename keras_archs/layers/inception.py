"""Inception building blocks: the GoogLeNet module and the factorized n x n convolution.

Both layers compute channels_last, (batch, height, width, channels), whatever
`keras.config.image_data_format()` says: their sublayers are created in `build()`, which
runs again when a `.keras` file is loaded, possibly under a channels_first setting, so
each sublayer is given `data_format="channels_last"` explicitly. The image builders keep
channels_last inside and transpose at the model's edges for channels_first models.
"""

import keras
from keras import ops

from keras_archs.layers._utils import get_activation, serialize_activation, serialize_initializer
from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_initializer,
    check_pair,
    check_positive_float,
    check_positive_int,
    check_positive_int_or_none,
)

# The layout every sublayer computes in (see the module docstring).
_DATA_FORMAT = "channels_last"


def _conv_out(size, kernel, stride, padding):
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


@keras.saving.register_keras_serializable(package="keras_archs")
class FactorizedConv2D(keras.layers.Layer):
    """An n x n convolution factorized into 1 x n then n x 1 (or the reverse).

    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision"
    (Inception v2/v3, 2015), section 3.2: two asymmetric convolutions cover the
    same n x n receptive field with 2n instead of n^2 weights per channel pair.

    Layout (`order="1xn_first"`): `conv_a` (1, n) with `intermediate_filters or
    filters` filters -> `bn_a` -> activation -> `conv_b` (n, 1) with `filters`
    filters -> `bn_b` -> activation; `order="nx1_first"` swaps the two kernels.
    `conv_a` carries `strides`; `conv_b` always has stride 1. keras.applications'
    InceptionV3 uses conv without bias and `BatchNormalization(scale=False)`:
    pass `bn_scale=False` to match it weight for weight. Inputs and outputs are
    channels_last, `(batch, height, width, channels)`, under any global data format.

    Args:
        filters: output channels (> 0).
        kernel_size: n (> 0).
        intermediate_filters: channels between the two convolutions (default `filters`).
        strides: int or pair, applied by the first convolution.
        padding: "same" or "valid".
        order: "1xn_first" or "nx1_first".
        use_bias: whether the convolutions have a bias.
        normalization: "batch_norm" or None.
        bn_scale, bn_epsilon, bn_momentum: BatchNormalization settings (momentum in
            [0, 1], epsilon > 0).
        activation: activation name or callable applied after each (conv, BN), or None.
        kernel_initializer: initializer of both convolutions.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        intermediate_filters=None,
        strides=1,
        padding="same",
        order="1xn_first",
        use_bias=False,
        normalization="batch_norm",
        bn_scale=True,
        bn_epsilon=1e-3,
        activation="relu",
        bn_momentum=0.99,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.intermediate_filters = check_positive_int_or_none(
            "intermediate_filters", intermediate_filters
        )
        self.strides = check_pair("strides", strides)
        self.padding = check_choice("padding", padding, ("same", "valid"))
        self.order = check_choice("order", order, ("1xn_first", "nx1_first"))
        self.use_bias = check_bool("use_bias", use_bias)
        self.normalization = check_choice("normalization", normalization, ("batch_norm", None))
        self.bn_scale = check_bool("bn_scale", bn_scale)
        self.bn_epsilon = check_positive_float("bn_epsilon", bn_epsilon)
        self.bn_momentum = check_float("bn_momentum", bn_momentum, minimum=0.0, maximum=1.0)
        get_activation("activation", activation)
        self.activation = activation
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)

    def _kernels(self):
        n = self.kernel_size
        return ((1, n), (n, 1)) if self.order == "1xn_first" else ((n, 1), (1, n))

    def build(self, input_shape):
        k_a, k_b = self._kernels()
        mid = self.intermediate_filters or self.filters
        common = dict(
            padding=self.padding,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            data_format=_DATA_FORMAT,
            dtype=self.dtype_policy,
        )
        # Attributes are set in call order so the weight order is conv_a, bn_a, conv_b, bn_b,
        # the order of keras.applications' conv2d_bn pairs.
        self.conv_a = keras.layers.Conv2D(mid, k_a, strides=self.strides, name="conv_a", **common)
        self.conv_a.build(input_shape)
        mid_shape = self.conv_a.compute_output_shape(input_shape)
        self.bn_a = self._bn("bn_a", mid_shape)
        self.conv_b = keras.layers.Conv2D(self.filters, k_b, name="conv_b", **common)
        self.conv_b.build(mid_shape)
        self.bn_b = self._bn("bn_b", self.conv_b.compute_output_shape(mid_shape))
        self._act = get_activation("activation", self.activation)

    def _bn(self, name, shape):
        if self.normalization is None:
            return None
        bn = keras.layers.BatchNormalization(
            axis=-1,
            scale=self.bn_scale,
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            name=name,
            dtype=self.dtype_policy,
        )
        bn.build(shape)
        return bn

    def call(self, inputs, training=None):
        x = self.conv_a(inputs)
        if self.bn_a is not None:
            x = self.bn_a(x, training=training)
        if self._act is not None:
            x = self._act(x)
        x = self.conv_b(x)
        if self.bn_b is not None:
            x = self.bn_b(x, training=training)
        if self._act is not None:
            x = self._act(x)
        return x

    def compute_output_shape(self, input_shape):
        k_a, _ = self._kernels()
        h = _conv_out(input_shape[1], k_a[0], self.strides[0], self.padding)
        w = _conv_out(input_shape[2], k_a[1], self.strides[1], self.padding)
        h = _conv_out(h, k_a[1], 1, self.padding)  # conv_b's kernel is k_a transposed
        w = _conv_out(w, k_a[0], 1, self.padding)
        return (input_shape[0], h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "intermediate_filters": self.intermediate_filters,
            "strides": self.strides,
            "padding": self.padding,
            "order": self.order,
            "use_bias": self.use_bias,
            "normalization": self.normalization,
            "bn_scale": self.bn_scale,
            "bn_epsilon": self.bn_epsilon,
            "activation": serialize_activation(self.activation),
            "bn_momentum": self.bn_momentum,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
        }


# Branch name -> (constructor argument giving its filters, kernel size).
_INCEPTION_CONVS = (
    ("branch1x1", "filters_1x1", 1),
    ("branch3x3_reduce", "filters_3x3_reduce", 1),
    ("branch3x3", "filters_3x3", 3),
    ("branch5x5_reduce", "filters_5x5_reduce", 1),
    ("branch5x5", "filters_5x5", 5),
    ("branch_pool_proj", "filters_pool_proj", 1),
)


@keras.saving.register_keras_serializable(package="keras_archs")
class InceptionModule(keras.layers.Layer):
    """The GoogLeNet Inception module: four parallel branches concatenated on channels.

    Szegedy et al., "Going Deeper with Convolutions" (2014), figure 2(b): a 1x1
    branch; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5 (the paper's 5x5, not
    torchvision's 3x3); 3x3 max-pool (stride 1, same) -> 1x1 projection. Each
    convolution is followed by BatchNormalization (when
    `normalization="batch_norm"`, as in Inception v2 and torchvision) and the
    activation. Output channels are
    `filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj`, in that order.
    Sublayers: `branch1x1`, `branch3x3_reduce`, `branch3x3`, `branch5x5_reduce`,
    `branch5x5`, `branch_pool`, `branch_pool_proj`, each conv with a `<name>_bn`.
    Inputs and outputs are channels_last, `(batch, height, width, channels)`, under any
    global data format.

    Args:
        filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce, filters_5x5,
            filters_pool_proj: the filters of each convolution (Table 1 of the paper's
            columns), each >= 1.
        use_bias: whether the convolutions have a bias.
        normalization: "batch_norm" or None.
        bn_scale, bn_epsilon, bn_momentum: BatchNormalization settings (momentum in
            [0, 1], epsilon > 0).
        activation: activation name or callable applied after each (conv, BN), or None.
        kernel_initializer: initializer of the convolutions.
    """

    def __init__(
        self,
        filters_1x1,
        filters_3x3_reduce,
        filters_3x3,
        filters_5x5_reduce,
        filters_5x5,
        filters_pool_proj,
        use_bias=False,
        normalization="batch_norm",
        bn_scale=True,
        bn_epsilon=1e-3,
        activation="relu",
        bn_momentum=0.99,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters_1x1 = check_positive_int("filters_1x1", filters_1x1)
        self.filters_3x3_reduce = check_positive_int("filters_3x3_reduce", filters_3x3_reduce)
        self.filters_3x3 = check_positive_int("filters_3x3", filters_3x3)
        self.filters_5x5_reduce = check_positive_int("filters_5x5_reduce", filters_5x5_reduce)
        self.filters_5x5 = check_positive_int("filters_5x5", filters_5x5)
        self.filters_pool_proj = check_positive_int("filters_pool_proj", filters_pool_proj)
        self.use_bias = check_bool("use_bias", use_bias)
        self.normalization = check_choice("normalization", normalization, ("batch_norm", None))
        self.bn_scale = check_bool("bn_scale", bn_scale)
        self.bn_epsilon = check_positive_float("bn_epsilon", bn_epsilon)
        self.bn_momentum = check_float("bn_momentum", bn_momentum, minimum=0.0, maximum=1.0)
        get_activation("activation", activation)
        self.activation = activation
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)

    def build(self, input_shape):
        mid = {  # input channels of each convolution
            "branch1x1": input_shape[-1],
            "branch3x3_reduce": input_shape[-1],
            "branch3x3": self.filters_3x3_reduce,
            "branch5x5_reduce": input_shape[-1],
            "branch5x5": self.filters_5x5_reduce,
            "branch_pool_proj": input_shape[-1],
        }
        for name, arg, k in _INCEPTION_CONVS:
            filters = getattr(self, arg)
            conv = keras.layers.Conv2D(
                filters,
                k,
                padding="same",
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                data_format=_DATA_FORMAT,
                name=name,
                dtype=self.dtype_policy,
            )
            conv.build((*input_shape[:-1], mid[name]))
            setattr(self, name, conv)
            bn = None
            if self.normalization == "batch_norm":
                bn = keras.layers.BatchNormalization(
                    axis=-1,
                    scale=self.bn_scale,
                    epsilon=self.bn_epsilon,
                    momentum=self.bn_momentum,
                    name=f"{name}_bn",
                    dtype=self.dtype_policy,
                )
                bn.build((*input_shape[:-1], filters))
            setattr(self, f"{name}_bn", bn)
        self._act = get_activation("activation", self.activation)
        self.branch_pool = keras.layers.MaxPooling2D(
            3,
            strides=1,
            padding="same",
            data_format=_DATA_FORMAT,
            name="branch_pool",
            dtype=self.dtype_policy,
        )

    def _unit(self, name, x, training):
        x = getattr(self, name)(x)
        bn = getattr(self, f"{name}_bn")
        if bn is not None:
            x = bn(x, training=training)
        return x if self._act is None else self._act(x)

    def call(self, inputs, training=None):
        b1 = self._unit("branch1x1", inputs, training)
        b2 = self._unit("branch3x3_reduce", inputs, training)
        b2 = self._unit("branch3x3", b2, training)
        b3 = self._unit("branch5x5_reduce", inputs, training)
        b3 = self._unit("branch5x5", b3, training)
        b4 = self._unit("branch_pool_proj", self.branch_pool(inputs), training)
        return ops.concatenate([b1, b2, b3, b4], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj
        return (*input_shape[:-1], channels)

    def get_config(self):
        return {
            **super().get_config(),
            **{arg: getattr(self, arg) for _, arg, _ in _INCEPTION_CONVS},
            "use_bias": self.use_bias,
            "normalization": self.normalization,
            "bn_scale": self.bn_scale,
            "bn_epsilon": self.bn_epsilon,
            "activation": serialize_activation(self.activation),
            "bn_momentum": self.bn_momentum,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
        }

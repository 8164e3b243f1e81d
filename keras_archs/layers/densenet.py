"""DenseNet's dense block and transition block.

Both compute channels_last (batch, height, width, channels) whatever
`keras.config.image_data_format()` says: the image builders transpose channels_first
inputs once at the model's edge, and a `.keras` file loaded under a channels_first
setting rebuilds these sublayers, so they name their data format instead of reading
the global one.
"""

import math

import keras
from keras import ops

from keras_archs.validation import check_float, check_positive_float, check_positive_int


def _bn(name, epsilon, dtype):
    return keras.layers.BatchNormalization(epsilon=epsilon, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_archs")
class DenseBlock(keras.layers.Layer):
    """`num_layers` densely connected bottleneck layers (DenseNet-BC).

    Huang et al., "Densely Connected Convolutional Networks" (2017), section 3:
    layer i computes BN-ReLU-Conv1x1 (`bottleneck_width * growth_rate` filters)
    - BN-ReLU-Conv3x3 (`growth_rate` filters), no convolution biases, and
    concatenates its output to its input, so the block adds
    `num_layers * growth_rate` channels. The layout and sublayer order are
    keras.applications DenseNet's `conv_block` (`layer_{i}_bn1`, `layer_{i}_conv1`,
    `layer_{i}_bn2`, `layer_{i}_conv2`).
    """

    def __init__(
        self, num_layers, growth_rate=32, bottleneck_width=4, bn_epsilon=1.001e-5, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.growth_rate = check_positive_int("growth_rate", growth_rate)
        self.bottleneck_width = check_positive_int("bottleneck_width", bottleneck_width)
        self.bn_epsilon = check_positive_float("bn_epsilon", bn_epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"DenseBlock needs a known channel count; got {input_shape}.")
        mid = self.bottleneck_width * self.growth_rate
        for i in range(self.num_layers):
            shape = (*input_shape[:-1], channels + i * self.growth_rate)
            bn1 = _bn(f"layer_{i}_bn1", self.bn_epsilon, self.dtype_policy)
            conv1 = keras.layers.Conv2D(
                mid,
                1,
                use_bias=False,
                data_format="channels_last",
                name=f"layer_{i}_conv1",
                dtype=self.dtype_policy,
            )
            bn2 = _bn(f"layer_{i}_bn2", self.bn_epsilon, self.dtype_policy)
            conv2 = keras.layers.Conv2D(
                self.growth_rate,
                3,
                padding="same",
                use_bias=False,
                data_format="channels_last",
                name=f"layer_{i}_conv2",
                dtype=self.dtype_policy,
            )
            bn1.build(shape)
            conv1.build(shape)
            bn2.build((*shape[:-1], mid))
            conv2.build((*shape[:-1], mid))
            # One attribute per sublayer, in call order: the weight order of keras.applications.
            for layer in (bn1, conv1, bn2, conv2):
                setattr(self, layer.name, layer)

    def call(self, inputs, training=None):
        x = inputs
        for i in range(self.num_layers):
            bn1, conv1, bn2, conv2 = (
                getattr(self, f"layer_{i}_{part}") for part in ("bn1", "conv1", "bn2", "conv2")
            )
            y = conv1(ops.relu(bn1(x, training=training)))
            y = conv2(ops.relu(bn2(y, training=training)))
            x = ops.concatenate([x, y], axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is not None:
            channels += self.num_layers * self.growth_rate
        return (*input_shape[:-1], channels)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "growth_rate": self.growth_rate,
            "bottleneck_width": self.bottleneck_width,
            "bn_epsilon": self.bn_epsilon,
        }


@keras.saving.register_keras_serializable(package="keras_archs")
class TransitionBlock(keras.layers.Layer):
    """DenseNet transition: BN-ReLU-Conv1x1 to `floor(channels * compression)`, 2x2 avg pool.

    Huang et al., "Densely Connected Convolutional Networks" (2017), section 3
    ("compression", DenseNet-BC uses 0.5); keras.applications DenseNet's
    `transition_block`. Sublayers: `bn`, `conv` (no bias), `pool` (stride 2).
    """

    def __init__(self, compression=0.5, bn_epsilon=1.001e-5, **kwargs):
        super().__init__(**kwargs)
        self.compression = check_float(
            "compression", compression, minimum=0, maximum=1, exclusive_minimum=True
        )
        self.bn_epsilon = check_positive_float("bn_epsilon", bn_epsilon)

    def _filters(self, channels):
        return math.floor(channels * self.compression)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"TransitionBlock needs a known channel count; got {input_shape}.")
        filters = self._filters(input_shape[-1])
        if filters < 1:
            raise ValueError(
                f"compression={self.compression} leaves floor({input_shape[-1]} * "
                f"{self.compression}) = 0 of the {input_shape[-1]} input channels; "
                f"compression must be at least 1/{input_shape[-1]} here."
            )
        self.bn = _bn("bn", self.bn_epsilon, self.dtype_policy)
        self.conv = keras.layers.Conv2D(
            filters,
            1,
            use_bias=False,
            data_format="channels_last",
            name="conv",
            dtype=self.dtype_policy,
        )
        self.pool = keras.layers.AveragePooling2D(
            2, strides=2, data_format="channels_last", name="pool", dtype=self.dtype_policy
        )
        self.bn.build(input_shape)
        self.conv.build(input_shape)

    def call(self, inputs, training=None):
        return self.pool(self.conv(ops.relu(self.bn(inputs, training=training))))

    def compute_output_shape(self, input_shape):
        h, w = (None if s is None else s // 2 for s in input_shape[1:3])
        return (input_shape[0], h, w, self._filters(input_shape[-1]))

    def get_config(self):
        return {
            **super().get_config(),
            "compression": self.compression,
            "bn_epsilon": self.bn_epsilon,
        }

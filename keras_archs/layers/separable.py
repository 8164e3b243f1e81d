"""Depthwise separable convolution in the MobileNet and Xception orders."""

import keras

from keras_archs.layers._utils import get_activation, serialize_activation, serialize_initializer
from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_pair,
    check_positive_float,
    check_positive_int,
)


@keras.saving.register_keras_serializable(package="keras_archs")
class DepthwiseSeparableConv2D(keras.layers.Layer):
    """A depthwise convolution followed by a pointwise 1x1 convolution.

    Two orders, after the papers that use them:

    - `order="mobilenet"` (Howard et al., "MobileNets", 2017, figure 3):
      `depthwise` -> `depthwise_bn` -> activation -> `pointwise` (1x1) ->
      `pointwise_bn` -> activation. Equals `DepthwiseConv2D, BatchNormalization,
      Activation, Conv2D(1x1), BatchNormalization, Activation` weight for weight.
    - `order="xception"` (Chollet, "Xception", 2017, figure 5): activation ->
      `separable` (a `keras.layers.SeparableConv2D`: depthwise then pointwise
      with no normalization or activation between) -> `bn`. Equals
      `Activation, SeparableConv2D, BatchNormalization` weight for weight. Pass
      `activation=None` for Xception's first separable convolution of a block.

    `normalization=None` drops the BatchNormalization layers; `activation=None`
    the activations. `strides` and `depth_multiplier` apply to the depthwise step.

    Inputs and outputs are channels_last `(batch, height, width, channels)` whatever
    `keras.config.image_data_format()` says: the sublayers are created with
    `data_format="channels_last"`, because `build()` runs again when a saved model is
    loaded, possibly under a channels_first setting, and the weights (and the image
    builders, which compute channels_last inside) must not change layout with it.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        depth_multiplier=1,
        padding="same",
        use_bias=False,
        normalization="batch_norm",
        activation="relu",
        order="mobilenet",
        bn_epsilon=1e-3,
        bn_momentum=0.99,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_pair("kernel_size", kernel_size)
        self.strides = check_pair("strides", strides)
        self.depth_multiplier = check_positive_int("depth_multiplier", depth_multiplier)
        self.padding = check_choice("padding", padding, ("same", "valid"))
        self.use_bias = check_bool("use_bias", use_bias)
        self.normalization = check_choice("normalization", normalization, ("batch_norm", None))
        get_activation("activation", activation)
        self.activation = activation
        self.order = check_choice("order", order, ("mobilenet", "xception"))
        self.bn_epsilon = check_positive_float("bn_epsilon", bn_epsilon)
        self.bn_momentum = check_float("bn_momentum", bn_momentum, minimum=0.0, maximum=1.0)
        self.kernel_initializer = kernel_initializer

    def _bn(self, name, shape):
        if self.normalization is None:
            return None
        bn = keras.layers.BatchNormalization(
            axis=-1,
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            name=name,
            dtype=self.dtype_policy,
        )
        bn.build(shape)
        return bn

    def build(self, input_shape):
        self._act = get_activation("activation", self.activation)
        conv = dict(
            strides=self.strides,
            padding=self.padding,
            depth_multiplier=self.depth_multiplier,
            use_bias=self.use_bias,
            data_format="channels_last",
            dtype=self.dtype_policy,
        )
        if self.order == "xception":
            self.separable = keras.layers.SeparableConv2D(
                self.filters,
                self.kernel_size,
                depthwise_initializer=self.kernel_initializer,
                pointwise_initializer=self.kernel_initializer,
                name="separable",
                **conv,
            )
            self.separable.build(input_shape)
            self.bn = self._bn("bn", self.separable.compute_output_shape(input_shape))
            return
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            depthwise_initializer=self.kernel_initializer,
            name="depthwise",
            **conv,
        )
        self.depthwise.build(input_shape)
        mid_shape = self.depthwise.compute_output_shape(input_shape)
        self.depthwise_bn = self._bn("depthwise_bn", mid_shape)
        self.pointwise = keras.layers.Conv2D(
            self.filters,
            1,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            data_format="channels_last",
            name="pointwise",
            dtype=self.dtype_policy,
        )
        self.pointwise.build(mid_shape)
        self.pointwise_bn = self._bn("pointwise_bn", self.pointwise.compute_output_shape(mid_shape))

    def call(self, inputs, training=None):
        act = self._act or (lambda t: t)
        if self.order == "xception":
            x = self.separable(act(inputs))
            return x if self.bn is None else self.bn(x, training=training)
        x = self.depthwise(inputs)
        if self.depthwise_bn is not None:
            x = self.depthwise_bn(x, training=training)
        x = self.pointwise(act(x))
        if self.pointwise_bn is not None:
            x = self.pointwise_bn(x, training=training)
        return act(x)

    def compute_output_shape(self, input_shape):
        out = []
        for size, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            if size is None:
                out.append(None)
            elif self.padding == "same":
                out.append(-(-size // s))
            else:
                out.append((size - k) // s + 1)
        return (input_shape[0], *out, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "depth_multiplier": self.depth_multiplier,
            "padding": self.padding,
            "use_bias": self.use_bias,
            "normalization": self.normalization,
            "activation": serialize_activation(self.activation),
            "order": self.order,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
        }

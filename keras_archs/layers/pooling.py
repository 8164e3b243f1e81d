"""Adaptive average pooling with PyTorch's bin rule."""

import math

import keras
from keras import ops

from keras_archs.validation import check_pair


@keras.saving.register_keras_serializable(package="keras_archs")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average-pools a `(batch, H, W, C)` input to a fixed `(batch, h, w, C)` output.

    Output cell `i` averages input rows `floor(i*H/h)` to `ceil((i+1)*H/h) - 1`
    (and likewise for columns): `torch.nn.AdaptiveAvgPool2d`'s rule, which also
    handles inputs smaller than the output by repeating cells. AlexNet's
    6x6 feature pooling needs exactly this to match torchvision at any input
    size. The spatial size must be static (known when the layer is built).

    Channels_last only: the input is always read as `(batch, height, width, channels)`
    and `keras.config.image_data_format()` is not consulted, so a saved model computes
    the same after loading under either global setting. The image builders compute
    channels_last inside, also in their channels_first models (which transpose at the
    model's edges), so they use this layer unchanged.

    Args:
        output_size: int or `(height, width)` of the output, each >= 1.
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        self.output_size = check_pair("output_size", output_size)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "AdaptiveAveragePooling2D needs a channels_last (batch, height, width, "
                f"channels) input with static height and width; got input shape {input_shape}."
            )
        self._rows = self._bins(input_shape[1], self.output_size[0])
        self._cols = self._bins(input_shape[2], self.output_size[1])

    @staticmethod
    def _bins(size, out):
        return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]

    def call(self, inputs):
        rows = [ops.mean(inputs[:, a:b], axis=1) for a, b in self._rows]
        x = ops.stack(rows, axis=1)
        cols = [ops.mean(x[:, :, a:b], axis=2) for a, b in self._cols]
        return ops.stack(cols, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}

"""Adaptive average pooling with PyTorch's bin rule."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_archs")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average-pools a `(batch, H, W, C)` input to a fixed `(batch, h, w, C)` output.

    Output cell `i` averages input rows `floor(i*H/h)` to `ceil((i+1)*H/h) - 1`
    (and likewise for columns): `torch.nn.AdaptiveAvgPool2d`'s rule, which also
    handles inputs smaller than the output by repeating cells. AlexNet's
    6x6 feature pooling needs exactly this to match torchvision at any input
    size. The spatial size must be static (known when the layer is built).

    Args:
        output_size: int or `(height, width)` of the output, each >= 1.
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        size = (output_size, output_size) if isinstance(output_size, int) else output_size
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(
                "output_size must be a positive int or a pair of positive ints; "
                f"got output_size={output_size!r}."
            )
        self.output_size = tuple(size)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "AdaptiveAveragePooling2D needs a (batch, height, width, channels) input with "
                f"static height and width; got input shape {input_shape}."
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

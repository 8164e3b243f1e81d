"""Stochastic depth: drop a residual branch for whole samples."""

import keras
from keras import ops

from keras_archs.validation import check_rate


@keras.saving.register_keras_serializable(package="keras_archs")
class DropPath(keras.layers.Layer):
    """Stochastic depth, per sample: zero the whole input of a sample with probability `rate`.

    Huang et al., "Deep Networks with Stochastic Depth" (2016), in the per-sample
    form used by FractalNet/EfficientNet/ViT ("drop path"): during training, each
    sample's tensor is kept with probability `1 - rate` and then divided by
    `1 - rate` (so the expectation is unchanged), or replaced by zeros. Apply it
    to a residual branch before the addition (`x + DropPath(r)(f(x))`), so a
    dropped sample passes through the identity. Inference is the identity.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        random = keras.random.uniform(shape, seed=self.seed_generator, dtype="float32")
        mask = ops.cast(random < keep, inputs.dtype)
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

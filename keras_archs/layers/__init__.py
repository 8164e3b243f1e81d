"""Custom Keras layers the architectures are made of; all registered serializable."""

from keras_archs.layers.causal_conv import CausalConv1D
from keras_archs.layers.densenet import DenseBlock, TransitionBlock
from keras_archs.layers.inception import FactorizedConv2D, InceptionModule
from keras_archs.layers.pooling import AdaptiveAveragePooling2D
from keras_archs.layers.separable import DepthwiseSeparableConv2D
from keras_archs.layers.temporal_block import TemporalBlock

__all__ = [
    "AdaptiveAveragePooling2D",
    "CausalConv1D",
    "DenseBlock",
    "DepthwiseSeparableConv2D",
    "FactorizedConv2D",
    "InceptionModule",
    "TemporalBlock",
    "TransitionBlock",
]

"""Custom Keras layers the architectures are made of; all registered serializable."""

from keras_archs.layers.attention import MultiHeadCrossAttention, MultiHeadSelfAttention
from keras_archs.layers.causal_conv import CausalConv1D
from keras_archs.layers.densenet import DenseBlock, TransitionBlock
from keras_archs.layers.drop_path import DropPath
from keras_archs.layers.embedding import (
    SegmentEmbedding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
)
from keras_archs.layers.inception import FactorizedConv2D, InceptionModule
from keras_archs.layers.pooling import AdaptiveAveragePooling2D
from keras_archs.layers.separable import DepthwiseSeparableConv2D
from keras_archs.layers.tcn import TCN
from keras_archs.layers.temporal_block import TemporalBlock
from keras_archs.layers.transformer import TransformerDecoderBlock, TransformerEncoderBlock

__all__ = [
    "TCN",
    "AdaptiveAveragePooling2D",
    "CausalConv1D",
    "DenseBlock",
    "DepthwiseSeparableConv2D",
    "DropPath",
    "FactorizedConv2D",
    "InceptionModule",
    "MultiHeadCrossAttention",
    "MultiHeadSelfAttention",
    "SegmentEmbedding",
    "SinusoidalPositionEncoding",
    "TemporalBlock",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "TransitionBlock",
]

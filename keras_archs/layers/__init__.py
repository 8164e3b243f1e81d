"""Custom Keras layers the architectures are made of; all registered serializable."""

from keras_archs.layers.pooling import AdaptiveAveragePooling2D

__all__ = ["AdaptiveAveragePooling2D"]

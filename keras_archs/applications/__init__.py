"""Builders of the classic architectures, one module per family.

Importing this package registers every family in `keras_archs.registry`.
"""

from keras_archs.applications.alexnet import AlexNet
from keras_archs.applications.lenet import LeNet5

__all__ = ["AlexNet", "LeNet5"]

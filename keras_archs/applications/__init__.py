"""Builders of the classic architectures, one module per family.

Importing this package registers every family in `keras_archs.registry`.
"""

from keras_archs.applications.alexnet import AlexNet
from keras_archs.applications.bert import BERT
from keras_archs.applications.densenet import DenseNet, DenseNet121, DenseNet169, DenseNet201
from keras_archs.applications.gpt import GPT
from keras_archs.applications.inception_v1 import InceptionV1
from keras_archs.applications.inception_v3 import InceptionV3
from keras_archs.applications.lenet import LeNet5
from keras_archs.applications.mobilenet import MobileNet, MobileNetV2
from keras_archs.applications.nasnet import NASNet, NASNetLarge, NASNetMobile
from keras_archs.applications.resnet import (
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet50V2,
    ResNet101,
    ResNet101V2,
    ResNet152,
    ResNet152V2,
)
from keras_archs.applications.rnn import BidirectionalRNN, StackedRNN
from keras_archs.applications.seq2seq import Seq2Seq
from keras_archs.applications.tcn import TCN
from keras_archs.applications.transformer import Transformer
from keras_archs.applications.vgg import VGG16, VGG19
from keras_archs.applications.xception import Xception

__all__ = ["TCN", "AlexNet", "BidirectionalRNN", "LeNet5", "Seq2Seq", "StackedRNN"]
__all__ += [  # issue 4: VGG, ResNet, Inception
    "VGG16",
    "VGG19",
    "InceptionV1",
    "InceptionV3",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet50V2",
    "ResNet101",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
]
__all__ += [  # issue 5: DenseNet, MobileNet, Xception, NASNet
    "DenseNet",
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "MobileNet",
    "MobileNetV2",
    "NASNet",
    "NASNetLarge",
    "NASNetMobile",
    "Xception",
]
__all__ += ["GPT", "Transformer"]  # issue 7: GPT, Transformer
__all__ += ["BERT"]  # issue 8: BERT

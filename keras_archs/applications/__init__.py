"""Builders of the classic architectures, one module per family, all in one template.

Each family module reads in the same order: a docstring with the papers and the one
idea; its weight files as data (`WEIGHTS`); `preprocess_input` / `decode_predictions`;
private blocks; one private builder; then one explicit `def Name(...)` per registered
variant, which forwards to that builder (text families register one name per entry of
their `PRESETS` table). Image builders enter through `_image.prepare(...)` and leave
through `build.finish(...)`, which own argument checks, the input, the data format, the
top, pooling, weights and `features_only`. CONTRIBUTING.md walks through one family.

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
from keras_archs.applications.nasnet import NASNet, NASNetCustom, NASNetLarge, NASNetMobile
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

__all__ = [
    "BERT",
    "GPT",
    "TCN",
    "VGG16",
    "VGG19",
    "AlexNet",
    "BidirectionalRNN",
    "DenseNet",
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "InceptionV1",
    "InceptionV3",
    "LeNet5",
    "MobileNet",
    "MobileNetV2",
    "NASNet",
    "NASNetCustom",
    "NASNetLarge",
    "NASNetMobile",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet50V2",
    "ResNet101",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
    "Seq2Seq",
    "StackedRNN",
    "Transformer",
    "Xception",
]

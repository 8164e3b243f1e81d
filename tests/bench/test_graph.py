import collections

import keras
import numpy as np
import pytest

from keras_archs import create_model
from keras_archs.bench import training_graph_ops
from keras_archs.bench.anchors import build_anchor

SHAPE = (32, 32, 3)
X = np.random.default_rng(0).random((2, *SHAPE), "float32")
Y = np.zeros(2, "int32")
LOSS = "sparse_categorical_crossentropy"


def _ops(model):
    return training_graph_ops(model, X, Y, LOSS)


def test_mobilenet_trains_keras_applications_graph_op_for_op():
    # The same network at the same settings: any extra op (a cast, a transpose) in
    # keras_archs' builder or its layers shows up here, where a timing could not see it.
    ours = _ops(create_model("mobilenet", input_shape=SHAPE))
    anchor = _ops(build_anchor("mobilenet", input_shape=SHAPE))
    assert ours == anchor
    assert ours["Conv2D"] > 0 and ours["DepthwiseConv2dNative"] > 0
    assert ours["Conv2DBackpropFilter"] > 0  # the gradients are in the count


def test_resnet50_training_graph_has_no_op_that_keras_applications_lacks():
    ours = _ops(create_model("resnet50", input_shape=SHAPE))
    anchor_model = build_anchor("resnet50", input_shape=SHAPE)
    anchor = _ops(anchor_model)
    assert collections.Counter(ours) - anchor == collections.Counter()
    # The one difference: keras.applications builds BatchNormalization(axis=3), and
    # Keras' TensorFlow batch norm reshapes its mean, variance, offset and scale when
    # the axis is not -1 (forward and gradient); keras_archs normalizes axis -1.
    norms = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in anchor_model.layers)
    assert norms == 53
    assert anchor["Reshape"] - ours["Reshape"] == 8 * norms
    assert {op for op in anchor if anchor[op] != ours[op]} <= {"Reshape", "Const"}


def test_training_graph_ops_needs_tensorflow(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="the Keras backend is 'jax', accepted: 'tensorflow'"):
        _ops(create_model("lenet5"))

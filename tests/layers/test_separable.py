"""DepthwiseSeparableConv2D: both orders equal the stock Keras stacks, channels_last under
any global data format, bad arguments named."""

import keras
import numpy as np
import pytest

from keras_archs.layers import DepthwiseSeparableConv2D
from tests.layers.helpers import copy_weights, np_out, randomize_weights

X = np.random.default_rng(0).normal(size=(3, 10, 10, 6)).astype("float32")


def _check_equal(layer, stock):
    layer.build(X.shape)
    randomize_weights(layer)
    copy_weights([layer], [stock])
    for training in (False, True):
        diff = np.abs(np_out(layer(X, training=training)) - np_out(stock(X, training=training)))
        assert diff.max() < 1e-5
    assert tuple(stock(X).shape) == layer.compute_output_shape(X.shape)


def test_mobilenet_order_equals_stock_stack():
    layer = DepthwiseSeparableConv2D(
        8, strides=2, depth_multiplier=2, activation="relu6", bn_epsilon=1e-3
    )
    stock = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.DepthwiseConv2D(
                3, strides=2, depth_multiplier=2, padding="same", use_bias=False
            ),
            keras.layers.BatchNormalization(epsilon=1e-3),
            keras.layers.Activation("relu6"),
            keras.layers.Conv2D(8, 1, use_bias=False),
            keras.layers.BatchNormalization(epsilon=1e-3),
            keras.layers.Activation("relu6"),
        ]
    )
    _check_equal(layer, stock)
    assert [w.path.split("/")[-2] for w in layer.weights[:2]] == ["depthwise", "depthwise_bn"]
    assert tuple(layer.depthwise.kernel.shape) == (3, 3, 6, 2)
    assert tuple(layer.pointwise.kernel.shape) == (1, 1, 12, 8)


def test_xception_order_equals_stock_stack():
    layer = DepthwiseSeparableConv2D(7, order="xception", padding="valid")
    stock = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.Activation("relu"),
            keras.layers.SeparableConv2D(7, 3, padding="valid", use_bias=False),
            keras.layers.BatchNormalization(),
        ]
    )
    _check_equal(layer, stock)
    # The ReLU comes first: negative outputs survive (BN after the conv), unlike MobileNet's.
    assert np_out(layer(X)).min() < 0


def test_no_normalization_no_activation_is_linear():
    layer = DepthwiseSeparableConv2D(4, normalization=None, activation=None, use_bias=True)
    y1, y2 = np_out(layer(X)), np_out(layer(2 * X))
    bias = np_out(layer(np.zeros_like(X)))
    np.testing.assert_allclose(y2 - bias, 2 * (y1 - bias), atol=1e-4)
    assert len(layer.weights) == 4


@pytest.mark.parametrize("order", ["mobilenet", "xception"])
def test_channels_last_whatever_the_global_data_format(order):
    # build() runs again when a saved model is loaded, possibly under channels_first.
    reference = DepthwiseSeparableConv2D(5, strides=2, order=order)
    reference.build(X.shape)
    randomize_weights(reference)
    keras.config.set_image_data_format("channels_first")
    try:
        layer = DepthwiseSeparableConv2D(5, strides=2, order=order)
        layer.build(X.shape)
    finally:
        keras.config.set_image_data_format("channels_last")
    copy_weights([reference], [layer])
    convs = [layer.separable] if order == "xception" else [layer.depthwise, layer.pointwise]
    assert all(conv.data_format == "channels_last" for conv in convs)
    np.testing.assert_allclose(np_out(layer(X)), np_out(reference(X)), atol=1e-6)
    assert tuple(layer(X).shape) == (3, 5, 5, 5) == layer.compute_output_shape(X.shape)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"filters": -2}, "filters"),
        ({"filters": 4, "depth_multiplier": 0}, "depth_multiplier"),
        ({"filters": 4, "order": "inception"}, "order"),
        ({"filters": 4, "normalization": "layer_norm"}, "normalization"),
        ({"filters": 4, "activation": "swishy"}, "activation"),
        ({"filters": 4, "strides": 0}, "strides"),
        ({"filters": 4, "bn_momentum": 1.5}, "bn_momentum"),
        ({"filters": 4, "bn_epsilon": 0}, "bn_epsilon"),
    ],
)
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg) as info:
        DepthwiseSeparableConv2D(**kwargs)
    assert "got" in str(info.value)


def test_use_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="use_bias must be True or False"):
        DepthwiseSeparableConv2D(4, use_bias="yes")

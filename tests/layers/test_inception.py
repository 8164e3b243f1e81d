import keras
import numpy as np
import pytest

from keras_archs.layers import FactorizedConv2D, InceptionModule
from tests.layers.helpers import copy_weights, np_out, randomize_weights

X = np.random.default_rng(0).normal(size=(2, 9, 9, 5)).astype("float32")


@pytest.mark.parametrize("order", ["1xn_first", "nx1_first"])
def test_factorized_conv_equals_stock_stack(order):
    layer = FactorizedConv2D(6, 3, intermediate_filters=4, order=order, bn_scale=False)
    layer.build(X.shape)  # weights exist right after build
    assert [w.path.split("/")[-2] for w in layer.weights][:2] == ["conv_a", "bn_a"]
    k_a, k_b = ((1, 3), (3, 1)) if order == "1xn_first" else ((3, 1), (1, 3))
    assert tuple(layer.conv_a.kernel.shape) == (*k_a, 5, 4)
    assert tuple(layer.conv_b.kernel.shape) == (*k_b, 4, 6)
    randomize_weights(layer)
    stock = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.Conv2D(4, k_a, padding="same", use_bias=False),
            keras.layers.BatchNormalization(scale=False),
            keras.layers.Activation("relu"),
            keras.layers.Conv2D(6, k_b, padding="same", use_bias=False),
            keras.layers.BatchNormalization(scale=False),
            keras.layers.Activation("relu"),
        ]
    )
    copy_weights([layer], [stock])
    for training in (False, True):
        diff = np.abs(np_out(layer(X, training=training)) - np_out(stock(X, training=training)))
        assert diff.max() < 1e-5
    assert layer.compute_output_shape(X.shape) == (2, 9, 9, 6)


def test_factorized_conv_strides_valid_shape():
    layer = FactorizedConv2D(3, 3, strides=2, padding="valid", normalization=None)
    y = layer(X)
    assert tuple(y.shape) == layer.compute_output_shape(X.shape) == (2, 3, 4, 3)
    assert layer.bn_a is None and len(layer.weights) == 2


def test_inception_module_equals_stock_branches_and_param_count():
    # GoogLeNet inception (3a) filter counts on a 192-channel input.
    x = np.random.default_rng(1).normal(size=(2, 7, 7, 192)).astype("float32")
    layer = InceptionModule(64, 96, 128, 16, 32, 32)
    layer.build(x.shape)
    conv_weights = 192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16 + 16 * 25 * 32 + 192 * 32
    bn_weights = 4 * (64 + 96 + 128 + 16 + 32 + 32)
    assert layer.count_params() == conv_weights + bn_weights
    randomize_weights(layer)

    inp = keras.Input(x.shape[1:])
    stock_layers = {}

    def unit(t, name, filters, k):
        conv = keras.layers.Conv2D(filters, k, padding="same", use_bias=False)
        bn = keras.layers.BatchNormalization()
        stock_layers[name] = (conv, bn)
        return keras.layers.Activation("relu")(bn(conv(t)))

    b1 = unit(inp, "branch1x1", 64, 1)
    b2 = unit(unit(inp, "branch3x3_reduce", 96, 1), "branch3x3", 128, 3)
    b3 = unit(unit(inp, "branch5x5_reduce", 16, 1), "branch5x5", 32, 5)
    pool = keras.layers.MaxPooling2D(3, strides=1, padding="same")(inp)
    b4 = unit(pool, "branch_pool_proj", 32, 1)
    stock = keras.Model(inp, keras.layers.Concatenate()([b1, b2, b3, b4]))
    for name, (conv, bn) in stock_layers.items():
        copy_weights([getattr(layer, name), getattr(layer, f"{name}_bn")], [conv, bn])
    y = np_out(layer(x))
    assert y.shape == (2, 7, 7, 256) == layer.compute_output_shape(x.shape)
    assert np.abs(y - np_out(stock(x))).max() < 1e-4


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 4, "kernel_size": -1}, "kernel_size"),
        ({"filters": 4, "kernel_size": 3, "order": "diagonal"}, "order"),
        ({"filters": 4, "kernel_size": 3, "normalization": "group_norm"}, "normalization"),
        ({"filters": 4, "kernel_size": 3, "activation": "nope"}, "activation"),
        ({"filters": 4, "kernel_size": 3, "padding": "causal"}, "padding"),
    ],
)
def test_factorized_conv_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        FactorizedConv2D(**kwargs)


def test_inception_module_bad_arguments():
    with pytest.raises(ValueError, match="filters_5x5"):
        InceptionModule(64, 96, 128, 16, 0, 32)
    with pytest.raises(ValueError, match="normalization"):
        InceptionModule(1, 1, 1, 1, 1, 1, normalization="layer_norm")

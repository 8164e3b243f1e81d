"""FactorizedConv2D and InceptionModule: equal to stock Keras stacks, channels_last under
any global data format, bad arguments."""

import keras
import numpy as np
import pytest

from keras_archs.layers import FactorizedConv2D, InceptionModule
from tests.harness import run_layer_test
from tests.layers.helpers import copy_weights, np_out, randomize_weights

X = np.random.default_rng(0).normal(size=(2, 9, 9, 5)).astype("float32")
_FILTER_ARGS = (
    "filters_1x1",
    "filters_3x3_reduce",
    "filters_3x3",
    "filters_5x5_reduce",
    "filters_5x5",
    "filters_pool_proj",
)


def test_generic_layer_checks():
    kwargs = {"intermediate_filters": 3, "strides": 2, "bn_scale": False, "bn_momentum": 0.9}
    run_layer_test(FactorizedConv2D, {"filters": 4, "kernel_size": 3, **kwargs}, X, (2, 5, 5, 4))
    filters = dict(zip(_FILTER_ARGS, (2, 2, 3, 2, 3, 2)))
    run_layer_test(InceptionModule, filters, X, (2, 9, 9, 2 + 3 + 3 + 2))


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
        ({"filters": 4, "kernel_size": 3, "bn_momentum": 1.5}, "bn_momentum"),
        ({"filters": 4, "kernel_size": 3, "kernel_initializer": "nope"}, "kernel_initializer"),
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


def test_bad_flags_are_type_errors():
    with pytest.raises(TypeError, match="use_bias must be True or False; got use_bias='no'"):
        FactorizedConv2D(4, 3, use_bias="no")
    with pytest.raises(TypeError, match="bn_scale must be True or False"):
        InceptionModule(1, 1, 1, 1, 1, 1, bn_scale=None)


def _small_model():
    inp = keras.Input(X.shape[1:])
    x = InceptionModule(2, 2, 3, 2, 3, 2, name="module")(inp)
    x = FactorizedConv2D(4, 3, intermediate_filters=3, strides=2, name="factorized")(x)
    return keras.Model(inp, x)


def test_channels_last_under_a_channels_first_global_setting(tmp_path):
    """The sublayers are made in build(), which runs again when a .keras file is loaded:
    under a channels_first global setting they still compute channels_last."""
    model = _small_model()
    randomize_weights(model)
    expected = np_out(model(X, training=False))
    path = str(tmp_path / "inception_layers.keras")
    model.save(path)
    saved = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        loaded = keras.saving.load_model(path)
        fresh = _small_model()  # built under the channels_first setting
    finally:
        keras.config.set_image_data_format(saved)
    for m in (loaded, fresh):
        sublayers = m.get_layer("module")._flatten_layers(include_self=False)
        sublayers = [*sublayers, *m.get_layer("factorized")._flatten_layers(include_self=False)]
        formats = {s.data_format for s in sublayers if hasattr(s, "data_format")}
        assert formats == {"channels_last"}
    assert np.array_equal(np_out(loaded(X, training=False)), expected)
    copy_weights([model], [fresh])
    np.testing.assert_allclose(np_out(fresh(X, training=False)), expected, atol=1e-6)

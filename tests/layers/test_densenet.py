"""DenseBlock and TransitionBlock: keras.applications parity, shapes, channels_last inside,
serialization, argument checks."""

import keras
import numpy as np
import pytest
from keras.src.applications import densenet as stock_densenet

from keras_archs.layers import DenseBlock, TransitionBlock
from tests.layers.helpers import copy_weights, np_out, randomize_weights


def test_dense_and_transition_equal_keras_applications_blocks():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    block = DenseBlock(2, growth_rate=32)
    trans = TransitionBlock(0.5)
    inp = keras.Input(x.shape[1:])
    ours = keras.Model(inp, trans(block(inp)))
    randomize_weights(ours)
    assert block.compute_output_shape(x.shape) == (2, 8, 8, 16 + 2 * 32)
    assert trans.compute_output_shape((2, 8, 8, 80)) == (2, 4, 4, 40)

    t = stock_densenet.conv_block(inp, 32, name="s1")
    t = stock_densenet.conv_block(t, 32, name="s2")
    stock = keras.Model(inp, stock_densenet.transition_block(t, 0.5, name="st"))
    copy_weights(ours.layers[1:], stock.layers[1:])
    for training in (False, True):
        diff = np.abs(np_out(ours(x, training=training)) - np_out(stock(x, training=training)))
        assert diff.max() < 1e-4


def _densenet121():
    inp = keras.Input((224, 224, 3))
    x = keras.layers.ZeroPadding2D(3)(inp)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False)(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    for i, n in enumerate((6, 12, 24, 16)):
        x = DenseBlock(n)(x)
        if i < 3:
            x = TransitionBlock(0.5)(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(1000)(x))


def test_densenet121_parameter_count():
    assert _densenet121().count_params() == 8_062_504  # keras.applications.DenseNet121


def test_transition_floors_channels():
    layer = TransitionBlock(0.5)
    y = layer(np.zeros((1, 5, 5, 7), "float32"))
    assert tuple(y.shape) == layer.compute_output_shape((1, 5, 5, 7)) == (1, 2, 2, 3)


def _blocks_model():
    inp = keras.Input((8, 8, 16))
    return keras.Model(inp, TransitionBlock(0.5)(DenseBlock(2, growth_rate=8)(inp)))


def test_channels_last_whatever_the_global_data_format(tmp_path):
    # The sublayers are (re)built in build(), also when a .keras file is loaded under a
    # channels_first setting; they must keep computing on the last axis.
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    keras.utils.set_random_seed(0)
    ours = _blocks_model()
    randomize_weights(ours)
    expected = np_out(ours(x))
    path = str(tmp_path / "blocks.keras")
    ours.save(path)
    keras.config.set_image_data_format("channels_first")
    try:
        built_there = _blocks_model()
        loaded = keras.models.load_model(path, safe_mode=True)
    finally:
        keras.config.set_image_data_format("channels_last")
    assert tuple(built_there.output.shape) == (None, 4, 4, 16)
    copy_weights(ours.layers[1:], built_there.layers[1:])
    for model in (built_there, loaded):
        np.testing.assert_allclose(np_out(model(x)), expected, atol=1e-5)
    assert loaded.layers[1].get_config() == ours.layers[1].get_config()
    assert loaded.layers[2].get_config() == ours.layers[2].get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        DenseBlock(0)
    with pytest.raises(ValueError, match="growth_rate"):
        DenseBlock(2, growth_rate=-32)
    with pytest.raises(ValueError, match="compression"):
        TransitionBlock(1.5)
    with pytest.raises(ValueError, match=r"compression must be a number in \(0, 1\]"):
        TransitionBlock(True)
    with pytest.raises(ValueError, match=r"compression=0.1 leaves .* = 0 of the 3 input"):
        TransitionBlock(0.1)(np.zeros((1, 4, 4, 3), "float32"))

import keras
import numpy as np
import pytest

from keras_archs.layers import TemporalBlock
from tests.layers.helpers import (
    copy_weights,
    np_out,
    randomize_weights,
    restore_seed_state,
    seed_state,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 40, 2)).astype("float32")


@pytest.mark.parametrize("normalization", [None, "layer_norm", "weight_norm", "batch_norm"])
@pytest.mark.parametrize("training", [False, True])
def test_causal_by_perturbation_with_and_without_dropout(normalization, training):
    if normalization == "batch_norm" and training:
        pytest.skip("training-mode BatchNorm pools statistics over time, by design")
    block = TemporalBlock(8, 3, 2, dropout_rate=0.5, normalization=normalization, seed=3)
    block.build(X.shape)
    t = 17
    x2 = X.copy()
    x2[:, t + 1 :] += RNG.normal(size=x2[:, t + 1 :].shape).astype("float32")
    state = seed_state(block)
    y = np_out(block(X, training=training))
    restore_seed_state(state)
    y2 = np_out(block(x2, training=training))
    assert np.array_equal(y[:, : t + 1], y2[:, : t + 1])
    assert np.abs(y[:, t + 1 :] - y2[:, t + 1 :]).max() > 1e-3
    if training:  # dropout really was on: the output differs from inference mode
        assert np.abs(y - np_out(block(X, training=False))).max() > 1e-3


def test_receptive_field_by_perturbation():
    # tanh, not ReLU: a ReLU that happens to be off at the one path from the oldest step
    # would hide it, making the result depend on the random initial weights.
    keras.utils.set_random_seed(0)
    block = TemporalBlock(4, 3, 4, activation="tanh")
    assert block.receptive_field == 17
    base = np_out(block(X))
    t = 30
    for s, seen in ((t - 16, True), (t - 17, False)):
        x2 = X.copy()
        x2[:, s] += 5.0
        assert (np.abs(np_out(block(x2))[:, t] - base[:, t]).max() > 1e-6) == seen


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize("activate_residual", [False, True])
def test_equals_stock_stack_and_returns_skip(padding, activate_residual):
    block = TemporalBlock(
        6,
        3,
        2,
        return_skip=True,
        activation="tanh",
        padding=padding,
        activate_residual=activate_residual,
    )
    block.build(X.shape)
    randomize_weights(block)
    inp = keras.Input(X.shape[1:])
    r = inp
    convs = []
    for _ in range(2):
        conv = keras.layers.Conv1D(6, 3, dilation_rate=2, padding=padding)
        convs.append(conv)
        r = keras.layers.Activation("tanh")(conv(r))
    if activate_residual:  # keras-tcn's extra activation of the residual branch
        r = keras.layers.Activation("tanh")(r)
    shortcut = keras.layers.Conv1D(6, 1)
    out = keras.layers.Activation("tanh")(keras.layers.Add()([r, shortcut(inp)]))
    stock = keras.Model(inp, [out, r])
    copy_weights([block], [*convs, shortcut])
    y, skip = block(X)
    s_y, s_skip = stock(X)
    assert np.abs(np_out(y) - np_out(s_y)).max() < 1e-5
    assert np.abs(np_out(skip) - np_out(s_skip)).max() < 1e-5
    assert block.compute_output_shape(X.shape) == ((3, 40, 6), (3, 40, 6))


def test_extra_residual_activation_changes_nothing_for_relu():
    """ReLU's branch is >= 0 after dropout, so activating it again is the identity."""
    blocks = [TemporalBlock(5, 3, 2, dropout_rate=0.3, activate_residual=a, seed=1) for a in (0, 1)]
    for block in blocks:
        block.build(X.shape)
    copy_weights([blocks[0]], [blocks[1]])
    for training in (False, True):
        outs = []
        for block in blocks:
            state = seed_state(block)
            outs.append(np_out(block(X, training=training)))
            restore_seed_state(state)
        assert np.array_equal(outs[0], outs[1])


def test_same_padding_is_not_causal():
    block = TemporalBlock(4, 3, 2, padding="same", activation="tanh")
    t = 17
    x2 = X.copy()
    x2[:, t + 1 :] += 1.0
    y, y2 = np_out(block(X)), np_out(block(x2))
    # Each convolution looks 2 steps ahead: 4 for the block.
    assert np.abs(y[:, t - 3 : t + 1] - y2[:, t - 3 : t + 1]).max() > 1e-3
    assert np.array_equal(y[:, : t - 3], y2[:, : t - 3])
    assert block.receptive_field == 9


def test_configs_saved_before_the_new_options_still_load():
    config = TemporalBlock(4, 3, 2).get_config()
    assert config["padding"] == "causal" and config["activate_residual"] is False
    for key in ("padding", "activate_residual"):
        del config[key]
    block = TemporalBlock.from_config(config)
    assert block.padding == "causal" and block.activate_residual is False


def test_identity_shortcut_when_channels_match():
    block = TemporalBlock(2, 3, 1)
    block.build(X.shape)
    assert block.shortcut is None
    assert block.count_params() == 2 * (3 * 2 * 2 + 2)


def _block_params(c_in, f, k, norm_per_conv=0):
    conv = lambda c: k * c * f + f  # noqa: E731
    shortcut = (c_in * f + f) if c_in != f else 0
    return conv(c_in) + conv(f) + shortcut + 2 * norm_per_conv


@pytest.mark.parametrize(
    ("normalization", "norm_per_conv"),
    [(None, 0), ("batch_norm", 4 * 64), ("layer_norm", 2 * 64), ("weight_norm", 64)],
)
def test_keras_tcn_default_parameter_count(normalization, norm_per_conv):
    # keras-tcn TCN() defaults: nb_filters=64, kernel_size=3, dilations 1..32, one stack,
    # on one input feature. Its count without normalization is 136,256.
    inp = keras.Input((None, 1))
    x = inp
    for d in (1, 2, 4, 8, 16, 32):
        x = TemporalBlock(64, 3, d, normalization=normalization)(x)
    model = keras.Model(inp, x)
    expected = _block_params(1, 64, 3, norm_per_conv) + 5 * _block_params(64, 64, 3, norm_per_conv)
    assert model.count_params() == expected
    if normalization is None:
        assert expected == 136_256
    # A stack's receptive field: 1 + 2 * (k - 1) * sum(dilations), keras-tcn's formula.
    assert 1 + sum(la.receptive_field - 1 for la in model.layers[1:]) == 1 + 2 * 2 * 63


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"filters": 0, "kernel_size": 3, "dilation_rate": 1}, "filters"),
        ({"filters": 4, "kernel_size": 3, "dilation_rate": -1}, "dilation_rate"),
        ({"filters": 4, "kernel_size": 3, "dilation_rate": 1, "dropout_rate": 1.0}, "dropout"),
        ({"filters": 4, "kernel_size": 3, "dilation_rate": 1, "normalization": "gn"}, "normaliz"),
        ({"filters": 4, "kernel_size": 3, "dilation_rate": 1, "activation": "x"}, "activation"),
        ({"filters": 4, "kernel_size": 3, "dilation_rate": 1, "padding": "valid"}, "padding"),
    ],
)
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TemporalBlock(**kwargs)

"""keras_archs.layers.TCN, the drop-in for keras-tcn's `TCN` layer: outputs equal to
keras-tcn's with the same weights, Bidirectional, go_backwards, return_state, causal and
"same" padding, receptive field, config and `.keras` round trips, bad arguments.

The `.keras` reload in another interpreter, XLA and the JAX / torch backends run on the
"tcn_layers" case of tests/layers/cases.py (tests/layers/test_common.py).
"""

import keras
import numpy as np
import pytest

from keras_archs.layers import TCN
from tests.harness import run_layer_test
from tests.layers.helpers import copy_weights, np_out, randomize_weights

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 21, 3)).astype("float32")  # odd length: "same" has a true middle
X_EVEN = RNG.normal(size=(2, 20, 3)).astype("float32")


def _reversed(x):
    return np.ascontiguousarray(x[:, ::-1])  # torch tensors cannot have negative strides


def _built(x_shape=X.shape, seed=0, **kwargs):
    layer = TCN(**kwargs)
    layer.build(x_shape)
    randomize_weights(layer, seed)
    return layer


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"nb_filters": 4, "kernel_size": 2, "dilations": [1, 2]}, (3, 4)),
        (
            {
                "nb_filters": [3, 5],
                "kernel_size": 3,
                "dilations": [1, 2],
                "padding": "same",
                "use_skip_connections": False,
                "return_sequences": True,
                "use_batch_norm": True,
                "go_backwards": True,
            },
            (3, 21, 5),
        ),
    ],
)
def test_generic_layer_checks(kwargs, shape):
    """Config and serialization round trips, symbolic and eager shapes, the `.keras` file
    reloaded in another interpreter, one training step (tests.harness.run_layer_test)."""
    run_layer_test(TCN, kwargs, X, shape)


# --- keras-tcn parity -------------------------------------------------------------------


def _keras_tcn():
    """keras-tcn's module, or a skip saying why it cannot be used here."""
    try:
        import tcn
    except Exception as e:  # ImportError, or keras-tcn failing against this TensorFlow
        pytest.skip(f"keras-tcn cannot be imported: {type(e).__name__}: {e}")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("keras-tcn's TCN is a TensorFlow layer (tf.reverse, tf.keras)")
    return tcn


def _copy_into_keras_tcn(ours, theirs):
    """Our randomized weights into keras-tcn's layer, sublayer by sublayer."""
    assert len(ours.residual_blocks) == len(theirs.residual_blocks)
    copied = 0
    for block, theirs_block in zip(ours.residual_blocks, theirs.residual_blocks):
        assert block.name == theirs_block.name
        pairs = [
            (block.conv_1.conv, theirs_block.conv1D_0),
            (block.conv_2.conv, theirs_block.conv1D_1),
        ]
        norms = theirs_block.batch_norm_layers or theirs_block.layer_norm_layers
        if norms:
            pairs += [(block.norm_1, norms[0]), (block.norm_2, norms[1])]
        if block.shortcut is not None:
            pairs.append((block.shortcut, theirs_block.shape_match_conv))
        else:  # identity shortcut on both sides
            assert not theirs_block.shape_match_conv.weights
        for src, dst in pairs:
            dst.set_weights(src.get_weights())
            copied += sum(int(np.prod(w.shape)) for w in src.weights)
    assert copied == theirs.count_params() == ours.count_params()


PARITY = {
    "defaults_last_step": dict(nb_filters=6, kernel_size=3, dilations=[1, 2, 4]),
    "sequences": dict(nb_filters=6, kernel_size=3, dilations=[1, 2, 4], return_sequences=True),
    "same_middle_step": dict(nb_filters=5, kernel_size=2, dilations=[1, 2, 4], padding="same"),
    "same_sequences": dict(
        nb_filters=5, kernel_size=2, dilations=[1, 3], padding="same", return_sequences=True
    ),
    "stacks_layer_norm_tanh": dict(
        nb_filters=4,
        kernel_size=3,
        nb_stacks=2,
        dilations=[1, 2],
        use_layer_norm=True,
        activation="tanh",
        return_sequences=True,
    ),
    "batch_norm_filter_list_no_skips_gelu": dict(
        nb_filters=[3, 5],
        kernel_size=2,
        dilations=[1, 3],
        use_batch_norm=True,
        use_skip_connections=False,
        activation="gelu",
        return_sequences=True,
    ),
    "identity_shortcuts": dict(nb_filters=3, kernel_size=4, dilations=[1, 2, 4, 8]),
    "go_backwards": dict(
        nb_filters=4, kernel_size=3, dilations=[1, 2], go_backwards=True, return_sequences=True
    ),
    "go_backwards_same_last": dict(
        nb_filters=4, kernel_size=2, dilations=[1, 2], go_backwards=True, padding="same"
    ),
    "return_state": dict(nb_filters=4, kernel_size=3, dilations=[1, 2], return_state=True),
    "dropout_at_inference": dict(nb_filters=4, kernel_size=3, dilations=[1, 2], dropout_rate=0.5),
}


@pytest.mark.parametrize("name", sorted(PARITY))
def test_same_outputs_as_keras_tcn(name):
    tcn = _keras_tcn()
    import tensorflow as tf

    kwargs = PARITY[name]
    # keras-tcn activates its residual branch once more (see the TCN docstring); for ReLU
    # that changes nothing, for tanh or GELU activate_residual=True reproduces it.
    extra = {} if kwargs.get("activation", "relu") == "relu" else {"activate_residual": True}
    for x in (X, X_EVEN):
        ours = _built(x.shape, **kwargs, **extra)
        theirs = tcn.TCN(**kwargs)
        theirs(x)  # builds it
        _copy_into_keras_tcn(ours, theirs)
        expected = theirs(x, training=False)
        assert not isinstance(expected, (list, tuple))  # return_state: the output alone
        assert ours.receptive_field == theirs.receptive_field
        got = ours(x, training=False)
        assert not isinstance(got, (list, tuple))
        np.testing.assert_allclose(np_out(got), np_out(expected), atol=1e-5)
        # A free time axis (the "same" middle step is then found at run time).
        graph = tf.function(
            lambda v, layer=ours: layer(v, training=False),
            input_signature=[tf.TensorSpec((None, None, x.shape[-1]), "float32")],
        )
        np.testing.assert_allclose(np_out(graph(x)), np_out(expected), atol=1e-5)


def test_paper_form_differs_from_keras_tcn_only_off_relu():
    """The one difference: without activate_residual, a non-ReLU activation is not applied
    to the residual branch a second time, so the outputs differ from keras-tcn's."""
    tcn = _keras_tcn()
    kwargs = dict(nb_filters=4, kernel_size=3, dilations=[1, 2], activation="tanh")
    ours = _built(**kwargs)
    theirs = tcn.TCN(**kwargs)
    theirs(X)
    _copy_into_keras_tcn(ours, theirs)
    assert np.abs(np_out(ours(X)) - np_out(theirs(X))).max() > 1e-3


def test_same_arguments_and_defaults_as_keras_tcn():
    import inspect

    tcn = _keras_tcn()
    ours = inspect.signature(TCN.__init__).parameters
    theirs = inspect.signature(tcn.TCN.__init__).parameters
    for name, parameter in theirs.items():
        if name in ("self", "kwargs"):
            continue
        assert name in ours, name
        default = ours[name].default
        assert (list(default) if name == "dilations" else default) == (
            list(parameter.default) if name == "dilations" else parameter.default
        ), name
    config = TCN().get_config()
    assert set(tcn.TCN().get_config()) <= set(config)


# --- Bidirectional ----------------------------------------------------------------------


def test_bidirectional_trains():
    """Each step's target needs the next input, which only the backward pass sees."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 16, 2)).astype("float32")
    y = np.roll(x[..., :1], -1, axis=1) + 0.5 * x[..., 1:]
    inputs = keras.Input((16, 2))
    bidirectional = keras.layers.Bidirectional(
        TCN(8, 2, dilations=[1, 2], return_sequences=True, name="tcn")
    )
    model = keras.Model(inputs, keras.layers.Dense(1)(bidirectional(inputs)))
    forward, backward = bidirectional.forward_layer, bidirectional.backward_layer
    assert isinstance(forward, TCN) and isinstance(backward, TCN)
    assert (forward.go_backwards, backward.go_backwards) == (False, True)
    # The merged output: the forward pass beside the backward pass flipped back in time.
    both = np.concatenate([np_out(forward(x[:4])), np_out(backward(x[:4]))[:, ::-1]], axis=-1)
    np.testing.assert_allclose(np_out(bidirectional(x[:4])), both, atol=1e-6)

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    losses = model.fit(x, y, batch_size=32, epochs=8, verbose=0, shuffle=False).history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_bidirectional_last_step_and_keras_round_trip(tmp_path, padding):
    inputs = keras.Input((None, 3))
    layer = keras.layers.Bidirectional(
        TCN(4, 3, dilations=[1, 2], padding=padding), merge_mode="sum", name="bi"
    )
    model = keras.Model(inputs, layer(inputs))
    randomize_weights(model)
    y = np_out(model(X))
    assert y.shape == (3, 4)
    forward, backward = layer.forward_layer, layer.backward_layer
    np.testing.assert_allclose(y, np_out(forward(X)) + np_out(backward(X)), atol=1e-6)
    model.save(tmp_path / "bi.keras")
    reloaded = keras.saving.load_model(tmp_path / "bi.keras")
    np.testing.assert_array_equal(np_out(reloaded(X)), y)
    assert reloaded.get_layer("bi").backward_layer.go_backwards is True


# --- go_backwards, return_state ---------------------------------------------------------


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_go_backwards_is_the_reversed_sequence(padding, return_sequences):
    kwargs = dict(
        nb_filters=4,
        kernel_size=3,
        dilations=[1, 2],
        padding=padding,
        return_sequences=return_sequences,
        activation="tanh",
    )
    forward = _built(**kwargs)
    backward = TCN(**kwargs, go_backwards=True)
    backward.build(X.shape)
    copy_weights([forward], [backward])
    y = np_out(backward(X))
    expected = np_out(forward(_reversed(X)))
    np.testing.assert_allclose(y, expected, atol=1e-6)
    if return_sequences:  # as keras-tcn and Keras' RNNs: the output is not flipped back
        assert np.abs(y - expected[:, ::-1]).max() > 1e-3


def test_return_state_returns_the_output_alone():
    """keras-tcn stores return_state but returns only its output (a TCN has no state)."""
    plain = _built(nb_filters=4, kernel_size=3, dilations=[1, 2])
    with_state = TCN(4, 3, dilations=[1, 2], return_state=True)
    with_state.build(X.shape)
    copy_weights([plain], [with_state])
    y = with_state(X)
    assert not isinstance(y, (list, tuple))
    np.testing.assert_array_equal(np_out(y), np_out(plain(X)))
    assert with_state.compute_output_shape(X.shape) == (3, 4)
    inputs = keras.Input((None, 3))
    assert TCN(4, 3, dilations=[1, 2], return_state=True)(inputs).shape == (None, 4)
    with pytest.raises(ValueError, match="no recurrent state"):
        plain(X, initial_state=[np.zeros((3, 4), "float32")])


# --- padding and receptive field --------------------------------------------------------


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize("use_skip_connections", [True, False])
def test_causality_by_perturbation(padding, use_skip_connections):
    """A change after step t changes outputs up to t only with "same"."""
    layer = _built(
        nb_filters=6,
        kernel_size=3,
        dilations=[1, 2, 4],
        padding=padding,
        use_skip_connections=use_skip_connections,
        return_sequences=True,
        activation="tanh",
    )
    t = 9
    x2 = X.copy()
    x2[:, t + 1 :] += RNG.normal(size=x2[:, t + 1 :].shape).astype("float32")
    y, y2 = np_out(layer(X)), np_out(layer(x2))
    early = np.abs(y[:, : t + 1] - y2[:, : t + 1]).max()
    if padding == "causal":
        assert early == 0.0
    else:
        assert early > 1e-3
        # Each block looks 2 (p - p // 2) steps ahead, 2 * (1 + 2 + 4) = 14 in all: even
        # step 0 sees step t + 1 = 10.
        assert np.abs(y[:, 0] - y2[:, 0]).max() > 1e-3
    assert np.abs(y[:, t + 1 :] - y2[:, t + 1 :]).max() > 1e-3


@pytest.mark.parametrize("padding", ["causal", "same"])
@pytest.mark.parametrize(
    ("kernel_size", "dilations", "nb_stacks"), [(2, [1, 2, 4], 2), (3, [1, 3], 1)]
)
def test_receptive_field_by_impulse_response(padding, kernel_size, dilations, nb_stacks):
    """All-ones kernels, zero biases, one channel: output t responds to input s exactly
    where s can reach t: lag t - s in [0, rf) when causal; when "same", each convolution
    with p = dilation (kernel_size - 1) looks p // 2 back and p - p // 2 ahead."""
    rf = 1 + 2 * (kernel_size - 1) * nb_stacks * sum(dilations)
    pads = [d * (kernel_size - 1) for d in dilations] * nb_stacks
    back = sum(2 * (p // 2) for p in pads) if padding == "same" else rf - 1
    ahead = rf - 1 - back
    steps = rf + 10
    layer = TCN(
        1,
        kernel_size,
        nb_stacks,
        dilations,
        padding=padding,
        kernel_initializer="ones",
        return_sequences=True,
    )
    assert layer.receptive_field == rf
    impulses = np.eye(steps, dtype="float32")[..., None]  # batch item s: impulse at step s
    reached = np_out(layer(impulses))[..., 0] > 0  # (s, t)
    lag = np.arange(steps)[None, :] - np.arange(steps)[:, None]  # t - s
    np.testing.assert_array_equal(reached, (lag >= -ahead) & (lag <= back))


def test_same_last_step_is_the_middle_step():
    kwargs = dict(nb_filters=4, kernel_size=2, dilations=[1, 2], padding="same")
    sequences = _built(**kwargs, return_sequences=True)
    last = TCN(**kwargs)
    last.build(X.shape)
    copy_weights([sequences], [last])
    for x in (X, X_EVEN):
        middle = x.shape[1] // 2
        np.testing.assert_allclose(np_out(last(x)), np_out(sequences(x))[:, middle], atol=1e-6)


def test_receptive_field_config_and_keras_round_trip(tmp_path):
    inputs = keras.Input((None, 3))
    layer = TCN(
        [4, 4, 5],
        3,
        nb_stacks=2,
        dilations=[1, 2, 4],
        padding="same",
        use_skip_connections=False,
        return_sequences=True,
        use_weight_norm=True,
        go_backwards=True,
        activation="tanh",
        activate_residual=True,
        name="tcn",
    )
    model = keras.Model(inputs, layer(inputs))
    randomize_weights(model)
    assert layer.receptive_field == 1 + 2 * 2 * 2 * 7 == 57
    config = layer.get_config()
    assert TCN.from_config(config).get_config() == config
    assert TCN.from_config(config).receptive_field == 57
    y = np_out(model(X))
    assert y.shape == (3, 21, 5)
    model.save(tmp_path / "tcn.keras")
    reloaded = keras.saving.load_model(tmp_path / "tcn.keras")
    again = reloaded.get_layer("tcn")
    assert isinstance(again, TCN)
    assert again.receptive_field == 57
    assert again.get_config() == config
    np.testing.assert_array_equal(np_out(reloaded(X)), y)


# --- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"padding": "valid"},
            ValueError,
            "padding must be one of 'causal', 'same'; got padding='valid'",
        ),
        ({"padding": "Causal"}, ValueError, "padding must be one of 'causal', 'same'"),
        ({"kernel_size": 1}, ValueError, "kernel_size must be an integer >= 2; got kernel_size=1"),
        ({"nb_stacks": 0}, ValueError, "nb_stacks must be an integer >= 1"),
        ({"dilations": []}, ValueError, "dilations must be a list or tuple"),
        ({"use_batch_norm": True, "use_weight_norm": True}, ValueError, "Only one normalization"),
        ({"nb_filters": [4, 8], "dilations": [1, 2]}, ValueError, "nb_filters must be equal"),
        ({"nb_filters": [4], "dilations": [1, 2]}, ValueError, "one per dilation"),
        ({"nb_filters": 0}, ValueError, "nb_filters must be an integer >= 1"),
        ({"dropout_rate": 1.0}, ValueError, "dropout_rate"),
        ({"activation": "nope"}, ValueError, "activation"),
        ({"kernel_initializer": "nope"}, ValueError, "kernel_initializer"),
        ({"return_sequences": "no"}, TypeError, "return_sequences must be True or False"),
        ({"go_backwards": 1}, TypeError, "go_backwards must be True or False"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        TCN(**kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="ndim"):
        TCN(4, 2, dilations=[1])(keras.Input((5,)))
    with pytest.raises(ValueError, match="known channels"):
        TCN(4, 2, dilations=[1]).build((None, 5, None))

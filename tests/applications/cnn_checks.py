"""Shared checks for the ImageNet CNN builders (issue 4): pyramids, inputs, memorisation."""

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec


def check_feature_pyramid(name, expected_layers, size=64, expected_sizes=None):
    """`features_only=True`: a dict P1..P5 from the registry's layers, at stride 2**i."""
    assert get_spec(name).feature_layers == expected_layers
    model = keras_archs.create_model(name, features_only=True, input_shape=(size, size, 3))
    assert isinstance(model.output, dict) and sorted(model.output) == [f"P{i}" for i in range(1, 6)]
    sizes = expected_sizes or [size // 2**i for i in range(1, 6)]
    for i, expected in zip(range(1, 6), sizes):
        key = f"P{i}"
        layer_output = model.get_layer(expected_layers[key]).output
        assert model.output[key] is layer_output
        assert tuple(model.output[key].shape[1:3]) == (expected, expected), key
    return model


def check_inputs(builder, size=32, channels_out=None):
    """keras.applications input behaviour with weights=None (issue 4, item 5)."""
    # Any size without the top.
    model = builder(weights=None, include_top=False, input_shape=(None, None, 3))
    assert tuple(model.input.shape) == (None, None, None, 3)
    for s in (size, size + 16):
        y = model(np.zeros((1, s, s, 3), "float32"))
        assert y.shape[0] == 1 and y.ndim == 4
    if channels_out is not None:
        assert y.shape[-1] == channels_out
    # 1 and 4 channels, pooling, classes.
    for channels in (1, 4):
        m = builder(weights=None, input_shape=(size, size, channels), classes=5)
        assert tuple(m.output.shape) == (None, 5)
    for pooling in ("avg", "max"):
        m = builder(weights=None, include_top=False, pooling=pooling, input_shape=(size, size, 3))
        assert m.output.ndim == 2
    # input_tensor: the model is built on it.
    tensor = keras.Input((size, size, 3), name="given")
    m = builder(weights=None, input_tensor=tensor, classes=3)
    assert m.inputs[0] is tensor and tuple(m.output.shape) == (None, 3)
    keras.backend.clear_session()


def check_bad_inputs(builder, min_size):
    with pytest.raises(ValueError, match=f"at least {min_size}x{min_size}"):
        builder(weights=None, include_top=False, input_shape=(min_size - 1, min_size, 3))
    with pytest.raises(ValueError, match="pooling must be one of"):
        builder(weights=None, include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="classifier_activation"):
        builder(weights=None, classifier_activation="no_such_activation")
    with pytest.raises(TypeError, match="features_only"):
        builder(weights=None, features_only="yes")


def memorises(model, input_shape, jit_compile, preprocess, steps=12, learning_rate=1e-3):
    """Fits one fixed batch of 8 preprocessed random images (4 classes) for `steps` steps;
    returns (first loss, last loss)."""
    rng = np.random.default_rng(0)
    x = preprocess(rng.uniform(0, 255, (8, *input_shape)).astype("float32"))
    y = np.arange(8) % 4
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    history = model.fit(x, y, batch_size=8, epochs=steps, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    return losses[0], losses[-1]

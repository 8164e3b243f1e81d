"""Property tests over builder keyword arguments (hypothesis, fixed seed).

For any generated mix of valid and invalid arguments, a builder either returns a model
whose forward pass has exactly the declared output shape (finite values), or raises a
ValueError / TypeError that names one of the arguments it was given. Anything else
(a backend error from deep inside a layer, a silently wrong shape) fails.

Kept cheap: tiny sizes and a few builders that cover the kinds of arguments (image
builders through `_image.prepare`, the TCN's sequence arguments, a GPT configuration).
"""

import keras
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keras_archs.registry import get_spec  # noqa: E402

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples every run: a CI failure reproduces locally
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _inputs(model, batch=2, free=4):
    """Zeros (ids) or normal floats for every input; unknown sizes become `free`."""
    rng = np.random.default_rng(0)
    values = {}
    for tensor in model.inputs:
        shape = (batch, *(free if d is None else d for d in tensor.shape[1:]))
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if "float" in dtype:
            values[tensor.name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in tensor.name:
            values[tensor.name] = np.ones(shape, dtype)
        else:
            values[tensor.name] = np.zeros(shape, dtype)
    return values if len(values) > 1 else next(iter(values.values()))


def check_builds_or_rejects(name, kwargs, bad=None, must_build=False):
    """The property: a model with the declared output shape, or a named rejection.

    bad: the argument given a value that is invalid whatever the others are: the build
    must raise. must_build: every argument is valid (and so is their mix).
    """
    spec = get_spec(name)
    try:
        model = spec.build(**kwargs)
    except (ValueError, TypeError) as e:
        message = str(e)
        assert not must_build, f"{name}({kwargs}) rejected valid arguments: {message}"
        # The check that fires first may be another argument's (a context rule such as
        # heads dividing the width); any argument given may be the one named.
        assert any(key in message for key in kwargs), (
            f"{name}({kwargs}) raised {type(e).__name__} naming no argument: {message}"
        )
        return None
    assert bad is None, f"{name}({kwargs}) accepted {bad}={kwargs[bad]!r}"
    outputs = model(_inputs(model), training=False)
    declared = keras.tree.flatten(model.output)
    leaves = keras.tree.flatten(outputs)
    assert len(leaves) == len(declared)
    for leaf, symbolic in zip(leaves, declared):
        shape = tuple(leaf.shape)
        assert len(shape) == len(symbolic.shape), (kwargs, shape, symbolic.shape)
        for d, s in zip(symbolic.shape[1:], shape[1:]):
            assert d is None or d == s, (kwargs, shape, symbolic.shape)
        assert np.isfinite(keras.ops.convert_to_numpy(leaf)).all(), kwargs
    keras.backend.clear_session()
    return model


@st.composite
def arguments(draw, valid, invalid, required=()):
    """(kwargs, bad): valid values for some arguments (always those in `required`), and
    in about half the examples one argument replaced by a value from `invalid`."""
    kwargs = {}
    for key in sorted(valid):
        if key in required or draw(st.booleans()):
            kwargs[key] = draw(valid[key])
    bad = draw(st.sampled_from([None] * len(invalid) + sorted(invalid)))
    if bad is not None:
        kwargs[bad] = draw(st.sampled_from(invalid[bad]))
    return kwargs, bad


_IMAGE_VALID = {
    "include_top": st.booleans(),
    "pooling": st.sampled_from([None, "avg", "max"]),
    "classes": st.sampled_from([1, 3, 10]),
    "classifier_activation": st.sampled_from([None, "softmax", "linear"]),
    "data_format": st.sampled_from([None, "channels_last", "channels_first"]),
}
_IMAGE_INVALID = {
    "include_top": ["yes", None],
    "pooling": ["mean", 3],
    "classes": [0, -2, 2.5, "3", True],
    "classifier_activation": ["no_such_activation"],
    "data_format": ["channels_middle", 1],
}


@st.composite
def image_arguments(draw, sizes, channels, min_size, features=False):
    valid = dict(_IMAGE_VALID)
    invalid = dict(_IMAGE_INVALID)
    if features:
        valid["features_only"] = st.booleans()
        invalid["features_only"] = ["yes", 1]
    kwargs, bad = draw(arguments(valid, invalid))
    h, w, c = draw(sizes), draw(sizes), draw(channels)
    if bad is None and draw(st.integers(0, 3)) == 0:  # an input too small, or without channels
        bad = "input_shape"
        if draw(st.booleans()):
            h = min_size - 1
        else:
            c = 0
    first = kwargs.get("data_format") == "channels_first"
    kwargs["input_shape"] = (c, h, w) if first else (h, w, c)
    return kwargs, bad


@settings(SETTINGS, max_examples=25)  # LeNet-5 builds in a fraction of a second
@given(image_arguments(st.integers(16, 40), st.integers(1, 4), min_size=16))
def test_lenet5_builds_or_rejects(example):
    kwargs, bad = example
    model = check_builds_or_rejects("lenet5", kwargs, bad, must_build=bad is None)
    if model is not None and kwargs.get("include_top", True) and not kwargs.get("features_only"):
        assert model.output.shape[-1] == kwargs.get("classes", 10)


@SETTINGS
@given(image_arguments(st.sampled_from([32, 33, 40]), st.integers(1, 3), 32, features=True))
def test_resnet18_builds_or_rejects(example):
    kwargs, bad = example
    check_builds_or_rejects("resnet18", kwargs, bad, must_build=bad is None)


@SETTINGS
@given(
    arguments(
        {
            "input_shape": st.tuples(st.sampled_from([None, 4, 9]), st.integers(1, 3)),
            "nb_filters": st.sampled_from([1, 4]),
            "kernel_size": st.sampled_from([1, 2, 3]),
            "nb_stacks": st.sampled_from([1, 2]),
            "dilations": st.sampled_from([(1, 2), (1,), [1, 2, 4], (2, 1)]),
            "padding": st.sampled_from(["causal", "same"]),
            "use_skip_connections": st.booleans(),
            "dropout_rate": st.sampled_from([0.0, 0.5]),
            "return_sequences": st.booleans(),
            "use_batch_norm": st.booleans(),
            "use_layer_norm": st.booleans(),
            "use_weight_norm": st.booleans(),
            "classes": st.sampled_from([None, 3]),
            "output_dim": st.sampled_from([None, 1, 2]),
        },
        {
            "input_shape": [(4, 0), (0, 2), (4,), "x"],
            "nb_filters": [0, 2.0, "4"],
            "kernel_size": [0, -1],
            "nb_stacks": [0],
            "dilations": [(), (0, 1), "12"],
            "padding": ["valid", "bogus"],
            "dropout_rate": [1.5, -0.1],
            "return_sequences": ["no"],
            "classes": [0],
            "output_dim": [0],
        },
        required=("input_shape",),
    )
)
def test_tcn_builds_or_rejects(example):
    kwargs, bad = example
    check_builds_or_rejects("tcn", kwargs, bad)


@SETTINGS
@given(
    arguments(
        {
            "vocabulary_size": st.sampled_from([5, 16]),
            "num_layers": st.sampled_from([1, 2]),
            "num_heads": st.sampled_from([1, 2]),
            "hidden_dim": st.sampled_from([4, 8]),
            "intermediate_dim": st.sampled_from([8, 16]),
            "max_sequence_length": st.sampled_from([4, 8]),
            "sequence_length": st.sampled_from([None, 4]),
            "dropout": st.sampled_from([0.0, 0.1]),
        },
        {
            "vocabulary_size": [0, 2.5],
            "num_layers": [0, "2"],
            "num_heads": [0],
            "hidden_dim": [-8, 0],
            "intermediate_dim": [0],
            "max_sequence_length": [0],
            "dropout": [1.5, "x"],
        },
        required=(
            "vocabulary_size",
            "num_layers",
            "num_heads",
            "hidden_dim",
            "intermediate_dim",
            "max_sequence_length",
        ),
    )
)
def test_gpt_mini_builds_or_rejects(example):
    kwargs, bad = example
    check_builds_or_rejects("gpt_mini", kwargs, bad)

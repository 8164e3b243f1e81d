"""keras.applications' input contract, for every image model of the registry.

Every builder registered with task "image_classification" takes keras.applications'
arguments and behaves like keras.applications with `weights=None`: no top with any
channel count and any size, `input_tensor`, `pooling`, `classes`,
`classifier_activation`, clear errors for bad input, and `channels_first`: the same
parameters and, with the same weights, the same outputs on transposed inputs.
Inputs are the registry's small test size (`test_kwargs`), so each check builds the
network at its cheapest; the checks that build networks run once per builder code path
(a size that only repeats a smaller size's blocks, `same_blocks_as`, runs that one's).
"""

import inspect

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec
from tests.utils import family_representatives

IMAGE_MODELS = [
    name for name in keras_archs.list_models() if get_spec(name).task == "image_classification"
]
# Each family's smallest image model: the checks of the builders' shared beginning and
# ending run on these.
SMALLEST = [name for name in IMAGE_MODELS if name in set(family_representatives())]
# The image models whose builder code paths differ: a size registered as repeating a
# smaller size's blocks (`same_blocks_as`: ResNet-152 of ResNet-50) runs the same code with
# other block counts, so its layouts are checked on that smaller size.
DISTINCT = [name for name in IMAGE_MODELS if get_spec(name).same_blocks_as is None]


def _size(name):
    """The registry's test height and width, and its channel count."""
    spec = get_spec(name)
    shape = spec.test_kwargs.get("input_shape") or spec.default_input_shape
    return shape[0], shape[-1]


def _images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _randomize_batch_norm(model, seed=0):
    """Non-trivial BatchNormalization statistics, so a layout mix-up shows in the outputs."""
    rng = np.random.default_rng(seed)
    for w in model.non_trainable_weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, tuple(w.shape)).astype("float32"))
        elif "moving_mean" in w.path:
            w.assign(rng.normal(0, 0.1, tuple(w.shape)).astype("float32"))


def _channels_first_twin(name, **kwargs):
    """The channels_last model and its channels_first twin holding the same weights.

    channels_first is set both ways a user can: the global setting for the top, the
    `data_format` argument for the feature maps (see the callers)."""
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    last = spec.build(**kwargs)
    _randomize_batch_norm(last)
    h, w, c = kwargs["input_shape"]
    first_kwargs = {**kwargs, "input_shape": (c, h, w)}
    return last, first_kwargs


def _assert_same_on_transposed(last, first, x, transpose_output):
    assert first.count_params() == last.count_params()
    first.set_weights(last.get_weights())
    expected = keras.ops.convert_to_numpy(last(x, training=False))
    got = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False))
    if transpose_output:
        expected = np.transpose(expected, (0, 3, 1, 2))
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    return expected


@pytest.mark.parametrize("name", DISTINCT)
def test_channels_first_with_top(name, tmp_path):
    """Under the global channels_first setting: same count, same class scores (a Flatten
    top must see the channels_last order); for each family's smallest model, the
    channels_last `.keras` file also loads and gives the same outputs while the global
    setting is channels_first (its layers rebuild on load, as the larger sizes' do)."""
    size, channels = _size(name)
    kwargs = {"input_shape": (size, size, channels), "classes": 5, "classifier_activation": None}
    last, first_kwargs = _channels_first_twin(name, **kwargs)
    reload = name in SMALLEST
    if reload:
        last.save(tmp_path / "last.keras")
    x = _images((2, size, size, channels))
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        first = get_spec(name).build(**first_kwargs)
        assert tuple(first.input.shape) == (None, channels, size, size)
        expected = _assert_same_on_transposed(last, first, x, transpose_output=False)
        if reload:
            reloaded = keras.saving.load_model(tmp_path / "last.keras", safe_mode=True)
            got = keras.ops.convert_to_numpy(reloaded(x, training=False))
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    finally:
        keras.config.set_image_data_format(previous)
    # classifier_activation=None: raw scores, not probabilities.
    assert not np.allclose(expected.sum(axis=-1), 1.0, atol=1e-3)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_builder_takes_data_format(name):
    assert "data_format" in inspect.signature(get_spec(name).builder).parameters, name


# The `data_format` argument's path (a Permute at each feature output) is the image
# builders' shared ending; each family's smallest model runs it (the global-setting path
# above runs every distinct model).
@pytest.mark.parametrize("name", SMALLEST)
def test_channels_first_feature_maps(name):
    """`data_format="channels_first"` without the top: the last feature map comes out
    channels-first, equal to the transposed channels_last one."""
    size, channels = _size(name)
    kwargs = {"include_top": False, "input_shape": (size, size, channels)}
    last, first_kwargs = _channels_first_twin(name, **kwargs)
    first = get_spec(name).build(**first_kwargs, data_format="channels_first")
    assert keras.config.image_data_format() == "channels_last"
    out = _assert_same_on_transposed(
        last, first, _images((2, size, size, channels)), transpose_output=True
    )
    assert out.ndim == 4
    keras.backend.clear_session()


def _assert_any_size(model, size, channels):
    """Pooled features of one width for two input sizes, finite."""
    widths = set()
    for s in (size, size + 16):
        y = model(_images((2, s, s, channels)), training=False)
        assert tuple(y.shape) == (2, model.output.shape[1])
        widths.add(y.shape[1])
    assert len(widths) == 1 and np.isfinite(keras.ops.convert_to_numpy(y)).all()


@pytest.mark.parametrize("name", DISTINCT)
def test_input_tensor_any_size_four_channels_max_pooling(name):
    """One build per builder code path: no top, a given `input_tensor` of free height and
    width with four channels, max pooling; it runs at two sizes."""
    size, _ = _size(name)
    tensor = keras.Input((None, None, 4), name="given")
    model = get_spec(name).build(input_tensor=tensor, include_top=False, pooling="max")
    assert model.inputs[0] is tensor
    assert model.output.ndim == 2
    _assert_any_size(model, size, 4)
    keras.backend.clear_session()


# The `input_shape` path and average pooling are the image builders' shared beginning and
# ending; each family's smallest model runs them (the `input_tensor` path above runs every
# distinct model at any size).
@pytest.mark.parametrize("name", SMALLEST)
def test_no_top_any_size_one_channel_avg_pooling(name):
    size, _ = _size(name)
    model = get_spec(name).build(include_top=False, pooling="avg", input_shape=(None, None, 1))
    assert tuple(model.input.shape) == (None, None, None, 1)
    _assert_any_size(model, size, 1)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_bad_inputs(name):
    """Rejected before any layer is built, naming the argument and what is accepted."""
    spec = get_spec(name)
    size, channels = _size(name)
    min_size = spec.min_input_size
    params = inspect.signature(spec.builder).parameters
    with pytest.raises(ValueError, match=f"at least {min_size}x{min_size}"):
        spec.build(include_top=False, input_shape=(min_size - 1, min_size, channels))
    with pytest.raises(ValueError, match="pooling must be one of"):
        spec.build(include_top=False, pooling="mean", input_shape=(size, size, channels))
    with pytest.raises(ValueError, match="classifier_activation"):
        spec.build(classifier_activation="no_such_activation", input_shape=(size, size, channels))
    with pytest.raises(ValueError, match="classes"):
        spec.build(classes=0, input_shape=(size, size, channels))
    with pytest.raises(ValueError, match="input_shape"):
        spec.build(input_shape=(size, size))
    with pytest.raises(ValueError, match="data_format"):
        spec.build(data_format="channels_middle", input_shape=(size, size, channels))
    with pytest.raises(TypeError, match="include_top"):
        spec.build(include_top="yes")
    if "features_only" in params:
        with pytest.raises(TypeError, match="features_only"):
            spec.build(features_only="yes")

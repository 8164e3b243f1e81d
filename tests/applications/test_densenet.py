"""DenseNet121/169/201 and the generic DenseNet: keras.applications parity, pyramids,
inputs, channels_first, training."""

import keras
import numpy as np
import pytest
from keras.applications import densenet as ka_densenet

from keras_archs.applications import DenseNet, DenseNet121, DenseNet169, densenet
from keras_archs.layers import DenseBlock, TransitionBlock
from keras_archs.registry import get_spec
from tests.applications.cnn_checks import (
    check_feature_pyramid,
    memorises,
)
from tests.applications.ka_parity import (  # noqa: F401 (fixture)
    check_file_parity,
    check_same_download,
    recorded_downloads,
)
from tests.weights.ka_files import randomize

FEATURES = {"P1": "conv1_relu", "P2": "conv2", "P3": "conv3", "P4": "conv4", "P5": "relu"}


def test_keras_applications_file_loads_with_and_without_top(tmp_path):
    top, notop = check_file_parity("DenseNet121", (32, 32, 3), "relu", tmp_path)
    assert max(top, notop) < 1e-4


@pytest.mark.parametrize(
    "builder,blocks", [(DenseNet121, (6, 12, 24, 16)), (DenseNet169, (6, 12, 32, 32))]
)
def test_built_from_dense_and_transition_blocks(builder, blocks):
    model = builder(weights=None, include_top=False, input_shape=(32, 32, 3))
    dense = [layer for layer in model.layers if isinstance(layer, DenseBlock)]
    assert [b.num_layers for b in dense] == list(blocks)
    assert all(b.growth_rate == 32 and b.bottleneck_width == 4 for b in dense)
    transitions = [layer for layer in model.layers if isinstance(layer, TransitionBlock)]
    assert [t.compression for t in transitions] == [0.5] * 3
    # Channels: 64 + 32 * n, halved by each transition.
    channels = 64
    for block, n in zip(dense, blocks):
        assert block.output.shape[-1] == channels + 32 * n
        channels = (channels + 32 * n) // 2
    keras.backend.clear_session()


def test_feature_pyramid():
    check_feature_pyramid("densenet121", FEATURES)


def test_channels_first_pyramid_same_parameters_and_outputs():
    # Under the global channels_first setting: channels-first inputs and feature maps,
    # the same weights as the channels_last model, the same values transposed.
    keras.utils.set_random_seed(0)
    last = DenseNet121(weights=None, features_only=True, input_shape=(64, 64, 3))
    keras.config.set_image_data_format("channels_first")
    try:
        first = DenseNet121(weights=None, features_only=True, input_shape=(3, 64, 64))
    finally:
        keras.config.set_image_data_format("channels_last")
    assert first.count_params() == last.count_params() == 7_037_504
    first.set_weights(randomize(last).get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    expected = last(x)
    got = first(np.transpose(x, (0, 3, 1, 2)))
    for key, channels in zip(FEATURES, (64, 256, 512, 1024, 1024)):
        size = 64 // 2 ** int(key[1])
        assert tuple(got[key].shape) == (2, channels, size, size), key
        assert np.abs(keras.ops.convert_to_numpy(expected[key])).max() > 1e-2, key
        np.testing.assert_allclose(
            np.transpose(keras.ops.convert_to_numpy(got[key]), (0, 2, 3, 1)),
            keras.ops.convert_to_numpy(expected[key]),
            atol=1e-5,
        )
    keras.backend.clear_session()


@pytest.mark.parametrize("builder", ["DenseNet121", "DenseNet201"])
def test_same_imagenet_download_as_keras_applications(builder, recorded_downloads):  # noqa: F811
    fname, origin, _, md5 = check_same_download(recorded_downloads, builder, include_top=False)
    assert fname.endswith("_notop.h5") and origin.endswith(fname) and len(md5) == 32


def test_weights_table_and_preprocessing_in_the_registry():
    for key in ("densenet121", "densenet169", "densenet201"):
        assert get_spec(key).weights == densenet.WEIGHTS[key]
        assert get_spec(key).preprocessing == "torch"


def test_preprocess_is_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        densenet.preprocess_input(x.copy()), ka_densenet.preprocess_input(x.copy())
    )


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize("jit_compile", [False])
def test_densenet_memorises_a_batch(jit_compile):
    # DenseNet121's own code path with 2 layers per block: the trace of the training step
    # grows with the layers, and the generic suite trains DenseNet121 itself one step.
    keras.utils.set_random_seed(0)
    model = DenseNet((2, 2, 2, 2), weights=None, input_shape=(32, 32, 3), classes=4)
    first, last = memorises(model, (32, 32, 3), jit_compile, densenet.preprocess_input, 8)
    assert last < 0.5 * first, (first, last)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"blocks": (6, 12, 24)}, "blocks must be four integers >= 1"),
        ({"blocks": (6, 12, 0, 16)}, "blocks must be four integers >= 1"),
        ({"blocks": (6, 12, 24.0, 16)}, "blocks must be four integers >= 1"),
        ({"blocks": 121}, "blocks must be four integers >= 1"),
        ({"blocks": (2, 2, 2, 2), "weights": "imagenet"}, "weights='imagenet' exists for"),
    ],
)
def test_general_builder_bad_input(kwargs, match):
    kwargs.setdefault("weights", None)
    with pytest.raises(ValueError, match=match):
        DenseNet(**kwargs)


def test_general_builder_is_the_variants_builder():
    # DenseNet121 is DenseNet with its block counts (a list works like a tuple).
    ours = DenseNet([6, 12, 24, 16], weights=None, input_shape=(32, 32, 3), classes=10)
    variant = DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10)
    assert (ours.name, variant.name) == ("densenet", "densenet121")
    assert [w.path for w in ours.weights] == [w.path for w in variant.weights]
    assert ours.count_params() == variant.count_params()
    keras.backend.clear_session()

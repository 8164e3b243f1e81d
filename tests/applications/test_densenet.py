"""DenseNet121/169/201 (issue 5): keras.applications parity, pyramids, inputs, training."""

import keras
import numpy as np
import pytest
from keras.applications import densenet as ka_densenet

from keras_archs.applications import DenseNet, DenseNet121, DenseNet169, densenet
from keras_archs.layers import DenseBlock, TransitionBlock
from tests.applications.cnn_checks import (
    check_bad_inputs,
    check_feature_pyramid,
    check_inputs,
    memorises,
)
from tests.applications.ka_parity import (  # noqa: F401 (fixture)
    check_file_parity,
    check_same_download,
    recorded_downloads,
)

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


def test_inputs_like_keras_applications():
    check_inputs(DenseNet121, channels_out=1024)
    check_bad_inputs(DenseNet121, min_size=32)


@pytest.mark.parametrize("builder", ["DenseNet121", "DenseNet201"])
def test_same_imagenet_download_as_keras_applications(builder, recorded_downloads):  # noqa: F811
    fname, origin, _, md5 = check_same_download(recorded_downloads, builder, include_top=False)
    assert fname.endswith("_notop.h5") and origin.endswith(fname) and len(md5) == 32


def test_preprocess_is_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        densenet.preprocess_input(x.copy()), ka_densenet.preprocess_input(x.copy())
    )


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_densenet_memorises_a_batch(jit_compile):
    # DenseNet121's own code path with 2 layers per block: XLA-compiling all 121 layers
    # takes minutes on a 2-core CPU (the generic suite trains DenseNet121 itself one step).
    keras.utils.set_random_seed(0)
    model = DenseNet((2, 2, 2, 2), weights=None, input_shape=(32, 32, 3), classes=4)
    first, last = memorises(model, (32, 32, 3), jit_compile, densenet.preprocess_input)
    assert last < 0.5 * first, (first, last)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"blocks": (6, 12, 24)}, "blocks must be four integers >= 1"),
        ({"blocks": (6, 12, 0, 16)}, "blocks must be four integers >= 1"),
        ({"blocks": (2, 2, 2, 2), "weights": "imagenet"}, "weights='imagenet' exists for"),
    ],
)
def test_general_builder_bad_input(kwargs, match):
    kwargs.setdefault("weights", None)
    with pytest.raises(ValueError, match=match):
        DenseNet(**kwargs)

"""Xception: keras.applications parity, pyramids, inputs, channels_first, training."""

import keras
import numpy as np
import pytest
from keras.applications import xception as ka_xception

from keras_archs.applications import Xception, xception
from keras_archs.layers import DepthwiseSeparableConv2D
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

FEATURES = {
    "P1": "block1_conv2_act",
    "P2": "block2_add",
    "P3": "block3_add",
    "P4": "block12_add",
    "P5": "block14_sepconv2_act",
}


def test_keras_applications_file_loads_with_and_without_top(tmp_path):
    # 71x71 is keras.applications' minimum; the shortcut layers carry automatic names there.
    check_file_parity("Xception", (71, 71, 3), "block14_sepconv2_act", tmp_path)


def test_separable_convolutions_in_the_three_flows():
    model = Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    blocks = [layer for layer in model.layers if isinstance(layer, DepthwiseSeparableConv2D)]
    # Entry 3 x 2, middle 8 x 3, exit 2 + 2: with the two plain convolutions, 36 layers.
    assert len(blocks) == 6 + 24 + 4
    assert all(b.order == "xception" for b in blocks)
    middle = [b for b in blocks if b.name[:7] in {f"block{i}_" for i in range(5, 10)}]
    middle += [b for b in blocks if b.name[:8] in {f"block{i}_" for i in range(10, 13)}]
    assert len(middle) == 24 and {b.filters for b in middle} == {728}
    keras.backend.clear_session()


def test_feature_pyramid():
    # The first convolution is "valid": 71 -> 35 -> 33, then "same" pooling halves it.
    check_feature_pyramid("xception", FEATURES, size=71, expected_sizes=[33, 17, 9, 5, 3])


def test_channels_first_same_parameters_and_outputs():
    keras.utils.set_random_seed(0)
    last = Xception(weights=None, input_shape=(71, 71, 3), classes=7, classifier_activation=None)
    first = Xception(
        weights=None,
        input_shape=(3, 71, 71),
        classes=7,
        classifier_activation=None,
        data_format="channels_first",
    )
    assert first.count_params() == last.count_params()
    first.set_weights(randomize(last).get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 71, 71, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(last(x))
    got = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    assert np.abs(expected).max() > 1e-2  # a real signal, not zeros
    np.testing.assert_allclose(got, expected, atol=1e-5)
    keras.backend.clear_session()


def test_same_imagenet_download_as_keras_applications(recorded_downloads):  # noqa: F811
    for include_top in (True, False):
        recorded_downloads.clear()
        fname, _, _, md5 = check_same_download(
            recorded_downloads, "Xception", include_top=include_top
        )
        assert fname.endswith("_notop.h5") != include_top and len(md5) == 32


def test_weights_table_and_preprocessing_in_the_registry():
    assert get_spec("xception").weights == xception.WEIGHTS["xception"]
    assert get_spec("xception").preprocessing == "tf"


def test_preprocess_is_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        xception.preprocess_input(x.copy()), ka_xception.preprocess_input(x.copy())
    )


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize("jit_compile", [False])
def test_xception_memorises_a_batch(jit_compile):
    keras.utils.set_random_seed(0)
    model = Xception(weights=None, input_shape=(71, 71, 3), classes=4)
    first, last = memorises(model, (71, 71, 3), jit_compile, xception.preprocess_input, 6)
    assert last < 0.5 * first, (first, last)
    keras.backend.clear_session()

"""VGG16 / VGG19: weight files, pyramids, keras.applications inputs and preprocessing,
channels_first, training."""

import keras
import numpy as np
import pytest
from keras.applications import vgg16 as ka_vgg16
from keras.src.applications import vgg16 as stock_vgg16
from keras.src.applications import vgg19 as stock_vgg19

from keras_archs.applications import VGG16, VGG19, vgg
from keras_archs.registry import get_spec
from keras_archs.weights.imagenet import KERAS_APPLICATIONS_URL, imagenet_weights_info
from tests.applications.cnn_checks import (
    check_feature_pyramid,
    memorises,
)
from tests.weights.ka_files import randomize

VGG_FEATURES = {f"P{i}": f"block{i}_pool" for i in range(1, 6)}


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_feature_pyramid(name):
    check_feature_pyramid(name, VGG_FEATURES)


def test_layers_match_keras_applications_names_and_shapes():
    ours = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    ref = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    mine = [(w.path, tuple(w.shape)) for w in ours.weights]
    theirs = [(w.path, tuple(w.shape)) for w in ref.weights]
    assert mine == theirs
    assert len(VGG19(weights=None, include_top=False).weights) == 2 * 16


def test_weights_table_is_keras_applications_files():
    # The same cache names, URLs and hashes as keras.applications' VGG16/VGG19 downloads.
    for key, stock in (("vgg16", stock_vgg16), ("vgg19", stock_vgg19)):
        entry = vgg.WEIGHTS[key]
        assert get_spec(key).weights == entry
        assert get_spec(key).preprocessing == "caffe"
        fname, url, _ = imagenet_weights_info(entry, include_top=True)
        assert (fname, url) == (f"{key}_weights_tf_dim_ordering_tf_kernels.h5", stock.WEIGHTS_PATH)
        fname, url, _ = imagenet_weights_info(entry, include_top=False)
        assert url == stock.WEIGHTS_PATH_NO_TOP and url.startswith(KERAS_APPLICATIONS_URL)
        assert fname == f"{key}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def test_channels_first_same_parameters_and_outputs():
    keras.utils.set_random_seed(0)
    last = VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    first = VGG16(
        weights=None, include_top=False, input_shape=(3, 64, 64), data_format="channels_first"
    )
    assert first.count_params() == last.count_params()
    first.set_weights(randomize(last).get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(last(x))
    got = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    assert got.shape == (2, 512, 2, 2) and np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), expected, atol=1e-5)
    keras.backend.clear_session()


def test_top_needs_a_fixed_size():
    with pytest.raises(ValueError, match="spatial size must be fixed"):
        VGG16(weights=None, input_shape=(None, None, 3))


def test_preprocess_and_decode_are_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(
        vgg.preprocess_input(x.copy()), ka_vgg16.preprocess_input(x.copy())
    )
    # "caffe": RGB -> BGR, then the ImageNet mean (BGR 103.939, 116.779, 123.68) subtracted.
    np.testing.assert_allclose(
        vgg.preprocess_input(x.copy())[..., 0], x[..., 2] - 103.939, rtol=1e-6
    )
    with pytest.raises(ValueError, match="1000"):
        vgg.decode_predictions(np.zeros((2, 10)))


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize("jit_compile", [False])
def test_vgg16_memorises_a_batch(jit_compile):
    keras.utils.set_random_seed(0)
    model = VGG16(weights=None, input_shape=(32, 32, 3), classes=4)
    # VGG has no normalisation: Adam with a small learning rate on caffe-scaled pixels
    # (3e-4 and 1e-3 left its ReLUs dead after one step, SGD at 1e-3 barely moved).
    # With 32 weights, Adam adds little to the trace.
    adam = keras.optimizers.Adam(1e-4)
    first, last = memorises(model, (32, 32, 3), jit_compile, vgg.preprocess_input, 12, adam)
    assert last < 0.7 * first, (first, last)

"""VGG16 / VGG19 (issue 4): pyramids, keras.applications inputs and preprocessing, training."""

import keras
import numpy as np
import pytest
from keras.applications import vgg16 as ka_vgg16

from keras_archs.applications import VGG16, VGG19, vgg
from tests.applications.cnn_checks import (
    check_bad_inputs,
    check_feature_pyramid,
    check_inputs,
    memorises,
)

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


def test_inputs_like_keras_applications():
    check_inputs(VGG16, channels_out=512)
    check_bad_inputs(VGG16, min_size=32)


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
@pytest.mark.parametrize("jit_compile", [False, True])
def test_vgg16_memorises_a_batch(jit_compile):
    keras.utils.set_random_seed(0)
    model = VGG16(weights=None, input_shape=(32, 32, 3), classes=4)
    # VGG has no normalisation: a small learning rate on caffe-scaled pixels.
    first, last = memorises(model, (32, 32, 3), jit_compile, vgg.preprocess_input, 12, 1e-4)
    assert last < 0.7 * first, (first, last)

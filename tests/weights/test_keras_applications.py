"""keras.applications weight files load into keras_archs models.

A keras.applications model with random weights (BatchNormalization statistics
included) is written in the legacy HDF5 layout of its ImageNet downloads; the
keras_archs builder loads it through `weights=path`, and both models must give the
same outputs on the same batch, with and without the top.
"""

import keras
import numpy as np
import pytest

from keras_archs import applications
from keras_archs.weights.keras_applications import read_legacy_h5
from tests.weights.ka_files import randomize, save_legacy_h5, trunk

# builder name (the same in keras.applications), input shape, last layer of the trunk.
CASES = [
    ("VGG16", (32, 32, 3), "block5_pool"),
    ("VGG19", (32, 32, 3), "block5_pool"),
    ("ResNet50", (32, 32, 3), "conv5_block3_out"),
    ("ResNet101", (32, 32, 3), "conv5_block3_out"),
    ("ResNet152", (32, 32, 3), "conv5_block3_out"),
    ("ResNet50V2", (32, 32, 3), "post_relu"),
    ("ResNet101V2", (32, 32, 3), "post_relu"),
    ("ResNet152V2", (32, 32, 3), "post_relu"),
    ("InceptionV3", (75, 75, 3), "mixed10"),
]
# The deeper ResNets differ from ResNet50(V2) only in block counts: their with-top file
# exercises every trunk layer too, so the no-top load (same code path) is checked on the
# 50-layer variants only, to keep the suite fast.
SLOW = {"ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2"}


@pytest.fixture(autouse=True)
def _free_models():
    yield
    keras.backend.clear_session()


def _batch(shape, seed=1):
    return np.random.default_rng(seed).standard_normal((2, *shape)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "builder,shape,last",
    [pytest.param(*c, marks=[pytest.mark.slow] if c[0] in SLOW else []) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_keras_applications_file_loads_with_and_without_top(builder, shape, last, tmp_path):
    keras.utils.set_random_seed(0)
    reference = getattr(keras.applications, builder)(
        weights=None, input_shape=shape, classes=7, classifier_activation=None
    )
    randomize(reference)
    top_file = save_legacy_h5(reference, str(tmp_path / "top.h5"))
    x = _batch(shape)

    ours = getattr(applications, builder)(
        weights=top_file, input_shape=shape, classes=7, classifier_activation=None
    )
    expected = _np(reference(x))
    assert np.abs(expected).max() > 1e-2  # a real signal, not zeros
    assert np.abs(_np(ours(x)) - expected).max() < 1e-4

    if builder in SLOW:
        return
    notop_file = save_legacy_h5(trunk(reference, last), str(tmp_path / "notop.h5"))
    ours = getattr(applications, builder)(weights=notop_file, include_top=False, input_shape=shape)
    expected = _np(trunk(reference, last)(x))
    assert np.abs(expected).max() > 1e-2
    assert np.abs(_np(ours(x)) - expected).max() < 1e-4


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory):
    """Random-weight keras.applications files: VGG16 and VGG19 without top, ResNet50."""
    d = tmp_path_factory.mktemp("ka")
    files = {}
    for builder in ("VGG16", "VGG19", "ResNet50"):
        m = getattr(keras.applications, builder)(
            weights=None, include_top=False, input_shape=(32, 32, 3)
        )
        files[builder] = save_legacy_h5(randomize(m), str(d / f"{builder}.h5"))
    return files


def test_file_of_a_deeper_variant_names_the_first_extra_layer(vgg_files):
    with pytest.raises(ValueError, match=r"'block3_conv4'.*no counterpart.*'vgg16'"):
        applications.VGG16(weights=vgg_files["VGG19"], include_top=False)


def test_file_of_a_shallower_variant_names_the_first_missing_layer(vgg_files):
    with pytest.raises(ValueError, match=r"Layer 'block3_conv4' of model 'vgg19' has no weights"):
        applications.VGG19(weights=vgg_files["VGG16"], include_top=False)


def test_file_of_another_family_names_its_first_layer(vgg_files):
    with pytest.raises(ValueError, match=r"'conv1_conv'.*no counterpart.*'vgg16'"):
        applications.VGG16(weights=vgg_files["ResNet50"], include_top=False)
    # InceptionV3 auto-names its layers; the first pairing by class fails on shapes.
    with pytest.raises(ValueError, match=r"'block1_conv1'.*no counterpart|does not fit"):
        applications.InceptionV3(weights=vgg_files["VGG16"], include_top=False)


def test_no_top_file_into_model_with_top_names_the_classifier(vgg_files):
    with pytest.raises(ValueError, match=r"Layer 'fc1' of model 'vgg16' has no weights"):
        applications.VGG16(weights=vgg_files["VGG16"], input_shape=(32, 32, 3), classes=10)


def test_shape_mismatch_names_both_layers(vgg_files, tmp_path):
    m = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 4))
    path = save_legacy_h5(m, str(tmp_path / "four_channels.h5"))
    with pytest.raises(ValueError, match=r"'block1_conv1'.*\(3, 3, 4, 64\).*\(3, 3, 3, 64\)"):
        applications.VGG16(weights=path, include_top=False)


def test_failed_load_assigns_nothing(vgg_files):
    model = applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    before = [_np(w).copy() for w in model.weights]
    from keras_archs.weights import load_weights_file

    with pytest.raises(ValueError):
        load_weights_file(model, vgg_files["VGG16"])
    assert all(np.array_equal(a, _np(w)) for a, w in zip(before, model.weights))


def test_read_legacy_h5_lists_layers_with_weights_in_file_order(vgg_files):
    layers = read_legacy_h5(vgg_files["VGG16"])
    assert [name for name, _ in layers][:3] == ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert len(layers) == 13
    assert [a.shape for a in layers[0][1]] == [(3, 3, 3, 64), (64,)]


def test_keras3_weights_file_still_loads(tmp_path):
    keras.utils.set_random_seed(0)
    a = applications.ResNet18(include_top=False, input_shape=(32, 32, 3))
    path = str(tmp_path / "r18.weights.h5")
    a.save_weights(path)
    b = applications.ResNet18(weights=path, include_top=False, input_shape=(32, 32, 3))
    x = _batch((32, 32, 3))
    assert np.array_equal(_np(a(x)), _np(b(x)))


def test_missing_file_is_a_clear_error():
    with pytest.raises(ValueError, match=r"weights=.*missing\.h5.*not an existing file"):
        applications.ResNet50(weights="missing.h5")

"""MobileNet and MobileNetV2: keras.applications parity, pyramids, inputs, channels_first,
bad input, training."""

import keras
import numpy as np
import pytest
from keras.applications import mobilenet as ka_mobilenet

from keras_archs.applications import MobileNet, MobileNetV2, mobilenet
from keras_archs.layers import DepthwiseSeparableConv2D
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

V1_FEATURES = {
    "P1": "conv_pw_1",
    "P2": "conv_pw_3",
    "P3": "conv_pw_5",
    "P4": "conv_pw_11",
    "P5": "conv_pw_13",
}
V2_FEATURES = {
    "P1": "expanded_conv_project_BN",
    "P2": "block_2_add",
    "P3": "block_5_add",
    "P4": "block_12_add",
    "P5": "out_relu",
}


@pytest.mark.parametrize("alpha,depth_multiplier", [(1.0, 1), (0.5, 2)])
def test_mobilenet_file_loads_with_and_without_top(alpha, depth_multiplier, tmp_path):
    check_file_parity(
        "MobileNet", (32, 32, 3), "conv_pw_13_relu", tmp_path,
        alpha=alpha, depth_multiplier=depth_multiplier,
    )  # fmt: skip


@pytest.mark.parametrize("alpha", [0.35, 1.4])
def test_mobilenet_v2_file_loads_with_and_without_top(alpha, tmp_path):
    check_file_parity("MobileNetV2", (32, 32, 3), "out_relu", tmp_path, alpha=alpha)


def test_mobilenet_is_a_stack_of_depthwise_separable_convolutions():
    model = MobileNet(weights=None, alpha=0.5, include_top=False, input_shape=(32, 32, 3))
    blocks = [layer for layer in model.layers if isinstance(layer, DepthwiseSeparableConv2D)]
    assert len(blocks) == 13
    assert [b.filters for b in blocks] == [
        int(f * 0.5) for f in (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
    ]
    assert all(b.order == "mobilenet" and b.activation == "relu6" for b in blocks)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "builder,alpha,expected",
    [(MobileNet, 0.25, 475_544), (MobileNet, 0.75, 2_601_976), (MobileNetV2, 0.5, 1_987_224)],
)
def test_width_multiplier_counts_equal_keras_applications(builder, alpha, expected):
    # keras.applications' counts for these widths (its published ImageNet models).
    assert builder(weights=None, alpha=alpha).count_params() == expected
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "name,features", [("mobilenet", V1_FEATURES), ("mobilenet_v2", V2_FEATURES)]
)
def test_feature_pyramid(name, features):
    check_feature_pyramid(name, features)


def test_default_name_and_imagenet_size_follow_keras_applications():
    assert MobileNet(weights=None, alpha=0.5).name == "mobilenet_0.50_224"
    assert MobileNetV2(weights=None, input_shape=(96, 96, 3)).name == "mobilenetv2_1.00_96"
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "builder,kwargs",
    [
        ("MobileNet", {"alpha": 0.5, "input_shape": (160, 160, 3)}),
        ("MobileNet", {"alpha": 0.25, "include_top": False, "input_shape": (128, 128, 3)}),
        ("MobileNetV2", {"alpha": 1.4, "input_shape": (96, 96, 3)}),
        ("MobileNetV2", {"alpha": 0.35, "include_top": False}),
        # No file for 100x100: keras.applications falls back to the 224 file, with a warning.
        ("MobileNet", {"alpha": 0.75, "include_top": False, "input_shape": (100, 100, 3)}),
        ("MobileNetV2", {"alpha": 1.3, "include_top": False, "input_shape": (96, 128, 3)}),
    ],
)
def test_same_imagenet_download_as_keras_applications(
    builder,
    kwargs,
    recorded_downloads,  # noqa: F811
):
    fname, origin, _, md5 = check_same_download(recorded_downloads, builder, **kwargs)
    assert origin.endswith(fname) and md5 is None  # keras.applications checks no hash here


def test_imagenet_file_size_fallback_warns(recorded_downloads):  # noqa: F811
    warns = pytest.warns(UserWarning, match=r"\(224, 224\) will be loaded")
    with warns, pytest.raises(ConnectionError):
        MobileNet(weights="imagenet", include_top=False, input_shape=(100, 100, 3))
    assert recorded_downloads[0][0] == "mobilenet_1_0_224_tf_no_top.h5"


def test_weights_table_covers_every_width_and_size():
    files = {(e["url"], e["url_notop"]) for e in mobilenet.WEIGHTS.values()}
    assert len(mobilenet.WEIGHTS) == len(files) == 4 * 4 + 6 * 5
    assert all(e["md5"] is None and e["md5_notop"] is None for e in mobilenet.WEIGHTS.values())


@pytest.mark.parametrize(
    "builder,kwargs,match",
    [
        (MobileNet, {"alpha": 0.35, "weights": "imagenet"}, r"\[0.25, 0.5, 0.75, 1.0\]"),
        (MobileNetV2, {"alpha": 0.25, "weights": "imagenet"}, r"0.35, 0.5, 0.75, 1.0, 1.3, 1.4"),
        (MobileNet, {"alpha": 0}, "alpha must be a number > 0"),
        (MobileNetV2, {"alpha": -1.0}, "alpha must be a number > 0"),
        (MobileNet, {"alpha": "wide"}, "alpha must be a number > 0"),
        (MobileNet, {"depth_multiplier": 0}, "depth_multiplier must be an integer >= 1"),
        (MobileNet, {"depth_multiplier": 1.5}, "depth_multiplier must be an integer >= 1"),
        (MobileNet, {"depth_multiplier": 2, "weights": "imagenet"}, "1 with weights='imagenet'"),
        (MobileNet, {"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        (MobileNet, {"dropout": -0.1}, r"dropout must be a number in \[0, 1\)"),
        (MobileNetV2, {"data_format": "NCHW"}, "data_format must be one of"),
    ],
)
def test_bad_input(builder, kwargs, match, recorded_downloads):  # noqa: F811
    kwargs.setdefault("weights", None)
    with pytest.raises(ValueError, match=match) as info:
        builder(**kwargs)
    assert "got" in str(info.value)
    assert recorded_downloads == []


@pytest.mark.parametrize(
    "builder,kwargs,size",
    [
        (MobileNet, {"alpha": 0.25, "classes": 6, "classifier_activation": None}, 32),
        (MobileNet, {"alpha": 0.25, "features_only": True}, 64),
        (MobileNetV2, {"alpha": 0.35, "include_top": False}, 32),
    ],
)
def test_channels_first_matches_channels_last(builder, kwargs, size):
    """Same parameters and, for the same weights, the same outputs on transposed inputs."""
    last = randomize(builder(weights=None, input_shape=(size, size, 3), **kwargs))
    first = builder(
        weights=None, input_shape=(3, size, size), data_format="channels_first", **kwargs
    )
    assert tuple(first.inputs[0].shape) == (None, 3, size, size)
    assert first.count_params() == last.count_params()
    first.set_weights(last.get_weights())
    x = np.random.default_rng(1).standard_normal((2, size, size, 3)).astype("float32")
    y_last, y_first = last(x), first(np.transpose(x, (0, 3, 1, 2)))
    if not isinstance(y_last, dict):
        y_last, y_first = {"y": y_last}, {"y": y_first}
    for key, expected in y_last.items():
        expected, got = (
            keras.ops.convert_to_numpy(expected),
            keras.ops.convert_to_numpy(y_first[key]),
        )
        if expected.ndim == 4:
            got = np.transpose(got, (0, 2, 3, 1))
        assert np.abs(expected).max() > 1e-2
        assert np.abs(got - expected).max() < 1e-5, key
    keras.backend.clear_session()


def test_preprocess_is_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        mobilenet.preprocess_input(x.copy()), ka_mobilenet.preprocess_input(x.copy())
    )


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize(
    "builder,jit_compile,steps",
    [(MobileNet, False, 10), (MobileNetV2, False, 12)],
    ids=["v1-graph", "v2-graph"],
)
def test_memorises_a_batch(builder, jit_compile, steps):
    keras.utils.set_random_seed(0)
    model = builder(weights=None, alpha=0.5, input_shape=(32, 32, 3), classes=4)
    first, last = memorises(model, (32, 32, 3), jit_compile, mobilenet.preprocess_input, steps)
    assert last < 0.5 * first, (first, last)
    keras.backend.clear_session()

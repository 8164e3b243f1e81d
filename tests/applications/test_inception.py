"""InceptionV1 (GoogLeNet) and InceptionV3: structure, keras.applications parity, pyramids,
inputs, channels_first, training."""

import keras
import numpy as np
import pytest
from keras.applications import inception_v3 as ka_inception_v3

import keras_archs
from keras_archs.applications import InceptionV1, InceptionV3, inception_v1, inception_v3
from keras_archs.layers import FactorizedConv2D, InceptionModule
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


def _leaves(model, cls):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if type(layer) is cls
    ]


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def channels_first_diff(builder, shape, **kwargs):
    """Builds `builder` channels_last and channels_first (global setting) with the same
    weights; asserts the same parameter count and returns the largest output difference
    on transposed inputs (4-D outputs are compared channels_last)."""
    keras.utils.set_random_seed(0)
    last = builder(weights=None, input_shape=shape, **kwargs)
    saved = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        first = builder(weights=None, input_shape=(shape[2], shape[0], shape[1]), **kwargs)
    finally:
        keras.config.set_image_data_format(saved)
    assert first.count_params() == last.count_params()
    first.set_weights(last.get_weights())
    x = np.random.default_rng(1).standard_normal((2, *shape)).astype("float32")
    outs_last = keras.tree.flatten(last(x, training=False))
    outs_first = keras.tree.flatten(first(np.transpose(x, (0, 3, 1, 2)), training=False))
    assert len(outs_last) == len(outs_first)
    diff = 0.0
    for a, b in zip(outs_last, outs_first):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        if b.ndim == 4:
            b = np.transpose(b, (0, 2, 3, 1))
        assert a.shape == b.shape
        diff = max(diff, float(np.abs(a - b).max()))
    keras.backend.clear_session()
    return diff


def test_inception_v1_feature_pyramid():
    check_feature_pyramid(
        "inception_v1",
        {
            "P1": "conv1_relu",
            "P2": "conv3_relu",
            "P3": "inception3b",
            "P4": "inception4e",
            "P5": "inception5b",
        },
    )


def test_inception_v3_feature_pyramid():
    # keras.applications' "valid" stem: 299 -> 147, 71, 35, 17, 8.
    check_feature_pyramid(
        "inception_v3",
        {
            "P1": "stem_conv3_relu",
            "P2": "stem_conv5_relu",
            "P3": "mixed2",
            "P4": "mixed7",
            "P5": "mixed10",
        },
        size=299,
        expected_sizes=[147, 71, 35, 17, 8],
    )
    keras.backend.clear_session()


def test_googlenet_is_an_alias_with_auxiliary_heads():
    assert get_spec("googlenet") is get_spec("inception_v1")
    model = keras_archs.create_model("googlenet", aux_logits=True)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 1000)] * 3
    assert _trainable(model) == 13_385_816
    assert model.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    keras.backend.clear_session()
    # Without the auxiliary heads: the paper's network, the same layer names.
    plain = keras_archs.create_model("googlenet")
    assert _trainable(plain) == 7_005_832
    assert {layer.name for layer in plain.layers} <= {layer.name for layer in model.layers}
    keras.backend.clear_session()


def test_inception_v1_paper_modules_with_batch_norm_after_every_conv():
    model = InceptionV1(input_shape=(32, 32, 3), classes=10)
    modules = _leaves(model, InceptionModule)
    assert [m.name for m in modules] == [
        f"inception{k}" for k in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    ]
    assert all(tuple(m.branch5x5.kernel.shape[:2]) == (5, 5) for m in modules)  # the paper's 5x5
    convs = _leaves(model, keras.layers.Conv2D)
    bns = _leaves(model, keras.layers.BatchNormalization)
    assert len(convs) == len(bns) == 3 + 9 * 6
    assert not any(c.use_bias for c in convs)
    assert model.output.shape == (None, 10)


def test_inception_v3_keras_applications_file_loads_with_and_without_top(tmp_path):
    top, notop = check_file_parity("InceptionV3", (75, 75, 3), "mixed10", tmp_path)
    assert max(top, notop) < 1e-4


@pytest.mark.parametrize("include_top", [True, False])
def test_inception_v3_same_imagenet_download_as_keras_applications(
    include_top,
    recorded_downloads,  # noqa: F811
):
    fname, origin, _, md5 = check_same_download(
        recorded_downloads, "InceptionV3", include_top=include_top
    )
    suffix = "" if include_top else "_notop"
    assert fname == f"inception_v3_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    assert origin.endswith(f"/inception_v3/{fname}")
    expected_md5 = {
        True: "9a0d58056eeedaa3f26cb7ebd46da564",
        False: "bcbd6486424b2319ff4ef7d526e38f63",
    }
    assert md5 == expected_md5[include_top]


def test_inception_v3_factorized_convolutions_and_keras_applications_counts():
    model = InceptionV3(weights=None, input_shape=(75, 75, 3), classes=10)
    factorized = _leaves(model, FactorizedConv2D)
    assert len(factorized) == 13  # 3 in each 17x17 module, 1 in the 17->8 reduction
    assert len(_leaves(model, keras.layers.Conv2D)) == 94  # as keras.applications
    reference = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=10)
    assert model.count_params() == reference.count_params()
    keras.backend.clear_session()


def test_aux_logits_errors():
    with pytest.raises(ValueError, match=r"aux_logits=True .* include_top=True"):
        InceptionV1(include_top=False, aux_logits=True)
    with pytest.raises(ValueError, match=r"aux_logits=True .* features_only=True"):
        InceptionV1(features_only=True, aux_logits=True)
    with pytest.raises(TypeError, match="aux_logits must be True or False; got aux_logits='yes'"):
        InceptionV1(aux_logits="yes")
    with pytest.raises(
        ValueError, match=r"dropout must be a number in \[0.0, 1.0\); got dropout=1.5"
    ):
        InceptionV1(dropout=1.5)
    with pytest.raises(ValueError, match="aux_dropout must be a number in"):
        InceptionV1(aux_dropout=-0.1)


@pytest.mark.parametrize("builder", [InceptionV1, InceptionV3])
def test_bad_data_format(builder):
    with pytest.raises(ValueError, match=r"data_format must be one of .* got data_format='NHWC'"):
        builder(weights=None, data_format="NHWC")


@pytest.mark.parametrize(
    "builder,shape,kwargs",
    [
        (InceptionV1, (32, 32, 3), {"classes": 10}),
        # The auxiliary heads pool with AdaptiveAveragePooling2D (channels_last only).
        (InceptionV1, (64, 64, 3), {"classes": 10, "aux_logits": True}),
        (InceptionV1, (32, 32, 3), {"features_only": True}),
        (InceptionV3, (75, 75, 3), {"classes": 10}),
        (InceptionV3, (75, 75, 3), {"include_top": False}),
    ],
    ids=["v1", "v1_aux", "v1_features", "v3", "v3_notop"],
)
def test_channels_first_same_parameters_and_outputs(builder, shape, kwargs):
    assert channels_first_diff(builder, shape, **kwargs) < 1e-5


def test_channels_first_input_shape_and_pyramid():
    model = InceptionV1(
        weights=None, features_only=True, input_shape=(3, 64, 64), data_format="channels_first"
    )
    assert tuple(model.inputs[0].shape) == (None, 3, 64, 64)
    assert tuple(model.output["P5"].shape) == (None, 1024, 2, 2)
    assert keras.config.image_data_format() == "channels_last"  # restored
    keras.backend.clear_session()


def test_registered_preprocessing_is_tf_mode():
    assert get_spec("inception_v1").preprocessing == "tf"
    assert get_spec("inception_v3").preprocessing == "tf"


def test_preprocessing_is_keras_applications_tf_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = ka_inception_v3.preprocess_input(x.copy())
    np.testing.assert_array_equal(inception_v3.preprocess_input(x.copy()), expected)
    np.testing.assert_array_equal(inception_v1.preprocess_input(x.copy()), expected)
    with pytest.raises(ValueError, match="1000"):
        inception_v3.decode_predictions(np.zeros((2, 10)))


@pytest.mark.slow
# One compile mode per model (see tests/applications/cnn_checks.py `memorises`).
@pytest.mark.parametrize(
    "builder,size,module,jit_compile,steps",
    [(InceptionV1, 32, inception_v1, False, 10), (InceptionV3, 75, inception_v3, False, 8)],
    ids=["inception_v1-graph", "inception_v3-graph"],
)
def test_memorises_a_batch(builder, size, module, jit_compile, steps):
    keras.utils.set_random_seed(0)
    model = builder(weights=None, input_shape=(size, size, 3), classes=4)
    first, last = memorises(model, (size, size, 3), jit_compile, module.preprocess_input, steps)
    assert last < 0.5 * first, (first, last)

"""InceptionV1 (GoogLeNet) and InceptionV3 (issue 4): structure, pyramids, inputs, training."""

import keras
import numpy as np
import pytest
from keras.applications import inception_v3 as ka_inception_v3

import keras_archs
from keras_archs.applications import InceptionV1, InceptionV3, inception_v1, inception_v3
from keras_archs.layers import FactorizedConv2D, InceptionModule
from keras_archs.registry import get_spec
from tests.applications.cnn_checks import (
    check_bad_inputs,
    check_feature_pyramid,
    check_inputs,
    memorises,
)


def _leaves(model, cls):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if type(layer) is cls
    ]


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


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
    with pytest.raises(TypeError, match="aux_logits"):
        InceptionV1(aux_logits="yes")
    with pytest.raises(ValueError, match="dropout"):
        InceptionV1(dropout=1.5)


def test_inputs_like_keras_applications():
    check_inputs(InceptionV1, size=32, channels_out=1024)
    check_bad_inputs(InceptionV1, min_size=32)
    check_bad_inputs(InceptionV3, min_size=75)


def test_preprocessing_is_keras_applications_tf_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = ka_inception_v3.preprocess_input(x.copy())
    np.testing.assert_array_equal(inception_v3.preprocess_input(x.copy()), expected)
    np.testing.assert_array_equal(inception_v1.preprocess_input(x.copy()), expected)
    with pytest.raises(ValueError, match="1000"):
        inception_v3.decode_predictions(np.zeros((2, 10)))


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize(
    "builder,size,module",
    [(InceptionV1, 32, inception_v1), (InceptionV3, 75, inception_v3)],
    ids=["inception_v1", "inception_v3"],
)
def test_memorises_a_batch(builder, size, module, jit_compile):
    keras.utils.set_random_seed(0)
    model = builder(weights=None, input_shape=(size, size, 3), classes=4)
    first, last = memorises(model, (size, size, 3), jit_compile, module.preprocess_input, 8)
    assert last < 0.5 * first, (first, last)

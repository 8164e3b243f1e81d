"""fold_batch_norms: which BatchNormalizations fold, and that the copy computes the same."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_archs
from keras_archs.export import export_saved_model, fold_batch_norms, foldable_pairs
from keras_archs.layers import DepthwiseSeparableConv2D


def _randomize_statistics(model, seed=0):
    """BatchNormalization weights far from their initial values, so that a wrong fold
    (a missing mean, epsilon, gamma or beta) changes the outputs."""
    rng = np.random.default_rng(seed)
    inner = ("bn", "depthwise_bn", "pointwise_bn")  # those of DepthwiseSeparableConv2D
    layers = [getattr(layer, name, None) for layer in model.layers for name in inner]
    for layer in model.layers + layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape))
            if layer.beta is not None:
                layer.beta.assign(rng.normal(0, 0.5, layer.beta.shape))
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.2, 2.0, layer.moving_variance.shape))


@contextlib.contextmanager
def _policy(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@keras.saving.register_keras_serializable(package="tests")
class _Subclass(keras.layers.Conv2D):
    pass


def _every_case():
    """One model holding each case; BatchNormalization names say whether it folds."""
    layers = keras.layers
    images = keras.Input((12, 12, 3), name="images")
    x = layers.Conv2D(4, 3, use_bias=False, name="conv")(images)
    x = layers.BatchNormalization(name="fold_conv")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(4, 1, name="conv_bias")(x)
    x = layers.BatchNormalization(epsilon=0.1, name="fold_conv_bias")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    x = layers.BatchNormalization(center=False, name="fold_depthwise")(x)
    x = layers.SeparableConv2D(6, 3, depth_multiplier=2, name="separable")(x)
    x = layers.BatchNormalization(scale=False, name="fold_separable")(x)
    # Read by two layers: folding would change the other reader's input.
    shared = layers.Conv2D(6, 1, name="read_twice")(x)
    y = layers.BatchNormalization(name="keep_read_twice")(shared)
    x = layers.Add()([shared, y])
    # After an addition, and after a convolution that applies its own activation.
    x = layers.BatchNormalization(name="keep_after_add")(x)
    x = layers.Conv2D(6, 1, activation="relu", name="activated")(x)
    x = layers.BatchNormalization(name="keep_activated")(x)
    # The statistics of another axis than the convolution's channels.
    x = layers.Conv2D(6, 1, name="other_axis")(x)
    x = layers.BatchNormalization(axis=1, name="keep_other_axis")(x)
    # A subclass may compute its kernel otherwise; a float64 normalization keeps its dtype.
    x = _Subclass(6, 1, name="subclass")(x)
    x = layers.BatchNormalization(name="keep_subclass")(x)
    x = layers.Conv2D(6, 1, name="float32")(x)
    x = layers.BatchNormalization(dtype="float64", name="keep_float64")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(5, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="fold_dense")(x)
    outputs = layers.Dense(3, name="logits")(x)
    return keras.Model(images, outputs, name="cases")


def _batch_norms(model):
    return sorted(
        layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    )


def test_folds_exactly_the_foldable_pairs_and_keeps_the_outputs():
    keras.utils.set_random_seed(0)
    model = _every_case()
    _randomize_statistics(model)
    assert foldable_pairs(model) == {
        "fold_conv": "conv",
        "fold_conv_bias": "conv_bias",
        "fold_depthwise": "depthwise",
        "fold_separable": "separable",
        "fold_dense": "dense",
    }
    folded = fold_batch_norms(model)
    assert _batch_norms(folded) == [n for n in _batch_norms(model) if n.startswith("keep")]
    assert folded.name == model.name
    assert [t.name for t in folded.inputs] == ["images"]
    assert folded.get_layer("conv").use_bias and folded.get_layer("dense").use_bias
    # Each folded pair trades the normalization's weights for a bias of its channels.
    removed = {"fold_conv": 4 * 4, "fold_conv_bias": 4 * 4, "fold_depthwise": 3 * 8}
    removed |= {"fold_separable": 3 * 6, "fold_dense": 4 * 5}
    added = 4 + 0 + 0 + 0 + 5  # conv and dense had no bias; the others keep theirs
    assert folded.count_params() == model.count_params() - sum(removed.values()) + added
    x = np.random.default_rng(1).uniform(-2, 2, (4, 12, 12, 3)).astype("float32")
    expected = model.predict_on_batch(x)
    np.testing.assert_allclose(folded.predict_on_batch(x), expected, rtol=1e-4, atol=1e-4)
    # The original is untouched and still trains: its layers were copied, not reused.
    assert len(_batch_norms(model)) == 11 and not model.get_layer("conv").use_bias
    np.testing.assert_array_equal(model.predict_on_batch(x), expected)


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-4), ("mixed_bfloat16", 3e-2)])
def test_resnet_folds_every_batch_norm(policy, tolerance):
    keras.utils.set_random_seed(0)
    with _policy(policy):
        model = keras_archs.create_model(
            "resnet18", input_shape=(32, 32, 3), classes=10, classifier_activation=None
        )
    _randomize_statistics(model)
    folded = fold_batch_norms(model)
    assert len(_batch_norms(model)) == 20 and _batch_norms(folded) == []
    assert folded.get_layer("conv1_conv").dtype_policy.name == policy
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    expected = np.asarray(model.predict_on_batch(x), "float32")
    got = np.asarray(folded.predict_on_batch(x), "float32")
    # Relative to the largest logit: bfloat16 keeps 8 bits, rounded in 20 layers.
    assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max()


@pytest.mark.parametrize("order", ["mobilenet", "xception"])
def test_folds_inside_depthwise_separable_convolutions(order):
    keras.utils.set_random_seed(0)
    images = keras.Input((9, 9, 4))
    x = DepthwiseSeparableConv2D(6, order=order, name="no_bias")(images)
    x = DepthwiseSeparableConv2D(5, order=order, use_bias=True, name="bias")(x)
    x = DepthwiseSeparableConv2D(5, order=order, normalization=None, name="plain")(x)
    model = keras.Model(images, x)
    _randomize_statistics(model)
    for weight in model.weights:
        if weight.path.endswith("bias"):
            weight.assign(np.random.default_rng(2).normal(0, 0.5, weight.shape))
    folded = fold_batch_norms(model)
    assert [folded.get_layer(n).normalization for n in ("no_bias", "bias", "plain")] == [None] * 3
    assert all(folded.get_layer(n).use_bias for n in ("no_bias", "bias"))
    assert not folded.get_layer("plain").use_bias
    assert model.get_layer("no_bias").normalization == "batch_norm"  # the original is kept
    # Each folded normalization trades its four weights per channel for a bias.
    normalized = {"mobilenet": [4 + 6, 6 + 5], "xception": [6, 5]}[order]
    biases = {"mobilenet": [4 + 6, 0], "xception": [6, 0]}[order]  # "bias" had its own
    removed = 4 * sum(normalized) - sum(biases)
    assert folded.count_params() == model.count_params() - removed
    x = np.random.default_rng(1).uniform(-2, 2, (3, 9, 9, 4)).astype("float32")
    expected = model.predict_on_batch(x)
    np.testing.assert_allclose(folded.predict_on_batch(x), expected, rtol=1e-4, atol=1e-4)


def test_nothing_to_fold_returns_the_model_itself():
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert fold_batch_norms(sequential) is sequential
    images = keras.Input((8, 8, 3))
    plain = keras.Model(images, keras.layers.Conv2D(2, 3)(images))
    assert foldable_pairs(plain) == {} and fold_batch_norms(plain) is plain
    with pytest.raises(TypeError, match=r"model must be a keras\.Model; got model=str"):
        fold_batch_norms("resnet50")


def _variables(path):
    return {v.name for v in tf.saved_model.load(str(path)).variables}


def test_export_serves_the_folded_model_unless_told_not_to(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras_archs.create_model("resnet18", input_shape=(32, 32, 3), classes=10)
    _randomize_statistics(model)
    kwargs = dict(name="resnet18", preprocessing=None)
    folded = export_saved_model(model, tmp_path / "m", **kwargs)
    kept = export_saved_model(model, tmp_path / "m", fold_batch_norms=False, **kwargs)
    assert not any("moving_mean" in v for v in _variables(folded))
    assert sum("moving_mean" in v for v in _variables(kept)) == 20
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    for path in (folded, kept):
        served = tf.saved_model.load(path).signatures["serving_default"]
        (probabilities,) = served(**{model.inputs[0].name: tf.constant(x)}).values()
        np.testing.assert_allclose(probabilities.numpy(), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="fold_batch_norms"):
        export_saved_model(model, tmp_path / "m", fold_batch_norms="yes", **kwargs)


def test_cli_export_folds_unless_keep_batch_norms(tmp_path, capsys):
    from keras_archs import cli

    model = _every_case()
    model.save(tmp_path / "cases.keras")
    args = ["export", str(tmp_path / "cases.keras"), "--out", str(tmp_path / "cases")]
    args += ["--preprocessing", "none"]
    assert cli.main(args) == 0
    assert cli.main([*args, "--keep-batch-norms"]) == 0
    statistics = [
        sum("moving_mean" in v for v in _variables(tmp_path / "cases" / version))
        for version in ("1", "2")
    ]
    assert statistics == [6, 11]  # the six kept by fold_batch_norms; all eleven
    onnx = ["export", str(tmp_path / "cases.keras"), "--format", "onnx", "--keep-batch-norms"]
    assert cli.main(onnx) == 2
    assert "--keep-batch-norms applies to --format saved_model only" in capsys.readouterr().err

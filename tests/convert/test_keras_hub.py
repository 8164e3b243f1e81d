"""keras-hub parity: a GPT2Backbone converted by from_keras_hub gives the same numbers."""

import keras
import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

from keras_archs.applications.gpt import GPT, hidden_states_model  # noqa: E402
from keras_archs.convert import from_keras_hub  # noqa: E402


def _backbone(**overrides):
    config = dict(
        vocabulary_size=101,
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=128,
        max_sequence_length=32,
    )
    config.update(overrides)
    return keras_hub.models.GPT2Backbone(**config)


def _randomize(model, seed=0):
    """Non-trivial values for every weight (LayerNorm gammas and biases included)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gpt2_backbone_converts_with_equal_hidden_states_and_logits(num_layers):
    keras.utils.set_random_seed(0)
    backbone = _backbone(num_layers=num_layers)
    _randomize(backbone)
    model = from_keras_hub(backbone)
    assert model.count_params() == backbone.count_params()
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 101, (3, 20)).astype("int32")
    mask = np.ones((3, 20), "int32")
    mask[1, 12:] = 0
    mask[2, 5:] = 0
    x = {"token_ids": ids, "padding_mask": mask}
    hub_hidden = keras.ops.convert_to_numpy(backbone(x))
    hub_logits = keras.ops.convert_to_numpy(backbone.token_embedding(backbone(x), reverse=True))
    hidden = keras.ops.convert_to_numpy(hidden_states_model(model)(x))
    logits = keras.ops.convert_to_numpy(model(x))
    assert np.abs(hub_logits).max() > 1.0  # a comparison of non-trivial numbers
    assert np.abs(hidden - hub_hidden).max() <= 1e-5
    assert np.abs(logits - hub_logits).max() <= 1e-5


def test_gpt2_parameter_count_equals_keras_hub():
    gpt2 = dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072)
    hub = keras_hub.models.GPT2Backbone(
        vocabulary_size=50257, max_sequence_length=1024, **gpt2
    ).count_params()
    ours = GPT(preset="gpt2").count_params()
    assert hub == ours == 124_439_808


def test_from_keras_hub_rejects_other_models():
    with pytest.raises(
        TypeError,
        match="from_keras_hub converts BertBackbone, GPT2Backbone; got backbone of type Sequential",
    ):
        from_keras_hub(keras.Sequential([keras.layers.Dense(2)]))

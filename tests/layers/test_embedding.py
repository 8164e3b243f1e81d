import keras
import keras_hub
import numpy as np
import pytest

from keras_archs.layers import SinusoidalPositionEncoding, TokenAndPositionEmbedding
from tests.layers.helpers import np_out, randomize_weights

RNG = np.random.default_rng(0)
IDS = RNG.integers(1, 30, (3, 6)).astype("int32")


def _paper_encoding(length, dim, start=0):
    pe = np.zeros((length, dim))
    for pos in range(start, start + length):
        for i in range(0, dim, 2):
            angle = pos / 10000 ** (i / dim)
            pe[pos - start, i] = np.sin(angle)
            if i + 1 < dim:
                pe[pos - start, i + 1] = np.cos(angle)
    return pe


def test_sinusoidal_matches_the_paper_formula_and_keras_hub():
    x = np.zeros((2, 9, 10), "float32")
    layer = SinusoidalPositionEncoding()
    y = np_out(layer(x))
    assert y.shape == layer.compute_output_shape(x.shape) == (2, 9, 10)
    np.testing.assert_allclose(y[1], _paper_encoding(9, 10), atol=1e-5)
    np.testing.assert_allclose(np_out(layer(x[:, :3], start_index=4))[0], y[0, 4:7], atol=1e-5)
    hub = np_out(keras_hub.layers.SinePositionEncoding()(x))
    np.testing.assert_allclose(y, hub, atol=1e-5)
    assert not layer.weights


def test_token_and_position_embedding_forward_and_tied_reverse():
    layer = TokenAndPositionEmbedding(30, 8, 4)
    layer.build(IDS.shape)
    randomize_weights(layer)
    e, p = (np_out(w) for w in layer.weights)
    assert e.shape == (30, 4) and p.shape == (8, 4)
    y = np_out(layer(IDS))
    np.testing.assert_allclose(y, e[IDS] + p[None, :6], atol=1e-6)
    # start_index shifts positions (cached decoding): step 5 alone equals column 5.
    np.testing.assert_allclose(np_out(layer(IDS[:, 5:6], start_index=5)), y[:, 5:6], atol=1e-6)
    logits = np_out(layer(y, reverse=True))
    np.testing.assert_allclose(logits, y @ e.T, atol=1e-5)
    # Tied: a gradient through the logits reaches the same (single) embedding matrix.
    assert len(layer.trainable_weights) == 2


def test_matches_keras_hub_token_and_position_embedding():
    hub = keras_hub.layers.TokenAndPositionEmbedding(30, 8, 4)
    ours = TokenAndPositionEmbedding(30, 8, 4)
    hub.build(IDS.shape)
    ours.build(IDS.shape)
    randomize_weights(hub)
    ours.set_weights(hub.get_weights())
    np.testing.assert_allclose(np_out(ours(IDS)), np_out(hub(IDS)), atol=1e-6)


def test_sinusoidal_positions_scaled_tokens_and_mask():
    layer = TokenAndPositionEmbedding(
        30, 8, 6, position_encoding="sinusoidal", scale_embeddings=True, mask_zero=True
    )
    ids = IDS.copy()
    ids[1, 4:] = 0
    y = np_out(layer(ids))
    e = np_out(layer.token_embedding.embeddings)
    np.testing.assert_allclose(y, e[ids] * np.sqrt(6) + _paper_encoding(6, 6)[None], atol=1e-5)
    assert len(layer.weights) == 1
    mask = np_out(layer.compute_mask(keras.ops.convert_to_tensor(ids)))
    assert np.array_equal(mask, ids != 0)


def test_symbolic_shapes():
    layer = TokenAndPositionEmbedding(30, 8, 4)
    ids = keras.Input((6,), dtype="int32")
    h = layer(ids)
    assert tuple(h.shape) == (None, 6, 4)
    assert tuple(layer(h, reverse=True).shape) == (None, 6, 30)


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocabulary_size"):
        TokenAndPositionEmbedding(0, 8, 4)
    with pytest.raises(ValueError, match="sequence_length"):
        TokenAndPositionEmbedding(10, -8, 4)
    with pytest.raises(ValueError, match="position_encoding"):
        TokenAndPositionEmbedding(10, 8, 4, position_encoding="rotary")
    with pytest.raises(ValueError, match="max_wavelength"):
        SinusoidalPositionEncoding(max_wavelength=0)


def test_positions_give_each_row_its_own_positions():
    """`positions` (batch, seq): a left-padded row counts from its first real token."""
    layer = TokenAndPositionEmbedding(30, 8, 4)
    layer.build(IDS.shape)
    randomize_weights(layer)
    e, p = (np_out(w) for w in layer.weights)
    positions = np.array([[0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 2, 3], [2, 3, 4, 5, 6, 7]], "int32")
    y = np_out(layer(IDS, positions=positions))
    np.testing.assert_allclose(y, e[IDS] + p[positions], atol=1e-6)
    np.testing.assert_allclose(y[0], np_out(layer(IDS))[0], atol=1e-6)
    np.testing.assert_allclose(y[2, 1:], np_out(layer(IDS[2:, 1:], start_index=3))[0], atol=1e-6)
    sinusoidal = TokenAndPositionEmbedding(30, 8, 6, position_encoding="sinusoidal")
    y = np_out(sinusoidal(IDS, positions=positions))
    table = np_out(sinusoidal.token_embedding.embeddings)
    np.testing.assert_allclose(y, table[IDS] + _paper_encoding(8, 6)[positions], atol=1e-5)
    symbolic = layer(keras.Input((6,), dtype="int32"), positions=keras.Input((6,), dtype="int32"))
    assert tuple(symbolic.shape) == (None, 6, 4)


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize` method")
def test_int8_tables_are_read_dequantized_and_reload(tmp_path):
    """After `quantize("int8")` the tied projection and the positions read the int8
    tables through the Embedding sublayers (dequantized); the layer's config records
    the sublayers' int8 policies, so a `.keras` file reloads them."""
    ids = keras.Input((6,), dtype="int32")
    layer = TokenAndPositionEmbedding(30, 8, 4, name="embed")
    model = keras.Model(ids, layer(layer(ids), reverse=True))
    randomize_weights(layer)
    before = np_out(model(IDS))
    model.quantize("int8")
    after = np_out(model(IDS))
    assert np.abs(after - before).max() < 0.02 * np.abs(before).max()
    np.testing.assert_allclose(
        np_out(layer(IDS[:, 2:4], start_index=2)), np_out(layer(IDS))[:, 2:4]
    )
    policies = keras.dtype_policies.deserialize(layer.get_config()["dtype"])
    assert isinstance(policies, keras.dtype_policies.DTypePolicyMap)
    assert policies.default_policy.name == "float32"
    assert {k: v.name for k, v in policies.items()} == {  # paths below the layer
        "token_embedding": "int8_from_float32",
        "position_embedding": "int8_from_float32",
    }
    model.save(tmp_path / "embed.keras")
    reloaded = keras.saving.load_model(tmp_path / "embed.keras", safe_mode=True)
    assert {w.path for w in reloaded.weights if w.dtype == "int8"} == {
        "embed/token_embedding/embeddings",
        "embed/position_embedding/embeddings",
    }
    np.testing.assert_allclose(np_out(reloaded(IDS)), after, atol=1e-6)

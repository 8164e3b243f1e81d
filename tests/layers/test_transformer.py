import keras
import keras_hub
import numpy as np
import pytest

from keras_archs.layers import (
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from tests.layers.helpers import (
    mixed_precision_step,
    np_out,
    randomize_weights,
    restore_seed_state,
    seed_state,
)

RNG = np.random.default_rng(0)
B, T, D, H = 3, 6, 8, 2
X = RNG.normal(size=(B, T, D)).astype("float32")
CTX = RNG.normal(size=(B, 5, D)).astype("float32")
PADDING = np.array([[1] * n + [0] * (T - n) for n in (6, 4, 2)], "int32")
CTX_PADDING = np.array([[1] * n + [0] * (5 - n) for n in (5, 3, 1)], "int32")


def _shapes(layer):
    return [tuple(w.shape) for w in layer.weights]


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_equals_keras_hub_weight_for_weight(norm_first):
    hub = keras_hub.layers.TransformerEncoder(
        16, H, normalize_first=norm_first, activation="gelu", layer_norm_epsilon=1e-12
    )
    ours = TransformerEncoderBlock(
        H, 16, norm_first=norm_first, activation="gelu", layer_norm_epsilon=1e-12
    )
    hub.build(X.shape)
    ours.build(X.shape)
    assert _shapes(ours) == _shapes(hub)
    randomize_weights(hub)
    ours.set_weights(hub.get_weights())  # same get_weights() order: a 1:1 copy
    diff = np.abs(np_out(hub(X, padding_mask=PADDING)) - np_out(ours(X, padding_mask=PADDING)))
    assert diff.max() < 1e-5


@pytest.mark.parametrize(
    ("norm_first", "cross", "activation"),
    [(False, True, "relu"), (True, True, "relu"), (True, False, "gelu_approximate")],
)
def test_decoder_equals_keras_hub_weight_for_weight(norm_first, cross, activation):
    hub_act = keras_hub.src.utils.keras_utils.gelu_approximate if activation != "relu" else "relu"
    hub = keras_hub.layers.TransformerDecoder(16, H, normalize_first=norm_first, activation=hub_act)
    ours = TransformerDecoderBlock(
        H, 16, norm_first=norm_first, activation=activation, use_cross_attention=cross
    )
    if cross:
        hub.build(X.shape, CTX.shape)
        ours.build(X.shape, CTX.shape)
    else:
        hub.build(X.shape)
        ours.build(X.shape)
    assert _shapes(ours) == _shapes(hub)
    randomize_weights(hub)
    ours.set_weights(hub.get_weights())
    if cross:
        h = hub(X, CTX, decoder_padding_mask=PADDING, encoder_padding_mask=CTX_PADDING)
        o = ours(X, CTX, padding_mask=PADDING, context_padding_mask=CTX_PADDING)
    else:
        h, o = hub(X, decoder_padding_mask=PADDING), ours(X, padding_mask=PADDING)
    assert np.abs(np_out(h) - np_out(o)).max() < 1e-5


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("cross", [False, True])
def test_decoder_incremental_decoding_equals_full_run(norm_first, cross):
    block = TransformerDecoderBlock(H, 16, norm_first=norm_first, use_cross_attention=cross)
    args = (CTX,) if cross else ()
    block(X, *args)
    randomize_weights(block)
    full = np_out(block(X, *args))
    cache = block.init_cache(B, T)
    steps = []
    for t in range(T):
        out, cache = block(X[:, t : t + 1], *args, cache=cache, cache_update_index=t)
        steps.append(np_out(out))
    assert np.abs(np.concatenate(steps, axis=1) - full).max() <= 1e-5


@pytest.mark.parametrize("training", [False, True])
def test_decoder_is_causal_and_encoder_respects_padding(training):
    dec = TransformerDecoderBlock(H, 16, dropout=0.3 if training else 0.0)
    enc = TransformerEncoderBlock(H, 16, dropout=0.3 if training else 0.0)
    dec.build(X.shape)
    enc.build(X.shape)
    t = 2
    x2 = X.copy()
    x2[:, t + 1 :] += 3.0
    states = seed_state(dec) + seed_state(enc)
    y = np_out(dec(X, training=training)), np_out(enc(X, padding_mask=PADDING, training=training))
    restore_seed_state(states)
    z = np_out(dec(x2, training=training)), np_out(enc(x2, padding_mask=PADDING, training=training))
    assert np.array_equal(y[0][:, : t + 1], z[0][:, : t + 1])
    assert np.abs(y[0][:, t + 1 :] - z[0][:, t + 1 :]).max() > 1e-3
    # Sample 2 has 2 real tokens (steps 0, 1): perturbing steps >= 3 must not reach them.
    assert np.array_equal(y[1][2, :2], z[1][2, :2])
    assert np.abs(y[1][0] - z[1][0]).max() > 1e-3  # sample 0 is unpadded: it sees the change


def test_post_ln_and_pre_ln_differ_where_the_papers_do():
    post = TransformerEncoderBlock(H, 16)
    pre = TransformerEncoderBlock(H, 16, norm_first=True)
    post.build(X.shape)
    pre.build(X.shape)
    pre.set_weights(post.get_weights())
    y_post, y_pre = np_out(post(X)), np_out(pre(X))
    # Post-LN ends on a LayerNorm (gamma=1, beta=0 here): zero mean, unit variance per token.
    np.testing.assert_allclose(y_post.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y_post.std(-1), 1, atol=1e-2)
    # Pre-LN's output is the raw residual stream: not normalized.
    assert np.abs(y_pre.std(-1) - 1).max() > 1e-2


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_train_step_is_finite(policy):
    keras.config.set_dtype_policy(policy)
    try:
        x = keras.Input((T, D), name="x")
        pm = keras.Input((T,), dtype="int32", name="padding_mask")
        ctx = keras.Input((5, D), name="context")
        e = TransformerEncoderBlock(H, 16, norm_first=True, dropout=0.1)(ctx)
        y = TransformerDecoderBlock(H, 16, use_cross_attention=True, dropout=0.1)(
            x, e, padding_mask=pm
        )
        y = keras.layers.Activation("linear", dtype="float32")(y)
        model = keras.Model([x, pm, ctx], y)
        inputs = {"x": X, "padding_mask": PADDING, "context": CTX}
        loss, moved, scale0, scale1 = mixed_precision_step(model, inputs)
        assert np.isfinite(loss)
        # Either every weight moved, or (float16 only) the loss scale overflowed and halved.
        assert moved == 1.0 or (policy == "mixed_float16" and scale1 == scale0 / 2)
        assert np.isfinite(np_out(model(inputs))).all()
    finally:
        keras.config.set_dtype_policy("float32")


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoderBlock(0, 16)
    with pytest.raises(ValueError, match="intermediate_dim"):
        TransformerDecoderBlock(2, -1)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderBlock(2, 16, activation="nope")
    with pytest.raises(ValueError, match="dropout"):
        TransformerEncoderBlock(2, 16, dropout=-0.1)
    with pytest.raises(ValueError, match="num_heads=3"):
        TransformerEncoderBlock(3, 16)(X)
    with pytest.raises(ValueError, match="context"):
        TransformerDecoderBlock(2, 16, use_cross_attention=True)(X)


def test_keras_mask_from_embedding_propagates_and_masks_keys():
    ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "int32")
    emb = TokenAndPositionEmbedding(10, T, D, mask_zero=True)
    enc = TransformerEncoderBlock(H, 16)
    h = emb(ids)
    y = enc(h)
    assert np.array_equal(np_out(y._keras_mask), ids != 0)  # the mask flows through
    # The implicit mask equals passing the padding mask explicitly.
    explicit = enc(h, padding_mask=ids != 0)
    assert np.abs(np_out(y)[0, :3] - np_out(explicit)[0, :3]).max() < 1e-6
    h2 = np_out(h).copy()  # change the padded positions' vectors: real ones must not notice
    h2[0, 3:] += 7.0
    y2 = enc(keras.ops.convert_to_tensor(h2), padding_mask=ids != 0)
    assert np.array_equal(np_out(y2)[0, :3], np_out(explicit)[0, :3])


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize` method")
@pytest.mark.parametrize("kind", ["encoder", "decoder_with_cross_attention"])
def test_int8_blocks_record_their_sublayers_and_reload(kind, tmp_path):
    """`quantize("int8")` reaches the Dense and EinsumDense layers a block builds in
    `build()`; the block's config keeps their int8 policies (a DTypePolicyMap over its
    own policy, here mixed_bfloat16, keyed by the paths below the block), so
    `from_config` and a `.keras` reload rebuild them int8 and the weights load, even
    where the layer paths differ from the saved model's (built in a name scope)."""
    with keras.name_scope("outer"):
        x = keras.Input((T, D))
        if kind == "encoder":
            block = TransformerEncoderBlock(H, 16, name="block", dtype="mixed_bfloat16")
            inputs, y = x, block(x)
            data = X
        else:
            block = TransformerDecoderBlock(
                H, 16, use_cross_attention=True, name="block", dtype="mixed_bfloat16"
            )
            context = keras.Input((5, D))
            inputs, y = [x, context], block(x, context)
            data = [X, CTX]
        model = keras.Model(inputs, y)
    assert block.path == "outer/block"
    randomize_weights(block)
    before = np_out(model(data))
    model.quantize("int8")
    after = np_out(model(data))
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()
    policies = keras.dtype_policies.deserialize(block.get_config()["dtype"])
    assert policies.default_policy.name == "mixed_bfloat16"
    dense = ["feedforward_intermediate_dense", "feedforward_output_dense"]
    attention = ["self_attention"] + (["cross_attention"] if kind != "encoder" else [])
    expected = set(dense) | {
        f"{a}/attention/{w}"
        for a in attention
        for w in ("query", "key", "value", "attention_output")
    }
    assert {k: v.name for k, v in policies.items()} == dict.fromkeys(
        expected, "int8_from_mixed_bfloat16"
    )
    int8 = {w.path for w in model.weights if w.dtype == "int8"}
    assert int8 == {f"outer/block/{path}/kernel" for path in expected}
    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(np_out(rebuilt(data)), after, atol=1e-6)
    model.save(tmp_path / "block.keras")
    reloaded = keras.saving.load_model(tmp_path / "block.keras", safe_mode=True)
    # Reloaded outside the scope: the same sublayers are int8 under the new paths.
    assert {w.path for w in reloaded.weights if w.dtype == "int8"} == {
        f"block/{path}/kernel" for path in expected
    }
    np.testing.assert_allclose(np_out(reloaded(data)), after, atol=1e-6)

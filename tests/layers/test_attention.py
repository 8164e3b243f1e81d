import json

import keras
import numpy as np
import pytest

from keras_archs.layers import MultiHeadCrossAttention, MultiHeadSelfAttention
from tests.layers.helpers import (
    mixed_precision_step,
    np_out,
    randomize_weights,
    restore_seed_state,
    seed_state,
)
from tests.utils import run_python

RNG = np.random.default_rng(0)
B, T, D, H = 3, 7, 8, 2  # batch size != head count on purpose
X = RNG.normal(size=(B, T, D)).astype("float32")
LENGTHS = [7, 4, 2]
PADDING = np.array([[1] * n + [0] * (T - n) for n in LENGTHS], "int32")


def reference_attention(layer, q_in, kv_in, mask):
    """NumPy multi-head attention from the layer's own weights; mask (B, T, S) bool."""
    mha = layer.attention
    w = {
        n: [np_out(v) for v in getattr(mha, f"_{n}_dense").weights]
        for n in ("query", "key", "value", "output")
    }
    q = np.einsum("btd,dhk->bthk", q_in, w["query"][0]) + w["query"][1]
    k = np.einsum("bsd,dhk->bshk", kv_in, w["key"][0]) + w["key"][1]
    v = np.einsum("bsd,dhk->bshk", kv_in, w["value"][0]) + w["value"][1]
    scores = np.einsum("bthk,bshk->bhts", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(mask[:, None], scores, -1e9)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = np.einsum("bhts,bshk->bthk", p, v)
    return np.einsum("bthk,hkd->btd", out, w["output"][0]) + w["output"][1]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_padding", [False, True])
def test_self_attention_matches_numpy_reference(causal, with_padding):
    # dropout=0 takes keras.ops.dot_product_attention (the flash-capable path): the
    # masks must reach it with the right broadcasting for B=3, H=2.
    layer = MultiHeadSelfAttention(H)
    layer.build(X.shape)
    randomize_weights(layer)
    mask = np.ones((B, T, T), bool)
    if with_padding:
        mask &= PADDING[:, None, :].astype(bool)
    if causal:
        mask &= np.tril(np.ones((T, T), bool))[None]
    y = layer(X, padding_mask=PADDING if with_padding else None, use_causal_mask=causal)
    ref = reference_attention(layer, X, X, mask)
    assert np.abs(np_out(y) - ref).max() < 1e-5


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_padding_does_not_leak_into_real_positions(dropout):
    layer = MultiHeadSelfAttention(H, dropout=dropout, seed=1)
    layer.build(X.shape)
    x2 = X.copy()
    for i, n in enumerate(LENGTHS):
        x2[i, n:] = RNG.normal(size=(T - n, D)) * 10
    for causal in (False, True):
        state = seed_state(layer)
        y = np_out(layer(X, padding_mask=PADDING, use_causal_mask=causal, training=True))
        restore_seed_state(state)
        y2 = np_out(layer(x2, padding_mask=PADDING, use_causal_mask=causal, training=True))
        for i, n in enumerate(LENGTHS):
            assert np.array_equal(y[i, :n], y2[i, :n]), (i, causal)
            if n < T:
                assert np.abs(y[i, n:] - y2[i, n:]).max() > 1e-3
    # Each sample equals the same sample run alone at its true length (no padding at all).
    y = np_out(layer(X, padding_mask=PADDING))
    for i, n in enumerate(LENGTHS):
        alone = np_out(layer(X[i : i + 1, :n]))
        assert np.abs(y[i, :n] - alone[0]).max() < 1e-5


@pytest.mark.parametrize("training", [False, True])
def test_causal_by_perturbation(training):
    layer = MultiHeadSelfAttention(H, dropout=0.5 if training else 0.0, seed=2)
    layer.build(X.shape)
    t = 3
    x2 = X.copy()
    x2[:, t + 1 :] += RNG.normal(size=(B, T - t - 1, D)).astype("float32")
    state = seed_state(layer)
    y = np_out(layer(X, use_causal_mask=True, training=training))
    restore_seed_state(state)
    y2 = np_out(layer(x2, use_causal_mask=True, training=training))
    assert np.array_equal(y[:, : t + 1], y2[:, : t + 1])
    assert np.abs(y[:, t + 1 :] - y2[:, t + 1 :]).max() > 1e-3
    if training:
        assert np.abs(y - np_out(layer(X, use_causal_mask=True))).max() > 1e-3


def test_incremental_decoding_equals_full_causal_run():
    layer = MultiHeadSelfAttention(H, key_dim=5)
    layer.build(X.shape)
    randomize_weights(layer)
    full = np_out(layer(X, use_causal_mask=True))
    max_len = T + 3  # a cache longer than the sequence: unused slots must stay masked
    cache = layer.init_cache(B, max_len)
    assert tuple(cache.shape) == (B, 2, max_len, H, 5)
    # Prefill 3 steps at once, then one step at a time.
    out, cache = layer(X[:, :3], use_causal_mask=True, cache=cache, cache_update_index=0)
    steps = [np_out(out)]
    for t in range(3, T):
        out, cache = layer(X[:, t : t + 1], use_causal_mask=True, cache=cache, cache_update_index=t)
        steps.append(np_out(out))
    assert np.abs(np.concatenate(steps, axis=1) - full).max() <= 1e-5
    # A read-only call (cache_update_index=None) leaves the cache as it is.
    _, same = layer(X[:, -1:], cache=cache)
    assert np.array_equal(np_out(same), np_out(cache))


def test_incremental_decoding_with_padding_mask():
    layer = MultiHeadSelfAttention(H)
    layer.build(X.shape)
    full = np_out(layer(X, padding_mask=PADDING, use_causal_mask=True))
    cache = layer.init_cache(B, T)
    steps = []
    for t in range(T):
        out, cache = layer(
            X[:, t : t + 1],
            padding_mask=PADDING,
            use_causal_mask=True,
            cache=cache,
            cache_update_index=t,
        )
        steps.append(np_out(out))
    inc = np.concatenate(steps, axis=1)
    for i, n in enumerate(LENGTHS):
        assert np.abs(inc[i, :n] - full[i, :n]).max() <= 1e-5


def test_cross_attention_masks_context_padding():
    ctx = RNG.normal(size=(B, 5, 6)).astype("float32")
    cpm = np.array([[1] * n + [0] * (5 - n) for n in (5, 3, 1)], "int32")
    layer = MultiHeadCrossAttention(H, key_dim=4)
    layer.build(X.shape, ctx.shape)
    randomize_weights(layer)
    y = np_out(layer(X, ctx, padding_mask=cpm))
    assert y.shape == layer.compute_output_shape(X.shape, ctx.shape) == (B, T, D)
    mask = np.broadcast_to(cpm[:, None, :].astype(bool), (B, T, 5))
    assert np.abs(y - reference_attention(layer, X, ctx, mask)).max() < 1e-5
    ctx2 = ctx.copy()
    ctx2[1, 3:] += 5.0
    assert np.array_equal(y[1], np_out(layer(X, ctx2, padding_mask=cpm))[1])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_train_step_is_finite(policy):
    keras.config.set_dtype_policy(policy)
    try:
        x = keras.Input((T, D), name="x")
        pm = keras.Input((T,), dtype="int32", name="padding_mask")
        ctx = keras.Input((5, D), name="context")
        y = MultiHeadSelfAttention(H, dropout=0.1)(x, padding_mask=pm, use_causal_mask=True)
        y = MultiHeadCrossAttention(H)(y, ctx)
        y = keras.layers.Activation("linear", dtype="float32")(y)
        model = keras.Model([x, pm, ctx], y)
        attention = next(la for la in model.layers if isinstance(la, MultiHeadSelfAttention))
        assert attention.compute_dtype == policy.removeprefix("mixed_")
        inputs = {"x": X, "padding_mask": PADDING, "context": X[:, :5]}
        loss, moved, scale0, scale1 = mixed_precision_step(model, inputs)
        assert np.isfinite(loss)
        assert moved == 1.0 or (policy == "mixed_float16" and scale1 == scale0 / 2)
        assert np.isfinite(np_out(model(inputs))).all()
    finally:
        keras.config.set_dtype_policy("float32")


def test_torch_attention_skips_keras_flash_probe():
    # Under PyTorch, Keras' choice of attention kernel builds torch's SDPAParams, which
    # torch.compile cannot trace (a graph break in every layer). The layer must leave
    # the choice to torch's own dispatcher: building SDPAParams fails the run here, and
    # the outputs still match the NumPy reference with and without masks.
    out = run_python(
        """
        import json

        import keras
        import numpy as np
        import torch.backends.cuda

        def refuse(*args, **kwargs):
            raise AssertionError("Keras' flash-attention probe built SDPAParams")

        torch.backends.cuda.SDPAParams = refuse
        from keras_archs.layers import MultiHeadSelfAttention

        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        padding = np.array([[1] * 5, [1] * 3 + [0] * 2], "int32")
        layer = MultiHeadSelfAttention(2)
        causal = layer(x, use_causal_mask=True)  # the native causal kernel, no mask
        padded = layer(x, padding_mask=padding, use_causal_mask=True)
        print(json.dumps({
            "causal": keras.ops.convert_to_numpy(causal).tolist(),
            "padded": keras.ops.convert_to_numpy(padded).tolist(),
            "weights": [w.tolist() for w in layer.get_weights()],
        }))
        """,
        backend="torch",
    )
    got = json.loads(out.strip().splitlines()[-1])
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    padding = np.array([[1] * 5, [1] * 3 + [0] * 2], "int32")
    layer = MultiHeadSelfAttention(2)
    layer.build(x.shape)
    layer.set_weights([np.asarray(w, "float32") for w in got["weights"]])
    tril = np.tril(np.ones((5, 5), bool))[None]
    for key, mask in (("causal", tril), ("padded", tril & padding[:, None, :].astype(bool))):
        ref = reference_attention(layer, x, x, np.broadcast_to(mask, (2, 5, 5)))
        assert np.abs(np.asarray(got[key]) - ref).max() < 1e-5, key


def test_symbolic_shapes_with_cache():
    layer = MultiHeadSelfAttention(H)
    x = keras.Input((1, D))
    cache = keras.Input((2, 9, H, D // H))
    y, new_cache = layer(x, cache=cache, cache_update_index=4)
    assert tuple(y.shape) == (None, 1, D) and tuple(new_cache.shape) == (None, 2, 9, H, D // H)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadSelfAttention(0)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadSelfAttention(2, dropout=1.5)
    with pytest.raises(ValueError, match="key_dim"):
        MultiHeadCrossAttention(2, key_dim=-4)
    with pytest.raises(ValueError, match="num_heads=3"):
        MultiHeadSelfAttention(3)(X)  # 3 does not divide 8
    with pytest.raises(ValueError, match="cache_update_index"):
        MultiHeadSelfAttention(2)(X, cache_update_index=1)


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize` method")
def test_int8_attention_reloads_and_decodes_with_its_cache(tmp_path):
    """A quantized self-attention layer keeps its EinsumDense sublayers int8 through a
    `.keras` reload, and its cached decoding still follows its full run."""
    x = keras.Input((T, D))
    layer = MultiHeadSelfAttention(H, name="attention_layer")
    model = keras.Model(x, layer(x, use_causal_mask=True))
    randomize_weights(layer)
    model.quantize("int8")
    full = np_out(model(X))
    model.save(tmp_path / "attention.keras")
    reloaded = keras.saving.load_model(tmp_path / "attention.keras", safe_mode=True)
    kernels = {w.path for w in reloaded.weights if w.dtype == "int8"}
    assert kernels == {
        f"attention_layer/attention/{n}/kernel"
        for n in ("query", "key", "value", "attention_output")
    }
    np.testing.assert_allclose(np_out(reloaded(X)), full, atol=1e-6)
    again = reloaded.get_layer("attention_layer")
    cache = again.init_cache(B, T)
    steps = []
    for t in range(T):
        out, cache = again(X[:, t : t + 1], use_causal_mask=True, cache=cache, cache_update_index=t)
        steps.append(np_out(out))
    assert np.abs(np.concatenate(steps, axis=1) - full).max() < 1e-4

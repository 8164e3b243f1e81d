"""One tiny functional model per custom layer, for the serialization and backend checks.

Every model wraps one or two layers with non-trivial settings (masks, caches, tuple
outputs); inputs are deterministic so another process can rebuild them.
"""

import keras
import numpy as np

from keras_archs import layers as L  # noqa: N812


def _mask(batch, length, lengths):
    m = np.zeros((batch, length), "int32")
    for i, n in enumerate(lengths):
        m[i, :n] = 1
    return m


def _image(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _seq_model(layer_fn, shape):
    inp = keras.Input(shape[1:], name="x")
    return keras.Model(inp, layer_fn(inp)), _image(shape)


def adaptive_pool():
    return _seq_model(L.AdaptiveAveragePooling2D((3, 2)), (2, 7, 5, 3))


def factorized_conv():
    return _seq_model(
        L.FactorizedConv2D(4, 3, intermediate_filters=3, bn_scale=False), (2, 8, 8, 3)
    )


def inception_module():
    return _seq_model(L.InceptionModule(2, 2, 3, 2, 3, 2), (2, 8, 8, 3))


def separable_convs():
    def stack(x):
        x = L.DepthwiseSeparableConv2D(5, strides=2, depth_multiplier=2)(x)
        return L.DepthwiseSeparableConv2D(4, order="xception")(x)

    return _seq_model(stack, (2, 8, 8, 3))


def dense_and_transition():
    def stack(x):
        return L.TransitionBlock(0.5)(L.DenseBlock(2, growth_rate=4)(x))

    return _seq_model(stack, (2, 8, 8, 6))


def causal_convs():
    def stack(x):
        x = L.CausalConv1D(4, 3, dilation_rate=2)(x)
        return L.CausalConv1D(3, 2, weight_norm=True)(x)

    return _seq_model(stack, (2, 12, 3))


def temporal_blocks():
    def stack(x):
        x = L.TemporalBlock(4, 3, 1, normalization="weight_norm", dropout_rate=0.1)(x)
        x = L.TemporalBlock(4, 3, 2, normalization="batch_norm")(x)
        return list(L.TemporalBlock(5, 2, 4, normalization="layer_norm", return_skip=True)(x))

    return _seq_model(stack, (2, 12, 3))


def tcn_layers():
    """keras-tcn's layer: non-causal, reversed, normalized; then wrapped in Bidirectional."""

    def stack(x):
        x = L.TCN(
            4,
            2,
            dilations=[1, 2],
            padding="same",
            return_sequences=True,
            use_layer_norm=True,
            go_backwards=True,
            activation="tanh",
            activate_residual=True,
            dropout_rate=0.1,
        )(x)
        return keras.layers.Bidirectional(L.TCN(3, 3, dilations=[1, 2], use_weight_norm=True))(x)

    return _seq_model(stack, (2, 12, 3))


def self_attention():
    x = keras.Input((6, 8), name="x")
    pm = keras.Input((6,), dtype="int32", name="padding_mask")
    y = L.MultiHeadSelfAttention(2)(x, padding_mask=pm, use_causal_mask=True)
    return keras.Model([x, pm], y), {"x": _image((3, 6, 8)), "padding_mask": _mask(3, 6, [6, 4, 2])}


def cross_attention():
    x = keras.Input((5, 8), name="x")
    ctx = keras.Input((7, 6), name="context")
    pm = keras.Input((7,), dtype="int32", name="padding_mask")
    y = L.MultiHeadCrossAttention(2, key_dim=3)(x, ctx, padding_mask=pm)
    inputs = {
        "x": _image((3, 5, 8)),
        "context": _image((3, 7, 6), 1),
        "padding_mask": _mask(3, 7, [7, 3, 5]),
    }
    return keras.Model([x, ctx, pm], y), inputs


def encoder_block():
    x = keras.Input((6, 8), name="x")
    pm = keras.Input((6,), dtype="int32", name="padding_mask")
    y = L.TransformerEncoderBlock(2, 16, dropout=0.1, activation="gelu")(x, padding_mask=pm)
    y = L.TransformerEncoderBlock(2, 16, norm_first=True)(y, padding_mask=pm)
    return keras.Model([x, pm], y), {"x": _image((3, 6, 8)), "padding_mask": _mask(3, 6, [6, 4, 2])}


def decoder_block():
    x = keras.Input((5, 8), name="x")
    ctx = keras.Input((6, 8), name="context")
    pm = keras.Input((6,), dtype="int32", name="context_padding_mask")
    y = L.TransformerDecoderBlock(2, 16, use_cross_attention=True)(x, ctx, context_padding_mask=pm)
    y = L.TransformerDecoderBlock(2, 16, norm_first=True, activation="gelu_approximate")(y)
    inputs = {
        "x": _image((3, 5, 8)),
        "context": _image((3, 6, 8), 1),
        "context_padding_mask": _mask(3, 6, [6, 4, 2]),
    }
    return keras.Model([x, ctx, pm], y), inputs


def decoder_cached_step():
    x = keras.Input((1, 8), name="x")
    cache = keras.Input((2, 6, 2, 4), name="cache")
    y, new_cache = L.TransformerDecoderBlock(2, 16, norm_first=True)(
        x, cache=cache, cache_update_index=2
    )
    inputs = {"x": _image((2, 1, 8)), "cache": _image((2, 2, 6, 2, 4), 1)}
    return keras.Model([x, cache], [y, new_cache]), inputs


def embeddings():
    ids = keras.Input((6,), dtype="int32", name="x")
    emb = L.TokenAndPositionEmbedding(20, 8, 8)
    h = emb(ids)
    h = h + L.SinusoidalPositionEncoding()(h)
    h = L.DropPath(0.2, seed=1)(h)
    logits = emb(h, reverse=True)
    sin_emb = L.TokenAndPositionEmbedding(
        20, 8, 4, position_encoding="sinusoidal", scale_embeddings=True
    )(ids)
    inputs = np.random.default_rng(0).integers(0, 20, (2, 6)).astype("int32")
    return keras.Model(ids, [logits, sin_emb]), inputs


CASES = {
    "adaptive_pool": adaptive_pool,
    "factorized_conv": factorized_conv,
    "inception_module": inception_module,
    "separable_convs": separable_convs,
    "dense_and_transition": dense_and_transition,
    "causal_convs": causal_convs,
    "temporal_blocks": temporal_blocks,
    "tcn_layers": tcn_layers,
    "self_attention": self_attention,
    "cross_attention": cross_attention,
    "encoder_block": encoder_block,
    "decoder_block": decoder_block,
    "decoder_cached_step": decoder_cached_step,
    "embeddings": embeddings,
}

# Cases whose outputs are not a training target (a cache is state, not a prediction).
NO_TRAIN = {"decoder_cached_step"}


def build(name, seed=0):
    """Builds case `name` with random weights (BN statistics too); returns (model, inputs)."""
    from tests.layers.helpers import randomize_weights

    keras.utils.set_random_seed(seed)
    model, inputs = CASES[name]()
    randomize_weights(model, seed)
    return model, inputs

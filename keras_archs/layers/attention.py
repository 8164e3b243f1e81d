"""Multi-head self- and cross-attention with explicit padding and causal masks."""

import keras
from keras import ops

from keras_archs.layers._policy import (
    config_with_sublayer_policies,
    split_dtype,
    sublayer_dtype,
)
from keras_archs.layers._utils import serialize_initializer
from keras_archs.validation import (
    check_choice,
    check_initializer,
    check_positive_int,
    check_positive_int_or_none,
    check_rate,
)


def causal_mask(query_length, key_length, cache_index=0):
    """`(1, T, S)` bool mask: query i (at position i + cache_index) sees keys j <= that."""
    i = ops.expand_dims(ops.arange(query_length, dtype="int32") + cache_index, axis=1)
    j = ops.arange(key_length, dtype="int32")
    return ops.expand_dims(ops.greater_equal(i, j), axis=0)


def combine_masks(
    batch_size, query_length, key_length, padding_mask=None, attention_mask=None, causal=None
):
    """ANDs a key padding mask `(B, S)`, an attention mask `(B, T, S)` and a causal mask.

    Everything is kept boolean, so the masks never meet a float16/bfloat16 large
    negative constant until Keras' own softmax (which picks one safe for its dtype).
    Returns a `(B, T, S)` bool tensor, or None when no mask is given. The padding
    mask is broadcast over queries (axis 1), never over heads, so any batch size
    and head count combine correctly.
    """
    masks = []
    if padding_mask is not None:
        masks.append(ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1))
    if attention_mask is not None:
        masks.append(ops.cast(attention_mask, "bool"))
    if causal is not None:
        masks.append(causal)
    if not masks:
        return None
    mask = masks[0]
    for m in masks[1:]:
        mask = ops.logical_and(mask, m)
    return ops.broadcast_to(mask, (batch_size, query_length, key_length))


def _skip_torch_flash_probe(attention):
    """Lets PyTorch's own dispatcher choose the attention kernel of a Keras
    MultiHeadAttention whose `flash_attention` is unset (None, here and globally).

    Left unset, Keras decides per call under PyTorch by building torch's
    `SDPAParams`, a C++ object that torch.compile (2.11) cannot trace: the compiled
    graph breaks inside every attention layer, and the frames resumed after each
    break are compiled again per layer until dynamo's recompile limit leaves the
    deeper layers eager. False skips the probe and calls
    `scaled_dot_product_attention` without restricting its kernels, so PyTorch still
    picks the flash kernel wherever the inputs allow it. Keras' constructor reads a
    False argument as unset (it ORs it with the global setting), so the choice is
    written to the attribute its call reads.
    """
    if keras.backend.backend() == "torch" and attention._flash_attention is None:
        attention._flash_attention = False


class _AttentionBase(keras.layers.Layer):
    """Shared arguments and the wrapped `keras.layers.MultiHeadAttention` (`attention`)."""

    def __init__(
        self,
        num_heads,
        key_dim=None,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        flash_attention=None,
        seed=None,
        **kwargs,
    ):
        # A config's dtype may also record quantized sublayers (keras_archs.layers._policy).
        dtype, sublayer_policies = split_dtype(kwargs.pop("dtype", None))
        super().__init__(dtype=dtype, **kwargs)
        self._sublayer_policies = sublayer_policies
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = check_positive_int_or_none("key_dim", key_dim)
        self.value_dim = check_positive_int_or_none("value_dim", value_dim)
        self.dropout = check_rate("dropout", dropout)
        self.use_bias = bool(use_bias)
        self.output_dim = check_positive_int_or_none("output_dim", output_dim)
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = check_initializer("bias_initializer", bias_initializer)
        self.flash_attention = check_choice("flash_attention", flash_attention, (None, True, False))
        self.seed = seed
        self.supports_masking = True

    def _head_dim(self, hidden_dim):
        if self.key_dim is not None:
            return self.key_dim
        if hidden_dim is None or hidden_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide the model dimension {hidden_dim} "
                "when key_dim is not given."
            )
        return hidden_dim // self.num_heads

    def _make_attention(self, query_shape, value_shape):
        key_dim = self._head_dim(query_shape[-1])
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            value_dim=self.value_dim,
            dropout=self.dropout,
            use_bias=self.use_bias,
            output_shape=self.output_dim,
            kernel_initializer=keras.initializers.get(self.kernel_initializer),
            bias_initializer=keras.initializers.get(self.bias_initializer),
            flash_attention=self.flash_attention,
            seed=self.seed,
            name="attention",
            # MultiHeadAttention hands its dtype on to its query/key/value/output layers.
            dtype=sublayer_dtype(self, "attention", absolute=True),
        )
        _skip_torch_flash_probe(self.attention)
        self.attention.build(query_shape, value_shape)

    def _output_shape(self, query_shape):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return mask  # output step t belongs to query step t

    def get_config(self):
        config = {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "bias_initializer": serialize_initializer(self.bias_initializer),
            "flash_attention": self.flash_attention,
            "seed": self.seed,
        }
        return config_with_sublayer_policies(self, config)


@keras.saving.register_keras_serializable(package="keras_archs")
class MultiHeadSelfAttention(_AttentionBase):
    """Multi-head scaled dot-product self-attention with padding/causal masks and a KV cache.

    Vaswani et al., "Attention Is All You Need" (2017), section 3.2. A wrapper
    over `keras.layers.MultiHeadAttention` (sublayer `attention`, with the
    `query`, `key`, `value` and `attention_output` EinsumDense weights that
    keras-hub's attention layers also have), which computes attention with
    `keras.ops.dot_product_attention` (flash attention where the backend and
    device offer it) whenever attention dropout is off. `key_dim` defaults to
    `hidden_dim // num_heads`.

    Call arguments:
        inputs: `(batch, T, hidden_dim)`.
        padding_mask: `(batch, S)` bool/int, 1 for real tokens; masks keys (S == T
            without a cache, S == max_length with one).
        use_causal_mask: query step t sees only keys at steps <= t (plus the cache
            offset). Without any other mask this uses the backend's native causal
            kernel.
        attention_mask: optional `(batch, T, S)` mask, ANDed with the others.
        cache: optional float tensor `(batch, 2, max_length, num_heads, key_dim)`
            (keys at index 0, values at 1; as keras-hub's CachedMultiHeadAttention);
            `init_cache()` makes an empty one. With a cache the call returns
            `(output, new_cache)`.
        cache_update_index: int (or int tensor) position of `inputs[:, 0]`; the new
            keys/values are written there and the causal mask is offset by it.
            When None with a cache, the cache is used read-only.
    """

    def build(self, inputs_shape):
        self._make_attention(inputs_shape, inputs_shape)

    def init_cache(self, batch_size, max_length, dtype=None):
        """An all-zero key/value cache `(batch, 2, max_length, num_heads, key_dim)`."""
        if self.attention._value_dim != self.attention._key_dim:
            raise ValueError("The key/value cache needs value_dim == key_dim.")
        shape = (batch_size, 2, max_length, self.num_heads, self.attention._key_dim)
        return ops.zeros(shape, dtype=dtype or self.compute_dtype)

    def call(
        self,
        inputs,
        padding_mask=None,
        use_causal_mask=False,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        if cache is None:
            if cache_update_index is not None:
                raise ValueError("cache_update_index is set but cache is None.")
            if use_causal_mask and padding_mask is None and attention_mask is None:
                return self.attention(inputs, inputs, use_causal_mask=True, training=training)
            shape = ops.shape(inputs)
            mask = combine_masks(
                shape[0],
                shape[1],
                shape[1],
                padding_mask,
                attention_mask,
                causal_mask(shape[1], shape[1]) if use_causal_mask else None,
            )
            return self.attention(inputs, inputs, attention_mask=mask, training=training)
        return self._cached_call(
            inputs,
            padding_mask,
            use_causal_mask,
            attention_mask,
            cache,
            cache_update_index,
            training,
        )

    def _cached_call(
        self, inputs, padding_mask, use_causal_mask, attention_mask, cache, index, training
    ):
        mha = self.attention
        query = mha._query_dense(inputs)
        key, value = cache[:, 0], cache[:, 1]
        if index is not None:
            start = [0, index, 0, 0]
            key = ops.slice_update(key, start, ops.cast(mha._key_dense(inputs), key.dtype))
            value = ops.slice_update(value, start, ops.cast(mha._value_dense(inputs), value.dtype))
            cache = ops.stack((key, value), axis=1)
        q_len, k_len = ops.shape(inputs)[1], ops.shape(key)[1]
        causal = causal_mask(q_len, k_len, 0 if index is None else index)
        mask = combine_masks(
            ops.shape(inputs)[0],
            q_len,
            k_len,
            padding_mask,
            attention_mask,
            causal if use_causal_mask else None,
        )
        out, _ = mha._compute_attention(
            ops.cast(query, self.compute_dtype),
            ops.cast(key, self.compute_dtype),
            ops.cast(value, self.compute_dtype),
            attention_mask=mask,
            training=training,
        )
        return mha._output_dense(out), cache

    def compute_output_shape(self, inputs_shape, cache_shape=None):
        out = self._output_shape(inputs_shape)
        return out if cache_shape is None else (out, cache_shape)


@keras.saving.register_keras_serializable(package="keras_archs")
class MultiHeadCrossAttention(_AttentionBase):
    """Multi-head attention from a query sequence to a context (encoder) sequence.

    Vaswani et al., "Attention Is All You Need" (2017), the decoder's
    encoder-decoder attention. A wrapper over `keras.layers.MultiHeadAttention`
    (sublayer `attention`); `key_dim` defaults to `query_dim // num_heads`.

    Call arguments:
        inputs: queries `(batch, T, dim)`.
        context: keys and values `(batch, S, context_dim)`.
        padding_mask: `(batch, S)` mask of the context, 1 for real tokens.
        attention_mask: optional `(batch, T, S)` mask, ANDed with it.
    """

    def build(self, inputs_shape, context_shape):
        self._make_attention(inputs_shape, context_shape)

    def call(self, inputs, context, padding_mask=None, attention_mask=None, training=None):
        mask = combine_masks(
            ops.shape(inputs)[0],
            ops.shape(inputs)[1],
            ops.shape(context)[1],
            padding_mask,
            attention_mask,
        )
        return self.attention(inputs, context, attention_mask=mask, training=training)

    def compute_output_shape(self, inputs_shape, context_shape):
        return self._output_shape(inputs_shape)

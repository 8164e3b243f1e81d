"""Transformer encoder and decoder blocks, post-LN (2017, BERT) or pre-LN (GPT-2)."""

import keras

from keras_archs.layers._policy import (
    config_with_sublayer_policies,
    split_dtype,
    sublayer_dtype,
)
from keras_archs.layers._utils import (
    get_activation,
    serialize_activation,
    serialize_initializer,
)
from keras_archs.layers.attention import MultiHeadCrossAttention, MultiHeadSelfAttention
from keras_archs.validation import (
    check_initializer,
    check_positive_float,
    check_positive_int,
    check_rate,
)


class _TransformerBlockBase(keras.layers.Layer):
    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        norm_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        flash_attention=None,
        **kwargs,
    ):
        # A config's dtype may also record quantized sublayers (keras_archs.layers._policy).
        dtype, sublayer_policies = split_dtype(kwargs.pop("dtype", None))
        super().__init__(dtype=dtype, **kwargs)
        self._sublayer_policies = sublayer_policies
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.dropout = check_rate("dropout", dropout)
        get_activation("activation", activation, allow_none=False)
        self.activation = activation
        self.layer_norm_epsilon = check_positive_float("layer_norm_epsilon", layer_norm_epsilon)
        self.norm_first = bool(norm_first)
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = check_initializer("bias_initializer", bias_initializer)
        self.flash_attention = flash_attention
        self.supports_masking = True

    def _check_hidden(self, hidden_dim):
        if hidden_dim is None or hidden_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide the model dimension; got {hidden_dim}."
            )

    def _init(self, name):
        """The arguments shared by the sublayers with weights: initializers, name, dtype."""
        return dict(
            kernel_initializer=keras.initializers.get(self.kernel_initializer),
            bias_initializer=keras.initializers.get(self.bias_initializer),
            name=name,
            dtype=sublayer_dtype(self, name),
        )

    def _layer_norm(self, name, shape):
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=name, dtype=sublayer_dtype(self, name)
        )
        layer.build(shape)
        return layer

    def _dropout(self, name):
        return keras.layers.Dropout(self.dropout, name=name, dtype=sublayer_dtype(self, name))

    def _build_feedforward(self, shape, with_norm_first):
        # keras-hub's encoder creates the feed-forward LayerNorm before the Dense layers and
        # its decoder after them; mirroring both keeps get_weights() orders identical.
        hidden_dim = shape[-1]
        if with_norm_first:
            self.feedforward_layer_norm = self._layer_norm("feedforward_layer_norm", shape)
        self.feedforward_intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=get_activation("activation", self.activation),
            **self._init("feedforward_intermediate_dense"),
        )
        self.feedforward_intermediate_dense.build(shape)
        self.feedforward_output_dense = keras.layers.Dense(
            hidden_dim, **self._init("feedforward_output_dense")
        )
        self.feedforward_output_dense.build((*shape[:-1], self.intermediate_dim))
        if not with_norm_first:
            self.feedforward_layer_norm = self._layer_norm("feedforward_layer_norm", shape)
        self.feedforward_dropout = self._dropout("feedforward_dropout")

    def _residual(self, x, norm, fn, dropout, training):
        """Post-LN: norm(x + drop(fn(x))); pre-LN: x + drop(fn(norm(x)))."""
        y = norm(x) if self.norm_first else x
        y = fn(y)
        extra = None
        if isinstance(y, tuple):
            y, extra = y
        y = x + dropout(y, training=training)
        if not self.norm_first:
            y = norm(y)
        return y, extra

    def _feedforward(self, x):
        return self.feedforward_output_dense(self.feedforward_intermediate_dense(x))

    def compute_mask(self, inputs, mask=None, **kwargs):
        return mask

    def get_config(self):
        config = {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": serialize_activation(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "norm_first": self.norm_first,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "bias_initializer": serialize_initializer(self.bias_initializer),
            "flash_attention": self.flash_attention,
        }
        return config_with_sublayer_policies(self, config)


@keras.saving.register_keras_serializable(package="keras_archs")
class TransformerEncoderBlock(_TransformerBlockBase):
    """One Transformer encoder layer: self-attention and a feed-forward network.

    Vaswani et al., "Attention Is All You Need" (2017), section 3.1. Each
    sub-layer has residual dropout and a LayerNormalization: after the residual
    addition (`norm_first=False`, post-LN, the paper and BERT) or before the
    sub-layer (`norm_first=True`, pre-LN, as GPT-2; Xiong et al. 2020). The
    feed-forward network is `Dense(intermediate_dim, activation)` then
    `Dense(hidden_dim)`; attention dropout equals `dropout`.

    Weights mirror keras-hub's `TransformerEncoder` one to one and in the same
    `get_weights()` order: `self_attention` (query, key, value,
    attention_output), `self_attention_layer_norm`, `feedforward_layer_norm`,
    `feedforward_intermediate_dense`, `feedforward_output_dense`.

    Call: `block(x, padding_mask=None, attention_mask=None, use_causal_mask=False)`,
    `padding_mask` of shape `(batch, seq)` with 1 for real tokens.
    """

    def build(self, inputs_shape):
        self._check_hidden(inputs_shape[-1])
        self.self_attention = MultiHeadSelfAttention(
            self.num_heads,
            dropout=self.dropout,
            flash_attention=self.flash_attention,
            **self._init("self_attention"),
        )
        self.self_attention.build(inputs_shape)
        self.self_attention_layer_norm = self._layer_norm("self_attention_layer_norm", inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        self._build_feedforward(inputs_shape, with_norm_first=True)

    def call(
        self, inputs, padding_mask=None, attention_mask=None, use_causal_mask=False, training=None
    ):
        def attend(x):
            return self.self_attention(
                x,
                padding_mask=padding_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                training=training,
            )

        x, _ = self._residual(
            inputs, self.self_attention_layer_norm, attend, self.self_attention_dropout, training
        )
        x, _ = self._residual(
            x, self.feedforward_layer_norm, self._feedforward, self.feedforward_dropout, training
        )
        return x

    def compute_output_shape(self, inputs_shape):
        return inputs_shape


@keras.saving.register_keras_serializable(package="keras_archs")
class TransformerDecoderBlock(_TransformerBlockBase):
    """One Transformer decoder layer: causal self-attention, cross-attention, feed-forward.

    Vaswani et al., "Attention Is All You Need" (2017), section 3.1; with
    `use_cross_attention=False` it is the decoder-only block of GPT/GPT-2
    (Radford et al. 2018, 2019; use `norm_first=True` and
    `activation="gelu_approximate"` for GPT-2). Post-LN or pre-LN as in
    `TransformerEncoderBlock`.

    Weights mirror keras-hub's `TransformerDecoder` one to one and in the same
    `get_weights()` order: `self_attention`, `self_attention_layer_norm`,
    [`cross_attention`, `cross_attention_layer_norm`],
    `feedforward_intermediate_dense`, `feedforward_output_dense`,
    `feedforward_layer_norm`.

    Call:
        `block(x, context=None, padding_mask=None, context_padding_mask=None,
        use_causal_mask=True, cache=None, cache_update_index=None)`.
        `context` (the encoder output) is required exactly when
        `use_cross_attention=True`. `padding_mask` `(batch, S)` masks the
        decoder's keys (S = max cache length when a cache is given);
        `context_padding_mask` `(batch, S_enc)` the encoder's. With `cache`
        (`(batch, 2, max_length, num_heads, head_dim)`, see
        `MultiHeadSelfAttention`) the call returns `(output, new_cache)`.
    """

    def __init__(self, num_heads, intermediate_dim, use_cross_attention=False, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.use_cross_attention = bool(use_cross_attention)

    def build(self, inputs_shape, context_shape=None):
        self._check_hidden(inputs_shape[-1])
        self.self_attention = MultiHeadSelfAttention(
            self.num_heads,
            dropout=self.dropout,
            flash_attention=self.flash_attention,
            **self._init("self_attention"),
        )
        self.self_attention.build(inputs_shape)
        self.self_attention_layer_norm = self._layer_norm("self_attention_layer_norm", inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        if self.use_cross_attention:
            if context_shape is None:  # e.g. rebuilt from a config: assume the model width
                context_shape = inputs_shape
            self.cross_attention = MultiHeadCrossAttention(
                self.num_heads,
                key_dim=inputs_shape[-1] // self.num_heads,
                value_dim=inputs_shape[-1] // self.num_heads,
                dropout=self.dropout,
                flash_attention=self.flash_attention,
                **self._init("cross_attention"),
            )
            self.cross_attention.build(inputs_shape, context_shape)
            self.cross_attention_layer_norm = self._layer_norm(
                "cross_attention_layer_norm", inputs_shape
            )
            self.cross_attention_dropout = self._dropout("cross_attention_dropout")
        self._build_feedforward(inputs_shape, with_norm_first=False)

    def init_cache(self, batch_size, max_length, dtype=None):
        """An empty self-attention cache `(batch, 2, max_length, num_heads, head_dim)`."""
        return self.self_attention.init_cache(batch_size, max_length, dtype)

    def call(
        self,
        inputs,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        use_causal_mask=True,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        if self.use_cross_attention != (context is not None):
            raise ValueError(
                f"TransformerDecoderBlock(use_cross_attention={self.use_cross_attention}) "
                f"needs context {'given' if self.use_cross_attention else 'omitted'}; "
                f"got context={'None' if context is None else 'a tensor'}."
            )

        def attend(x):
            return self.self_attention(
                x,
                padding_mask=padding_mask,
                use_causal_mask=use_causal_mask,
                attention_mask=attention_mask,
                cache=cache,
                cache_update_index=cache_update_index,
                training=training,
            )

        x, new_cache = self._residual(
            inputs, self.self_attention_layer_norm, attend, self.self_attention_dropout, training
        )
        if self.use_cross_attention:

            def cross(y):
                return self.cross_attention(
                    y, context, padding_mask=context_padding_mask, training=training
                )

            x, _ = self._residual(
                x, self.cross_attention_layer_norm, cross, self.cross_attention_dropout, training
            )
        x, _ = self._residual(
            x, self.feedforward_layer_norm, self._feedforward, self.feedforward_dropout, training
        )
        return x if cache is None else (x, new_cache)

    def compute_output_shape(self, inputs_shape, context_shape=None, cache_shape=None):
        return inputs_shape if cache_shape is None else (inputs_shape, cache_shape)

    def get_config(self):
        return {**super().get_config(), "use_cross_attention": self.use_cross_attention}

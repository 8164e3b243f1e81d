"""The Transformer: sequence transduction with attention only (Vaswani et al. 2017).

Reference:
- [Attention Is All You Need](https://arxiv.org/abs/1706.03762)

An encoder of self-attention blocks reads the source; a decoder of causal
self-attention, encoder-decoder (cross) attention and feed-forward blocks predicts
each next target token (teacher forcing). Token embeddings are scaled by
sqrt(d_model) and summed with fixed sinusoidal position encodings (section 3.5),
then dropped out; every sub-layer is wrapped as `LayerNorm(x + Dropout(f(x)))`
(post-LN). With `tie_embeddings` one matrix is the encoder embedding, the decoder
embedding and the pre-softmax projection (section 3.4, Press & Wolf 2017).

The base configuration (the builder's defaults: shared 37,000-token vocabulary,
d_model 512, 6 + 6 layers, 8 heads, d_ff 2,048, dropout 0.1) has 63,082,496
parameters. Training uses `transformer_loss(label_smoothing=0.1)` (section 5.4).

`greedy_decode(model, encoder_token_ids, max_length, ...)` generates with the
decoder's self-attention cache in one `keras.ops.while_loop`, run through
`predict_on_batch`, so it is compiled once per input shape.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_archs.layers import (
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from keras_archs.registry import register_model
from keras_archs.validation import (
    check_float,
    check_int,
    check_positive_int,
    check_positive_int_or_none,
    check_rate,
)


def _embedding(vocabulary_size, max_sequence_length, hidden_dim, name):
    """Token embeddings scaled by sqrt(d_model) plus fixed sinusoidal positions; called with
    `reverse=True` it is the tied pre-softmax projection."""
    return TokenAndPositionEmbedding(
        vocabulary_size,
        max_sequence_length,
        hidden_dim,
        position_encoding="sinusoidal",
        scale_embeddings=True,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
        name=name,
    )


def _encoder(x, mask, num_layers, block_args):
    for i in range(num_layers):
        x = TransformerEncoderBlock(**block_args, name=f"encoder_layer_{i}")(x, padding_mask=mask)
    return x


def _decoder(y, mask, context, context_mask, num_layers, block_args):
    for i in range(num_layers):
        y = TransformerDecoderBlock(
            **block_args, use_cross_attention=True, name=f"decoder_layer_{i}"
        )(y, context=context, padding_mask=mask, context_padding_mask=context_mask)
    return y


def _transformer(
    *,
    vocabulary_size,
    num_layers,
    num_heads,
    hidden_dim,
    intermediate_dim,
    dropout,
    max_sequence_length,
    num_decoder_layers,
    tie_embeddings,
    activation,
    layer_norm_epsilon,
    encoder_sequence_length,
    decoder_sequence_length,
    name,
):
    """The one builder: checks the arguments, then embeddings, encoder, decoder, logits."""
    for argument, value in (
        ("vocabulary_size", vocabulary_size),
        ("num_layers", num_layers),
        ("num_heads", num_heads),
        ("hidden_dim", hidden_dim),
        ("intermediate_dim", intermediate_dim),
        ("max_sequence_length", max_sequence_length),
    ):
        check_positive_int(argument, value)
    for argument, value in (
        ("num_decoder_layers", num_decoder_layers),
        ("encoder_sequence_length", encoder_sequence_length),
        ("decoder_sequence_length", decoder_sequence_length),
    ):
        check_positive_int_or_none(argument, value)
    check_rate("dropout", dropout)
    if hidden_dim % num_heads:
        raise ValueError(
            f"num_heads must divide hidden_dim; got num_heads={num_heads} and "
            f"hidden_dim={hidden_dim}."
        )
    for argument, value in (
        ("encoder_sequence_length", encoder_sequence_length),
        ("decoder_sequence_length", decoder_sequence_length),
    ):
        if value is not None and value > max_sequence_length:
            raise ValueError(
                f"{argument}={value} exceeds max_sequence_length={max_sequence_length}."
            )
    block_args = dict(
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        activation=activation,
        layer_norm_epsilon=layer_norm_epsilon,
        norm_first=False,
    )
    enc_ids = keras.Input((encoder_sequence_length,), dtype="int32", name="encoder_token_ids")
    enc_mask = keras.Input((encoder_sequence_length,), dtype="int32", name="encoder_padding_mask")
    dec_ids = keras.Input((decoder_sequence_length,), dtype="int32", name="decoder_token_ids")
    dec_mask = keras.Input((decoder_sequence_length,), dtype="int32", name="decoder_padding_mask")

    sizes = (vocabulary_size, max_sequence_length, hidden_dim)
    if tie_embeddings:
        enc_embedding = dec_embedding = _embedding(*sizes, "shared_embedding")
    else:
        enc_embedding = _embedding(*sizes, "encoder_embedding")
        dec_embedding = _embedding(*sizes, "decoder_embedding")
    x = keras.layers.Dropout(dropout, name="encoder_embedding_dropout")(enc_embedding(enc_ids))
    x = _encoder(x, enc_mask, num_layers, block_args)
    y = keras.layers.Dropout(dropout, name="decoder_embedding_dropout")(dec_embedding(dec_ids))
    y = _decoder(y, dec_mask, x, enc_mask, num_decoder_layers or num_layers, block_args)
    if tie_embeddings:
        logits = dec_embedding(y, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary_size, use_bias=False, name="output_projection")(y)
    # float32 logits keep the softmax of mixed-precision models accurate.
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    inputs = {
        "encoder_token_ids": enc_ids,
        "encoder_padding_mask": enc_mask,
        "decoder_token_ids": dec_ids,
        "decoder_padding_mask": dec_mask,
    }
    return keras.Model(inputs, logits, name=name)


def _decode(model, encoder_inputs, max_length):
    """Greedy answers for `keras-archs train`'s exact-match score (`greedy_decode`)."""
    return greedy_decode(model, encoder_inputs, max_length)


@register_model(
    "transformer",
    family="transformer",
    paper="Vaswani et al., Attention Is All You Need, NeurIPS",
    year=2017,
    default_input_shape=(512,),
    min_input_size=1,
    task="seq2seq",
    reference_params=63_082_496,
    test_kwargs={
        "vocabulary_size": 16,
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 32,
        "intermediate_dim": 64,
        "max_sequence_length": 16,
        "encoder_sequence_length": 16,
        "decoder_sequence_length": 16,
    },
    # `keras-archs train transformer`: 3-digit addition offline, a small post-LN model
    # (2+2 layers of width 64), the paper's Adam (beta_2 0.98, epsilon 1e-9) with warm-up
    # and label smoothing 0.1, annealed over the run; its exact match on the held-out
    # pairs is scored after every epoch.
    train_defaults={
        "trainer": "task",
        "data": "addition",
        "data_kwargs": {"inputs": "transformer"},
        "model_kwargs": {
            "num_layers": 2,
            "num_heads": 4,
            "hidden_dim": 64,
            "intermediate_dim": 256,
            "dropout": 0.0,
        },
        "decode": _decode,
        "learning_rate": 2e-3,
        "schedule": "cosine",
        "warmup_epochs": 0.75,
        "batch_size": 128,
        "epochs": 5,
    },
)
def Transformer(
    vocabulary_size=37000,
    num_layers=6,
    num_heads=8,
    hidden_dim=512,
    intermediate_dim=2048,
    dropout=0.1,
    max_sequence_length=512,
    num_decoder_layers=None,
    tie_embeddings=True,
    activation="relu",
    layer_norm_epsilon=1e-6,
    encoder_sequence_length=None,
    decoder_sequence_length=None,
    name="transformer",
):
    """Transformer: attention alone, no recurrence, maps a source sequence to a target.

    Post-LN encoder and decoder stacks over scaled token embeddings plus
    sinusoidal positions, one embedding matrix shared by encoder, decoder and
    pre-softmax projection (Vaswani et al., 2017).

    Args:
        vocabulary_size: size of the shared source/target vocabulary (default 37,000).
        num_layers: encoder layers (and decoder layers unless `num_decoder_layers`).
        num_heads: attention heads; must divide `hidden_dim`.
        hidden_dim: d_model. intermediate_dim: d_ff. dropout: P_drop (residual,
            embedding and attention dropout).
        max_sequence_length: longest source or target sequence accepted.
        num_decoder_layers: decoder layers (default `num_layers`).
        tie_embeddings: one matrix for both embeddings and the output projection;
            otherwise separate encoder/decoder embeddings and a bias-free output Dense.
        activation: of the feed-forward networks ("relu" in the paper).
        layer_norm_epsilon: epsilon of every LayerNormalization.
        encoder_sequence_length, decoder_sequence_length: fixed input lengths, or None.
        name: model name.

    Returns:
        A `keras.Model` from `{"encoder_token_ids", "encoder_padding_mask",
        "decoder_token_ids", "decoder_padding_mask"}` (ints; masks 1 for real tokens)
        to float32 next-token logits `(batch, decoder_length, vocabulary_size)`.
    """
    return _transformer(**locals())


@keras.saving.register_keras_serializable(package="keras_archs")
class LabelSmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy of integer targets and logits with label smoothing (Szegedy et al.
    2016), as the Transformer is trained (Vaswani et al. 2017, section 5.4, eps_ls=0.1):
    the target distribution puts `1 - label_smoothing` on the true token and spreads
    `label_smoothing` uniformly over the vocabulary.
    """

    def __init__(self, label_smoothing=0.1, name="label_smoothed_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = check_rate("label_smoothing", label_smoothing)

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        y_true = ops.expand_dims(ops.cast(y_true, "int32"), -1)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, y_true, axis=-1), -1)
        uniform = -ops.mean(log_probs, axis=-1)
        return (1.0 - self.label_smoothing) * nll + self.label_smoothing * uniform

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def transformer_loss(label_smoothing=0.1):
    """The paper's training loss: label-smoothed cross-entropy on next-token logits."""
    return LabelSmoothedCrossEntropy(label_smoothing)


def _layers(model, prefix):
    names = {layer.name for layer in model.layers}
    found, i = [], 0
    while f"{prefix}_{i}" in names:
        found.append(model.get_layer(f"{prefix}_{i}"))
        i += 1
    return found


class _GreedyDecoder(keras.Model):
    """Greedy decoding with a trained Transformer's layers (weights shared) and the
    decoder self-attention cache."""

    def __init__(self, model, max_length, start_token, end_token, pad_token):
        super().__init__(name=f"{model.name}_greedy_decoder")
        names = {layer.name for layer in model.layers}
        tied = "shared_embedding" in names
        self.enc_embedding = model.get_layer("shared_embedding" if tied else "encoder_embedding")
        self.dec_embedding = model.get_layer("shared_embedding" if tied else "decoder_embedding")
        self.projection = None if tied else model.get_layer("output_projection")
        self.encoder_layers = _layers(model, "encoder_layer")
        self.decoder_layers = _layers(model, "decoder_layer")
        self.max_length = max_length
        self.start_token, self.end_token, self.pad_token = start_token, end_token, pad_token
        self.traces = 0  # incremented each time `call` is traced (or run eagerly)

    def _logits(self, y):
        if self.projection is None:
            return self.dec_embedding(y, reverse=True)
        return self.projection(y)

    def call(self, inputs):
        self.traces += 1
        src, src_mask = inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
        context = self.enc_embedding(src)
        for layer in self.encoder_layers:
            context = layer(context, padding_mask=src_mask)
        batch = ops.shape(src)[0]
        caches = [
            layer.init_cache(batch, self.max_length, dtype=self.compute_dtype)
            for layer in self.decoder_layers
        ]
        steps = ops.arange(self.max_length, dtype="int32")[None, :]
        tokens = ops.full((batch, self.max_length), self.pad_token, dtype="int32")
        previous = ops.full((batch, 1), self.start_token, dtype="int32")
        finished = ops.zeros((batch,), dtype="bool")

        def cond(i, previous, caches, tokens, finished):
            return ops.logical_and(i < self.max_length, ops.logical_not(ops.all(finished)))

        def body(i, previous, caches, tokens, finished):
            y = self.dec_embedding(previous, start_index=i)
            new_caches = []
            for layer, cache in zip(self.decoder_layers, caches):
                y, cache = layer(
                    y,
                    context=context,
                    context_padding_mask=src_mask,
                    cache=cache,
                    cache_update_index=i,
                )
                new_caches.append(cache)
            token = ops.cast(ops.argmax(self._logits(y)[:, 0, :], axis=-1), "int32")
            token = ops.where(finished, self.pad_token, token)
            tokens = ops.where(steps == i, token[:, None], tokens)
            finished = ops.logical_or(finished, token == self.end_token)
            return i + 1, token[:, None], new_caches, tokens, finished

        start = ops.convert_to_tensor(0, "int32")
        return ops.while_loop(cond, body, (start, previous, caches, tokens, finished))[3]


class _BeamDecoder(_GreedyDecoder):
    """Beam search (Vaswani et al. 2017, section 6.1; the length penalty of Wu et al. 2016)
    with the decoder self-attention caches reordered by beam at every step."""

    def __init__(self, model, max_length, start_token, end_token, pad_token, beam_width, alpha):
        super().__init__(model, max_length, start_token, end_token, pad_token)
        self.beam_width, self.alpha = beam_width, alpha

    def call(self, inputs):
        self.traces += 1
        k = self.beam_width
        src, src_mask = inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
        context = self.enc_embedding(src)
        for layer in self.encoder_layers:
            context = layer(context, padding_mask=src_mask)
        batch = ops.shape(src)[0]
        context = ops.repeat(context, k, axis=0)  # (batch * k, S, D): beams of a row adjacent
        src_mask = ops.repeat(src_mask, k, axis=0)
        caches = [
            layer.init_cache(batch * k, self.max_length, dtype=self.compute_dtype)
            for layer in self.decoder_layers
        ]
        steps = ops.arange(self.max_length, dtype="int32")[None, :]
        tokens = ops.full((batch * k, self.max_length), self.pad_token, dtype="int32")
        previous = ops.full((batch * k, 1), self.start_token, dtype="int32")
        finished = ops.zeros((batch * k,), dtype="bool")
        # Only the first beam is live at the start, so the first step does not repeat it.
        scores = ops.where(ops.arange(k)[None, :] == 0, 0.0, -1e9) * ops.ones((batch, 1))
        lengths = ops.zeros((batch * k,), "float32")

        def cond(i, previous, caches, tokens, finished, scores, lengths):
            return ops.logical_and(i < self.max_length, ops.logical_not(ops.all(finished)))

        def body(i, previous, caches, tokens, finished, scores, lengths):
            y = self.dec_embedding(previous, start_index=i)
            new_caches = []
            for layer, cache in zip(self.decoder_layers, caches):
                y, cache = layer(
                    y,
                    context=context,
                    context_padding_mask=src_mask,
                    cache=cache,
                    cache_update_index=i,
                )
                new_caches.append(cache)
            log_probs = ops.log_softmax(ops.cast(self._logits(y)[:, 0, :], "float32"), axis=-1)
            vocab = log_probs.shape[-1]
            # A finished beam extends only with the pad token, at no cost.
            pad_only = ops.where(ops.arange(vocab) == self.pad_token, 0.0, -1e9)[None, :]
            log_probs = ops.where(finished[:, None], pad_only, log_probs)
            total = ops.reshape(scores, (-1, 1)) + log_probs
            scores, index = ops.top_k(ops.reshape(total, (batch, k * vocab)), k=k)
            beam = index // vocab
            token = ops.reshape(ops.cast(index % vocab, "int32"), (-1,))
            source = ops.reshape(ops.arange(batch)[:, None] * k + beam, (-1,))
            new_caches = [ops.take(c, source, axis=0) for c in new_caches]
            tokens = ops.take(tokens, source, axis=0)
            was_finished = ops.take(finished, source, axis=0)
            lengths = ops.take(lengths, source, axis=0) + ops.cast(
                ops.logical_not(was_finished), "float32"
            )
            tokens = ops.where(steps == i, token[:, None], tokens)
            finished = ops.logical_or(was_finished, token == self.end_token)
            return i + 1, token[:, None], new_caches, tokens, finished, scores, lengths

        start = ops.convert_to_tensor(0, "int32")
        loop = ops.while_loop(
            cond, body, (start, previous, caches, tokens, finished, scores, lengths)
        )
        tokens, scores, lengths = loop[3], loop[5], loop[6]
        penalty = ops.power((5.0 + ops.reshape(lengths, (batch, k))) / 6.0, self.alpha)
        best = ops.argmax(scores / penalty, axis=-1)
        return ops.take(tokens, ops.arange(batch) * k + ops.cast(best, "int32"), axis=0)


def greedy_decode(
    model,
    encoder_token_ids,
    max_length,
    encoder_padding_mask=None,
    start_token=1,
    end_token=2,
    pad_token=0,
    beam_width=1,
    length_penalty=0.0,
):
    """Generates target ids greedily (or by beam search) until every sequence has ended.

    Args:
        model: a model built by `Transformer` (possibly reloaded from a `.keras` file).
        encoder_token_ids: int array `(batch, source_length)`.
        max_length: most tokens to generate (>= 1; at most `max_sequence_length`).
        encoder_padding_mask: `(batch, source_length)`, 1 for real tokens (default:
            `encoder_token_ids != pad_token`).
        start_token, end_token, pad_token: the decoder's special ids; positions after a
            sequence's end token hold `pad_token`.
        beam_width: 1 for greedy decoding; above 1, beam search keeps that many
            hypotheses (the paper: 4).
        length_penalty: alpha of the length normalisation `((5 + length) / 6) ** alpha`
            that the final beams' log-probabilities are divided by (the paper: 0.6).

    Returns:
        int32 numpy array `(batch, max_length)`, the end token included.

    The loop is built once per (model, max_length, tokens) and compiled by the backend
    on the first call for a given input shape; later calls with that shape reuse it.
    """
    check_positive_int("max_length", max_length)
    embedding = model.get_layer(
        "shared_embedding"
        if "shared_embedding" in {layer.name for layer in model.layers}
        else "decoder_embedding"
    )
    vocabulary_size, context = embedding.vocabulary_size, embedding.sequence_length
    if max_length > context:
        raise ValueError(
            f"max_length={max_length} exceeds the model's max_sequence_length={context}."
        )
    for argument, value in (
        ("start_token", start_token),
        ("end_token", end_token),
        ("pad_token", pad_token),
    ):
        check_int(argument, value, minimum=0, maximum=vocabulary_size - 1)
    ids = np.asarray(encoder_token_ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(
            "encoder_token_ids must be a 2-D integer array (batch, source_length); got "
            f"shape {ids.shape} and dtype {ids.dtype}."
        )
    if ids.shape[1] > context:
        raise ValueError(
            f"The source has {ids.shape[1]} tokens, longer than the model's "
            f"max_sequence_length={context}."
        )
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary_size):
        raise ValueError(
            f"encoder_token_ids holds ids outside the vocabulary [0, {vocabulary_size}): "
            f"min {ids.min()}, max {ids.max()}."
        )
    mask = (ids != pad_token) if encoder_padding_mask is None else np.asarray(encoder_padding_mask)
    if mask.shape != ids.shape:
        raise ValueError(
            f"encoder_padding_mask must have the shape of encoder_token_ids {ids.shape}; "
            f"got {mask.shape}."
        )
    check_positive_int("beam_width", beam_width)
    check_float("length_penalty", length_penalty)
    key = (max_length, start_token, end_token, pad_token)
    decoders = model.__dict__.setdefault("_greedy_decoders", {})
    if beam_width > 1:
        key = (*key, beam_width, float(length_penalty))
        if key not in decoders:
            decoders[key] = _BeamDecoder(model, *key)
    elif key not in decoders:
        decoders[key] = _GreedyDecoder(model, *key)
    inputs = {
        "encoder_token_ids": ids.astype("int32"),
        "encoder_padding_mask": mask.astype("int32"),
    }
    return np.asarray(decoders[key].predict_on_batch(inputs))

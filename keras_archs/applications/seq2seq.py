"""Sequence to sequence learning (Sutskever, Vinyals & Le 2014), with optional attention
(Bahdanau, Cho & Bengio 2015; Luong, Pham & Manning 2015).

References:
- [Sequence to Sequence Learning with Neural Networks](https://arxiv.org/abs/1409.3215)
- [Neural Machine Translation by Jointly Learning to Align and Translate](
    https://arxiv.org/abs/1409.0473)
- [Effective Approaches to Attention-based Neural Machine Translation](
    https://arxiv.org/abs/1508.04025)

An RNN encoder reads the source tokens; its final state is the initial state of an
RNN decoder that reads the target shifted right by one (teacher forcing: the start
token, then the true previous tokens) and predicts the next token at every step.
With `attention`, each decoder output also attends over all encoder outputs and a
`tanh` layer combines the two (Luong et al.'s "attentional hidden state", without
input feeding): "bahdanau" scores with the additive form, "luong" with the dot form.

`greedy_decode(model, encoder_inputs, max_length)` generates with the trained model:
one compiled loop (`keras.ops.while_loop`, run through `predict_on_batch`, so traced
once per input shape) that feeds back the arg-max token until every sequence has
produced the end token or `max_length` tokens.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_archs.registry import register_model
from keras_archs.validation import (
    check_choice,
    check_int,
    check_positive_int,
    check_positive_int_or_none,
)

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
_ATTENTIONS = (None, "bahdanau", "luong")


def _attend(query, values, attention, units):
    """Luong et al.'s attentional hidden state: tanh(W [query; context])."""
    layer = (
        keras.layers.AdditiveAttention(name="attention")
        if attention == "bahdanau"
        else keras.layers.Attention(score_mode="dot", name="attention")
    )
    context = layer([query, values])
    combined = keras.layers.Concatenate(name="attention_concat")([query, context])
    return keras.layers.Dense(units, activation="tanh", name="attention_combine")(combined)


def _seq2seq(
    *,
    vocabulary_size,
    target_vocabulary_size,
    embedding_dim,
    units,
    cell,
    attention,
    encoder_max_length,
    decoder_max_length,
    classifier_activation,
    name,
):
    """The one builder: checks the arguments, then encoder, decoder, attention, output."""
    check_int("vocabulary_size", vocabulary_size, minimum=2)
    if target_vocabulary_size is None:
        target_vocabulary_size = vocabulary_size
    check_int("target_vocabulary_size", target_vocabulary_size, minimum=2)
    check_positive_int("embedding_dim", embedding_dim)
    check_positive_int("units", units)
    check_positive_int_or_none("encoder_max_length", encoder_max_length)
    check_positive_int_or_none("decoder_max_length", decoder_max_length)
    check_choice("cell", cell, tuple(_CELLS))
    check_choice("attention", attention, _ATTENTIONS)

    enc_in = keras.Input((encoder_max_length,), dtype="int32", name="encoder_inputs")
    dec_in = keras.Input((decoder_max_length,), dtype="int32", name="decoder_inputs")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="encoder_embedding")(enc_in)
    enc_seq, *state = _CELLS[cell](units, return_sequences=True, return_state=True, name="encoder")(
        x
    )
    y = keras.layers.Embedding(target_vocabulary_size, embedding_dim, name="decoder_embedding")(
        dec_in
    )
    y = _CELLS[cell](units, return_sequences=True, name="decoder")(y, initial_state=state)
    if attention is not None:
        y = _attend(y, enc_seq, attention, units)
    y = keras.layers.Dense(target_vocabulary_size, name="logits")(y)
    # float32 softmax keeps mixed-precision probabilities normalised.
    y = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(y)
    return keras.Model({"encoder_inputs": enc_in, "decoder_inputs": dec_in}, y, name=name)


def _decode(model, encoder_inputs, max_length):
    """Greedy answers for `keras-archs train`'s exact-match score (`greedy_decode`)."""
    return greedy_decode(model, encoder_inputs, max_length)


@register_model(
    "seq2seq",
    family="seq2seq",
    paper="Sutskever, Vinyals & Le, Sequence to Sequence Learning with Neural Networks, NeurIPS",
    year=2014,
    default_input_shape=(7,),
    min_input_size=1,
    task="seq2seq",
    test_kwargs={
        "vocabulary_size": 12,
        "units": 8,
        "embedding_dim": 4,
        "encoder_max_length": 5,
        "decoder_max_length": 4,
        "attention": "bahdanau",
    },
    train_defaults={
        "trainer": "task",
        "data": "addition",
        "model_kwargs": {"units": 128, "embedding_dim": 32, "attention": "luong"},
        "epochs": 20,
        "batch_size": 128,
        "learning_rate": 3e-3,
        # The paper's norm-5 clip is not yet measured on the addition task.
        "clipnorm": None,
        "decode": _decode,
    },
)
def Seq2Seq(
    vocabulary_size,
    target_vocabulary_size=None,
    embedding_dim=32,
    units=128,
    cell="lstm",
    attention=None,
    encoder_max_length=None,
    decoder_max_length=None,
    classifier_activation="softmax",
    name="seq2seq",
):
    """Seq2Seq: an encoder RNN compresses the source into the state that starts a decoder RNN.

    The decoder is trained with teacher forcing and generates with `greedy_decode`
    (Sutskever et al., 2014); `attention` lets it look back at every encoder output
    (Bahdanau et al., 2015; Luong et al., 2015).

    Args:
        vocabulary_size: source vocabulary size (token ids in [0, vocabulary_size)).
        target_vocabulary_size: target vocabulary size; default `vocabulary_size`.
        embedding_dim: size of the source and target token embeddings.
        units: units of the encoder and decoder RNNs.
        cell: "lstm" or "gru".
        attention: None, "bahdanau" (additive) or "luong" (dot).
        encoder_max_length, decoder_max_length: fixed input lengths, or None (any).
        classifier_activation: activation of the per-step output layer.
        name: model name.

    Returns:
        A `keras.Model` from `{"encoder_inputs", "decoder_inputs"}` (int token ids) to
        per-step probabilities over the target vocabulary.
    """
    return _seq2seq(**locals())


class _GreedyDecoder(keras.Model):
    """Greedy generation with the layers of a trained Seq2Seq model (weights shared)."""

    def __init__(self, model, max_length, start_token, end_token, pad_token):
        super().__init__(name=f"{model.name}_greedy_decoder")
        self.encoder_embedding = model.get_layer("encoder_embedding")
        self.encoder = model.get_layer("encoder")
        self.decoder_embedding = model.get_layer("decoder_embedding")
        self.cell = model.get_layer("decoder").cell
        names = {layer.name for layer in model.layers}
        self.attention = model.get_layer("attention") if "attention" in names else None
        self.combine = model.get_layer("attention_combine") if self.attention else None
        self.logits = model.get_layer("logits")
        self.max_length = max_length
        self.start_token, self.end_token, self.pad_token = start_token, end_token, pad_token
        self.traces = 0  # incremented each time `call` is traced (or run eagerly)

    def call(self, encoder_inputs):
        self.traces += 1
        enc_seq, *state = self.encoder(self.encoder_embedding(encoder_inputs))
        batch = ops.shape(encoder_inputs)[0]
        positions = ops.arange(self.max_length, dtype="int32")[None, :]
        tokens = ops.full((batch, self.max_length), self.pad_token, dtype="int32")
        previous = ops.full((batch,), self.start_token, dtype="int32")
        finished = ops.zeros((batch,), dtype="bool")

        def cond(i, previous, tokens, finished, *state):
            return ops.logical_and(i < self.max_length, ops.logical_not(ops.all(finished)))

        def body(i, previous, tokens, finished, *state):
            h, new_state = self.cell(self.decoder_embedding(previous), list(state))
            if self.attention is not None:
                context = self.attention([h[:, None, :], enc_seq])[:, 0, :]
                h = self.combine(ops.concatenate([h, context], axis=-1))
            token = ops.cast(ops.argmax(self.logits(h), axis=-1), "int32")
            token = ops.where(finished, self.pad_token, token)
            tokens = ops.where(positions == i, token[:, None], tokens)
            finished = ops.logical_or(finished, token == self.end_token)
            return (i + 1, token, tokens, finished, *new_state)

        loop_vars = (ops.convert_to_tensor(0, "int32"), previous, tokens, finished, *state)
        return ops.while_loop(cond, body, loop_vars)[2]


def greedy_decode(model, encoder_inputs, max_length, start_token=1, end_token=2, pad_token=0):
    """Generates target token ids greedily until the end token or `max_length` tokens.

    Args:
        model: a model built by `Seq2Seq` (possibly reloaded from a `.keras` file).
        encoder_inputs: int array `(batch, source_length)` of ids in the source vocabulary.
        max_length: most tokens to generate (>= 1).
        start_token, end_token, pad_token: ids of the decoder's special tokens; positions
            after a sequence's end token hold `pad_token`.

    Returns:
        numpy int32 array `(batch, max_length)`, the end token included.

    The loop is built once per (model, max_length, tokens) and compiled by the backend on
    the first call for a given input shape (tf.function on TensorFlow, jax.jit on JAX);
    later calls with that shape reuse it. Keras' torch backend runs it eagerly.
    """
    check_positive_int("max_length", max_length)
    for argument, value in (
        ("start_token", start_token),
        ("end_token", end_token),
        ("pad_token", pad_token),
    ):
        check_int(argument, value, minimum=0)
    ids = np.asarray(encoder_inputs)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(
            "encoder_inputs must be a 2-D integer array (batch, source_length); got "
            f"shape {ids.shape} and dtype {ids.dtype}."
        )
    length = {t.name: t for t in model.inputs}["encoder_inputs"].shape[1]
    if length is not None and ids.shape[1] != length:
        raise ValueError(
            f"encoder_inputs have length {ids.shape[1]}, but this model reads sequences of "
            f"exactly encoder_max_length={length} (pad shorter ones; longer ones do not fit)."
        )
    vocabulary = model.get_layer("encoder_embedding").input_dim
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary):
        raise ValueError(
            f"encoder_inputs holds token ids outside the vocabulary [0, {vocabulary}): "
            f"min {ids.min()}, max {ids.max()}."
        )
    key = (max_length, start_token, end_token, pad_token)
    cache = model.__dict__.setdefault("_greedy_decoders", {})
    if key not in cache:
        cache[key] = _GreedyDecoder(model, max_length, start_token, end_token, pad_token)
    decoder = cache[key]
    return np.asarray(decoder.predict_on_batch(ids.astype("int32")))

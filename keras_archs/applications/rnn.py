"""Stacked and bidirectional recurrent networks (Elman 1990; Hochreiter & Schmidhuber 1997;
Cho et al. 2014; Schuster & Paliwal 1997; Graves, Mohamed & Hinton 2013).

References:
- [Long Short-Term Memory](https://www.bioinf.jku.at/publications/older/2604.pdf) (1997)
- [Learning Phrase Representations using RNN Encoder-Decoder](https://arxiv.org/abs/1406.1078)
- [Bidirectional Recurrent Neural Networks](https://doi.org/10.1109/78.650093) (1997)
- [Speech Recognition with Deep Recurrent Neural Networks](https://arxiv.org/abs/1303.5778)

Every layer of a stack returns its whole output sequence, which is the input
sequence of the next layer; only the last layer may reduce it to its final step.

The four input/output patterns (Karpathy's "The Unreasonable Effectiveness of RNNs"):

- many-to-one (classify a sequence): `StackedRNN(input_shape=(T, F), output="last",
  classes=K)`; with token ids, `vocabulary_size=V, input_shape=(T,)`.
- synced many-to-many (one output per input step, e.g. tagging):
  `StackedRNN(input_shape=(T, F), output="sequence", classes=K)`.
- one-to-many (a vector in, a sequence out, e.g. captioning): `StackedRNN(input_shape=(F,),
  output_length=T, output="sequence", output_dim=D)`; the vector is fed at every step.
- unsynced many-to-many (a sequence in, a sequence of another length out, e.g.
  translation): `keras_archs.applications.Seq2Seq`, an encoder whose final state starts a
  decoder. (`StackedRNN(..., output="last")` followed by `output_length` repetition is
  the simplest form; Seq2Seq is the one that trains well.)
"""

from __future__ import annotations

import keras

from keras_archs.registry import register_model
from keras_archs.validation import (
    check_choice,
    check_int,
    check_int_sequence,
    check_positive_int,
    check_positive_int_or_none,
    check_rate,
    is_int,
)

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}
_OUTPUTS = ("last", "sequence")
_MERGE_MODES = ("concat", "sum", "mul", "ave")


def _layer_units(units, num_layers):
    """One units count per layer, from one integer or a list of `num_layers` of them."""
    if is_int(units):
        return [check_positive_int("units", units)] * num_layers
    units = check_int_sequence("units", units)
    if len(units) != num_layers:
        raise ValueError(
            f"units must be one integer or a list of num_layers={num_layers} integers; "
            f"got units={list(units)!r}."
        )
    return list(units)


def _resolve_input_shape(input_shape, vocabulary_size, output_length):
    """The input shape the pattern needs: token ids, a vector to repeat, or a sequence."""
    if vocabulary_size is not None:
        expected, default = "(timesteps,) of token ids", (None,)
    elif output_length is not None:
        expected, default = "(features,) for one-to-many", None
    else:
        expected, default = "(timesteps, features)", None
    if input_shape is None:
        if default is None:
            raise ValueError(f"input_shape is required: {expected}; got input_shape=None.")
        return default
    rank = 1 if (vocabulary_size is not None or output_length is not None) else 2
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != rank
        or not all(d is None or (is_int(d) and d > 0) for d in input_shape)
        or (input_shape[-1] is None and vocabulary_size is None)
    ):
        raise ValueError(f"input_shape must be {expected}; got input_shape={input_shape!r}.")
    return tuple(input_shape)


def _recurrent_layer(cell, units, return_sequences, dropout, bidirectional, merge_mode, index):
    layer = _CELLS[cell](
        units, return_sequences=return_sequences, dropout=dropout, name=f"{cell}_{index}"
    )
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, merge_mode=merge_mode, name=f"bi_{cell}_{index}")
    return layer


def _rnn_model(
    *,
    cell,
    units,
    num_layers,
    input_shape,
    vocabulary_size,
    embedding_dim,
    output,
    output_length,
    classes,
    output_dim,
    classifier_activation,
    dropout,
    bidirectional,
    merge_mode,
    name,
):
    """The one builder: checks the arguments, then the input, the stack and the head."""
    check_choice("cell", cell, tuple(_CELLS))
    check_positive_int("num_layers", num_layers)
    units = _layer_units(units, num_layers)
    check_choice("output", output, _OUTPUTS)
    if classes is not None and output_dim is not None:
        raise ValueError(
            f"Give classes (a softmax head) or output_dim (a linear head), not both; got "
            f"classes={classes!r} and output_dim={output_dim!r}."
        )
    check_positive_int_or_none("classes", classes)
    check_positive_int_or_none("output_dim", output_dim)
    # None means float inputs; a vocabulary needs at least two tokens.
    check_int("vocabulary_size", vocabulary_size, minimum=2, allow_none=True)
    check_positive_int("embedding_dim", embedding_dim)
    check_rate("dropout", dropout)
    check_positive_int_or_none("output_length", output_length)
    if output_length is not None and vocabulary_size is not None:
        raise ValueError(
            "output_length (one-to-many: a feature vector fed at every step) needs float "
            f"inputs; got vocabulary_size={vocabulary_size!r}."
        )
    shape = _resolve_input_shape(input_shape, vocabulary_size, output_length)
    if bidirectional:
        check_choice("merge_mode", merge_mode, _MERGE_MODES)

    if vocabulary_size is not None:
        inputs = keras.Input(shape=shape, dtype="int32", name="token_ids")
        x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(inputs)
    else:
        inputs = keras.Input(shape=shape, name="inputs")
        x = inputs
        if output_length is not None:
            x = keras.layers.RepeatVector(output_length, name="repeat")(x)
    for i, n in enumerate(units):
        # Every layer but the last returns its whole sequence: the next layer's input.
        sequences = i < len(units) - 1 or output == "sequence"
        x = _recurrent_layer(cell, n, sequences, dropout, bidirectional, merge_mode, i + 1)(x)
    if classes is not None:
        # float32 softmax keeps mixed-precision probabilities normalised.
        x = keras.layers.Dense(classes, name="logits")(x)
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    elif output_dim is not None:
        x = keras.layers.Dense(output_dim, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


_PAPER_STACKED = (
    "Graves, Mohamed & Hinton, Speech Recognition with Deep Recurrent Neural Networks, ICASSP"
)
_TEST_KWARGS = {"input_shape": (6, 3), "units": 8, "num_layers": 2, "classes": 4}


@register_model(
    "stacked_rnn",
    family="rnn",
    paper=_PAPER_STACKED,
    year=2013,
    default_input_shape=(64, 1),
    min_input_size=1,
    task="sequence",
    test_kwargs=_TEST_KWARGS,
    train_defaults={
        "trainer": "task",
        "data": "sequential_digits",
        "model_kwargs": {"cell": "lstm", "units": 64, "num_layers": 2},
        "epochs": 15,
        "batch_size": 32,
        "learning_rate": 3e-3,
    },
)
def StackedRNN(
    cell="lstm",
    units=64,
    num_layers=2,
    input_shape=None,
    vocabulary_size=None,
    embedding_dim=32,
    output="last",
    output_length=None,
    classes=None,
    output_dim=None,
    classifier_activation="softmax",
    dropout=0.0,
    name="stacked_rnn",
):
    """Stacked RNN: each recurrent layer reads the whole output sequence of the one below.

    Depth in the layer direction, as in deep LSTMs (Graves et al., 2013), on top of
    depth in time; see the module docstring for the four input/output patterns.

    Args:
        cell: "lstm", "gru" or "simple" (Elman).
        units: units of every layer (one integer) or a list with one entry per layer.
        num_layers: number of recurrent layers (>= 1).
        input_shape: `(timesteps, features)`; `(timesteps,)` with `vocabulary_size`;
            `(features,)` with `output_length`. `timesteps` may be None.
        vocabulary_size: when set, inputs are token ids embedded with `embedding_dim`.
        embedding_dim: size of the token embedding.
        output: "last" (many-to-one) or "sequence" (one output per step).
        output_length: one-to-many: repeat a `(features,)` input for this many steps.
        classes: size of a softmax head; `output_dim`: size of a linear head; neither:
            the last layer's features.
        classifier_activation: activation of the `classes` head.
        dropout: input dropout of every recurrent layer.
        name: model name.

    Returns:
        A `keras.Model`.
    """
    return _rnn_model(bidirectional=False, merge_mode=None, **locals())


@register_model(
    "bidirectional_rnn",
    family="rnn",
    paper="Schuster & Paliwal, Bidirectional Recurrent Neural Networks, IEEE Trans. Signal Proc.",
    year=1997,
    default_input_shape=(64, 1),
    min_input_size=1,
    task="sequence",
    test_kwargs={**_TEST_KWARGS, "merge_mode": "concat"},
    train_defaults={
        "trainer": "task",
        "data": "sequential_digits",
        "model_kwargs": {"cell": "lstm", "units": 64, "num_layers": 1},
        "epochs": 30,
        "batch_size": 32,
        "learning_rate": 3e-3,
    },
)
def BidirectionalRNN(
    cell="lstm",
    units=64,
    num_layers=2,
    input_shape=None,
    vocabulary_size=None,
    embedding_dim=32,
    output="last",
    output_length=None,
    classes=None,
    output_dim=None,
    classifier_activation="softmax",
    dropout=0.0,
    merge_mode="concat",
    name="bidirectional_rnn",
):
    """Bidirectional RNN: every step sees the past through one RNN and the future through another.

    Each layer runs a forward and a backward RNN over the sequence and merges their
    outputs step by step (Schuster & Paliwal, 1997), so no output is causal.
    Arguments are those of `StackedRNN` plus `merge_mode` ("concat", "sum", "mul" or
    "ave"). With `output="last"` the last layer returns the forward RNN's final step
    merged with the backward RNN's final step (which read the sequence from the end).

    Returns:
        A `keras.Model`.
    """
    return _rnn_model(bidirectional=True, **locals())

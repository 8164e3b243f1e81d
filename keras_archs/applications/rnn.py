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

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}
_OUTPUTS = ("last", "sequence")
_MERGE_MODES = ("concat", "sum", "mul", "ave")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_args(
    cell,
    units,
    num_layers,
    output,
    classes,
    output_dim,
    vocabulary_size,
    embedding_dim,
    input_shape,
    output_length,
    dropout,
):
    """Validates the shared builder arguments; returns the list of per-layer units."""
    if cell not in _CELLS:
        raise ValueError(f"cell must be one of {tuple(_CELLS)}; got cell={cell!r}.")
    if not _is_int(num_layers) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1; got num_layers={num_layers!r}.")
    if _is_int(units):
        units = [units] * num_layers
    elif isinstance(units, (list, tuple)) and len(units) != num_layers:
        raise ValueError(
            f"units must be one integer or a list of num_layers={num_layers} integers; "
            f"got units={units!r}."
        )
    if not isinstance(units, (list, tuple)) or not all(_is_int(u) and u >= 1 for u in units):
        raise ValueError(f"units must be an integer >= 1 or a list of them; got units={units!r}.")
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}; got output={output!r}.")
    if classes is not None and output_dim is not None:
        raise ValueError(
            f"Give classes (a softmax head) or output_dim (a linear head), not both; got "
            f"classes={classes!r} and output_dim={output_dim!r}."
        )
    for argument, value in (("classes", classes), ("output_dim", output_dim)):
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError(
                f"{argument} must be None or an integer >= 1; got {argument}={value!r}."
            )
    if vocabulary_size is not None and (not _is_int(vocabulary_size) or vocabulary_size < 2):
        raise ValueError(
            f"vocabulary_size must be None (float inputs) or an integer >= 2; "
            f"got vocabulary_size={vocabulary_size!r}."
        )
    if not _is_int(embedding_dim) or embedding_dim < 1:
        raise ValueError(
            f"embedding_dim must be an integer >= 1; got embedding_dim={embedding_dim!r}."
        )
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1); got dropout={dropout!r}.")
    if output_length is not None:
        if not _is_int(output_length) or output_length < 1:
            raise ValueError(
                "output_length must be None or an integer >= 1; "
                f"got output_length={output_length!r}."
            )
        if vocabulary_size is not None:
            raise ValueError(
                "output_length (one-to-many: a feature vector fed at every step) needs float "
                f"inputs; got vocabulary_size={vocabulary_size!r}."
            )
    return list(units), _input_shape(input_shape, vocabulary_size, output_length)


def _input_shape(input_shape, vocabulary_size, output_length):
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
        or not all(d is None or (_is_int(d) and d > 0) for d in input_shape)
        or (input_shape[-1] is None and vocabulary_size is None)
    ):
        raise ValueError(f"input_shape must be {expected}; got input_shape={input_shape!r}.")
    return tuple(input_shape)


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
    units, shape = _check_args(
        cell,
        units,
        num_layers,
        output,
        classes,
        output_dim,
        vocabulary_size,
        embedding_dim,
        input_shape,
        output_length,
        dropout,
    )
    if bidirectional and merge_mode not in _MERGE_MODES:
        raise ValueError(
            f"merge_mode must be one of {_MERGE_MODES}; got merge_mode={merge_mode!r}."
        )
    if vocabulary_size is not None:
        inputs = keras.Input(shape=shape, dtype="int32", name="token_ids")
        x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(inputs)
    else:
        inputs = keras.Input(shape=shape, name="inputs")
        x = inputs
        if output_length is not None:
            x = keras.layers.RepeatVector(output_length, name="repeat")(x)
    for i, n in enumerate(units):
        last = i == len(units) - 1
        layer = _CELLS[cell](
            n,
            return_sequences=not last or output == "sequence",
            dropout=dropout,
            name=f"{cell}_{i + 1}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(
                layer, merge_mode=merge_mode, name=f"bi_{cell}_{i + 1}"
            )
        x = layer(x)
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
    return _rnn_model(
        cell=cell,
        units=units,
        num_layers=num_layers,
        input_shape=input_shape,
        vocabulary_size=vocabulary_size,
        embedding_dim=embedding_dim,
        output=output,
        output_length=output_length,
        classes=classes,
        output_dim=output_dim,
        classifier_activation=classifier_activation,
        dropout=dropout,
        bidirectional=False,
        merge_mode=None,
        name=name,
    )


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
    return _rnn_model(
        cell=cell,
        units=units,
        num_layers=num_layers,
        input_shape=input_shape,
        vocabulary_size=vocabulary_size,
        embedding_dim=embedding_dim,
        output=output,
        output_length=output_length,
        classes=classes,
        output_dim=output_dim,
        classifier_activation=classifier_activation,
        dropout=dropout,
        bidirectional=True,
        merge_mode=merge_mode,
        name=name,
    )

"""Offline sequence tasks as tf.data pipelines with fixed seeds.

- `addition`: strings "123+45" -> "168", the classic sequence-to-sequence exercise
  (as in the Keras addition_rnn example); held-out pairs never appear in training.
- `adding_problem`, `copy_memory`: the synthetic benchmarks of Bai, Kolter & Koltun,
  "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
  Modeling" (2018), generated exactly as in their locuslab/TCN code; `T` is an argument.
- `sequential_digits`: scikit-learn's 8x8 digits read pixel by pixel (64 steps);
  `sequential_mnist`: MNIST read pixel by pixel (784 steps) when tensorflow-datasets can
  supply it.

Every loader returns a `DatasetBundle` whose `model_kwargs`, `loss` and `metrics` tell
`keras-archs train` how to build and compile a model for it. The numpy generators
(`addition_arrays`, `adding_problem_arrays`, `copy_memory_arrays`) are public so
recipes and tests can evaluate on exactly the same data.
"""

from __future__ import annotations

import numpy as np

from keras_archs.data.datasets import DatasetBundle, register_dataset, tfds_builder
from keras_archs.validation import check_bool, check_choice, check_int

# Addition vocabulary: 0 pads, 1 starts and 2 ends a decoder sequence.
PAD, START, END = 0, 1, 2
ADDITION_CHARS = "0123456789+"
ADDITION_VOCABULARY = ("<pad>", "<start>", "<end>", *ADDITION_CHARS)
_CHAR_TO_ID = {c: i + 3 for i, c in enumerate(ADDITION_CHARS)}


def check_token_ids(ids, vocabulary_size, argument="token_ids"):
    """Raises ValueError when any id is outside [0, vocabulary_size) (before any gather)."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{argument} must hold integer token ids; got dtype {ids.dtype}.")
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary_size):
        bad = ids[(ids < 0) | (ids >= vocabulary_size)]
        raise ValueError(
            f"{argument} holds ids outside the vocabulary [0, {vocabulary_size}): "
            f"e.g. {bad.ravel()[:5].tolist()}."
        )
    return ids


def encode(strings, max_length, reverse=False):
    """Token ids of addition strings, right-padded to `max_length` (reversed if asked).

    ValueError when a string is longer than `max_length` or has a character outside
    "0123456789+".
    """
    max_length = check_int("max_length", max_length, minimum=1)
    if isinstance(strings, str):
        raise TypeError(f"strings must be a list of strings; got strings={strings!r}.")
    out = np.full((len(strings), max_length), PAD, dtype="int32")
    for row, s in enumerate(strings):
        if len(s) > max_length:
            raise ValueError(
                f"Sequence {s!r} has length {len(s)}, longer than max_length={max_length}."
            )
        unknown = sorted(set(s) - set(ADDITION_CHARS))
        if unknown:
            raise ValueError(
                f"Sequence {s!r} has characters {unknown} outside the vocabulary "
                f"{ADDITION_CHARS!r}."
            )
        ids = [_CHAR_TO_ID[c] for c in s]
        out[row, : len(ids)] = ids
    return out[:, ::-1].copy() if reverse else out


def decode(ids):
    """Strings from decoder token ids: characters up to the first end (or pad) token."""
    chars = {i: c for c, i in _CHAR_TO_ID.items()}
    result = []
    for row in np.asarray(ids):
        s = []
        for token in row.tolist():
            if token in (END, PAD):
                break
            s.append(chars.get(token, "?"))
        result.append("".join(s))
    return result


def addition_lengths(digits):
    """(encoder length, decoder length) for `digits`-digit operands."""
    return 2 * digits + 1, digits + 2  # "a+b"; start/end + up to digits+1 sum digits


def addition_arrays(num_train=50_000, num_test=2_000, digits=3, seed=0, reverse=True):
    """Disjoint train and test sets of distinct "a+b" pairs with 0 <= a, b < 10**digits.

    Returns two dicts with `encoder_inputs` (reversed when `reverse`, Sutskever et al.'s
    trick), `decoder_inputs` (start, sum digits, end, pads: teacher forcing) and `targets`
    (the decoder inputs shifted left by one), plus `questions` and `answers` strings.
    """
    digits = check_int("digits", digits, minimum=1)
    num_train = check_int("num_train", num_train, minimum=1)
    num_test = check_int("num_test", num_test, minimum=1)
    space = (10**digits) ** 2
    if num_train + num_test > space:
        raise ValueError(
            f"num_train + num_test = {num_train + num_test} exceeds the {space} distinct "
            f"pairs of {digits}-digit numbers."
        )
    rng = np.random.default_rng(seed)
    pairs = rng.choice(space, size=num_train + num_test, replace=False)
    a, b = pairs // 10**digits, pairs % 10**digits
    enc_len, dec_len = addition_lengths(digits)

    def arrays(a, b):
        questions = [f"{x}+{y}" for x, y in zip(a, b)]
        answers = [str(x + y) for x, y in zip(a, b)]
        sequence = np.full((len(answers), dec_len + 1), PAD, dtype="int32")
        sequence[:, 0] = START
        sequence[:, 1:dec_len] = encode(answers, dec_len - 1)
        for row, ans in enumerate(answers):
            sequence[row, 1 + len(ans)] = END
        return {
            "encoder_inputs": encode(questions, enc_len, reverse=reverse),
            "decoder_inputs": sequence[:, :-1],
            "targets": sequence[:, 1:],
            "questions": questions,
            "answers": answers,
        }

    return arrays(a[:num_train], b[:num_train]), arrays(a[num_train:], b[num_train:])


def _batched(tf, x, y, batch_size, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(min(len(y), 50_000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


ADDITION_INPUTS = ("seq2seq", "transformer")


@register_dataset("addition")
def _addition(
    *,
    batch_size=128,
    seed=0,
    digits=3,
    num_train=50_000,
    num_test=2_000,
    reverse=True,
    inputs="seq2seq",
):
    """Teacher-forcing pipelines for "a+b" -> "sum".

    `inputs` names the model the pipelines feed: "seq2seq" (`Seq2Seq`: encoder and
    decoder ids, softmax outputs) or "transformer" (`Transformer`: ids and padding masks
    of both sides, logits). The held-out pairs are also kept as `evaluation` so that
    training can score greedy answers by exact match after every epoch.
    """
    import keras
    import tensorflow as tf

    reverse = check_bool("reverse", reverse)
    check_choice("inputs", inputs, ADDITION_INPUTS)
    train, test = addition_arrays(num_train, num_test, digits, seed, reverse)
    enc_len, dec_len = addition_lengths(digits)
    vocabulary_size = len(ADDITION_VOCABULARY)

    def features(d):
        enc, dec = d["encoder_inputs"], d["decoder_inputs"]
        if inputs == "seq2seq":
            return {"encoder_inputs": enc, "decoder_inputs": dec}
        # The decoder side has no padding to hide: its targets after the end token are
        # pads the model must learn to emit.
        return {
            "encoder_token_ids": enc,
            "encoder_padding_mask": (enc != PAD).astype("int32"),
            "decoder_token_ids": dec,
            "decoder_padding_mask": np.ones_like(dec),
        }

    def pipeline(d, shuffle):
        return _batched(tf, features(d), d["targets"], batch_size, shuffle, seed)

    if inputs == "seq2seq":
        model_kwargs = {
            "vocabulary_size": vocabulary_size,
            "encoder_max_length": enc_len,
            "decoder_max_length": dec_len,
        }
        loss = "sparse_categorical_crossentropy"
    else:
        model_kwargs = {
            "vocabulary_size": vocabulary_size,
            "max_sequence_length": max(enc_len, dec_len),
        }
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return DatasetBundle(
        train=pipeline(train, True),
        validation=pipeline(test, False),
        num_classes=vocabulary_size,
        input_shape=(enc_len,),
        name="addition",
        train_size=num_train,
        validation_size=num_test,
        model_kwargs=model_kwargs,
        loss=loss,
        metrics=("accuracy",),
        evaluation={
            "kind": "exact_match",
            "encoder_inputs": test["encoder_inputs"],
            "answers": test["answers"],
            "max_length": dec_len,
        },
    )


def adding_problem_arrays(num_samples, T, seed=0):
    """Bai et al.'s adding problem: (num_samples, T, 2) inputs, (num_samples, 1) targets.

    Channel 0 holds U(0, 1) values, channel 1 marks one step in each half of the
    sequence; the target is the sum of the two marked values (predicting the mean,
    1, scores an MSE of 1/6 ~ 0.167).
    """
    num_samples = check_int("num_samples", num_samples, minimum=1)
    T = check_int("T", T, minimum=2)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, (num_samples, T)).astype("float32")
    marks = np.zeros((num_samples, T), dtype="float32")
    half = T // 2
    rows = np.arange(num_samples)
    first = rng.integers(0, half, num_samples)
    second = rng.integers(half, T, num_samples)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=-1)
    y = (values[rows, first] + values[rows, second])[:, None].astype("float32")
    return x, y


@register_dataset("adding_problem")
def _adding_problem(*, batch_size=32, seed=0, T=200, num_train=50_000, num_test=1_000):
    """The adding problem of length T (regression, MSE)."""
    import tensorflow as tf

    T = check_int("T", T, minimum=2)
    x_train, y_train = adding_problem_arrays(num_train, T, seed)
    x_test, y_test = adding_problem_arrays(num_test, T, seed + 1)
    return DatasetBundle(
        train=_batched(tf, x_train, y_train, batch_size, True, seed),
        validation=_batched(tf, x_test, y_test, batch_size, False, seed),
        num_classes=None,
        input_shape=(T, 2),
        name="adding_problem",
        train_size=num_train,
        validation_size=num_test,
        model_kwargs={"input_shape": (T, 2), "output_dim": 1},
        loss="mse",
        metrics=(),
    )


def copy_memory_arrays(num_samples, T, seed=0):
    """Bai et al.'s copy memory task: inputs (num_samples, T + 20, 1), targets (.., T + 20).

    Ten digits from 1-8, then T - 1 zeros, then eleven 9s (the first is the delimiter);
    the target is zero except the last ten steps, which repeat the ten digits. Guessing
    (zeros, then uniform over 1-8) scores a cross-entropy of 10 ln 8 / (T + 20).
    """
    num_samples = check_int("num_samples", num_samples, minimum=1)
    T = check_int("T", T, minimum=1)
    rng = np.random.default_rng(seed)
    seq = rng.integers(1, 9, (num_samples, 10))
    x = np.concatenate(
        [seq, np.zeros((num_samples, T - 1), "int64"), np.full((num_samples, 11), 9)], axis=1
    )
    y = np.concatenate([np.zeros((num_samples, T + 10), "int64"), seq], axis=1)
    return x[..., None].astype("float32"), y.astype("int32")


@register_dataset("copy_memory")
def _copy_memory(*, batch_size=32, seed=0, T=100, num_train=10_000, num_test=1_000):
    """The copy memory task with a delay of T (per-step 10-way classification)."""
    import tensorflow as tf

    T = check_int("T", T, minimum=1)
    x_train, y_train = copy_memory_arrays(num_train, T, seed)
    x_test, y_test = copy_memory_arrays(num_test, T, seed + 1)
    return DatasetBundle(
        train=_batched(tf, x_train, y_train, batch_size, True, seed),
        validation=_batched(tf, x_test, y_test, batch_size, False, seed),
        num_classes=10,
        input_shape=(T + 20, 1),
        name="copy_memory",
        train_size=num_train,
        validation_size=num_test,
        model_kwargs={"input_shape": (T + 20, 1), "classes": 10, "return_sequences": True},
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
    )


def _pixel_sequences(
    name, images, labels, num_classes, batch_size, validation_split, seed, validation=None
):
    import tensorflow as tf

    images = images.reshape(len(images), -1, 1).astype("float32")
    if validation is None:
        order = np.random.default_rng(seed).permutation(len(labels))
        n_val = round(len(labels) * validation_split)
        val_idx, train_idx = order[:n_val], order[n_val:]
        validation = images[val_idx], labels[val_idx]
        images, labels = images[train_idx], labels[train_idx]
    else:
        validation = (
            validation[0].reshape(len(validation[0]), -1, 1).astype("float32"),
            validation[1],
        )
    steps = images.shape[1]
    return DatasetBundle(
        train=_batched(tf, images, labels, batch_size, True, seed),
        validation=_batched(tf, *validation, batch_size, False, seed),
        num_classes=num_classes,
        input_shape=(steps, 1),
        name=name,
        train_size=len(labels),
        validation_size=len(validation[1]),
        model_kwargs={"input_shape": (steps, 1), "classes": num_classes},
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
    )


@register_dataset("sequential_digits")
def _sequential_digits(*, batch_size=32, validation_split=0.2, seed=0):
    """scikit-learn's 8x8 digits as 64-step pixel sequences (offline)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    return _pixel_sequences(
        "sequential_digits",
        images,
        digits.target.astype("int32"),
        10,
        batch_size,
        validation_split,
        seed,
    )


@register_dataset("sequential_mnist")
def _sequential_mnist(*, batch_size=32, validation_split=0.2, seed=0, data_dir=None):
    """MNIST as 784-step pixel sequences (needs tensorflow-datasets to supply MNIST)."""
    import tensorflow_datasets as tfds

    builder = tfds_builder("mnist", data_dir, "data='sequential_digits' (the 8x8 digits)")
    train = tfds.as_numpy(builder.as_dataset(split="train", as_supervised=True, batch_size=-1))
    test = tfds.as_numpy(builder.as_dataset(split="test", as_supervised=True, batch_size=-1))
    return _pixel_sequences(
        "sequential_mnist",
        train[0] / 255.0,
        train[1].astype("int32"),
        10,
        batch_size,
        validation_split,
        seed,
        validation=(test[0] / 255.0, test[1].astype("int32")),
    )

"""BERT data (Devlin et al. 2018, "BERT: Pre-training of Deep Bidirectional Transformers
for Language Understanding", https://arxiv.org/abs/1810.04805): pre-training examples,
fine-tuning examples, and the IMDB reviews.

- `bert_pretraining_dataset`: sentence pairs for next-sentence prediction and masked
  tokens (section 3.1 and appendix A.1), made in tf.data rather than in the model, each
  example from stateless random ops seeded by (seed, example index) so that a run is
  reproducible; `mask_tokens` is the masking of one sequence.
- `bert_classification_dataset`: `[CLS] text [SEP] [PAD]...` for fine-tuning.
- `bert_special_ids`: the ids of BERT's special tokens in a WordPiece vocabulary
  (learn one with `keras_archs.data.text.make_tokenizer("wordpiece", texts, size,
  special_tokens=BERT_SPECIAL_TOKENS)`).
- `imdb_reviews_texts`: tensorflow-datasets' IMDB reviews (sentiment), downloaded on
  first use; offline it fails at once naming the offline pre-training recipe.
- `imdb_reviews` (registered) and text folders (`load_dataset(folder)`, one
  sub-folder of `.txt` files per class): text classification for BERT under its
  classifier head (`text_classification_bundle`), tokenized with `vocabulary`.
- `python_stdlib_wordpiece` and `python_stdlib_pretraining`: the offline pre-training
  set behind `keras-archs train bert_tiny` (the `python_stdlib` dataset with
  `objective="mlm_nsp"`): a WordPiece vocabulary learned once from the standard library
  and shipped with the package, and MLM + NSP pipelines over the library's sources.

TensorFlow is imported lazily, inside the functions.
"""

from __future__ import annotations

import os

import numpy as np

from keras_archs.data.datasets import (
    DatasetBundle,
    DatasetUnavailableError,
    register_dataset,
    tfds_builder,
)
from keras_archs.data.text import (
    WORDPIECE_SPECIAL_TOKENS,
    python_stdlib_files,
    read_texts,
    read_vocabulary,
    tokenize_texts,
    wordpiece_tokenizer,
)
from keras_archs.validation import check_bool, check_float, check_int, check_string

# What a text folder and `imdb_reviews` take besides the common options.
TEXT_CLASSIFICATION_OPTIONS = ("sequence_length", "vocabulary", "lowercase")
KERAS_HUB_PREFIX = "keras_hub:"

# BERT adds [CLS] (first token), [SEP] (ends each segment) and [MASK] (masked LM).
BERT_SPECIAL_TOKENS = (*WORDPIECE_SPECIAL_TOKENS, "[CLS]", "[SEP]", "[MASK]")

# What packing `[CLS] text [SEP] [PAD]...` needs; Google's BERT vocabularies have these.
BERT_PACKING_TOKENS = ("[CLS]", "[SEP]", "[PAD]")

# A WordPiece vocabulary (case kept: code is case-sensitive) learned with keras-hub's
# `compute_word_piece_vocabulary` from 40 training files of `python_stdlib`, stored
# because learning it takes minutes on a CPU; its first ids are BERT_SPECIAL_TOKENS.
PYTHON_STDLIB_VOCABULARY = os.path.join(os.path.dirname(__file__), "python_stdlib_wordpiece.txt")


def bert_special_ids(tokenizer, required=BERT_SPECIAL_TOKENS):
    """({token: id} of the `required` special tokens, vocabulary size) of a tokenizer.

    `tokenizer` is a `TextTokenizer`, a keras-hub tokenizer with `get_vocabulary()`, or
    a vocabulary list. A ValueError names every required token the vocabulary lacks.
    Pre-training needs all of `BERT_SPECIAL_TOKENS`; classification only
    `BERT_PACKING_TOKENS`.
    """
    tok = getattr(tokenizer, "tokenizer", tokenizer)
    vocab = list(tok.get_vocabulary() if hasattr(tok, "get_vocabulary") else tok)
    index = {token: i for i, token in enumerate(vocab)}
    missing = [t for t in required if t not in index]
    if missing:
        raise ValueError(
            f"The vocabulary lacks the BERT special tokens {missing} (it needs all of "
            f"{tuple(required)}); learn it with make_tokenizer('wordpiece', texts, size, "
            "special_tokens=BERT_SPECIAL_TOKENS)."
        )
    return {t: index[t] for t in required}, len(vocab)


def mask_tokens(token_ids, selectable, seed, masking_rate, max_predictions, mask_id, random_ids):
    """BERT's masking of one sequence, in TensorFlow ops (stateless: same seed, same mask).

    `masking_rate * n` of the `n` selectable positions, rounded up or down at random so
    that the expected count is exact (at least one, at most `max_predictions`), are
    chosen uniformly; each chosen token becomes [MASK] with
    probability 0.8, a token drawn uniformly from `random_ids` with 0.1, and stays
    unchanged with 0.1. Returns `(masked_ids, positions, labels, weights)`; the last
    three have length `max_predictions`, unused slots with position 0, label 0 and
    weight 0.
    """
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 4)
    scores = tf.random.stateless_uniform(tf.shape(token_ids), seeds[0])
    scores = tf.where(selectable, scores, -1.0)
    n = tf.reduce_sum(tf.cast(selectable, tf.int32))
    fraction = tf.random.stateless_uniform([], seeds[3])
    k = tf.cast(tf.floor(masking_rate * tf.cast(n, tf.float32) + fraction), tf.int32)
    k = tf.minimum(tf.clip_by_value(k, 1, max_predictions), n)
    _, order = tf.math.top_k(scores, k=max_predictions)
    used = tf.range(max_predictions) < k
    positions = tf.where(used, order, 0)
    labels = tf.where(used, tf.gather(token_ids, positions), 0)
    u = tf.random.stateless_uniform([max_predictions], seeds[1])
    random_ids = tf.constant(random_ids, tf.int32)
    pick = tf.random.stateless_uniform(
        [max_predictions], seeds[2], 0, tf.shape(random_ids)[0], dtype=tf.int32
    )
    new = tf.where(u < 0.8, mask_id, tf.where(u < 0.9, tf.gather(random_ids, pick), labels))
    masked = tf.tensor_scatter_nd_update(token_ids, positions[:k, None], new[:k])
    return masked, positions, labels, tf.cast(used, tf.float32)


def bert_pretraining_dataset(
    token_ids,
    tokenizer,
    sequence_length,
    batch_size,
    *,
    masking_rate=0.15,
    max_predictions=None,
    short_seq_prob=0.1,
    shuffle=False,
    seed=0,
    num_examples=None,
):
    """Batched `tf.data` of BERT pre-training examples `(x, y, sample_weight)`.

    Example i takes segment A from window i of the token stream (windows of
    `sequence_length - 3` tokens); its length is drawn uniformly, and so is the total
    length with probability `short_seq_prob` (then the tail is [PAD]). With
    probability 0.5 segment B is the text that follows A (NSP label 1), otherwise a
    span from a random place at least two windows away (label 0). The pair is laid
    out as `[CLS] A [SEP] B [SEP] [PAD]...` with segment ids 0 for `[CLS] A [SEP]`, 1
    for `B [SEP]`; then `mask_tokens` masks it; special tokens are never chosen.

    Returns a dataset of
    `({"token_ids", "segment_ids", "padding_mask", "mask_positions"},
      {"mlm": original ids at mask_positions, "nsp": label},
      {"mlm": mask weights (0 for unused slots), "nsp": 1.0})`, the inputs and
    targets of `keras_archs.applications.bert.BERTPretrainer`.

    Args:
        token_ids: the 1-D token stream (`TextCorpus.train_ids`).
        tokenizer: its tokenizer (or vocabulary list), holding `BERT_SPECIAL_TOKENS`.
        masking_rate: fraction of selectable positions chosen, in (0, 1).
        max_predictions: slots per example (default `ceil(masking_rate * sequence_length)`).
        num_examples: number of examples (default: one per window of the stream).
    """
    import tensorflow as tf

    specials, vocabulary_size = bert_special_ids(tokenizer)
    sequence_length = check_int("sequence_length", sequence_length, minimum=8)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    masking_rate = check_float(
        "masking_rate",
        masking_rate,
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        exclusive_maximum=True,
    )
    short_seq_prob = check_float("short_seq_prob", short_seq_prob, minimum=0.0, maximum=1.0)
    shuffle = check_bool("shuffle", shuffle)
    if max_predictions is None:
        max_predictions = int(np.ceil(masking_rate * sequence_length))
    # At most one prediction slot per position.
    max_predictions = check_int(
        "max_predictions", max_predictions, minimum=1, maximum=sequence_length
    )
    token_ids = np.asarray(token_ids, dtype="int32").ravel()
    content = sequence_length - 3
    windows = (token_ids.size - sequence_length) // content
    if windows < 4:
        raise ValueError(
            f"The token stream has {token_ids.size} tokens; pairs of sequence_length="
            f"{sequence_length} need at least {4 * content + sequence_length}."
        )
    if num_examples is None:
        num_examples = windows
    num_examples = check_int("num_examples", num_examples, minimum=1)
    special_ids = np.array(sorted(specials.values()), dtype="int32")
    random_ids = np.setdiff1d(np.arange(vocabulary_size, dtype="int32"), special_ids)
    cls, sep, pad = specials["[CLS]"], specials["[SEP]"], specials["[PAD]"]
    stream, size = tf.constant(token_ids), token_ids.size

    def example(i):
        s = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), i]), 6)
        short = tf.random.stateless_uniform([], s[0]) < short_seq_prob
        total = tf.where(
            short, tf.random.stateless_uniform([], s[1], 2, content + 1, tf.int32), content
        )
        len_a = tf.random.stateless_uniform([], s[2], 1, total, tf.int32)
        len_b = total - len_a
        is_next = tf.random.stateless_uniform([], s[3]) < 0.5
        start = tf.cast(i % windows, tf.int32) * content
        other = tf.random.stateless_uniform([], s[4], 0, size - len_b, tf.int32)
        # A "random" segment B must not overlap A's neighbourhood.
        near = tf.abs(other - start) < 2 * content
        other = tf.where(near, (other + size // 2) % (size - len_b), other)
        b_start = tf.where(is_next, start + len_a, other)
        a = stream[start : start + len_a]
        b = stream[b_start : b_start + len_b]
        ids = tf.concat([[cls], a, [sep], b, [sep]], 0)
        real = tf.shape(ids)[0]
        ids = tf.pad(ids, [[0, sequence_length - real]], constant_values=pad)
        segments = tf.pad(
            tf.concat([tf.zeros([len_a + 2], tf.int32), tf.ones([len_b + 1], tf.int32)], 0),
            [[0, sequence_length - real]],
        )
        padding_mask = tf.cast(tf.range(sequence_length) < real, tf.int32)
        ids.set_shape([sequence_length])
        segments.set_shape([sequence_length])
        is_special = tf.reduce_any(ids[:, None] == special_ids[None, :], axis=-1)
        selectable = tf.logical_and(padding_mask > 0, tf.logical_not(is_special))
        masked, positions, labels, weights = mask_tokens(
            ids, selectable, s[5], masking_rate, max_predictions, specials["[MASK]"], random_ids
        )
        x = {
            "token_ids": masked,
            "segment_ids": segments,
            "padding_mask": padding_mask,
            "mask_positions": positions,
        }
        y = {"mlm": labels, "nsp": tf.cast(is_next, tf.int32)}
        return x, y, {"mlm": weights, "nsp": tf.constant(1.0)}

    ds = tf.data.Dataset.range(num_examples)
    if shuffle:
        ds = ds.shuffle(min(num_examples, 100_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)


def bert_classification_dataset(
    texts, labels, tokenizer, sequence_length, batch_size, *, shuffle=False, seed=0
):
    """Batched `({"token_ids", "segment_ids", "padding_mask"}, label)` for fine-tuning:
    `[CLS] text [SEP]`, truncated to `sequence_length` and padded with [PAD]; shuffled
    with `seed` when `shuffle`."""
    import tensorflow as tf

    specials, _ = bert_special_ids(tokenizer, BERT_PACKING_TOKENS)
    # [CLS] and [SEP] take two positions; at least one is left for the text.
    sequence_length = check_int("sequence_length", sequence_length, minimum=3)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    shuffle = check_bool("shuffle", shuffle)
    tok = getattr(tokenizer, "tokenizer", tokenizer)
    rows = []
    for row in tok(list(texts)):
        row = np.asarray(row, dtype="int32")[: sequence_length - 2]
        row = np.concatenate([[specials["[CLS]"]], row, [specials["[SEP]"]]])
        rows.append(np.pad(row, (0, sequence_length - row.size), constant_values=specials["[PAD]"]))
    ids = np.stack(rows).astype("int32")
    x = {
        "token_ids": ids,
        "segment_ids": np.zeros_like(ids),
        "padding_mask": (ids != specials["[PAD]"]).astype("int32"),
    }
    ds = tf.data.Dataset.from_tensor_slices((x, np.asarray(labels, dtype="int32")))
    if shuffle:
        ds = ds.shuffle(len(ids), seed=seed)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def imdb_reviews_texts(data_dir=None):
    """(train_texts, train_labels, test_texts, test_labels) of tensorflow-datasets'
    `imdb_reviews`; offline it fails at once, naming the offline BERT recipe."""
    builder = tfds_builder(
        "imdb_reviews",
        data_dir,
        "pre-train BERT on python_stdlib (keras-archs train bert_tiny)",
    )
    out = []
    for split in ("train", "test"):
        pairs = [
            (t.numpy().decode("utf-8"), int(y))
            for t, y in builder.as_dataset(split=split, as_supervised=True)
        ]
        out += [[t for t, _ in pairs], [y for _, y in pairs]]
    return tuple(out)


def python_stdlib_wordpiece(path=PYTHON_STDLIB_VOCABULARY):
    """A `TextTokenizer` over keras-hub's `WordPieceTokenizer` with the vocabulary file
    `path` (one token per line; default: the one shipped for `python_stdlib`)."""
    vocab = read_vocabulary(path)
    bert_special_ids(vocab)  # ValueError naming any missing special token
    return wordpiece_tokenizer(vocab)


def python_stdlib_pretraining(
    *,
    batch_size=64,
    sequence_length=64,
    validation_split=0.1,
    seed=0,
    max_files=None,
    validation_files=None,
    validation_examples=None,
    include_tests=False,
    vocabulary=None,
):
    """MLM + NSP pipelines over the standard library's sources, as a `DatasetBundle`.

    Files are split into training and validation (`python_stdlib_files`); `max_files`
    and `validation_files` keep that many of each, chosen with `seed`; the validation
    set is the first `validation_examples` examples of its own seeded stream, the same
    on every epoch. The bundle says how to train on it: BERT under its pre-training
    heads (`head_kwargs`: the number of masked slots), one cross-entropy per head (the
    masked-token one averaged over the chosen positions only) and the accuracy of each
    head, weighted by the pipeline's sample weights.
    """
    import keras

    tokenizer = python_stdlib_wordpiece(vocabulary or PYTHON_STDLIB_VOCABULARY)
    train_paths, val_paths = python_stdlib_files(validation_split, seed, include_tests)
    rng = np.random.default_rng(seed + 1)
    for argument, value in (("max_files", max_files), ("validation_files", validation_files)):
        check_int(argument, value, minimum=1, allow_none=True)
    if max_files:
        train_paths = [
            train_paths[i] for i in sorted(rng.permutation(len(train_paths))[:max_files])
        ]
    if validation_files:
        picked = rng.permutation(len(val_paths))[:validation_files]
        val_paths = [val_paths[i] for i in sorted(picked)]
    train_ids = tokenize_texts(read_texts(train_paths), tokenizer)
    val_ids = tokenize_texts(read_texts(val_paths), tokenizer)
    train = bert_pretraining_dataset(
        train_ids, tokenizer, sequence_length, batch_size, shuffle=True, seed=seed
    )
    validation = bert_pretraining_dataset(
        val_ids,
        tokenizer,
        sequence_length,
        batch_size,
        seed=seed + 1,
        num_examples=validation_examples,
    )
    content = sequence_length - 3
    accuracy = {
        head: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")] for head in ("mlm", "nsp")
    }
    return DatasetBundle(
        train=train,
        validation=validation,
        num_classes=tokenizer.vocabulary_size,
        input_shape=(sequence_length,),
        name="python_stdlib",
        train_size=train_ids.size // content,
        validation_size=validation_examples or val_ids.size // content,
        model_kwargs={
            "vocabulary_size": tokenizer.vocabulary_size,
            "max_sequence_length": sequence_length,
            "sequence_length": sequence_length,
        },
        loss={
            "mlm": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            "nsp": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
        metrics=(),
        weighted_metrics=accuracy,
        head_kwargs={
            "kind": "pretraining",
            "max_predictions": int(np.ceil(0.15 * sequence_length)),
        },
    )


def most_frequent_masked_accuracy(dataset):
    """The masked-token accuracy of always answering the most frequent masked token of
    `dataset` (a `bert_pretraining_dataset`): the baseline a masked LM must beat."""
    labels = []
    for _, y, w in dataset:
        chosen = np.asarray(w["mlm"]) > 0
        labels.append(np.asarray(y["mlm"])[chosen])
    labels = np.concatenate(labels)
    if labels.size == 0:
        raise ValueError("dataset holds no masked positions (all MLM weights are 0).")
    return float(np.bincount(labels).max() / labels.size)


def classification_tokenizer(vocabulary=None, lowercase=False):
    """A WordPiece tokenizer for classification inputs `[CLS] text [SEP] [PAD]...`.

    `vocabulary`: None (the vocabulary shipped for `python_stdlib`, which a BERT
    pre-trained by `keras-archs train bert_tiny` knows), the path of a vocabulary file
    (one token per line, with [CLS], [SEP] and [PAD]), or `"keras_hub:<preset>"` (a
    keras-hub BERT preset's tokenizer, downloaded on first use). `lowercase` applies to
    a file (Google's uncased vocabularies need it); a preset knows its own.
    """
    import keras_hub

    lowercase = check_bool("lowercase", lowercase)
    if vocabulary is None:
        return python_stdlib_wordpiece().tokenizer
    vocabulary = check_string("vocabulary", vocabulary)
    if vocabulary.startswith(KERAS_HUB_PREFIX):
        preset = vocabulary[len(KERAS_HUB_PREFIX) :]
        try:
            return keras_hub.models.BertTokenizer.from_preset(preset)
        except Exception as e:  # network, Kaggle credentials, an unknown preset name
            raise DatasetUnavailableError(
                f"Could not load the tokenizer of keras-hub preset {preset!r} "
                f"({type(e).__name__}: {e}). Offline, pass a vocabulary file."
            ) from e
    if not os.path.isfile(vocabulary):
        raise ValueError(
            f"vocabulary must be a vocabulary file, 'keras_hub:<preset>' or None; got "
            f"vocabulary={vocabulary!r} (no such file)."
        )
    tokens = read_vocabulary(vocabulary)
    bert_special_ids(tokens, BERT_PACKING_TOKENS)
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=tokens,
        lowercase=lowercase,
        oov_token="[UNK]" if "[UNK]" in tokens else tokens[0],
        dtype="int32",
    )


def text_classification_bundle(
    name,
    train,
    validation,
    class_names,
    *,
    batch_size=32,
    seed=0,
    sequence_length=128,
    vocabulary=None,
    lowercase=False,
):
    """A `DatasetBundle` of BERT classification pipelines from `(texts, labels)` pairs.

    The bundle asks for BERT's classifier head over `len(class_names)` classes, a
    cross-entropy on its logits and accuracy; the model's position table is
    `sequence_length` long unless the caller's model arguments say otherwise (a
    pre-trained BERT keeps its own).
    """
    import keras

    tokenizer = classification_tokenizer(vocabulary, lowercase)
    sequence_length = check_int("sequence_length", sequence_length, minimum=3)
    vocabulary_size = int(tokenizer.vocabulary_size())

    def pipeline(pair, shuffle):
        texts, labels = pair
        return bert_classification_dataset(
            texts, labels, tokenizer, sequence_length, batch_size, shuffle=shuffle, seed=seed
        )

    return DatasetBundle(
        train=pipeline(train, True),
        validation=pipeline(validation, False),
        num_classes=len(class_names),
        input_shape=(sequence_length,),
        name=name,
        train_size=len(train[0]),
        validation_size=len(validation[0]),
        model_kwargs={
            "vocabulary_size": vocabulary_size,
            "max_sequence_length": sequence_length,
            "sequence_length": sequence_length,
        },
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=("accuracy",),
        head_kwargs={"kind": "classifier", "num_classes": len(class_names)},
    )


def is_text_folder(path):
    """True when the class sub-folders of `path` hold `.txt` files (else: images)."""
    for entry in os.scandir(path):
        if entry.is_dir():
            for _, _, names in os.walk(entry.path, followlinks=True):
                if any(n.lower().endswith(".txt") for n in names):
                    return True
    return False


def load_text_folder(path, batch_size=32, validation_split=0.2, seed=0, **options):
    """A folder with one sub-folder of `.txt` files per class (the sorted sub-folder
    names are the classes, as `keras.utils.text_dataset_from_directory` names them),
    split per class with `seed`; `options` are `TEXT_CLASSIFICATION_OPTIONS`."""
    need = "one sub-folder per class, at least two classes, holding .txt files"
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir())
    texts, labels = [], []
    for label, name in enumerate(classes):
        for root, dirs, names in os.walk(os.path.join(path, name), followlinks=True):
            dirs.sort()
            for file in sorted(n for n in names if n.lower().endswith(".txt")):
                with open(os.path.join(root, file), "rb") as f:
                    texts.append(f.read().decode("utf-8", errors="replace"))
                labels.append(label)
    if len(set(labels)) < 2:
        raise ValueError(
            f"Text folder {path!r} has texts of {len(set(labels))} class(es); it needs {need}."
        )
    labels = np.array(labels, dtype="int32")
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for label in range(len(classes)):
        # Split each class alike, so a small folder keeps every class in both splits.
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, round(len(idx) * validation_split)) if len(idx) > 1 else 0
        val_idx.extend(idx[:n_val])
        train_idx.extend(idx[n_val:])
    train_idx = rng.permutation(np.array(train_idx, dtype="int64"))

    def pick(idx):
        return [texts[i] for i in idx], labels[np.asarray(idx, dtype="int64")]

    return text_classification_bundle(
        os.path.basename(os.path.normpath(path)),
        pick(train_idx),
        pick(val_idx),
        classes,
        batch_size=batch_size,
        seed=seed,
        **options,
    )


@register_dataset("imdb_reviews")
def _imdb_reviews(
    *,
    batch_size=32,
    seed=0,
    data_dir=None,
    sequence_length=128,
    vocabulary=None,
    lowercase=False,
    max_train=None,
):
    """IMDB movie-review sentiment (tensorflow-datasets; downloaded on first use) for
    BERT's classifier head; validation is the test split. `max_train` keeps the first
    that many training reviews."""
    max_train = check_int("max_train", max_train, minimum=1, allow_none=True)
    train_texts, train_labels, test_texts, test_labels = imdb_reviews_texts(data_dir)
    if max_train:
        train_texts, train_labels = train_texts[:max_train], train_labels[:max_train]
    return text_classification_bundle(
        "imdb_reviews",
        (train_texts, train_labels),
        (test_texts, test_labels),
        ("negative", "positive"),
        batch_size=batch_size,
        seed=seed,
        sequence_length=sequence_length,
        vocabulary=vocabulary,
        lowercase=lowercase,
    )

"""Text corpora for language models, tokenized with keras-hub and packed with tf.data.

- `python_stdlib`: the `.py` sources of the running interpreter's standard library
  (real text present on every machine, so the text jobs run with no network), split
  into training and validation *by file* with a fixed seed.
- `tiny_shakespeare` (and other text sets) come from tensorflow-datasets when it can
  download them; offline they fail at once with a `DatasetUnavailableError` naming
  `python_stdlib`. `ted_hrlr_translate/pt_to_en` likewise names the offline
  sequence-transduction task `addition`.

Tokenizers are keras-hub's (`keras_hub.tokenizers`), not reimplemented here:
`ByteTokenizer` (the default: 256 byte ids, nothing to learn, lossless for code) or a
`WordPieceTokenizer` whose vocabulary is learned offline from the training split with
`keras_hub.tokenizers.compute_word_piece_vocabulary`.

Packing (as in GPT pre-training): the token ids of every file, each file followed by
the end-of-text token, are concatenated into one stream and cut into windows of
`sequence_length + 1` tokens; a window gives the inputs `token_ids = w[:-1]` (with an
all-ones `padding_mask`) and the next-token targets `w[1:]`.

TensorFlow and keras-hub are imported lazily, inside the functions.
"""

from __future__ import annotations

import dataclasses
import os
import sysconfig
from typing import Any

import numpy as np

from keras_archs.data.images import (
    DatasetBundle,
    DatasetUnavailableError,
    _online,
    register_dataset,
)

TOKENIZERS = ("byte", "wordpiece")
# NUL never occurs in a Python source file (files holding one are skipped), so the byte
# tokenizer uses id 0 as its end-of-text token.
BYTE_END_TOKEN_ID = 0
WORDPIECE_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[END]")
# BERT adds [CLS] (first token), [SEP] (ends each segment) and [MASK] (masked LM).
BERT_SPECIAL_TOKENS = (*WORDPIECE_SPECIAL_TOKENS, "[CLS]", "[SEP]", "[MASK]")
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}
_TEST_DIRS = {"test", "tests", "idle_test"}


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _positive(value, argument, minimum=1):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}; got {argument}={value!r}.")
    return int(value)


def _fraction(value, argument):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
        raise ValueError(f"{argument} must be a number in (0, 1); got {argument}={value!r}.")
    return float(value)


def python_stdlib_files(validation_split=0.1, seed=0, include_tests=False, stdlib_dir=None):
    """(train_paths, validation_paths): the standard library's `.py` files, split by file.

    The file list is sorted before a `numpy` permutation with `seed`, so the split is
    the same on every run of the same interpreter. `site-packages` is never included;
    the `test`/`tests` packages only with `include_tests=True`.
    """
    validation_split = _fraction(validation_split, "validation_split")
    root = stdlib_dir or sysconfig.get_paths()["stdlib"]
    if not os.path.isdir(root):
        raise ValueError(f"stdlib_dir={root!r} is not a directory.")
    paths = []
    for directory, subdirs, files in os.walk(root):
        skip = _SKIP_DIRS if include_tests else _SKIP_DIRS | _TEST_DIRS
        subdirs[:] = sorted(d for d in subdirs if d not in skip)
        paths += [os.path.join(directory, f) for f in sorted(files) if f.endswith(".py")]
    paths.sort()
    if len(paths) < 2:
        raise ValueError(f"Found {len(paths)} .py files under {root!r}; the split needs >= 2.")
    order = np.random.default_rng(seed).permutation(len(paths))
    n_val = min(max(1, round(len(paths) * validation_split)), len(paths) - 1)
    return [paths[i] for i in sorted(order[n_val:])], [paths[i] for i in sorted(order[:n_val])]


def read_texts(paths):
    """The UTF-8 text of each file (undecodable bytes replaced; files with NUL skipped)."""
    texts = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        if b"\x00" not in data:
            texts.append(data.decode("utf-8", errors="replace"))
    return texts


@dataclasses.dataclass
class TextTokenizer:
    """A keras-hub tokenizer plus the ids a language model needs."""

    tokenizer: Any
    vocabulary_size: int
    end_token_id: int
    kind: str

    def encode(self, text):
        """Token ids (int32 numpy) of one string."""
        return np.asarray(self.tokenizer(text), dtype="int32")

    def decode(self, ids):
        """The string of a 1-D sequence of ids (bytes that are not valid UTF-8 replaced)."""
        ids = np.asarray(ids, dtype="int32")
        if self.kind == "byte":
            return bytes(ids.astype("uint8").tolist()).decode("utf-8", errors="replace")
        out = self.tokenizer.detokenize(ids)
        out = out.numpy() if hasattr(out, "numpy") else out
        return out.decode("utf-8", errors="replace") if isinstance(out, bytes) else str(out)


def make_tokenizer(kind="byte", texts=None, vocabulary_size=None, special_tokens=None):
    """A `TextTokenizer` over keras-hub's `ByteTokenizer` or a learned `WordPieceTokenizer`.

    Args:
        kind: "byte" (256 ids, id 0 ends a text) or "wordpiece" (learned from `texts`).
        texts: training strings the WordPiece vocabulary is learned from.
        vocabulary_size: WordPiece vocabulary size, including the special tokens
            `WORDPIECE_SPECIAL_TOKENS` ("[PAD]", "[UNK]", "[END]"); must exceed their count.
        special_tokens: the WordPiece reserved tokens (default `WORDPIECE_SPECIAL_TOKENS`;
            BERT uses `BERT_SPECIAL_TOKENS`); they take the first ids, in order.
    """
    if kind not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {TOKENIZERS}; got tokenizer={kind!r}.")
    import keras_hub

    if kind == "byte":
        if vocabulary_size not in (None, 256):
            raise ValueError(
                f"The byte tokenizer has 256 ids; got vocabulary_size={vocabulary_size!r}."
            )
        tok = keras_hub.tokenizers.ByteTokenizer(lowercase=False, dtype="int32")
        return TextTokenizer(tok, 256, BYTE_END_TOKEN_ID, "byte")
    reserved = tuple(special_tokens or WORDPIECE_SPECIAL_TOKENS)
    missing = [t for t in WORDPIECE_SPECIAL_TOKENS if t not in reserved]
    if missing:
        raise ValueError(f"special_tokens must include {missing}; got {reserved}.")
    specials = len(reserved)
    if not _is_int(vocabulary_size) or vocabulary_size <= specials:
        raise ValueError(
            f"vocabulary_size must be an integer larger than the {specials} special tokens "
            f"{reserved}; got vocabulary_size={vocabulary_size!r}."
        )
    if not texts:
        raise ValueError("tokenizer='wordpiece' needs training texts to learn its vocabulary.")
    import tensorflow as tf

    # A list of strings would be read as file names: pass a dataset of the texts.
    vocab = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(list(texts)).batch(64),
        vocabulary_size,
        lowercase=False,
        strip_accents=False,
        split_on_cjk=False,
        reserved_tokens=list(reserved),
    )
    tok = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocab,
        lowercase=False,
        strip_accents=False,
        split_on_cjk=False,
        oov_token="[UNK]",
        dtype="int32",
    )
    return TextTokenizer(tok, tok.vocabulary_size(), tok.token_to_id("[END]"), "wordpiece")


def tokenize_texts(texts, tokenizer):
    """One int32 stream: each text's ids followed by `tokenizer.end_token_id`."""
    if not texts:
        raise ValueError("texts is empty: there is nothing to tokenize.")
    # keras-hub returns a list of id lists for a batch of strings of different lengths.
    rows = [np.asarray(r, dtype="int32") for r in tokenizer.tokenizer(list(texts))]
    end = np.array([tokenizer.end_token_id], dtype="int32")
    return np.concatenate([part for row in rows for part in (row, end)])


def pack_windows(token_ids, sequence_length, batch_size, shuffle=False, seed=0, stride=None):
    """Batched `tf.data` of `({"token_ids", "padding_mask"}, next_token_targets)`.

    The stream is cut into windows of `sequence_length + 1` tokens starting every
    `stride` tokens (default `sequence_length`: consecutive windows share one token);
    a short tail is dropped. Every window is full, so `padding_mask` is all ones.
    """
    import tensorflow as tf

    sequence_length = _positive(sequence_length, "sequence_length")
    batch_size = _positive(batch_size, "batch_size")
    stride = sequence_length if stride is None else _positive(stride, "stride")
    token_ids = np.asarray(token_ids, dtype="int32").ravel()
    if token_ids.size < sequence_length + 1:
        raise ValueError(
            f"The token stream has {token_ids.size} tokens, fewer than "
            f"sequence_length + 1 = {sequence_length + 1}."
        )
    num_windows = (token_ids.size - sequence_length - 1) // stride + 1
    stream = tf.constant(token_ids)
    ds = tf.data.Dataset.range(num_windows)
    if shuffle:
        ds = ds.shuffle(num_windows, seed=seed, reshuffle_each_iteration=True)

    def window(i):
        w = stream[i * stride : i * stride + sequence_length + 1]
        x = {"token_ids": w[:-1], "padding_mask": tf.ones((sequence_length,), "int32")}
        return x, w[1:]

    ds = ds.map(window, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class TextCorpus:
    """Token streams of a corpus' two splits and the tokenizer that made them."""

    train_ids: np.ndarray
    validation_ids: np.ndarray
    tokenizer: TextTokenizer
    name: str
    train_files: int | None = None
    validation_files: int | None = None

    @property
    def vocabulary_size(self):
        return self.tokenizer.vocabulary_size


def load_text_corpus(
    name="python_stdlib",
    *,
    tokenizer="byte",
    vocabulary_size=None,
    validation_split=0.1,
    seed=0,
    include_tests=False,
    max_files=None,
    data_dir=None,
    special_tokens=None,
):
    """Tokenized training and validation streams of `name` ("python_stdlib" or a tfds set).

    `max_files` (python_stdlib only) keeps the first that many files of each split's
    seeded order, for quick runs.
    """
    if name == "python_stdlib":
        train_paths, val_paths = python_stdlib_files(validation_split, seed, include_tests)
        if max_files is not None:
            max_files = _positive(max_files, "max_files")
            order = np.random.default_rng(seed)
            train_paths = [train_paths[i] for i in order.permutation(len(train_paths))[:max_files]]
            val_paths = [val_paths[i] for i in order.permutation(len(val_paths))[:max_files]]
        train_texts, val_texts = read_texts(train_paths), read_texts(val_paths)
    else:
        train_texts, val_texts = _tfds_texts(name, data_dir)
    tok = make_tokenizer(tokenizer, train_texts, vocabulary_size, special_tokens)
    return TextCorpus(
        train_ids=tokenize_texts(train_texts, tok),
        validation_ids=tokenize_texts(val_texts, tok),
        tokenizer=tok,
        name=name,
        train_files=len(train_texts),
        validation_files=len(val_texts),
    )


def _unavailable(name, alternative):
    return DatasetUnavailableError(
        f"Dataset {name!r} comes from tensorflow-datasets and must be downloaded, but the "
        f"network is not reachable (or the download failed). Offline alternative: "
        f"{alternative}."
    )


def _tfds_builder(name, data_dir, alternative):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not _online():
            raise _unavailable(name, alternative)
        try:
            builder.download_and_prepare()
        except Exception as e:
            raise _unavailable(name, alternative) from e
    return builder


def _tfds_texts(name, data_dir=None):
    """Training and validation strings of a tensorflow-datasets text set (`text` feature)."""
    builder = _tfds_builder(name, data_dir, "load_dataset('python_stdlib')")
    splits = builder.info.splits
    val_split = "validation" if "validation" in splits else "test"
    texts = []
    for split in ("train", val_split):
        ds = builder.as_dataset(split=split)
        texts.append([ex["text"].numpy().decode("utf-8") for ex in ds])
    return texts


def _language_model_bundle(corpus, batch_size, sequence_length, seed):
    return DatasetBundle(
        train=pack_windows(corpus.train_ids, sequence_length, batch_size, True, seed),
        validation=pack_windows(corpus.validation_ids, sequence_length, batch_size),
        num_classes=corpus.vocabulary_size,
        input_shape=(sequence_length,),
        name=corpus.name,
        train_size=(corpus.train_ids.size - 1) // sequence_length,
        validation_size=(corpus.validation_ids.size - 1) // sequence_length,
        model_kwargs={
            "vocabulary_size": corpus.vocabulary_size,
            "max_sequence_length": sequence_length,
        },
        loss="sparse_categorical_crossentropy_from_logits",
        metrics=("accuracy",),
    )


@register_dataset("python_stdlib")
def _python_stdlib(
    *,
    batch_size=32,
    validation_split=0.1,
    seed=0,
    sequence_length=128,
    tokenizer="byte",
    vocabulary_size=None,
    include_tests=False,
    max_files=None,
    **_,
):
    """Language-model windows over the Python standard library's sources (offline)."""
    corpus = load_text_corpus(
        "python_stdlib",
        tokenizer=tokenizer,
        vocabulary_size=vocabulary_size,
        validation_split=validation_split,
        seed=seed,
        include_tests=include_tests,
        max_files=max_files,
    )
    return _language_model_bundle(corpus, batch_size, sequence_length, seed)


@register_dataset("tiny_shakespeare")
def _tiny_shakespeare(
    *, batch_size=32, seed=0, sequence_length=128, data_dir=None, tokenizer="byte", **_
):
    """Karpathy's tiny Shakespeare from tensorflow-datasets (needs the network once)."""
    corpus = load_text_corpus("tiny_shakespeare", tokenizer=tokenizer, data_dir=data_dir)
    return _language_model_bundle(corpus, batch_size, sequence_length, seed)


@register_dataset("ted_hrlr_translate/pt_to_en")
def _ted_pt_to_en(*, batch_size=64, seed=0, data_dir=None, max_length=128, **_):
    """TED talks Portuguese -> English (tensorflow-datasets), byte-tokenized pairs.

    Yields `({"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
    "decoder_padding_mask"}, targets)`; ids are bytes + 3 (0 pad, 1 start, 2 end),
    truncated to `max_length`.
    """
    import tensorflow as tf

    builder = _tfds_builder(
        "ted_hrlr_translate/pt_to_en",
        data_dir,
        "the offline sequence-transduction task load_dataset('addition') "
        "(applications/transformer_addition.py)",
    )
    max_length = _positive(max_length, "max_length", 3)

    def ids(text, length):
        b = tf.cast(tf.io.decode_raw(text, tf.uint8), tf.int32) + 3
        return b[:length]

    def prepare(pt, en):
        src = ids(pt, max_length)
        tgt = tf.concat([[1], ids(en, max_length - 1), [2]], axis=0)
        pad = max_length + 1 - tf.shape(tgt)[0]
        tgt = tf.pad(tgt, [[0, pad]])
        src = tf.pad(src, [[0, max_length - tf.shape(src)[0]]])
        x = {
            "encoder_token_ids": src,
            "encoder_padding_mask": tf.cast(src > 0, tf.int32),
            "decoder_token_ids": tgt[:-1],
            "decoder_padding_mask": tf.cast(tgt[:-1] > 0, tf.int32),
        }
        return x, tgt[1:]

    def pipeline(split, shuffle):
        ds = builder.as_dataset(split=split, as_supervised=True)
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        if shuffle:
            ds = ds.shuffle(10_000, seed=seed)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return DatasetBundle(
        train=pipeline("train", True),
        validation=pipeline("validation", False),
        num_classes=259,
        input_shape=(max_length,),
        name="ted_hrlr_translate/pt_to_en",
        model_kwargs={"vocabulary_size": 259, "max_sequence_length": max_length},
        loss="sparse_categorical_crossentropy_from_logits",
        metrics=("accuracy",),
    )


# BERT pre-training data (Devlin et al. 2018, section 3.1 and appendix A.1): sentence
# pairs for next-sentence prediction and masked tokens, made here in tf.data (not in
# the model), each example from stateless random ops seeded by (seed, example index).


# What packing `[CLS] text [SEP] [PAD]...` needs; Google's BERT vocabularies have these.
BERT_PACKING_TOKENS = ("[CLS]", "[SEP]", "[PAD]")


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
    sequence_length = _positive(sequence_length, "sequence_length", 8)
    batch_size = _positive(batch_size, "batch_size")
    masking_rate = _fraction(masking_rate, "masking_rate")
    if not isinstance(short_seq_prob, (int, float)) or not 0 <= short_seq_prob <= 1:
        raise ValueError(
            f"short_seq_prob must be in [0, 1]; got short_seq_prob={short_seq_prob!r}."
        )
    if max_predictions is None:
        max_predictions = int(np.ceil(masking_rate * sequence_length))
    max_predictions = _positive(max_predictions, "max_predictions")
    if max_predictions > sequence_length:
        raise ValueError(
            f"max_predictions={max_predictions} exceeds sequence_length={sequence_length}."
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
    num_examples = _positive(num_examples, "num_examples")
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


def bert_classification_dataset(texts, labels, tokenizer, sequence_length, batch_size, **kw):
    """Batched `({"token_ids", "segment_ids", "padding_mask"}, label)` for fine-tuning:
    `[CLS] text [SEP]`, truncated to `sequence_length` and padded with [PAD]."""
    import tensorflow as tf

    specials, _ = bert_special_ids(tokenizer, BERT_PACKING_TOKENS)
    sequence_length = _positive(sequence_length, "sequence_length", 3)
    batch_size = _positive(batch_size, "batch_size")
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
    if kw.get("shuffle"):
        ds = ds.shuffle(len(ids), seed=kw.get("seed", 0))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def imdb_reviews_texts(data_dir=None):
    """(train_texts, train_labels, test_texts, test_labels) of tensorflow-datasets'
    `imdb_reviews`; offline it fails at once, naming the offline BERT recipe."""
    builder = _tfds_builder(
        "imdb_reviews",
        data_dir,
        "pre-train BERT on load_text_corpus('python_stdlib') "
        "(applications/bert_pretrain_python_stdlib.py)",
    )
    out = []
    for split in ("train", "test"):
        pairs = [
            (t.numpy().decode("utf-8"), int(y))
            for t, y in builder.as_dataset(split=split, as_supervised=True)
        ]
        out += [[t for t, _ in pairs], [y for _, y in pairs]]
    return tuple(out)

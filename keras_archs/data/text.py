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

import keras
import numpy as np

from keras_archs.data.datasets import DatasetBundle, register_dataset, tfds_builder
from keras_archs.validation import check_choice, check_float, check_int

TOKENIZERS = ("byte", "wordpiece")
# NUL never occurs in a Python source file (files holding one are skipped), so the byte
# tokenizer uses id 0 as its end-of-text token.
BYTE_END_TOKEN_ID = 0
WORDPIECE_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[END]")
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}
_TEST_DIRS = {"test", "tests", "idle_test"}


def python_stdlib_files(validation_split=0.1, seed=0, include_tests=False, stdlib_dir=None):
    """(train_paths, validation_paths): the standard library's `.py` files, split by file.

    The file list is sorted before a `numpy` permutation with `seed`, so the split is
    the same on every run of the same interpreter. `site-packages` is never included;
    the `test`/`tests` packages only with `include_tests=True`.
    """
    validation_split = check_float(
        "validation_split",
        validation_split,
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        exclusive_maximum=True,
    )
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
            BERT uses `keras_archs.data.bert.BERT_SPECIAL_TOKENS`); they take the first
            ids, in order.
    """
    check_choice("tokenizer", kind, TOKENIZERS)
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
    check_int("vocabulary_size", vocabulary_size)
    if vocabulary_size <= specials:
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
    return wordpiece_tokenizer(vocab)


def read_vocabulary(path):
    """The tokens of a vocabulary file, one per line (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


def wordpiece_tokenizer(vocabulary):
    """A `TextTokenizer` over keras-hub's `WordPieceTokenizer` with `vocabulary` (a list
    holding `WORDPIECE_SPECIAL_TOKENS`), case and accents kept: code is case-sensitive."""
    import keras_hub

    tok = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=list(vocabulary),
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

    sequence_length = check_int("sequence_length", sequence_length, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    stride = check_int("stride", sequence_length if stride is None else stride, minimum=1)
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
            max_files = check_int("max_files", max_files, minimum=1)
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


def _tfds_texts(name, data_dir=None):
    """Training and validation strings of a tensorflow-datasets text set (`text` feature)."""
    builder = tfds_builder(name, data_dir, "load_dataset('python_stdlib')")
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
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=("accuracy",),
    )


def validation_windows(corpus, sequence_length=64, num_windows=512):
    """`num_windows` windows spread evenly over the validation stream: (inputs, targets),
    each `(num_windows, sequence_length)`, the targets shifted by one token."""
    ids = corpus.validation_ids
    total = (ids.size - 1) // sequence_length
    starts = np.linspace(0, total - 1, min(num_windows, total)).astype(int) * sequence_length
    x = np.stack([ids[s : s + sequence_length] for s in starts])
    y = np.stack([ids[s + 1 : s + sequence_length + 1] for s in starts])
    return x, y


def bigram_loss(train_ids, x, y, vocabulary_size, alpha=0.1):
    """Mean negative log-likelihood (nats) of each `y` token given the `x` token before it
    under add-`alpha` bigram counts of `train_ids`: the baseline a language model beats."""
    counts = np.zeros((vocabulary_size, vocabulary_size))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    probs = (counts + alpha) / (counts + alpha).sum(axis=1, keepdims=True)
    return float(-np.log(probs[x.ravel(), y.ravel()]).mean())


OBJECTIVES = ("causal_lm", "mlm_nsp")


@register_dataset("python_stdlib")
def _python_stdlib(
    *,
    batch_size=32,
    validation_split=0.1,
    seed=0,
    sequence_length=128,
    objective="causal_lm",
    tokenizer=None,
    vocabulary_size=None,
    include_tests=False,
    max_files=None,
    validation_files=None,
    validation_examples=None,
):
    """The Python standard library's sources (offline), for one of two objectives:

    - "causal_lm": next-token windows (GPT), byte-level unless `tokenizer="wordpiece"`.
    - "mlm_nsp": BERT's masked tokens and next-sentence pairs over the shipped WordPiece
      vocabulary (`keras_archs.data.bert.python_stdlib_pretraining`); `max_files`,
      `validation_files` and `validation_examples` bound its size.
    """
    check_choice("objective", objective, OBJECTIVES)
    if objective == "mlm_nsp":
        if tokenizer not in (None, "wordpiece") or vocabulary_size is not None:
            raise ValueError(
                "objective='mlm_nsp' uses the WordPiece vocabulary shipped for python_stdlib; "
                f"got tokenizer={tokenizer!r}, vocabulary_size={vocabulary_size!r} (leave both "
                "unset)."
            )
        from keras_archs.data import bert

        return bert.python_stdlib_pretraining(
            batch_size=batch_size,
            sequence_length=sequence_length,
            validation_split=validation_split,
            seed=seed,
            max_files=max_files,
            validation_files=validation_files,
            validation_examples=validation_examples,
            include_tests=include_tests,
        )
    if validation_files is not None or validation_examples is not None:
        raise ValueError(
            "validation_files and validation_examples bound objective='mlm_nsp' only; got "
            f"validation_files={validation_files!r}, validation_examples={validation_examples!r}."
        )
    corpus = load_text_corpus(
        "python_stdlib",
        tokenizer=tokenizer or "byte",
        vocabulary_size=vocabulary_size,
        validation_split=validation_split,
        seed=seed,
        include_tests=include_tests,
        max_files=max_files,
    )
    return _language_model_bundle(corpus, batch_size, sequence_length, seed)


@register_dataset("tiny_shakespeare")
def _tiny_shakespeare(
    *, batch_size=32, seed=0, sequence_length=128, data_dir=None, tokenizer="byte"
):
    """Karpathy's tiny Shakespeare from tensorflow-datasets (needs the network once)."""
    corpus = load_text_corpus("tiny_shakespeare", tokenizer=tokenizer, data_dir=data_dir)
    return _language_model_bundle(corpus, batch_size, sequence_length, seed)


@register_dataset("ted_hrlr_translate/pt_to_en")
def _ted_pt_to_en(*, batch_size=64, seed=0, data_dir=None, max_length=128):
    """TED talks Portuguese -> English (tensorflow-datasets), byte-tokenized pairs.

    Yields `({"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
    "decoder_padding_mask"}, targets)`; ids are bytes + 3 (0 pad, 1 start, 2 end),
    truncated to `max_length`.
    """
    import tensorflow as tf

    builder = tfds_builder(
        "ted_hrlr_translate/pt_to_en",
        data_dir,
        "the offline sequence-transduction task load_dataset('addition') "
        "(applications/transformer_addition.py)",
    )
    max_length = check_int("max_length", max_length, minimum=3)

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
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=("accuracy",),
    )

"""BERT-Tiny pre-trained offline on the Python standard library: masked tokens and
next-sentence prediction (Devlin et al. 2018).

Run: `python applications/bert_pretrain_python_stdlib.py [--steps 1700 | --max-seconds 280]`;
`--learn-vocabulary` first re-learns the WordPiece vocabulary.

- Tokenizer: keras-hub's `WordPieceTokenizer` over a vocabulary learned offline from
  the training split of `python_stdlib` with keras-hub's
  `compute_word_piece_vocabulary` (case kept: code is case-sensitive), stored next to
  this file (`bert_python_stdlib_vocab.txt`) because learning it takes minutes on
  a CPU. Its first ids are the special tokens `BERT_SPECIAL_TOKENS`.
- Data: `keras_archs.data.bert.bert_pretraining_dataset`: segment pairs (50% true
  next segment), 15% of the non-special tokens chosen, 80/10/10 [MASK]/random/same.
- Model: `BERT(preset="bert_tiny")` (2 x 128, 2 heads) with the learned vocabulary,
  under `BERTPretrainer`; AdamW at 2e-3, decayed linearly to 1% over the run
  (`--steps`; 1,700 steps, 241 s on 2 cores, reach NSP 0.668 and a masked-token accuracy
  of 0.160, 3.4x the most-frequent baseline's 0.047).

It reports, on the validation split, the masked-token accuracy next to the accuracy
of always predicting the most frequent masked token, and the NSP accuracy.
Fine-tuning on `imdb_reviews` needs tensorflow-datasets' download
(`keras_archs.data.bert.imdb_reviews_texts`); offline it fails at once.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_archs.applications.bert import BERT, BERTPretrainer, pretraining_losses
from keras_archs.data import bert, text
from keras_archs.training import choose_policy

VOCAB_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "bert_python_stdlib_vocab.txt"
)
# An upper bound: on the 40 files below keras-hub's learner stops at 1,858 tokens.
VOCABULARY_SIZE = 4096
VOCAB_FILES = 40  # training files the vocabulary is learned from (the learner is slow)


def learn_vocabulary(path=VOCAB_PATH, vocabulary_size=VOCABULARY_SIZE, max_files=VOCAB_FILES):
    """Learns the WordPiece vocabulary from `max_files` training files; writes `path`."""
    train, _ = text.python_stdlib_files(seed=0)
    order = np.random.default_rng(0).permutation(len(train))[:max_files]
    texts = text.read_texts([train[i] for i in sorted(order)])
    tok = text.make_tokenizer(
        "wordpiece", texts, vocabulary_size, special_tokens=bert.BERT_SPECIAL_TOKENS
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tok.tokenizer.get_vocabulary()) + "\n")
    return path


def load_tokenizer(path=VOCAB_PATH):
    """A `TextTokenizer` over keras-hub's `WordPieceTokenizer` with the stored vocabulary."""
    import keras_hub

    with open(path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    bert.bert_special_ids(vocab)  # ValueError naming any missing special token
    tok = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocab,
        lowercase=False,
        strip_accents=False,
        split_on_cjk=False,
        oov_token="[UNK]",
        dtype="int32",
    )
    return text.TextTokenizer(tok, tok.vocabulary_size(), tok.token_to_id("[END]"), "wordpiece")


def corpus_ids(tokenizer, train_files=None, validation_files=None, seed=0):
    """Token streams of the training and validation files (optionally the first N of each)."""
    train, val = text.python_stdlib_files(seed=seed)
    rng = np.random.default_rng(seed + 1)
    if train_files:
        train = [train[i] for i in sorted(rng.permutation(len(train))[:train_files])]
    if validation_files:
        val = [val[i] for i in sorted(rng.permutation(len(val))[:validation_files])]
    return (
        text.tokenize_texts(text.read_texts(train), tokenizer),
        text.tokenize_texts(text.read_texts(val), tokenizer),
    )


def evaluate(pretrainer, dataset):
    """(masked-token accuracy, most-frequent-token accuracy, NSP accuracy) over `dataset`."""
    hits = total = nsp_hits = nsp_total = 0
    labels_seen = []
    for x, y, w in dataset:
        out = pretrainer.predict_on_batch(x)
        weights = w["mlm"].numpy() > 0
        labels = y["mlm"].numpy()
        hits += int(np.sum((np.argmax(out["mlm"], -1) == labels) & weights))
        total += int(weights.sum())
        labels_seen.append(labels[weights])
        nsp_hits += int(np.sum(np.argmax(out["nsp"], -1) == y["nsp"].numpy()))
        nsp_total += len(labels)
    labels_seen = np.concatenate(labels_seen)
    baseline = np.bincount(labels_seen).max() / labels_seen.size
    return hits / total, float(baseline), nsp_hits / nsp_total


class _TimeLimit(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start = seconds, None

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def run(
    max_seconds=280,
    steps=None,
    sequence_length=64,
    batch_size=64,
    learning_rate=2e-3,
    train_files=None,
    validation_files=60,
    validation_examples=2048,
    seed=0,
    verbose=1,
    jit_compile=None,
):
    """Pre-trains bert_tiny for `steps` (the learning rate decayed over them), or for
    `max_seconds` when `steps` is None; returns a dict of the measured numbers."""
    keras.utils.set_random_seed(seed)
    tokenizer = load_tokenizer()
    train_ids, val_ids = corpus_ids(tokenizer, train_files, validation_files, seed)
    train = bert.bert_pretraining_dataset(
        train_ids, tokenizer, sequence_length, batch_size, shuffle=True, seed=seed
    )
    val = bert.bert_pretraining_dataset(
        val_ids,
        tokenizer,
        sequence_length,
        256,
        seed=seed + 1,
        num_examples=validation_examples,
    )
    backbone = BERT(
        preset="bert_tiny",
        vocabulary_size=tokenizer.vocabulary_size,
        max_sequence_length=sequence_length,
        sequence_length=sequence_length,
    )
    pretrainer = BERTPretrainer(backbone, max_predictions=int(np.ceil(0.15 * sequence_length)))
    # Linear decay that ends with the run (by time: over a nominal 20,000 steps).
    schedule = keras.optimizers.schedules.PolynomialDecay(
        learning_rate, steps or 20_000, learning_rate * 0.01
    )
    if jit_compile is None:  # the measured choice for this model, backend and device
        jit_compile = choose_policy("bert_tiny").jit_compile
    pretrainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0),
        loss=pretraining_losses(),
        jit_compile=jit_compile,
    )
    start = time.time()
    if steps:
        history = pretrainer.fit(train.repeat(), steps_per_epoch=steps, verbose=verbose)
    else:
        history = pretrainer.fit(
            train.repeat(),
            steps_per_epoch=100,
            epochs=10_000,
            callbacks=[_TimeLimit(max_seconds)],
            verbose=verbose,
        )
    seconds = time.time() - start
    mlm_accuracy, baseline, nsp_accuracy = evaluate(pretrainer, val)
    return {
        "mlm_accuracy": mlm_accuracy,
        "most_frequent_accuracy": baseline,
        "nsp_accuracy": nsp_accuracy,
        "train_seconds": seconds,
        "steps": steps or 100 * len(history.history["loss"]),
        "vocabulary_size": tokenizer.vocabulary_size,
        "train_tokens": int(train_ids.size),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1700, help="about 5 minutes on 2 cores")
    parser.add_argument("--max-seconds", type=float, default=None, help="train by time instead")
    parser.add_argument("--learn-vocabulary", action="store_true")
    parser.add_argument("--train-files", type=int, default=None)
    args = parser.parse_args()
    if args.learn_vocabulary or not os.path.exists(VOCAB_PATH):
        print("learned", learn_vocabulary())
    steps = None if args.max_seconds else args.steps
    print(run(args.max_seconds, steps, train_files=args.train_files))


if __name__ == "__main__":
    main()

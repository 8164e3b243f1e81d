"""BERT-Tiny pre-trained offline on the Python standard library: masked tokens and
next-sentence prediction (Devlin et al. 2018).

Run: `python applications/bert_pretrain_python_stdlib.py [--steps-per-epoch 850]`, the
same run as `keras-archs train bert_tiny`; `--learn-vocabulary` first re-learns the
WordPiece vocabulary that the package ships.

- Data: the `python_stdlib` dataset with `objective="mlm_nsp"`
  (`keras_archs.data.bert.python_stdlib_pretraining`): 400 training files and 60
  validation files of the standard library, WordPiece tokens, segment pairs (50% true
  next segment), 15% of the non-special tokens chosen, 80/10/10 [MASK]/random/same.
- Model: `BERT(preset="bert_tiny")` (2 x 128, 2 heads) with that vocabulary, trained
  under `BERTPretrainer` (the registry's training head for BERT).
- Recipe: AdamW at 2e-3 (weight decay 0.01, clipping at norm 1), decayed linearly to 0
  over 2 epochs of 850 steps of 64 pairs.

It reports, on 2,048 validation pairs, the masked-token accuracy next to the accuracy of
always predicting the most frequent masked token, and the NSP accuracy. Fine-tuning on
`imdb_reviews` needs tensorflow-datasets' download (applications/bert_finetune_imdb.py);
offline it fails at once.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from keras_archs.data import bert, load_dataset, text
from keras_archs.training import train

VOCABULARY_SIZE = 4096  # an upper bound: on 40 files keras-hub's learner stops at 1,858
VOCAB_FILES = 40  # training files the vocabulary is learned from (the learner is slow)


def learn_vocabulary(
    path=bert.PYTHON_STDLIB_VOCABULARY, vocabulary_size=VOCABULARY_SIZE, max_files=VOCAB_FILES
):
    """Learns the WordPiece vocabulary from `max_files` training files; writes `path`."""
    train_paths, _ = text.python_stdlib_files(seed=0)
    order = np.random.default_rng(0).permutation(len(train_paths))[:max_files]
    texts = text.read_texts([train_paths[i] for i in sorted(order)])
    tok = text.make_tokenizer(
        "wordpiece", texts, vocabulary_size, special_tokens=bert.BERT_SPECIAL_TOKENS
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tok.tokenizer.get_vocabulary()) + "\n")
    return path


def run(out=None, seed=0, verbose="auto", **overrides):
    """Pre-trains bert_tiny through `keras_archs.training.train`; returns a dict of the
    validation numbers and the `TrainResult`. `overrides` are `train` arguments."""
    result = train("bert_tiny", out=out, seed=seed, verbose=verbose, **overrides)
    config = result.config
    # The validation pairs of the run, rebuilt from its recorded configuration.
    bundle = load_dataset(
        config["data"],
        batch_size=config["recipe"]["batch_size"],
        seed=seed,
        **config["data_kwargs"],
    )
    history = result.history
    return {
        "result": result,
        "mlm_accuracy": history["val_mlm_accuracy"][-1],
        "most_frequent_accuracy": bert.most_frequent_masked_accuracy(bundle.validation),
        "nsp_accuracy": history["val_nsp_accuracy"][-1],
        "train_seconds": result.seconds,
        "steps": result.steps_per_epoch * len(history["loss"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: 850")
    parser.add_argument("--epochs", type=int, default=None, help="default: 2")
    parser.add_argument("--learn-vocabulary", action="store_true")
    parser.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    args = parser.parse_args(argv)
    if args.learn_vocabulary:
        print("learned", learn_vocabulary())
    reached = run(args.out, steps_per_epoch=args.steps_per_epoch, epochs=args.epochs)
    print(f"run folder: {reached['result'].out_dir}")
    print(
        f"after {reached['steps']} steps ({reached['train_seconds']:.0f} s): masked tokens "
        f"{reached['mlm_accuracy']:.3f} vs {reached['most_frequent_accuracy']:.3f} for the "
        f"most frequent; next sentence {reached['nsp_accuracy']:.3f}"
    )


if __name__ == "__main__":
    main()

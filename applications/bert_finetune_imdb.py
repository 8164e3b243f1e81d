"""Fine-tuning BERT for sentiment on IMDB reviews (Devlin et al. 2018, section 4.1).

Run: `python applications/bert_finetune_imdb.py [--preset bert_tiny_en_uncased]
[--epochs 2] [--sequence-length 128] [--max-train 25000]`.

The pre-trained encoder is keras-hub's preset (`BertBackbone.from_preset`, the
Google checkpoints), converted weight for weight into a keras_archs `BERT` with
`keras_archs.convert.from_keras_hub`; its WordPiece tokenizer is the preset's. A
`BERTClassifier` reads the pooled [CLS] vector; the whole network is fine-tuned with
AdamW at 5e-5 and linear decay, as the paper recommends, on `imdb_reviews` from
tensorflow-datasets (`[CLS] review [SEP]`, truncated to `--sequence-length`). It
prints the test accuracy.

Both the preset and the dataset need a download. Offline the recipe stops at once
with an error that names what it could not fetch; `bert_pretrain_python_stdlib.py`
is the offline BERT recipe.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_archs.applications.bert import BERTClassifier
from keras_archs.data import bert


def finetune(
    backbone,
    tokenizer,
    train,
    test,
    sequence_length=128,
    batch_size=32,
    epochs=2,
    learning_rate=5e-5,
    seed=0,
    verbose=1,
):
    """Fine-tunes `BERTClassifier(backbone, 2)` on (texts, labels) pairs; returns the
    classifier and its test accuracy."""
    keras.utils.set_random_seed(seed)
    train_ds = bert.bert_classification_dataset(
        train[0], train[1], tokenizer, sequence_length, batch_size, shuffle=True, seed=seed
    )
    test_ds = bert.bert_classification_dataset(
        test[0], test[1], tokenizer, sequence_length, batch_size
    )
    model = BERTClassifier(backbone, 2)
    steps = epochs * int(np.ceil(len(train[0]) / batch_size))
    schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, 0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_ds, epochs=epochs, verbose=verbose)
    accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    return model, float(accuracy)


def pretrained(preset, sequence_length):
    """(keras_archs BERT with the preset's weights, the preset's WordPiece tokenizer)."""
    import keras_hub

    from keras_archs.convert import from_keras_hub

    try:
        hub = keras_hub.models.BertBackbone.from_preset(preset)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    except Exception as e:  # network, Kaggle credentials, an unknown preset name
        raise RuntimeError(
            f"Could not load the keras-hub preset {preset!r} ({type(e).__name__}: {e}). "
            "It is downloaded on first use; offline, pre-train with "
            "applications/bert_pretrain_python_stdlib.py instead."
        ) from e
    return from_keras_hub(hub, sequence_length=sequence_length), tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_tiny_en_uncased")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-train", type=int, default=None, help="first N training reviews")
    args = parser.parse_args(argv)
    # The dataset first: it fails fast offline, before the (larger) preset download.
    train_texts, train_labels, test_texts, test_labels = bert.imdb_reviews_texts()
    if args.max_train:
        train_texts, train_labels = train_texts[: args.max_train], train_labels[: args.max_train]
    backbone, tokenizer = pretrained(args.preset, args.sequence_length)
    _, accuracy = finetune(
        backbone,
        tokenizer,
        (train_texts, train_labels),
        (test_texts, test_labels),
        args.sequence_length,
        args.batch_size,
        args.epochs,
    )
    print(f"imdb_reviews test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()

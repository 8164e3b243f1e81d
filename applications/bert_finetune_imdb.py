"""Fine-tuning BERT for sentiment on IMDB reviews (Devlin et al. 2018, section 4.1).

Run: `python applications/bert_finetune_imdb.py [--preset bert_tiny_en_uncased]
[--epochs 2] [--sequence-length 128] [--max-train 25000] [--out DIR]`.

The pre-trained encoder is keras-hub's preset (`BertBackbone.from_preset`, the Google
checkpoints), converted weight for weight into a keras_archs `BERT` with
`keras_archs.convert.from_keras_hub` and saved as the run's starting point; the
`imdb_reviews` dataset of `keras_archs.data` tokenizes with the preset's WordPiece
tokenizer (`vocabulary="keras_hub:<preset>"`). Training is the package's one path
(`keras_archs.training.train` with `init_from`): BERT under its classifier head on the
pooled [CLS] vector, the whole network fine-tuned with AdamW at 5e-5 decayed linearly,
as the paper recommends. It prints the test accuracy.

Offline, the same path fine-tunes a `bert_tiny` pre-trained by `keras-archs train
bert_tiny` on a folder of `.txt` files, one sub-folder per class:
`keras-archs train bert_tiny --data FOLDER --init-from RUN/model.keras
--data-arg sequence_length=64 --learning-rate 5e-5 --schedule linear`.

Both the preset and the dataset need a download. Offline the recipe stops at once with
an error that names what it could not fetch.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_archs.applications.bert import backbone_config
from keras_archs.data import bert
from keras_archs.training import train

# keras-hub presets and the keras_archs registry name of the same configuration.
PRESETS = {"bert_tiny_en_uncased": "bert_tiny", "bert_base_en_uncased": "bert_base"}


def pretrained(preset, path):
    """Saves keras-hub's `preset` backbone, converted to a keras_archs BERT, to `path`."""
    import keras_hub

    from keras_archs.convert import from_keras_hub

    try:
        hub = keras_hub.models.BertBackbone.from_preset(preset)
    except Exception as e:  # network, Kaggle credentials, an unknown preset name
        raise RuntimeError(
            f"Could not load the keras-hub preset {preset!r} ({type(e).__name__}: {e}). "
            "It is downloaded on first use; offline, pre-train with `keras-archs train "
            "bert_tiny` and fine-tune on a text folder instead."
        ) from e
    backbone = from_keras_hub(hub)
    backbone.save(path)
    return backbone


def run(
    preset="bert_tiny_en_uncased",
    epochs=2,
    sequence_length=128,
    batch_size=32,
    max_train=None,
    out=None,
    verbose="auto",
):
    """Fine-tunes the preset on imdb_reviews through `train`; returns the TrainResult."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got preset={preset!r}.")
    # The dataset first: it fails fast offline, before the (larger) preset download.
    bert.imdb_reviews_texts()
    with tempfile.TemporaryDirectory() as tmp:
        start = os.path.join(tmp, f"{preset}.keras")
        backbone = pretrained(preset, start)
        return train(
            PRESETS[preset],
            data="imdb_reviews",
            data_kwargs={
                "vocabulary": f"keras_hub:{preset}",
                "sequence_length": sequence_length,
                "max_train": max_train,
            },
            # The preset's position table, whatever length the reviews are cut to.
            model_kwargs={"max_sequence_length": backbone_config(backbone)["max_sequence_length"]},
            init_from=start,
            optimizer="adamw",
            learning_rate=5e-5,
            weight_decay=0.01,
            schedule="linear",
            warmup_epochs=0.0,
            batch_size=batch_size,
            epochs=epochs,
            out=out,
            verbose=verbose,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_tiny_en_uncased", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-train", type=int, default=None, help="first N training reviews")
    parser.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    args = parser.parse_args(argv)
    result = run(
        args.preset, args.epochs, args.sequence_length, args.batch_size, args.max_train, args.out
    )
    print(f"run folder: {result.out_dir}")
    print(f"imdb_reviews test accuracy: {result.val_accuracy:.4f}")


if __name__ == "__main__":
    main()

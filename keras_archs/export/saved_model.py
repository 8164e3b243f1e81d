"""`export_saved_model`: a model as a new SavedModel version for TensorFlow Serving.

It checks every argument, traces every signature (`keras_archs.export.signatures`)
and only then writes `<export_dir>/<version>/` atomically
(`keras_archs.export.versions`): a bad argument or a signature that fails to trace
leaves the folder untouched. `load_model_file` reads the `.keras` files the CLI
exports.

TensorFlow is imported lazily here: the rest of keras_archs runs without it.
"""

from __future__ import annotations

import zipfile

from keras_archs.export.fold import fold_batch_norms as fold
from keras_archs.export.preprocessing import check_preprocessing
from keras_archs.export.signatures import build_archive
from keras_archs.export.versions import target_folder, write_version
from keras_archs.validation import check_bool, check_file, check_positive_int


def export_saved_model(
    model,
    export_dir,
    version=None,
    overwrite=False,
    *,
    name=None,
    preprocessing="auto",
    tokenizer="auto",
    max_new_tokens=32,
    fold_batch_norms=True,
):
    """Writes `model` to `<export_dir>/<version>/` for TensorFlow Serving, atomically.

    Args:
        model: a Functional `keras.Model` (TensorFlow backend).
        export_dir: the model's base path; created if missing. Holds one folder per version.
        version: integer >= 1; None picks the next integer after the existing versions.
        overwrite: replace an existing `<version>` folder (atomically: the new version is
            written completely first). Without it an existing version raises ValueError
            and is left untouched.
        name: the model's registry name, when `model.name` is not its builder's default.
        preprocessing: image classifiers: "auto" (the registry's mode), "caffe", "tf",
            "torch", "scale", "none" or a callable on float32 0-255 pixels; None serves
            the model's own inputs (see `keras_archs.export.preprocessing`).
        tokenizer: text models only: the keras-hub tokenizer to embed for the string
            signatures (`keras_archs.export.text`); "auto" gives a byte-level GPT
            keras-hub's `ByteTokenizer`; a path reads a WordPiece vocabulary file;
            None keeps the id-level `serving_default` only.
        max_new_tokens: tokens the GPT `generate` signature adds to a prompt.
        fold_batch_norms: serve a copy with each BatchNormalization that follows a
            convolution or dense layer folded into it (`keras_archs.export.fold`): the
            same outputs up to rounding, with fewer and fused operations (ResNet50 in
            mixed bfloat16 served about 1.5x faster on a CPU). False serves the model
            as it is.

    Returns:
        The absolute path of the version folder written.
    """
    check_preprocessing(preprocessing)
    check_positive_int("max_new_tokens", max_new_tokens)
    check_bool("fold_batch_norms", fold_batch_norms)
    version, _ = target_folder(export_dir, version, overwrite)
    if fold_batch_norms:
        model = fold(model)
    # Trace every signature before anything touches the disk.
    archive = build_archive(model, name, preprocessing, tokenizer, max_new_tokens)
    return write_version(
        lambda folder: archive.write_out(folder, verbose=False), export_dir, version, overwrite
    )


def load_model_file(path):
    """Loads a `.keras` archive (safe mode), or raises ValueError saying what is wrong."""
    import keras

    # Importing any part of keras_archs runs its __init__, which registers every custom
    # layer and learning-rate schedule a saved model may name.
    import keras_archs.layers  # noqa: F401

    path = check_file("path", path)
    if not path.endswith(".keras") or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras archive (expected a .keras zip file written by "
            "model.save(); legacy .h5 and SavedModel folders are not accepted)."
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # keras raises many types for a damaged archive
        raise ValueError(f"Cannot load the Keras archive {path!r}: {e}") from e

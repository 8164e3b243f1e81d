"""Load a weights file into a model, with errors that say what went wrong."""

from __future__ import annotations

import os

_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5")


def load_weights_file(model, path, name_map=None):
    """Loads `path` into `model`.

    Accepts the Keras 3 formats (`.weights.h5`, `.keras`) and the legacy HDF5
    layout of keras.applications downloads (`.h5`), which goes through
    `keras_archs.weights.keras_applications` (`name_map` is passed on to it). A file
    of the wrong architecture raises ValueError naming the file and the reason.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights={path!r} is not an existing file.")
    if not path.endswith(_SUFFIXES):
        raise ValueError(
            f"weights={path!r} has an unknown suffix; accepted: {', '.join(_SUFFIXES)}."
        )
    if not path.endswith((".weights.h5", ".keras")):
        from keras_archs.weights.keras_applications import (
            is_legacy_h5,
            load_keras_applications_weights,
        )

        if is_legacy_h5(path):
            return load_keras_applications_weights(model, path, name_map=name_map)
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as e:
        raise ValueError(f"Could not load weights={path!r} into model {model.name!r}: {e}") from e
    return model

"""Load a weights file into a model, with errors that say what went wrong."""

from __future__ import annotations

import os

_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5")


def load_weights_file(model, path):
    """Loads `path` into `model`.

    Accepts the Keras 3 formats (`.weights.h5`, `.keras`) and the legacy HDF5
    layout of keras.applications downloads (`.h5`). A file of the wrong
    architecture raises ValueError naming the file and the reason.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights={path!r} is not an existing file.")
    if not path.endswith(_SUFFIXES):
        raise ValueError(
            f"weights={path!r} has an unknown suffix; accepted: {', '.join(_SUFFIXES)}."
        )
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as e:
        raise ValueError(f"Could not load weights={path!r} into model {model.name!r}: {e}") from e
    return model

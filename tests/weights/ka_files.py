"""Helpers: keras.applications models with random weights, written as legacy HDF5 files."""

import h5py
import keras
import numpy as np
from keras.src.legacy.saving import legacy_h5_format


def randomize(model, seed=0):
    """Random values in every weight, BatchNormalization statistics included, so that two
    models agree only when every array went to the right place."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if any(key in w.path for key in ("gamma", "moving_variance")):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) > 1:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]))
        else:
            value = rng.normal(0.0, 0.1, shape)
        w.assign(value.astype("float32"))
    return model


def save_legacy_h5(model, path):
    """The layout of keras.applications' ImageNet downloads."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def trunk(model, last_layer):
    """The no-top part of a keras.applications model: the same layers, so its file has the
    layout of keras.applications' `_notop.h5` download."""
    return keras.Model(model.inputs, model.get_layer(last_layer).output)

"""Helpers for the layer tests: random weights, weight copies, seed-state snapshots."""

import keras
import numpy as np


def randomize_weights(layer, seed=0):
    """Gives every weight random values (variances positive) so equivalence tests bite."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        if "seed_generator" in w.path:
            continue
        shape = tuple(w.shape)
        if "variance" in w.path or w.path.endswith("kernel_g"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, 0.3, shape)
        w.assign(value.astype(keras.backend.standardize_dtype(w.dtype)))


def copy_weights(src_layers, dst_layers):
    """Copies weights pairwise, asserting the shapes line up one to one."""
    src = [w for layer in src_layers for w in layer.weights if "seed_generator" not in w.path]
    dst = [w for layer in dst_layers for w in layer.weights if "seed_generator" not in w.path]
    assert [tuple(w.shape) for w in src] == [tuple(w.shape) for w in dst]
    for s, d in zip(src, dst):
        d.assign(s)


def seed_state(layer):
    return [(v, keras.ops.convert_to_numpy(v).copy()) for v in layer.variables if "seed" in v.path]


def restore_seed_state(state):
    for v, value in state:
        v.assign(value)


def np_out(x):
    return keras.ops.convert_to_numpy(x)

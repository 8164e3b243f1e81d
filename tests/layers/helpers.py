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


def mixed_precision_step(model, inputs, seed=0):
    """One eager `train_on_batch` (MSE on random targets) under the current dtype policy.

    Returns (loss, fraction of weights moved, loss scale before, after): under
    mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer, which skips
    a step whose scaled gradients overflow and halves its scale instead.
    Eager, because tracing a train function costs more than the step on CPU.
    """
    outputs = model(inputs)
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, tuple(outputs.shape)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", run_eagerly=True)
    model.optimizer.build(model.trainable_variables)
    scale = getattr(model.optimizer, "dynamic_scale", None)
    before_scale = None if scale is None else float(np_out(scale))
    before = [np_out(w).copy() for w in model.trainable_weights]
    loss = float(model.train_on_batch(inputs, target))
    after_scale = None if scale is None else float(np_out(scale))
    moved = [not np.array_equal(a, np_out(b)) for a, b in zip(before, model.trainable_weights)]
    return loss, sum(moved) / len(moved), before_scale, after_scale

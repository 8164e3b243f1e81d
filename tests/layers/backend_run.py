"""Loads the saved layer-case models under KERAS_BACKEND, checks outputs, trains one step.

`python tests/layers/backend_run.py WORKDIR OUT.json NAMES_JSON`: for every case
saved by the TensorFlow process (`<case>.keras`, inputs `<case>_in.npz`, expected
outputs `<case>_out.npz`), load it with safe_mode=True and no custom_objects and
compare outputs: on JAX through a jitted `predict_on_batch` (`jit_compile=True`),
on torch eagerly. Then one `train_on_batch` step: every case on torch (cheap,
eager); on JAX the cases in JAX_TRAIN (each XLA train-step compile costs
seconds on CPU; the generic model suite trains every full model on JAX anyway).
One process per backend covers every layer.
"""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras
import numpy as np

import keras_archs  # noqa: F401  (registers the layers; no custom_objects below)
from tests.layers.cases import NO_TRAIN
from tests.utils import flat, load_outputs, max_abs_diff, to_numpy_tree

JAX_TRAIN = {"temporal_blocks", "decoder_block"}


def _train_step(model, inputs, outputs, jit):
    rng = np.random.default_rng(0)
    targets = [rng.uniform(0, 1, o.shape).astype("float32") for o in outputs]
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=["mse"] * len(targets) if len(targets) > 1 else "mse",
        jit_compile=jit,
    )
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(inputs, targets if len(targets) > 1 else targets[0])
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = [not np.array_equal(a, b) for a, b in zip(before, after)]
    return float(np.sum(loss)), sum(moved) / max(len(moved), 1)


def main():
    workdir, out, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    backend = keras.backend.backend()
    results = {"backend": backend}
    for name in names:
        start = time.perf_counter()
        try:
            data = np.load(os.path.join(workdir, f"{name}_in.npz"))
            inputs = {k: data[k] for k in data.files}
            inputs = inputs["x"] if list(inputs) == ["x"] else inputs
            model = keras.saving.load_model(os.path.join(workdir, f"{name}.keras"), safe_mode=True)
            expected = load_outputs(os.path.join(workdir, f"{name}_out.npz"))
            if isinstance(expected, dict):
                expected = [expected[k] for k in sorted(expected, key=int)]
            if backend == "jax":
                model.compile(jit_compile=True)
                got = to_numpy_tree(model.predict_on_batch(inputs))
            else:
                got = to_numpy_tree(model(inputs, training=False))
            r = {"diff": max_abs_diff(expected, got), "trained": False}
            if name not in NO_TRAIN and (backend != "jax" or name in JAX_TRAIN):
                r["loss"], r["moved"] = _train_step(model, inputs, flat(got), backend == "jax")
                r["trained"] = True
                r["has_weights"] = bool(model.trainable_weights)
            r["seconds"] = time.perf_counter() - start
            results[name] = r
        except Exception:
            results[name] = {"error": traceback.format_exc()}
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()

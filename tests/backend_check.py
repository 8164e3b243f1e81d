"""Runs the generic model checks under the backend named by KERAS_BACKEND.

Started by tests/conftest.py as `python tests/backend_check.py OUT.json [NAME ...]`:
for each model named (none: an empty result) it builds the small test
configuration, runs a forward pass and a `.keras` save/load round trip, and, for each
family's smallest model, one training step and one mixed-precision training step;
it writes the numbers.
"""

import json
import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

from keras_archs.registry import get_spec
from tests.utils import (
    example_inputs,
    family_representatives,
    max_abs_diff,
    to_numpy_tree,
    train_one_step,
)

# The training steps run for the smallest model of each family. Compiling the training
# step of every deep CNN is most of this run's time (JAX on 2 cores: NASNet-Large 37 s for
# the float32 step and as much again for mixed precision, DenseNet-121 over 80 s), while a
# family's larger sizes repeat the same blocks; TensorFlow trains every model
# (tests/test_models.py).
TRAINED = set(family_representatives())


def _trained_model(spec):
    """The model whose training steps are checked: the registered one, except DenseNet's.

    Compiling DenseNet-121's training step took JAX 60 s alone on the 2 cores and 1,080 s
    in a CI run (at low priority beside the TensorFlow workers), the longest item of the
    run; two layers per dense block train through the same blocks in 9 s.
    """
    if spec.family == "densenet":
        from keras_archs.applications.densenet import DenseNet

        return DenseNet((2, 2, 2, 2), weights=None, **spec.test_kwargs)
    return spec.build(**spec.test_kwargs)


def check(name, workdir):
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model)
    y = to_numpy_tree(model(x, training=False))
    result = {"output_finite": all(np.isfinite(a).all() for a in _leaves(y))}
    path = os.path.join(workdir, f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    result["reload_diff"] = max_abs_diff(y, to_numpy_tree(loaded(x, training=False)))
    if name in TRAINED:
        result["loss"], result["moved"] = train_one_step(_trained_model(spec), x)
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            mixed = _trained_model(spec)
            result["mixed_loss"], _ = train_one_step(mixed, x)
        finally:
            keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()  # compiled executables of every model otherwise pile up (GiBs)
    return result


def _leaves(tree):
    if isinstance(tree, dict):
        return list(tree.values())
    if isinstance(tree, (list, tuple)):
        return list(tree)
    return [tree]


def main():
    out = sys.argv[1]
    names = sys.argv[2:]
    results = {"backend": keras.backend.backend()}
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            start = time.perf_counter()
            try:
                results[name] = check(name, workdir)
            except Exception:
                results[name] = {"error": traceback.format_exc()}
            results[name]["seconds"] = round(time.perf_counter() - start, 1)
            print(f"{name}: {results[name]['seconds']} s", file=sys.stderr, flush=True)
    # Written whole, then renamed: a reader in another process never sees half a file.
    with open(out + ".part", "w") as f:
        json.dump(results, f)
    os.replace(out + ".part", out)


if __name__ == "__main__":
    main()

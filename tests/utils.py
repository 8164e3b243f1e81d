"""Shared test machinery: example inputs, one train step, fresh-process reloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_module(relative_path):
    """A repository script (`applications/x.py`, `scripts/y.py`) imported as a module."""
    import importlib.util

    path = os.path.join(REPO, relative_path)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subprocess_env(backend=None, **extra):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    if backend:
        env["KERAS_BACKEND"] = backend
    env.update(extra)
    return env


def run_python(code, backend=None, timeout=900, **env):
    """Runs `code` in a fresh interpreter; returns stdout, raising with stderr on failure."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(backend, **env),
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


_CLI_COMMANDS = """
import json, sys
from keras_archs.cli import main
for argv in json.loads(sys.argv[1]):
    print("=== NEXT COMMAND ===", flush=True)
    assert main(argv) == 0, argv
"""


def run_cli_commands(*argvs, env, timeout=600):
    """Runs `keras-archs ARGV` for each argv in turn in one fresh interpreter (a start-up
    of TensorFlow, torch and Keras costs more than a tiny run); returns each command's
    stdout, raising with stderr when one fails."""
    proc = subprocess.run(
        [sys.executable, "-c", _CLI_COMMANDS, json.dumps([[str(a) for a in v] for v in argvs])],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"commands failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout.split("=== NEXT COMMAND ===\n")[1:]


def example_inputs(model, batch_size=2, seed=0, int_high=10, length=None):
    """Random inputs for every model input: floats ~N(0, 1); ints by the input's role.
    `length` fills the dimensions a model leaves unknown (a sequence's)."""
    rng = np.random.default_rng(seed)
    result = {}
    for tensor in model.inputs:
        shape = (batch_size, *(length if d is None else d for d in tensor.shape[1:]))
        if None in shape:
            raise ValueError(f"example_inputs needs static shapes; {tensor.name} has {shape}")
        name = tensor.name
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if "float" in dtype:
            value = rng.standard_normal(shape).astype(dtype)
        elif "mask" in name:
            value = np.ones(shape, dtype=dtype)
        elif "segment" in name:
            value = rng.integers(0, 2, shape).astype(dtype)
        else:
            value = rng.integers(0, int_high, shape).astype(dtype)
        result[name] = value
    if len(model.inputs) == 1:
        return next(iter(result.values()))
    return result


def to_numpy_tree(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [keras.ops.convert_to_numpy(v) for v in outputs]
    return keras.ops.convert_to_numpy(outputs)


def flat(outputs):
    if isinstance(outputs, dict):
        return [np.asarray(outputs[k]) for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(v) for v in outputs]
    return [np.asarray(outputs)]


def max_abs_diff(a, b):
    fa, fb = flat(a), flat(b)
    assert len(fa) == len(fb), (len(fa), len(fb))
    return max(
        float(np.max(np.abs(x.astype("float64") - y.astype("float64")))) for x, y in zip(fa, fb)
    )


def output_spec(model, inputs):
    """The output shapes of `model` on `inputs`, inferred without running it: an eager call
    costs JAX a compilation per operation (15 s for GoogLeNet on the 2-core CPU)."""
    if isinstance(inputs, dict) and not isinstance(model.input, dict):
        # A dict for a model whose inputs are a list is matched by input name; symbolic
        # inference would take the dict's values in key order instead.
        inputs = [inputs[tensor.name] for tensor in model.inputs]
    symbolic = keras.tree.map_structure(
        lambda a: keras.KerasTensor(np.shape(a), keras.backend.standardize_dtype(a.dtype)),
        inputs,
    )
    return model.compute_output_spec(symbolic)


def train_one_step(model, inputs, seed=0, run_eagerly=False, jit_compile="auto"):
    """One `train_on_batch` on random targets (MSE); returns (loss, fraction of weights moved)."""
    outputs = output_spec(model, inputs)
    rng = np.random.default_rng(seed)

    def target(o):
        return rng.uniform(0, 1, tuple(o.shape)).astype("float32")

    if isinstance(outputs, dict):
        targets = {k: target(v) for k, v in outputs.items()}
        loss = {k: "mse" for k in outputs}
    elif isinstance(outputs, (list, tuple)):
        targets = [target(v) for v in outputs]
        loss = ["mse"] * len(outputs)
    else:
        targets, loss = target(outputs), "mse"
    model.compile(
        # Plain SGD: Adam's two slot variables and update per weight made a third of the
        # compiled step (JAX, GoogLeNet: 32 s to compile with Adam, 22 s with SGD), and
        # a step of either moves every weight that has a gradient.
        optimizer=keras.optimizers.SGD(0.01),
        loss=loss,
        run_eagerly=run_eagerly,
        jit_compile=jit_compile,
    )
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    value = model.train_on_batch(inputs, targets)
    value = float(np.sum(value)) if np.ndim(value) else float(value)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = [not np.array_equal(a, b) for a, b in zip(before, after)]
    return value, (sum(moved) / max(len(moved), 1))


def save_inputs(path, inputs):
    if isinstance(inputs, dict):
        np.savez(path, **inputs)
    else:
        np.savez(path, x=inputs)


def load_outputs(path):
    data = np.load(path)
    keys = sorted(data.files)
    if keys == ["y"]:
        return data["y"]
    if all(k.isdigit() for k in keys):
        return [data[k] for k in sorted(keys, key=int)]
    return {k: data[k] for k in keys}


def reload_in_fresh_process(items, backend=None):
    """Loads each saved `.keras` file in another interpreter (safe_mode=True, no
    custom_objects; importing keras_archs registers its layers) and returns its outputs.

    items: dicts with name, path (.keras), inputs (.npz) and outputs (.npz to write).
    See `tests.harness.reload_in_fresh_process`, which this forwards to.
    """
    from tests.harness import reload_in_fresh_process as reload

    return reload(items, backend=backend)


def numpy_preprocess(images, mode):
    """keras.applications' NumPy `preprocess_input` for a registry `preprocessing` mode
    ("caffe", "tf", "torch"), or pixels scaled to [0, 1] ("scale", None)."""
    if mode in ("caffe", "tf", "torch"):
        return keras.applications.imagenet_utils.preprocess_input(images, mode=mode)
    return images / 255.0


def family_representatives():
    """The smallest registered model of each family (by reference parameter count).

    The JAX and torch checks train these (tests/test_models.py): compiling the training
    step of every deep CNN there costs minutes each on 2 cores (JAX, DenseNet-121: over
    500 s on a loaded CPU), and a family's larger sizes repeat the same blocks.
    """

    from keras_archs import list_models
    from keras_archs.registry import get_spec

    best = {}
    for name in list_models():
        spec = get_spec(name)
        size = spec.reference_params or 0
        if spec.family not in best or size < best[spec.family][0]:
            best[spec.family] = (size, name)
    return sorted(name for _, name in best.values())


# The "within N minutes on a 2-core CPU" budgets hold for a run that has the two cores to
# itself (the recipes' docstrings give those timings). In CI two pytest-xdist workers share
# the cores: BERT's 1,700 steps took 241 s alone and 474 s and 521 s in two CI runs (2.2x).
# A timed test's wall-clock bound is the budget times this factor, and its quality bar is
# set by a fixed number of steps or epochs, so the result does not depend on how busy the
# machine is. The machines differ too: on 2-core CPUs with AVX2 only (no AVX-512), the same
# unchanged tests ran 1.6 to 2.8 times longer in CI (BERT's steps: 647 s and 755 s against
# 396 s), so there the factor is 4.
def _shared_cpu_slack():
    from keras_archs.training.policy import cpu_flags

    return 2.5 if "avx512f" in cpu_flags() else 4.0


SHARED_CPU_SLACK = _shared_cpu_slack()

"""The test harness: the generic checks of a registered model and of a layer, in one place.

keras-hub's pattern (`keras_hub/src/tests/test_case.py`): a test names what to build and
the harness runs every generic check on it.

- `run_builder_test(name, workdir)`: builds the registry model's small test configuration
  once; forward shape equals the declared output shape and is finite; one eager training
  step moves the weights; the `.keras` file reloads in another interpreter
  (safe_mode=True, no custom_objects) with identical outputs; that reloaded model
  exports a SavedModel, which plain TensorFlow serves with keras_archs blocked, to 1e-5.
  A size registered as repeating a smaller size's blocks (`same_blocks_as`) is made of
  the same kinds of layers as that size (`layer_kinds`).
- `run_layer_test(cls, init_kwargs, input_data, expected_output_shape)`: builds and
  calls a layer, round-trips its config and a `.keras` file of a model around it.
- `reload_in_fresh_process(items)`, `runner(backend)`: the other interpreters.

The other interpreters are `tests/backend_check.py` runners, one per backend and per
pytest process, started on first use and kept until the process exits: importing
TensorFlow, JAX or torch costs seconds on the 2-core CI machine, so every check of a
session shares one start. They only load files and build from the registry, so what
they find is what a fresh interpreter finds.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile

import keras
import numpy as np

from tests.utils import (
    REPO,
    example_inputs,
    load_outputs,
    max_abs_diff,
    save_inputs,
    subprocess_env,
    to_numpy_tree,
    train_one_step,
)

RUNNER = os.path.join(REPO, "tests", "backend_check.py")
# A runner that grew past this is replaced before its next request: TensorFlow keeps what
# tracing (the exports) allocated, JAX what it compiled, and each pytest-xdist worker may
# hold four runners (TensorFlow, serving, JAX, torch) on the 24 GiB CI machine.
MAX_RUNNER_RSS_MB = int(os.environ.get("KERAS_ARCHS_TEST_RUNNER_MAX_MB", "2500"))


class Runner:
    """One `tests/backend_check.py` interpreter under `backend` (see its docstring)."""

    def __init__(self, backend="tensorflow", block_keras_archs=False):
        self.backend = backend
        self.block = block_keras_archs
        self.proc = None
        self.log = None
        self.rss_mb = 0

    def start(self):
        self.close()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept open with the process)
            "w+", prefix=f"keras_archs_runner_{self.backend}_", suffix=".log", delete=False
        )
        args = [sys.executable, RUNNER] + (["--block-keras-archs"] if self.block else [])
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=subprocess_env(self.backend),
            text=True,
            bufsize=1,
        )

    def _log_tail(self, chars=6000):
        if self.log is None:
            return ""
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-chars:]

    def request(self, op, timeout=1200, **payload):
        """Sends one request; returns its result, raising with the runner's error."""
        if self.proc is None or self.proc.poll() is not None or self.rss_mb > MAX_RUNNER_RSS_MB:
            self.start()
            self.rss_mb = 0
        try:
            self.proc.stdin.write(json.dumps({"op": op, **payload}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the read below reports its log
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            tail = self._log_tail()
            self.close()
            raise TimeoutError(f"{self.backend} runner: no reply to {op!r} in {timeout} s\n{tail}")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            tail = self._log_tail()
            code = self.proc.returncode
            self.close()
            raise RuntimeError(f"{self.backend} runner died (exit {code}) during {op!r}:\n{tail}")
        reply = json.loads(line)
        self.rss_mb = reply.get("rss_mb", 0)
        if not reply["ok"]:
            raise AssertionError(f"{self.backend} runner, {op!r}:\n{reply['error']}")
        return reply["result"]

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.log is not None:
            self.log.close()
            os.unlink(self.log.name)
            self.log = None


_RUNNERS: dict[tuple, Runner] = {}


def runner(backend="tensorflow", block_keras_archs=False):
    """This process's runner for `backend` (started on first use)."""
    key = (backend, block_keras_archs)
    if key not in _RUNNERS:
        _RUNNERS[key] = Runner(backend, block_keras_archs)
    return _RUNNERS[key]


@atexit.register
def close_runners():
    for r in _RUNNERS.values():
        r.close()


def reload_in_fresh_process(items, backend=None):
    """Loads each `.keras` file in another interpreter (safe_mode=True, no custom_objects)
    and returns its outputs by name.

    items: dicts with name, path (.keras), inputs (.npz, `tests.utils.save_inputs`) and
    outputs (.npz to write); optional jit (predict through a jit-compiled function),
    train (one training step: the reply has loss, moved, has_weights) and export_dir.
    """
    results = runner(backend or "tensorflow").request("reload", items=items)
    errors = {name: r["error"] for name, r in results.items() if "error" in r}
    assert not errors, "\n".join(f"{name}:\n{error}" for name, error in errors.items())
    return {item["name"]: load_outputs(item["outputs"]) for item in items}


def reload_results(items, backend=None):
    """Like `reload_in_fresh_process`, but returns (outputs, the runner's per-item reply)."""
    results = runner(backend or "tensorflow").request("reload", items=items)
    outputs = {}
    for item in items:
        if "error" not in results[item["name"]]:
            outputs[item["name"]] = load_outputs(item["outputs"])
    return outputs, results


# ----------------------------------------------------------------------- outputs


def assert_outputs_match_declared(model, outputs, batch_size):
    """Each output leaf has the model's declared (symbolic) shape and is finite."""
    leaves = keras.tree.flatten(outputs)
    declared = [tuple(t.shape) for t in keras.tree.flatten(model.output)]
    assert len(leaves) == len(declared), (len(leaves), len(declared))
    for leaf, symbolic in zip(leaves, declared):
        shape = tuple(leaf.shape)
        assert len(shape) == len(symbolic), (shape, symbolic)
        assert shape[0] == batch_size, (shape, batch_size)
        assert all(s is None or s == o for s, o in zip(symbolic[1:], shape[1:])), (
            f"output shape {shape} differs from the declared {symbolic}"
        )
        assert np.isfinite(leaf).all(), "non-finite outputs"


# ------------------------------------------------------------------------ models


def layer_kinds(model):
    """The kinds of layers `model` is made of: class, and for pooling and convolution
    layers kernel size and strides (a bottleneck block's 1x1 convolutions are another
    kind than a basic block's 3x3 ones), without counts or widths."""
    kinds = set()
    for layer in model._flatten_layers(include_self=False):
        config = layer.get_config()
        shape = [config.get(key) for key in ("kernel_size", "pool_size", "strides")]
        kinds.add((type(layer).__name__, *(tuple(v) if isinstance(v, list) else v for v in shape)))
    return kinds


def run_builder_test(name, workdir, *, export=True, batch_size=2):
    """Every generic check of registered model `name`, on one build (see the docstring
    of this module). `workdir`: a folder for the files (pytest's `tmp_path`)."""
    from keras_archs.registry import get_spec

    workdir = str(workdir)
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model, batch_size=batch_size)
    y = to_numpy_tree(model(x, training=False))
    assert_outputs_match_declared(model, y, batch_size)
    if spec.same_blocks_as:
        # The other tests check this size's code paths on that smaller size.
        smaller = get_spec(spec.same_blocks_as)
        assert smaller.family == spec.family and smaller.test_kwargs == spec.test_kwargs
        assert smaller.reference_params < spec.reference_params
        assert layer_kinds(model) == layer_kinds(smaller.build(**smaller.test_kwargs))

    item = {
        "name": name,
        "path": os.path.join(workdir, f"{name}.keras"),
        "inputs": os.path.join(workdir, f"{name}_in.npz"),
        "outputs": os.path.join(workdir, f"{name}_reloaded.npz"),
    }
    model.save(item["path"])
    save_inputs(item["inputs"], x)

    # Eager: tracing a deep CNN's training step costs minutes on 2 cores (NASNet-Large:
    # 99 s traced, 8 s eager); the compiled paths (tf.function, XLA, JAX) are trained by
    # the families' learning tests and the JAX checks.
    loss, moved = train_one_step(model, x, run_eagerly=True)
    assert math.isfinite(loss), loss
    assert moved > 0.5, f"only {moved:.0%} of the trainable weights changed"
    del model
    keras.backend.clear_session()

    if export:
        item["export_dir"] = os.path.join(workdir, "export")
    outputs, results = reload_results([item])
    result = results[name]
    assert "error" not in result, result["error"]
    assert max_abs_diff(y, outputs[name]) == 0.0, "the reloaded model's outputs differ"
    if export:
        check_serving([result["export"]])


def check_run_folder(out, workdir):
    """A `train` run folder `out`: every file it should hold, and its `model.keras`
    reloads in a fresh interpreter with the outputs it has here."""
    from keras_archs.training.fit import RUN_FOLDER

    out, workdir = str(out), str(workdir)
    assert sorted(os.listdir(out)) == sorted(RUN_FOLDER)
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    x = example_inputs(model, batch_size=2, length=5)
    expected = to_numpy_tree(model(x, training=False))
    item = {
        "name": "run",
        "path": os.path.join(out, "model.keras"),
        "inputs": os.path.join(workdir, "run_inputs.npz"),
        "outputs": os.path.join(workdir, "run_outputs.npz"),
    }
    save_inputs(item["inputs"], x)
    got = reload_in_fresh_process([item])["run"]
    assert max_abs_diff(expected, got) <= 1e-6


def check_serving(exports):
    """Serves each export with plain TensorFlow in a process where keras_archs cannot be
    imported (TensorFlow Serving's situation); outputs equal the eager model's to 1e-5."""
    from keras_archs.registry import get_spec

    report = runner("tensorflow", block_keras_archs=True).request("serve", items=exports)
    assert report["blocked"] and report["leaked"] == [], report
    for item in exports:
        name, served = item["name"], report["models"][item["name"]]
        assert served["tags"] == ["serve"], name
        assert served["xla"] == [], (name, served["xla"])
        # saved_model_cli's view: every signature with its named inputs and outputs.
        assert served["signatures"] == item["described"], name
        if get_spec(name).task == "image_classification":
            assert set(served["signatures"]) == {"serving_default", "serving_bytes"}, name
            assert served["signatures"]["serving_default"][0] == ["images"], name
        got = dict(np.load(item["outputs"]))
        expected = dict(np.load(item["expected"]))
        assert sorted(got) == sorted(expected), name
        for key, value in expected.items():
            np.testing.assert_allclose(
                got[key], value, rtol=0, atol=1e-5, err_msg=f"{name}: output {key}"
            )


def check_on_backend(name, backend, workdir, train, forward=True):
    """Builds model `name` under `backend` in its runner: with `forward`, output shapes
    and finite values, and `.keras` reload (same process) with outputs identical to
    1e-6; without, the symbolic output shapes and a reload with identical weights; with
    `train`, one float32 and one mixed_bfloat16 training step. Returns the runner's
    numbers (JAX: the float32 step only)."""
    result = runner(backend).request(
        "check_model", name=name, workdir=str(workdir), train=train, forward=forward
    )
    assert result["backend"] == backend
    assert result["output_finite"], name
    for shape, declared in zip(result["shapes"], result["declared"]):
        assert len(shape) == len(declared) and shape[0] == 2, (shape, declared)
        assert all(d is None or d == s for d, s in zip(declared[1:], shape[1:])), (
            shape,
            declared,
        )
    assert result["reload_diff"] <= 1e-6, result["reload_diff"]
    if train:
        assert math.isfinite(result["loss"]) and result["moved"] > 0.5, result
        if backend != "jax":
            assert math.isfinite(result["mixed_loss"]), result
    return result


# ------------------------------------------------------------------------ layers


def _call(layer, input_data):
    if isinstance(input_data, dict):
        return layer(**input_data)
    return layer(input_data)


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    *,
    expected_output=None,
    atol=1e-6,
    run_training_check=True,
    fresh_process=True,
    workdir=None,
):
    """The generic checks of a keras_archs layer (keras-hub's `run_layer_test`).

    Builds `cls(**init_kwargs)`, calls it on `input_data` (an array, or a dict of call
    arguments whose first entry is the main input) symbolically and eagerly, compares the
    output shapes with `expected_output_shape` (a tuple, or a structure of tuples like
    the outputs), checks that `get_config()` / `from_config()` and
    `keras.saving.serialize_keras_object` round-trip to the same config, and that a
    model holding the layer saved to `.keras` reloads (safe_mode=True, no
    custom_objects; in another interpreter unless `fresh_process=False`) with the same
    outputs. With `run_training_check`, that model trains one compiled step (MSE on
    random targets) with a finite loss and moved weights. Returns the eager outputs.
    """
    layer = cls(**init_kwargs)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config, "from_config(get_config())"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls and revived.get_config() == config, "serialize round trip"

    arrays = input_data if isinstance(input_data, dict) else {"x": input_data}
    symbolic = {
        k: keras.Input(tuple(v.shape[1:]), dtype=str(v.dtype), name=k) for k, v in arrays.items()
    }
    if not isinstance(input_data, dict):
        symbolic = symbolic["x"]
    symbolic_out = _call(layer, symbolic)
    assert layer.built
    eager_out = _call(layer, input_data)
    got = [tuple(t.shape) for t in keras.tree.flatten(eager_out)]
    want = _flat_shapes(expected_output_shape)
    assert got == want, f"output shapes {got}, expected {want}"
    symbolic_shapes = [tuple(t.shape) for t in keras.tree.flatten(symbolic_out)]
    assert len(symbolic_shapes) == len(got)
    for s, e in zip(symbolic_shapes, got):
        assert len(s) == len(e) and all(a is None or a == b for a, b in zip(s[1:], e[1:])), (
            f"symbolic output shape {s} differs from the eager {e}"
        )
    eager_np = to_numpy_tree(eager_out)
    for leaf in keras.tree.flatten(eager_np):
        if np.issubdtype(leaf.dtype, np.floating):
            assert np.isfinite(leaf).all(), "non-finite outputs"
    if expected_output is not None:
        np.testing.assert_allclose(
            keras.tree.flatten(eager_np), keras.tree.flatten(expected_output), atol=atol
        )

    model = keras.Model(symbolic, symbolic_out)
    outputs = to_numpy_tree(model(input_data, training=False))
    # A folder of the caller's, or one of ours that is removed again (every layer test
    # used to leave one in the temporary folder).
    owned = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="keras_archs_layer_")
    try:
        stem = os.path.join(str(workdir), cls.__name__)
        item = {
            "name": cls.__name__,
            "path": stem + ".keras",
            "inputs": stem + "_in.npz",
            "outputs": stem + "_out.npz",
        }
        model.save(item["path"])
        if fresh_process:
            save_inputs(item["inputs"], arrays)
            reloaded = reload_in_fresh_process([item])[item["name"]]
            # The runner hands back one array, a list or a dict, as the model returned.
            diff = max_abs_diff(outputs, reloaded)
        else:
            loaded = keras.saving.load_model(item["path"], safe_mode=True)
            diff = max_abs_diff(outputs, to_numpy_tree(loaded(input_data, training=False)))
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    assert diff <= atol, f".keras round trip changed the outputs by {diff}"
    if run_training_check and model.trainable_weights:
        loss, moved = train_one_step(model, input_data)
        assert math.isfinite(loss), loss
        assert moved > 0.5, f"only {moved:.0%} of the trainable weights changed"
    return eager_out


def _flat_shapes(shape):
    """[shape, ...] from one shape tuple or a list / tuple / dict (sorted keys) of them."""
    if isinstance(shape, dict):
        return [t for key in sorted(shape) for t in _flat_shapes(shape[key])]
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [t for item in shape for t in _flat_shapes(item)]
    return [tuple(shape)]

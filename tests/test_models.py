"""The generic suite: every registered model, the same checks (timm's test_models.py).

Adding an architecture to the registry adds it here; nothing in this file names a model.
"""

import importlib.util
import json
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec
from tests.utils import (
    example_inputs,
    max_abs_diff,
    reload_in_fresh_process,
    save_inputs,
    subprocess_env,
    to_numpy_tree,
    train_one_step,
)

MODELS = keras_archs.list_models()
BACKENDS = ["jax"] + (["torch"] if importlib.util.find_spec("torch") else [])


def _trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name", MODELS)
def test_reference_parameter_count(name):
    spec = get_spec(name)
    if spec.reference_params is None:
        pytest.skip(f"{name} has no single reference parameter count")
    model = keras_archs.create_model(name, **spec.reference_kwargs)
    count = model.count_params() if spec.params_kind == "total" else _trainable_count(model)
    assert count == spec.reference_params
    keras.backend.clear_session()


@pytest.mark.parametrize("name", MODELS)
def test_metadata_complete(name):
    info = keras_archs.model_info(name)
    for key in (
        "name",
        "family",
        "paper",
        "year",
        "default_input_shape",
        "min_input_size",
        "task",
        "reference_params",
    ):
        assert key in info
    assert info["idea"], f"{name}'s builder docstring must state its one defining idea"
    assert info["builder"] in dir(keras_archs.applications)


@pytest.fixture(scope="module")
def built_models(tmp_path_factory):
    """Builds each model once, saves it to .keras and keeps only the file, its inputs,
    outputs and output shapes (holding every model in memory exhausts 24 GiB)."""
    workdir = tmp_path_factory.mktemp("built")
    cache = {}

    def get(name):
        if name not in cache:
            spec = get_spec(name)
            keras.utils.set_random_seed(0)
            model = spec.build(**spec.test_kwargs)
            x = example_inputs(model)
            y = to_numpy_tree(model(x, training=False))
            path = str(workdir / f"{name}.keras")
            model.save(path)
            shapes = [tuple(t.shape) for t in keras.tree.flatten(model.output)]
            cache[name] = (path, shapes, x, y)
            del model
            keras.backend.clear_session()
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_forward_shape_and_finite(name, built_models):
    _, shapes, _, y = built_models(name)
    leaves_y = keras.tree.flatten(y)
    assert len(leaves_y) == len(shapes)
    for out, symbolic in zip(leaves_y, shapes):
        assert out.shape[0] == 2
        assert all(s is None or s == o for s, o in zip(symbolic[1:], out.shape[1:]))
        assert np.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_one_training_step(name):
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model)
    loss, moved = train_one_step(model, x)
    assert math.isfinite(loss)
    assert moved > 0.5, f"only {moved:.0%} of the trainable weights changed"
    keras.backend.clear_session()


@pytest.fixture(scope="module")
def fresh_process_reloads(built_models, tmp_path_factory, request):
    """Saves every selected model, then reloads all of them in one new process."""
    workdir = tmp_path_factory.mktemp("reload")
    selected = sorted(
        {
            item.callspec.params["name"]
            for item in request.session.items
            if getattr(item, "originalname", None) == "test_keras_file_round_trip_in_fresh_process"
        }
    )
    items = []
    for name in selected:
        path, _, x, _ = built_models(name)
        save_inputs(str(workdir / f"{name}_in.npz"), x)
        items.append(
            {
                "name": name,
                "path": path,
                "inputs": str(workdir / f"{name}_in.npz"),
                "outputs": str(workdir / f"{name}_out.npz"),
            }
        )
    return reload_in_fresh_process(items)


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_round_trip_in_fresh_process(name, built_models, fresh_process_reloads):
    _, _, _, y = built_models(name)
    assert max_abs_diff(y, fresh_process_reloads[name]) == 0.0


@pytest.fixture(scope="module", params=BACKENDS)
def backend_results(request):
    """Results of tests/backend_check.py under one backend (started by conftest.py)."""
    from tests.conftest import start_backend_runs

    proc, out, log = start_backend_runs(request.session)[request.param]
    proc.wait(timeout=3600)
    log.flush()
    with open(log.name) as f:
        stderr = f.read()
    assert proc.returncode == 0, stderr[-5000:]
    with open(out) as f:
        results = json.load(f)
    assert results["backend"] == request.param
    return results


@pytest.mark.parametrize("name", MODELS)
def test_other_backends(name, backend_results):
    """Forward, train step, mixed-precision step and .keras round trip on jax / torch."""
    result = backend_results[name]
    assert "error" not in result, result.get("error")
    assert result["output_finite"]
    assert result["reload_diff"] <= 1e-6
    assert math.isfinite(result["loss"]) and result["moved"] > 0.5
    assert math.isfinite(result["mixed_loss"])


@pytest.mark.parametrize("name", MODELS)
def test_mixed_precision_step(name):
    spec = get_spec(name)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = spec.build(**spec.test_kwargs)
        loss, _ = train_one_step(model, example_inputs(model))
    finally:
        keras.config.set_dtype_policy("float32")
    assert math.isfinite(loss)
    keras.backend.clear_session()


def test_import_and_build_without_tensorflow():
    """DESIGN.md rule 1: keras_archs imports and builds with TensorFlow absent."""
    code = """
    import sys
    class BlockTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError("tensorflow is blocked in this test")
    sys.meta_path.insert(0, BlockTensorFlow())
    import numpy as np
    import keras_archs
    model = keras_archs.applications.LeNet5()
    y = model(np.zeros((2, 32, 32, 1), "float32"))
    assert tuple(y.shape) == (2, 10)
    assert "tensorflow" not in sys.modules
    print(keras_archs.list_models())
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=subprocess_env("jax"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lenet5" in proc.stdout

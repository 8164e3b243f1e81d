"""Every layer: .keras round trip in a fresh process, JAX and torch runs, XLA on TensorFlow.

The models of tests/layers/cases.py are built and saved once here (TensorFlow);
one fresh process per backend loads them all, so the subprocess cost is paid once.
"""

import json
import os
import sys

import keras
import numpy as np
import pytest

from tests.layers.cases import CASES, NO_TRAIN, build
from tests.utils import (
    REPO,
    max_abs_diff,
    reload_in_fresh_process,
    save_inputs,
    subprocess_env,
    to_numpy_tree,
)

NAMES = sorted(CASES)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Saves every case model with its inputs and expected (eager, inference) outputs."""
    workdir = tmp_path_factory.mktemp("layer_cases")
    expected = {}
    for name in NAMES:
        model, inputs = build(name)
        out = to_numpy_tree(model(inputs, training=False))
        model.save(workdir / f"{name}.keras")
        save_inputs(workdir / f"{name}_in.npz", inputs)
        outs = out if isinstance(out, list) else [out]
        np.savez(workdir / f"{name}_out.npz", **{str(i): o for i, o in enumerate(outs)})
        expected[name] = out
        keras.backend.clear_session()
    return workdir, expected


def test_config_round_trip_every_layer():
    """get_config() holds every constructor argument: from_config rebuilds an equal config."""
    for name in NAMES:
        model, _ = build(name)
        for layer in model.layers:
            if layer.__module__.startswith("keras_archs"):
                config = layer.get_config()
                clone = type(layer).from_config(config)
                assert clone.get_config() == config, (name, layer.name)


def test_keras_round_trip_in_fresh_process(saved):
    workdir, expected = saved
    items = [
        {
            "name": name,
            "path": str(workdir / f"{name}.keras"),
            "inputs": str(workdir / f"{name}_in.npz"),
            "outputs": str(workdir / f"{name}_reloaded.npz"),
        }
        for name in NAMES
    ]
    reloaded = reload_in_fresh_process(items)
    for name in NAMES:
        assert max_abs_diff(expected[name], reloaded[name]) == 0.0, name


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layers_on_backend(saved, backend, tmp_path):
    """Loads every TF-saved case under `backend`: same outputs, jit predict and a train step."""
    import subprocess

    workdir, _ = saved
    out = tmp_path / "result.json"
    script = os.path.join(REPO, "tests", "layers", "backend_run.py")
    proc = subprocess.run(
        [sys.executable, script, str(workdir), str(out), json.dumps(NAMES)],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(backend),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["backend"] == backend
    for name in NAMES:
        r = results[name]
        assert "error" not in r, r.get("error")
        assert r["diff"] < 1e-4, (name, r)
        if r["trained"]:
            assert np.isfinite(r["loss"]), (name, r)
            assert r["moved"] > 0.5 or not r["has_weights"], (name, r)
    trained = sum(results[n]["trained"] for n in NAMES)
    assert trained >= (2 if backend == "jax" else len(NAMES) - len(NO_TRAIN))


def test_xla_on_tensorflow(saved):
    _, expected = saved
    for name in NAMES:
        model, inputs = build(name)
        model.compile(jit_compile=True)
        got = model.predict_on_batch(inputs)
        assert max_abs_diff(expected[name], got) < 1e-4, name
        keras.backend.clear_session()

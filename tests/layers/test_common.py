"""Every layer case (tests/layers/cases.py): config round trip, `.keras` reload in another
interpreter, XLA on TensorFlow, and the TensorFlow-saved file loaded under JAX and torch.

The case models are tiny: each test builds what it needs (a module fixture saves every
case once per pytest process for the reload checks).
"""

import keras
import numpy as np
import pytest

from tests.harness import reload_results
from tests.layers.cases import CASES, NO_TRAIN, build
from tests.utils import max_abs_diff, save_inputs, to_numpy_tree

NAMES = sorted(CASES)
# Training a case on JAX compiles an XLA train step (seconds each on CPU): two cases, the
# ones with the most layer kinds, train there; torch trains every case eagerly.
JAX_TRAIN = {"temporal_blocks", "decoder_block"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Saves every case model with its inputs and expected (eager, inference) outputs."""
    workdir = tmp_path_factory.mktemp("layer_cases")
    expected = {}
    for name in NAMES:
        model, inputs = build(name)
        expected[name] = to_numpy_tree(model(inputs, training=False))
        model.save(workdir / f"{name}.keras")
        save_inputs(workdir / f"{name}_in.npz", inputs)
        keras.backend.clear_session()
    return workdir, expected


def _items(workdir, suffix, options):
    return [
        {
            "name": name,
            "path": str(workdir / f"{name}.keras"),
            "inputs": str(workdir / f"{name}_in.npz"),
            "outputs": str(workdir / f"{name}_{suffix}.npz"),
            **options(name),
        }
        for name in NAMES
    ]


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name):
    """get_config() holds every constructor argument: from_config rebuilds an equal config."""
    model, _ = build(name)
    for layer in model.layers:
        if layer.__module__.startswith("keras_archs"):
            config = layer.get_config()
            clone = type(layer).from_config(config)
            assert clone.get_config() == config, (name, layer.name)
    keras.backend.clear_session()


def test_keras_round_trip_in_fresh_process(saved):
    workdir, expected = saved
    reloaded, results = reload_results(_items(workdir, "reloaded", lambda name: {}))
    for name in NAMES:
        assert "error" not in results[name], results[name]["error"]
        assert max_abs_diff(expected[name], reloaded[name]) == 0.0, name


@pytest.mark.parametrize("name", NAMES)
def test_xla_on_tensorflow(name, saved):
    _, expected = saved
    model, inputs = build(name)
    model.compile(jit_compile=True)
    got = model.predict_on_batch(inputs)
    assert max_abs_diff(expected[name], got) < 1e-4, name
    keras.backend.clear_session()


@pytest.mark.backend
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layers_on_backend(saved, backend):
    """Loads every TF-saved case under `backend`: same outputs (through a jit-compiled
    predict on JAX, eagerly on torch) and one training step (see JAX_TRAIN)."""
    workdir, expected = saved

    def options(name):
        train = name not in NO_TRAIN and (backend != "jax" or name in JAX_TRAIN)
        return {"jit": backend == "jax", "train": train}

    items = _items(workdir, backend, options)
    got, results = reload_results(items, backend=backend)
    for item in items:
        name, r = item["name"], results[item["name"]]
        assert "error" not in r, r["error"]
        assert max_abs_diff(expected[name], got[name]) < 1e-4, (name, r)
        if item["train"]:
            assert np.isfinite(r["loss"]), (name, r)
            assert r["moved"] > 0.5 or not r["has_weights"], (name, r)
    trained = sum(item["train"] for item in items)
    assert trained >= (2 if backend == "jax" else len(NAMES) - len(NO_TRAIN))

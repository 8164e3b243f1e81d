"""The generic suite, part 2: every registered model's forward pass and its `.keras`
file reloaded in a fresh process (safe_mode=True, no custom_objects).

A separate file so that pytest-xdist (--dist loadfile) runs it beside tests/test_models.py.
"""

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
    to_numpy_tree,
)

MODELS = keras_archs.list_models()


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

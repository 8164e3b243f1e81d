"""The generic suite: every registered model, the same checks (timm's test_models.py).

Adding an architecture to the registry adds it here; nothing in this file names a model.
Part 1 (this file): parameter counts, metadata, one training step on TensorFlow. The
mixed-precision step, the fresh-process `.keras` round trip and the JAX / torch runs are
in test_models_mixed.py, test_models_serialization.py and test_models_backends.py, so that
pytest-xdist (--dist loadfile) spreads them over its workers.
"""

import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec
from tests.utils import example_inputs, subprocess_env, train_one_step

MODELS = keras_archs.list_models()
# The training steps here run eagerly: tracing a deep CNN's step costs minutes on 2 cores
# (NASNet-Large: 99 s traced, 8 s eager), and every family's compiled path (tf.function,
# and XLA where it applies) is trained by its own tests: the memorisation tests of the
# CNNs, the learning tests of the sequence models, `keras-archs train` for LeNet-5.


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


@pytest.mark.parametrize("name", MODELS)
def test_one_training_step(name):
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model)
    loss, moved = train_one_step(model, x, run_eagerly=True)
    assert math.isfinite(loss)
    assert moved > 0.5, f"only {moved:.0%} of the trainable weights changed"
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

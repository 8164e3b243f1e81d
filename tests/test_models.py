"""The generic suite: every registered model, the same checks (timm's test_models.py).

Adding an architecture to the registry adds it here; nothing in this file names a model.
Each check is its own test, parametrized by model, so that pytest-xdist spreads them:

- `test_generic_checks`: one build of the small test configuration runs every generic
  check (`tests.harness.run_builder_test`): forward shape and finite, an eager training
  step, the `.keras` file reloaded in another interpreter, and (each family's smallest
  model) its SavedModel export served by plain TensorFlow.
- `test_reference_parameter_count`: the full-size build has the published count.
- `test_mixed_precision_step`: each family's smallest model, built under
  mixed_bfloat16, trains one step without NaN.
- `test_other_backend` (marker `backend`): under JAX and torch, each family's smallest
  model runs forward, reloads from `.keras` with the same outputs and trains one
  float32 step (and on torch one mixed_bfloat16 step); the larger sizes build and
  reload with the same weights on one of them (torch where it is installed), except
  those registered as repeating a smaller size's blocks (`same_blocks_as`: ResNet-152
  of ResNet-50), whose layers and code paths that smaller size runs there.

keras.applications' input contract of the image models is in tests/test_input_contract.py.
"""

import importlib.util
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec
from tests.harness import check_on_backend, run_builder_test
from tests.utils import example_inputs, family_representatives, subprocess_env, train_one_step

MODELS = keras_archs.list_models()
COUNTED = [name for name in MODELS if get_spec(name).reference_params is not None]
# Each family's smallest model: the checks that repeat a family's layers run on it.
REPRESENTATIVES = set(family_representatives())
BACKENDS = ["jax"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.mark.parametrize("name", MODELS)
def test_generic_checks(name, tmp_path):
    # Serving is checked on each family's smallest model: tracing a SavedModel of a
    # family's deeper sizes (ResNet-152, NASNet-Large) costs tens of seconds each on the
    # 2-core CPU and exports the same layers through the same signatures.
    run_builder_test(name, tmp_path, export=name in REPRESENTATIVES)


@pytest.mark.parametrize("name", MODELS)
def test_metadata_complete(name):
    # The spec's own fields: `model_info` adds the FLOPs, which builds the full-size model.
    info = get_spec(name).info()
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


def _trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name", COUNTED)
def test_reference_parameter_count(name):
    spec = get_spec(name)
    model = keras_archs.create_model(name, **spec.reference_kwargs)
    count = model.count_params() if spec.params_kind == "total" else _trainable_count(model)
    assert count == spec.reference_params
    del model
    keras.backend.clear_session()


@pytest.mark.parametrize("name", sorted(REPRESENTATIVES))
def test_mixed_precision_step(name):
    """One eager mixed_bfloat16 training step on TensorFlow (eager: see run_builder_test),
    for each family's smallest model: a family's larger sizes repeat the same layers,
    and the dtype policy acts per layer."""
    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = spec.build(**spec.test_kwargs)
        loss, _ = train_one_step(model, example_inputs(model), run_eagerly=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert math.isfinite(loss)
    del model
    keras.backend.clear_session()


# Each family's smallest model on every backend; a larger size on the last of them (torch
# where it is installed): building one under JAX compiles each initializer (DenseNet-169:
# 17 s on the 2-core CPU; the 32 larger-size checks cost JAX 353 s of one CI run against
# torch's 191 s), while the layers it is made of already run under JAX in the family's
# smallest model or in the custom-layer cases (tests/layers/cases.py).
# A size registered as repeating a smaller size's blocks (`same_blocks_as`) differs from
# it only in block counts, which the TensorFlow checks above build at every size.
OTHER_BACKEND_CASES = [
    (name, backend)
    for name in MODELS
    if get_spec(name).same_blocks_as is None
    for backend in (BACKENDS if name in REPRESENTATIVES else BACKENDS[-1:])
]


@pytest.mark.backend
@pytest.mark.parametrize(("name", "backend"), OTHER_BACKEND_CASES)
def test_other_backend(name, backend, tmp_path):
    """Under JAX / torch, each family's smallest model (tests.utils.family_representatives)
    runs forward, round-trips a `.keras` file with identical outputs, and trains a
    float32 step (and on torch a mixed_bfloat16 step). A family's larger sizes repeat
    those layers in more blocks, so they build (symbolic output shapes as declared) and
    round-trip a `.keras` file with identical weights, on one backend."""
    forward = name in REPRESENTATIVES
    check_on_backend(name, backend, tmp_path, train=forward, forward=forward)


def test_import_and_build_without_tensorflow():
    """keras_archs imports and builds with TensorFlow absent (models use keras.ops only)."""
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

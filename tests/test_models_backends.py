"""The generic suite, part 3: forward pass and `.keras` round trip of every registered
model under JAX and under torch (tests/backend_check.py subprocesses started by
tests/conftest.py), and a float32 and a mixed-precision training step for each
family's smallest model (DenseNet's with two layers per block).
"""

import importlib.util
import math

import pytest

import keras_archs
from tests.utils import family_representatives

MODELS = keras_archs.list_models()
TRAINED = family_representatives()
BACKENDS = ["jax"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def backend_results(request):
    """Results of tests/backend_check.py under one backend (started by conftest.py)."""
    from tests.conftest import merged_backend_results

    results = merged_backend_results(request.config, request.param)
    assert results["backend"] == request.param
    return results


@pytest.mark.parametrize("name", MODELS)
def test_other_backends(name, backend_results):
    """Forward and .keras round trip on jax / torch (and training steps: see TRAINED)."""
    result = backend_results[name]
    assert "error" not in result, result.get("error")
    assert result["output_finite"]
    assert result["reload_diff"] <= 1e-6
    if name in TRAINED:  # each family's smallest model (see tests/backend_check.py)
        assert math.isfinite(result["loss"]) and result["moved"] > 0.5
        assert math.isfinite(result["mixed_loss"])
    else:
        assert "loss" not in result

"""The generic suite, part 4: one mixed_bfloat16 training step of every registered model on
TensorFlow (eager; see tests/test_models.py for why), without NaN."""

import math

import keras
import pytest

import keras_archs
from keras_archs.registry import get_spec
from tests.utils import example_inputs, train_one_step

MODELS = keras_archs.list_models()


@pytest.mark.parametrize("name", MODELS)
def test_mixed_precision_step(name):
    spec = get_spec(name)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = spec.build(**spec.test_kwargs)
        loss, _ = train_one_step(model, example_inputs(model), run_eagerly=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert math.isfinite(loss)
    keras.backend.clear_session()

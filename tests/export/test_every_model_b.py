"""The other half of the registry for test_every_model.py (see there)."""

import pytest

import keras_archs
from tests.export.test_every_model import check_models_serve_without_keras_archs


@pytest.mark.slow
def test_every_registered_model_serves_without_keras_archs_second_half(tmp_path):
    check_models_serve_without_keras_archs(keras_archs.list_models()[1::2], tmp_path)

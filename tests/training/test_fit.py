"""`train`'s argument checks: all fail before a dataset is loaded or a run folder made."""

import os

import pytest

from keras_archs.training import train


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1; got epochs=0"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be an integer >= 1"),
        ({"learning_rate": -1}, ValueError, "learning_rate must be a number > 0.0"),
        ({"seed": "0"}, TypeError, "seed must be an integer >= 0"),
        ({"jit_compile": "on"}, TypeError, "jit_compile must be True or False"),
        ({"data_kwargs": {"batch_size": 8}}, ValueError, "arguments of train itself"),
        ({"data": "addition"}, ValueError, "not an image-classification dataset"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    out = tmp_path / "run"
    with pytest.raises(error, match=match):
        train("lenet5", out=str(out), **kwargs)
    assert not os.path.exists(out)


def test_unknown_model_and_model_without_recipe():
    with pytest.raises(ValueError, match="Unknown model name='lenet'"):
        train("lenet")
    with pytest.raises(ValueError, match="no training recipe for 'bert_tiny'"):
        train("bert_tiny")

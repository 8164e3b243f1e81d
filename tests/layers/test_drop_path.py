import numpy as np
import pytest

from keras_archs.layers import DropPath
from tests.layers.helpers import np_out


def test_inference_is_identity():
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype("float32")
    layer = DropPath(0.5, seed=0)
    assert np.array_equal(np_out(layer(x)), x)
    assert np.array_equal(np_out(layer(x, training=False)), x)
    assert np.array_equal(np_out(DropPath(0.0)(x, training=True)), x)


def test_drops_whole_samples_and_keeps_the_expectation():
    x = np.ones((4000, 3, 2), "float32")
    y = np_out(DropPath(0.25, seed=1)(x, training=True))
    per_sample = y.reshape(4000, -1)
    # Each sample is all zeros or all 1/keep: the drop is per sample, not per element.
    dropped = np.all(per_sample == 0, axis=1)
    kept = np.all(np.isclose(per_sample, 1 / 0.75), axis=1)
    assert np.all(dropped | kept)
    assert abs(dropped.mean() - 0.25) < 0.03
    assert abs(y.mean() - 1.0) < 0.05


def test_bad_rate():
    with pytest.raises(ValueError, match="rate"):
        DropPath(1.0)
    with pytest.raises(ValueError, match="rate"):
        DropPath(-0.1)

"""Checks against keras.applications for the issue-5 CNNs (DenseNet, MobileNet, Xception,
NASNet): weight-file parity, the same ImageNet download, construction time."""

import time

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils

from keras_archs import applications
from keras_archs.weights import imagenet
from tests.weights.ka_files import randomize, save_legacy_h5

TOLERANCE = 1e-4


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _trunk(model, last):
    """The no-top part of a keras.applications model (same layers, so its file has the layout
    of the `_notop.h5` download); `last` is a layer name or index."""
    layer = model.layers[last] if isinstance(last, int) else model.get_layer(last)
    return keras.Model(model.inputs, layer.output)


def check_file_parity(builder, shape, last, tmp_path, **kwargs):
    """A keras.applications model with random weights, saved in the legacy HDF5 layout of
    its ImageNet downloads, loads into ours with and without the top; outputs agree to
    TOLERANCE (float32). Returns the largest differences (top, no top)."""
    keras.utils.set_random_seed(0)
    reference = getattr(keras.applications, builder)(
        weights=None, input_shape=shape, classes=7, classifier_activation=None, **kwargs
    )
    randomize(reference)
    x = np.random.default_rng(1).standard_normal((2, *shape)).astype("float32")
    diffs = []
    for include_top, ref in ((True, reference), (False, _trunk(reference, last))):
        path = save_legacy_h5(ref, str(tmp_path / f"top{include_top}.h5"))
        ours = getattr(applications, builder)(
            weights=path,
            include_top=include_top,
            input_shape=shape,
            classes=7,
            classifier_activation=None,
            **kwargs,
        )
        assert ours.count_params() == ref.count_params()
        expected = _np(ref(x))
        assert np.abs(expected).max() > 1e-2  # a real signal, not zeros
        diffs.append(float(np.abs(_np(ours(x)) - expected).max()))
        assert diffs[-1] < TOLERANCE, (include_top, diffs[-1])
    keras.backend.clear_session()
    return diffs


class _InterceptedError(Exception):
    pass


@pytest.fixture
def recorded_downloads(monkeypatch):
    """Records every get_file call (ours and keras.applications') and stops it there."""
    calls = []

    def fake_get_file(fname=None, origin=None, cache_subdir="datasets", file_hash=None, **kw):
        calls.append((fname, origin, cache_subdir, file_hash))
        raise _InterceptedError(fname)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    monkeypatch.setattr(imagenet, "_reachable", lambda url, timeout=5.0: True)
    return calls


def check_same_download(calls, builder, **kwargs):
    """keras.applications and keras_archs ask for the same file name, URL, cache folder and
    hash for `builder(weights="imagenet", **kwargs)`."""
    with pytest.raises(_InterceptedError):
        getattr(keras.applications, builder)(weights="imagenet", **kwargs)
    with pytest.raises(ConnectionError, match="weights=None"):
        getattr(applications, builder)(weights="imagenet", **kwargs)
    assert len(calls) == 2 and calls[0] == calls[1], calls
    assert calls[0][2] == "models"
    keras.backend.clear_session()
    return calls[0]


def construction_seconds(builder, repeats=2, **kwargs):
    """(keras.applications, keras_archs) build time of `builder(weights=None, **kwargs)`,
    each the min over `repeats` alternating builds. CPU time of this process (all its
    threads), so that other jobs on a shared machine disturb the comparison less."""
    theirs, ours = [], []
    for _ in range(repeats):
        for fn, out in ((getattr(keras.applications, builder), theirs),
                        (getattr(applications, builder), ours)):  # fmt: skip
            keras.backend.clear_session()
            start = time.process_time()
            fn(weights=None, **kwargs)
            out.append(time.process_time() - start)
    keras.backend.clear_session()
    return min(theirs), min(ours)

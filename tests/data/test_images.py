import time

import numpy as np
import pytest

from keras_archs.data import (
    DatasetUnavailableError,
    dataset_options,
    datasets,
    list_datasets,
    load_dataset,
)


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_digits_offline_split_and_shapes():
    assert "digits" in list_datasets()
    bundle = load_dataset("digits", input_shape=(32, 32, 1), batch_size=64)
    assert bundle.num_classes == 10
    assert (bundle.train_size, bundle.validation_size) == (1438, 359)  # 1,797 digits, 20%
    x, y = _collect(bundle.validation)
    assert x.shape == (359, 32, 32, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert set(np.unique(y)) == set(range(10))
    xt, _ = _collect(bundle.train)
    assert xt.shape == (1438, 32, 32, 1)


def test_digits_split_is_seeded_and_channels_convert():
    a = _collect(load_dataset("digits", input_shape=(16, 16, 3), seed=1).validation)
    b = _collect(load_dataset("digits", input_shape=(16, 16, 3), seed=1).validation)
    c = _collect(load_dataset("digits", input_shape=(16, 16, 3), seed=2).validation)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape[1:] == (16, 16, 3)
    np.testing.assert_array_equal(a[0][..., 0], a[0][..., 2])  # gray repeated


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Unknown dataset name='no_such_set'.*digits"):
        load_dataset("no_such_set")
    with pytest.raises(
        ValueError, match="batch_size must be an integer >= 1 or None; got batch_size=0"
    ):
        load_dataset("digits", batch_size=0)
    with pytest.raises(ValueError, match="validation_split"):
        load_dataset("digits", validation_split=1.5)
    with pytest.raises(ValueError, match="input_shape"):
        load_dataset("digits", input_shape=(32, 32))
    with pytest.raises(ValueError, match="input_shape"):
        load_dataset("digits", input_shape=(32, 32, 0))
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        load_dataset(None)


def test_unknown_option_names_the_accepted_ones():
    assert dataset_options("digits") == ["batch_size", "input_shape", "seed", "validation_split"]
    with pytest.raises(ValueError) as info:
        load_dataset("digits", sequence_length=8)
    message = str(info.value)
    assert "'sequence_length'" in message and "'digits'" in message
    assert "accepted: 'batch_size', 'input_shape', 'seed', 'validation_split'" in message
    # A folder or a tensorflow-datasets name takes the common options only.
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'T' for dataset 'mnist'.*'seed'"):
        load_dataset("mnist", T=5)


def test_tfds_set_that_cannot_download_names_offline_alternatives(tmp_path, monkeypatch):
    # Offline (as on CI): the reachability check fails fast instead of minutes of retries.
    monkeypatch.setattr(datasets, "is_online", lambda *a, **k: False)
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match=r"'mnist'.*digits.*folder"):
        load_dataset("mnist", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 30


def test_tfds_download_failure_is_wrapped(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(datasets, "is_online", lambda *a, **k: True)

    def broken(self, *args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", broken)
    with pytest.raises(DatasetUnavailableError, match=r"connection refused.*digits"):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_image_folder(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    for label, value in (("cats", 30), ("dogs", 220)):
        (tmp_path / label).mkdir()
        for i in range(10):
            pixels = np.clip(rng.normal(value, 5, (20, 24, 3)), 0, 255).astype("uint8")
            keras.utils.save_img(str(tmp_path / label / f"{i}.png"), pixels, scale=False)
    bundle = load_dataset(
        str(tmp_path), input_shape=(16, 16, 3), batch_size=4, validation_split=0.2
    )
    assert bundle.num_classes == 2
    x, y = _collect(bundle.train)
    xv, _ = _collect(bundle.validation)
    assert len(x) + len(xv) == 20 and len(xv) == 4
    assert x.shape[1:] == (16, 16, 3) and x.max() <= 1.0
    # Class 0 (cats) is dark, class 1 (dogs) bright: labels follow the folders.
    assert x[y == 0].mean() < 0.3 < 0.7 < x[y == 1].mean()


def test_reachability_probe_fails_fast_on_a_closed_port():
    from keras_archs.data import is_online

    start = time.perf_counter()
    assert is_online(("127.0.0.1", 9), timeout=2.0) is False
    assert time.perf_counter() - start < 5

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
    accepted = ["augment", "batch_size", "cutmix", "drop_remainder", "input_shape", "mixup"]
    accepted += ["one_hot", "preprocessing", "seed", "validation_split"]
    assert dataset_options("digits") == accepted
    with pytest.raises(ValueError) as info:
        load_dataset("digits", sequence_length=8)
    message = str(info.value)
    assert "'sequence_length'" in message and "'digits'" in message
    assert "accepted: " + ", ".join(map(repr, accepted)) in message
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


def test_digits_pipeline_options():
    bundle = load_dataset(
        "digits", batch_size=100, augment="basic", mixup=0.2, cutmix=1.0, drop_remainder=True
    )
    batches = list(bundle.train)
    # 1,438 training digits in batches of 100, the last 38 dropped (XLA's fixed shape).
    assert len(batches) == 14 and all(x.shape == (100, 32, 32, 1) for x, _ in batches)
    x, y = batches[0][0].numpy(), batches[0][1].numpy()
    assert y.shape == (100, 10) and y.dtype == np.float32
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
    # Mixed: Beta(0.2, 0.2) puts most MixUp weights near 0 or 1, so look at every batch.
    soft = [b[1].numpy() for b in batches]
    assert any(((s > 0.01) & (s < 0.99)).any() for s in soft)
    assert x.min() >= 0.0 and x.max() <= 1.0
    # Validation: every example, not augmented, labels one-hot to match the training loss.
    xv, yv = _collect(bundle.validation)
    assert xv.shape == (359, 32, 32, 1) and yv.shape == (359, 10)
    assert set(np.unique(yv)) == {0.0, 1.0}
    plain = _collect(load_dataset("digits", batch_size=100).validation)
    np.testing.assert_allclose(xv, plain[0], atol=1e-6)
    np.testing.assert_array_equal(yv.argmax(axis=1), plain[1])
    # Seeded: a fresh pipeline repeats the augmented, mixed sequence; another seed differs.
    again = load_dataset(
        "digits", batch_size=100, augment="basic", mixup=0.2, cutmix=1.0, drop_remainder=True
    )
    first = next(iter(again.train))
    np.testing.assert_array_equal(first[0].numpy(), x)
    np.testing.assert_array_equal(first[1].numpy(), y)
    other = load_dataset("digits", batch_size=100, augment="basic", mixup=0.2, seed=1)
    assert not np.array_equal(next(iter(other.train))[0].numpy(), x)


def test_one_hot_labels_without_mixing():
    plain = load_dataset("digits", batch_size=500)
    hot = load_dataset("digits", batch_size=500, one_hot=True)
    for a, b in ((plain.train, hot.train), (plain.validation, hot.validation)):
        (x, y), (xh, yh) = _collect(a), _collect(b)
        np.testing.assert_array_equal(x, xh)
        assert yh.dtype == np.float32 and yh.shape == (len(y), 10)
        np.testing.assert_array_equal(yh, np.eye(10, dtype="float32")[y])


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch", "scale"])
def test_preprocessing_matches_keras_applications(mode):
    from keras.applications import imagenet_utils

    from keras_archs.data import images

    pixels = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype("float32")
    ours = images._preprocess(pixels, mode)
    if mode == "scale":
        expected = pixels / 255.0
    else:
        expected = imagenet_utils.preprocess_input(
            pixels.copy(), data_format="channels_last", mode=mode
        )
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-5, atol=1e-4)


def test_bad_pipeline_options():
    with pytest.raises(ValueError, match="augment must be one of 'none', 'basic', 'randaugment'"):
        load_dataset("digits", augment="strong")
    with pytest.raises(ValueError, match=r"mixup must be a number >= 0\.0; got mixup=-1"):
        load_dataset("digits", mixup=-1)
    with pytest.raises(ValueError, match="cutmix"):
        load_dataset("digits", cutmix=-0.5)
    with pytest.raises(TypeError, match="drop_remainder"):
        load_dataset("digits", drop_remainder="yes")
    with pytest.raises(TypeError, match="one_hot must be True or False"):
        load_dataset("digits", one_hot=1)
    with pytest.raises(ValueError, match="preprocessing must be one of 'scale', 'caffe'"):
        load_dataset("digits", preprocessing="imagenet")
    with pytest.raises(ValueError, match=r"preprocessing='caffe'.*3 channels.*\(32, 32, 1\)"):
        load_dataset("digits", preprocessing="caffe")


def _write_png(path, value, size=(20, 24), channels=3):
    import tensorflow as tf

    rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
    pixels = np.clip(rng.normal(value, 5, (*size, channels)), 0, 255).astype("uint8")
    path.write_bytes(tf.io.encode_png(pixels).numpy())


def _make_folder(root, classes, per_class=4):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            _write_png(root / name / f"{i}.png", 40 + 80 * k)
    return root


def test_folder_of_pngs_skips_a_corrupt_file(tmp_path):
    import warnings

    from keras_archs.data import images

    root = _make_folder(tmp_path, ["a", "b", "c"])
    (root / "b" / "broken.png").write_bytes(np.random.default_rng(0).bytes(300))
    (root / "c" / "notes.txt").write_text("not an image, not listed")
    with pytest.warns(UserWarning, match=r"Skipped 1 file\(s\) of image folder .*broken\.png") as w:
        bundle = images.load_folder(
            root, input_shape=(16, 16, 3), batch_size=5, validation_split=0.25, augment="basic"
        )
    assert len([r for r in w if "Skipped" in str(r.message)]) == 1
    assert bundle.num_classes == 3 and (bundle.train_size, bundle.validation_size) == (9, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # iterating raises and warns nothing more
        x, y = _collect(bundle.train)
        xv, yv = _collect(bundle.validation)
    assert x.shape == (9, 16, 16, 3) and xv.shape == (3, 16, 16, 3)
    assert sorted(yv) == [0, 1, 2] and sorted(y) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # Class k's images are near (40 + 80 k) / 255 (augmentation pads with zeros).
    for k in range(3):
        assert abs(np.median(xv[yv == k]) - (40 + 80 * k) / 255) < 0.05


def test_corrupt_image_body_is_dropped_not_fatal(tmp_path):
    from keras_archs.data import images

    root = _make_folder(tmp_path, ["a", "b"])
    good = (root / "a" / "0.png").read_bytes()
    # A PNG signature followed by garbage passes the up-front check and fails to decode.
    (root / "a" / "truncated.png").write_bytes(good[:40])
    bundle = images.load_folder(root, input_shape=(8, 8, 3), batch_size=4, validation_split=0.0)
    x, _ = _collect(bundle.train)
    assert x.shape == (8, 8, 8, 3)  # 9 files listed, the undecodable one dropped


def test_folder_needs_two_classes_of_images(tmp_path):
    from keras_archs.data import images

    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    with pytest.raises(
        ValueError, match=r"Image folder '.*empty' has no images; it needs one sub-folder per class"
    ):
        images.load_folder(empty)
    single = _make_folder(tmp_path / "single", ["only"], per_class=2)
    (single / "other").mkdir()
    with pytest.raises(
        ValueError, match=r"Image folder '.*single' has images of one class only \('only'\)"
    ):
        load_dataset(str(single))
    with pytest.raises(ValueError, match="path must be an existing folder"):
        images.load_folder(tmp_path / "missing")


def _spy_framer(monkeypatch):
    """Records, per split, whether the loader keeps decoded images at full size."""
    from keras_archs.data import images

    calls, framer = [], images._framer

    def spy(input_shape, varying_size, training, keep_full_size):
        calls.append(keep_full_size)
        return framer(input_shape, varying_size, training, keep_full_size)

    monkeypatch.setattr(images, "_framer", spy)
    return calls


def test_large_folder_path_crops_from_the_full_image(tmp_path, monkeypatch):
    from keras_archs.data import images

    root = _make_folder(tmp_path, ["a", "b"], per_class=3)
    # Not cached: training images are decoded at full size and crop-resized to 64x64;
    # validation is resized to 73 (64 / 0.875) and centrally cropped.
    monkeypatch.setattr(images, "CACHE_LIMIT_BYTES", 0)
    calls = _spy_framer(monkeypatch)
    bundle = images.load_folder(
        root, input_shape=(64, 64, 3), batch_size=2, validation_split=0.34, augment="basic"
    )
    x, _ = _collect(bundle.train)
    xv, _ = _collect(bundle.validation)
    assert x.shape == (4, 64, 64, 3) and xv.shape == (2, 64, 64, 3)
    assert calls == [True, False]  # training images kept at full size for the crop


def _mock_tfds(monkeypatch):
    import tensorflow_datasets as tfds

    # Under mock_data, builder.is_prepared() is False, so tfds_builder first asks whether
    # the download server is reachable (it is not on CI); the mocked download_and_prepare
    # then does nothing.
    monkeypatch.setattr(datasets, "is_online", lambda *a, **k: True)
    return tfds.testing.mock_data(num_examples=12)


def test_tfds_sets_through_mock_data(monkeypatch):
    with _mock_tfds(monkeypatch):
        cifar = load_dataset("cifar10", batch_size=8)
        mnist = load_dataset("mnist", input_shape=(32, 32, 3), batch_size=8, seed=1)
    assert cifar.num_classes == 10 and cifar.input_shape == (32, 32, 3)
    x, y = _collect(cifar.train)
    assert x.shape == (12, 32, 32, 3) and x.dtype == np.float32 and y.shape == (12,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    xm, _ = _collect(mnist.validation)
    assert xm.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(xm[..., 0], xm[..., 2])  # gray repeated


def test_tfds_pipeline_options_through_mock_data(monkeypatch):
    from keras_archs.data import images

    with _mock_tfds(monkeypatch):
        bundle = images.load_tfds_images(
            "cifar10",
            batch_size=5,
            augment="randaugment",
            cutmix=1.0,
            drop_remainder=True,
            preprocessing="torch",
        )
        imagenette = images.load_tfds_images("imagenette", input_shape=(64, 64, 3), batch_size=4)
    batches = list(bundle.train)
    assert len(batches) == 2 and batches[0][0].shape == (5, 32, 32, 3)
    assert batches[0][1].shape == (5, 10)
    x = batches[0][0].numpy()
    assert x.min() >= -2.2 and x.max() <= 2.7 and x.min() < -0.5  # torch-normalised
    # Imagenette's images vary in size: resized, centrally cropped to 64x64.
    assert imagenette.input_shape == (64, 64, 3) and imagenette.num_classes == 10
    xv, _ = _collect(imagenette.validation)
    assert xv.shape == (12, 64, 64, 3)


def test_imagenet_needs_manual_dir(tmp_path, monkeypatch):
    from keras_archs.data import images

    with _mock_tfds(monkeypatch):
        with pytest.raises(
            ValueError, match=r"ILSVRC2012_img_train\.tar and ILSVRC2012_img_val\.tar.*manual_dir"
        ):
            images.load_tfds_images("imagenet2012")
        with pytest.raises(ValueError, match=r"lacks ILSVRC2012_img_val\.tar"):
            (tmp_path / "ILSVRC2012_img_train.tar").write_bytes(b"")
            images.load_tfds_images("imagenet2012", manual_dir=str(tmp_path))
        with pytest.raises(ValueError, match="manual_dir is for datasets"):
            images.load_tfds_images("cifar10", manual_dir=str(tmp_path))
        (tmp_path / "ILSVRC2012_img_val.tar").write_bytes(b"")
        # Too big to cache: shuffled encoded, decoded, crop-resized from the full image.
        monkeypatch.setattr(images, "CACHE_LIMIT_BYTES", 0)
        calls = _spy_framer(monkeypatch)
        bundle = images.load_tfds_images(
            "imagenet2012",
            input_shape=(64, 64, 3),
            batch_size=6,
            manual_dir=str(tmp_path),
            augment="basic",
            preprocessing="caffe",
        )
        x, y = next(iter(bundle.train))
    assert bundle.num_classes == 1000 and x.shape == (6, 64, 64, 3) and y.shape == (6,)
    assert calls == [True, False]

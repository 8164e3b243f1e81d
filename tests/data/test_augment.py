import numpy as np
import pytest

from keras_archs.data import augment
from keras_archs.data.augment import augment_images, mix_batch, mix_dataset, sample_beta

VALUES = np.array([0.0, 60.0, 120.0, 180.0, 240.0], "float32")


def _constant_batch(height=12, width=20, channels=3):
    """One constant image per class: pixel value VALUES[k] for label k."""
    images = np.broadcast_to(VALUES[:, None, None, None], (len(VALUES), height, width, channels))
    return np.ascontiguousarray(images), np.arange(len(VALUES))


def _moments_match_beta(draws, alpha):
    """Mean within 0.015 of 1/2 (5 standard errors at n=20,000) and the variance within
    5% of Beta(a, a)'s 1/(4(2a+1))."""
    variance = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    return abs(draws.mean() - 0.5) < 0.015 and abs(draws.var() / variance - 1.0) < 0.05


@pytest.mark.parametrize("alpha", [0.2, 1.0, 2.0])
def test_sample_beta_is_beta(alpha):
    from scipy import stats

    draws = sample_beta(alpha, [20_000], seed=3, dtype="float64").numpy()
    assert draws.shape == (20_000,) and draws.min() >= 0.0 and draws.max() <= 1.0
    assert _moments_match_beta(draws, alpha)
    assert stats.kstest(draws, "beta", args=(alpha, alpha)).pvalue > 1e-3
    # A wrong sampler fails the same check: Uniform (right only at alpha 1), or one
    # Gamma draw (mean alpha).
    uniform = np.random.default_rng(0).uniform(size=20_000)
    assert _moments_match_beta(uniform, alpha) == (alpha == 1.0)
    assert not _moments_match_beta(np.random.default_rng(0).gamma(alpha, size=20_000), alpha)


def test_sample_beta_is_seeded():
    a = sample_beta(0.5, [8], seed=1).numpy()
    np.testing.assert_array_equal(a, sample_beta(0.5, [8], seed=1).numpy())
    assert not np.array_equal(a, sample_beta(0.5, [8], seed=2).numpy())


def _weights_from_pixels(image):
    """Fraction of the image's pixels holding each class' value."""
    return np.array([(image[..., 0] == v).mean() for v in VALUES])


def test_cutmix_label_weight_is_the_pasted_area():
    images, labels = _constant_batch()
    partial = 0
    for seed in range(12):
        out, soft = mix_batch(images, labels, 5, cutmix_alpha=1.0, seed=seed)
        out, soft = out.numpy(), soft.numpy()
        assert out.shape == images.shape and soft.shape == (5, 5) and soft.dtype == np.float32
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
        for i in range(5):
            # Labels weigh each source image by the share of pixels it supplied, box
            # clipped at the border included.
            np.testing.assert_allclose(soft[i], _weights_from_pixels(out[i]), atol=1e-6)
        partial += np.sum((soft > 0.01) & (soft < 0.99)) > 0
    assert partial >= 8  # boxes were pasted, not all-or-nothing


def test_mixup_labels_are_the_image_combination():
    images, labels = _constant_batch()
    mixed = 0
    for seed in range(6):
        out, soft = mix_batch(images, labels, 7, mixup_alpha=0.4, seed=seed)
        out, soft = out.numpy(), soft.numpy()
        assert soft.shape == (5, 7) and np.all(soft[:, 5:] == 0)
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
        # Each output is constant, at the label-weighted mean of the source values.
        expected = soft[:, :5] @ VALUES
        np.testing.assert_allclose(
            out, np.broadcast_to(expected[:, None, None, None], out.shape), atol=1e-3
        )
        mixed += np.sum((soft > 0.01) & (soft < 0.99)) > 0
    assert mixed >= 4


def test_mixup_or_cutmix_per_batch_when_both_are_on():
    images, labels = _constant_batch()
    kinds = set()
    for seed in range(16):
        out, soft = mix_batch(images, labels, 5, mixup_alpha=1.0, cutmix_alpha=1.0, seed=seed)
        out = out.numpy()
        np.testing.assert_allclose(soft.numpy().sum(axis=1), 1.0, atol=1e-6)
        # CutMix keeps source values only; MixUp makes constant in-between values.
        kinds.add("cutmix" if np.isin(out, VALUES).all() else "mixup")
    assert kinds == {"cutmix", "mixup"}


def test_mixing_off_is_one_hot():
    images, labels = _constant_batch()
    out, soft = mix_batch(images, labels, 5)
    np.testing.assert_array_equal(out.numpy(), images)
    np.testing.assert_array_equal(soft.numpy(), np.eye(5, dtype="float32"))


def _batched_dataset():
    import tensorflow as tf

    images, labels = _constant_batch()
    return tf.data.Dataset.from_tensor_slices((images, labels)).repeat(4).batch(5)


def _collect(ds):
    return [tuple(t.numpy() for t in example) for example in ds]


def test_mix_dataset_is_seeded():
    def run(seed):
        return _collect(mix_dataset(_batched_dataset(), 5, 0.5, 0.5, seed=seed))

    a, b, c = run(0), run(0), run(1)
    assert len(a) == 4 and a[0][0].shape == (5, 12, 20, 3) and a[0][1].shape == (5, 5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def _image_dataset(size, channels=3, count=6):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (count, size, size, channels)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((images, np.arange(count))), images


def test_basic_at_32_pads_and_crops():
    import tensorflow as tf

    images = np.full((8, 32, 32, 3), 200.0, "float32")
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(8)))
    out = _collect(augment_images(ds, "basic", (32, 32, 3), seed=0))
    assert [y for _, y in out] == list(range(8))
    shifted = 0
    for x, _ in out:
        assert x.shape == (32, 32, 3) and x.dtype == np.float32
        assert set(np.unique(x)) <= {0.0, 200.0}  # the image or the zero padding
        rows = np.flatnonzero(x[:, :, 0].max(axis=1) > 0)
        cols = np.flatnonzero(x[:, :, 0].max(axis=0) > 0)
        # At most 4 px of padding show, on one side per axis.
        assert len(rows) >= 28 and len(cols) >= 28
        shifted += len(rows) < 32 or len(cols) < 32
    assert shifted >= 4


def test_basic_at_96_resized_crop_and_seeding():
    ds, images = _image_dataset(96)

    def run(seed, mode="basic"):
        return _collect(augment_images(ds, mode, (96, 96, 3), seed=seed))

    a, b, c = run(5), run(5), run(6)
    for (x, _), image in zip(a, images):
        assert x.shape == (96, 96, 3) and x.min() >= 0.0 and x.max() <= 255.0
        assert not np.allclose(x, image)  # cropped and resized
    for (x, _), (y, _) in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not any(np.allclose(x, y) for (x, _), (y, _) in zip(a, c))


def test_resized_crop_takes_any_input_size():
    import tensorflow as tf

    image = tf.random.uniform((150, 90, 3), 0, 255)
    out = augment._random_resized_crop(image, (64, 64), tf.constant([1, 2], tf.int64))
    assert out.shape == (64, 64, 3)


@pytest.mark.parametrize(("size", "channels"), [(32, 3), (64, 1)])
def test_randaugment_shape_range_and_seed(size, channels):
    # 32: pad-and-crop then RandAugment; 64: resized crop then RandAugment, grayscale.
    ds, _ = _image_dataset(size, channels=channels, count=8)

    def run(seed, mode="randaugment"):
        return _collect(augment_images(ds, mode, (size, size, channels), seed=seed))

    a, b = run(1), run(1)
    for (x, _), (x2, _) in zip(a, b):
        assert x.shape == (size, size, channels) and x.dtype == np.float32
        assert x.min() >= 0.0 and x.max() <= 255.0
        np.testing.assert_array_equal(x, x2)
    # The same crops and flips as "basic" (same seeds), then RandAugment's operations.
    basic = run(1, "basic")
    assert sum(not np.allclose(x, y, atol=1.0) for (x, _), (y, _) in zip(a, basic)) >= 4


def test_none_returns_the_dataset():
    ds, _ = _image_dataset(32)
    assert augment_images(ds, "none", (32, 32, 3)) is ds


def test_bad_arguments():
    ds, _ = _image_dataset(32)
    with pytest.raises(
        ValueError, match="mode must be one of 'none', 'basic', 'randaugment'; got mode='fancy'"
    ):
        augment_images(ds, "fancy", (32, 32, 3))
    with pytest.raises(ValueError, match="input_shape"):
        augment_images(ds, "basic", (32, 32))
    with pytest.raises(ValueError, match="seed"):
        augment_images(ds, "basic", (32, 32, 3), seed=-1)
    images, labels = _constant_batch()
    with pytest.raises(
        ValueError, match=r"mixup_alpha must be a number >= 0\.0; got mixup_alpha=-0\.1"
    ):
        mix_batch(images, labels, 5, mixup_alpha=-0.1)
    with pytest.raises(ValueError, match="cutmix_alpha"):
        mix_dataset(_batched_dataset(), 5, cutmix_alpha=-1.0)
    with pytest.raises(ValueError, match="num_classes"):
        mix_batch(images, labels, 0, mixup_alpha=1.0)
    with pytest.raises(ValueError, match="alpha"):
        sample_beta(0.0, [3], seed=0)

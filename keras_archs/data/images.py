"""Image-classification datasets: offline sets, tensorflow-datasets and folders."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from typing import Any

_OFFLINE: dict[str, Callable[..., DatasetBundle]] = {}
# tensorflow-datasets serves its files (and its prepared-data mirror) from here.
_TFDS_HOST = ("storage.googleapis.com", 443)


class DatasetUnavailableError(RuntimeError):
    """A named dataset exists but cannot be fetched (no network, download failed)."""


@dataclasses.dataclass
class DatasetBundle:
    """Training and validation pipelines plus what a model needs to know about them."""

    train: Any
    validation: Any
    num_classes: int | None
    input_shape: tuple | None
    name: str
    train_size: int | None = None
    validation_size: int | None = None
    # Sequence tasks (data/tasks.py) also say how to build and compile a model for them.
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    loss: str | None = None
    metrics: tuple = ()


def register_dataset(name: str):
    """Registers an offline dataset loader under `name` (used as a decorator)."""

    def decorator(fn):
        _OFFLINE[name] = fn
        return fn

    return decorator


def list_datasets() -> list[str]:
    """Names of the offline datasets (tensorflow-datasets names and folders also work)."""
    return sorted(_OFFLINE)


def _check_batch_size(batch_size):
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got batch_size={batch_size!r}.")


def _check_image_shape(input_shape):
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "input_shape must be (height, width, channels) of positive integers; "
            f"got input_shape={input_shape!r}."
        )
    return tuple(input_shape)


def load_dataset(
    name: str,
    *,
    input_shape: tuple | None = None,
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    data_dir: str | None = None,
    **task_kwargs,
) -> DatasetBundle:
    """Returns batched, prefetched (train, validation) pipelines for `name`.

    Args:
        name: an offline dataset (`list_datasets()`), a tensorflow-datasets name,
            or the path of an image folder with one sub-folder per class.
        input_shape: `(height, width, channels)` the images are resized and
            converted to; pixel values are scaled to [0, 1].
        batch_size: batch size of both pipelines.
        validation_split: fraction held out when the source has no validation split.
        seed: seed of the split and the shuffling.
        data_dir: tensorflow-datasets data folder (its default when None).
        **task_kwargs: options of an offline task (data/tasks.py), e.g. `T=200`.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty dataset name or folder; got name={name!r}.")
    _check_batch_size(batch_size)
    if not isinstance(validation_split, (int, float)) or not 0 < validation_split < 1:
        raise ValueError(
            f"validation_split must be in (0, 1); got validation_split={validation_split!r}."
        )
    if name in _OFFLINE:
        return _OFFLINE[name](
            input_shape=input_shape,
            batch_size=batch_size,
            validation_split=validation_split,
            seed=seed,
            **task_kwargs,
        )
    if task_kwargs:
        raise ValueError(
            f"Options {sorted(task_kwargs)} apply to the offline tasks only; got them for "
            f"name={name!r}."
        )
    if os.path.isdir(name):
        return _folder(name, input_shape, batch_size, validation_split, seed)
    return _tfds(name, input_shape, batch_size, validation_split, seed, data_dir)


def _to_model_images(images, input_shape):
    """Resizes [0, 1] float images to `input_shape`, converting the channel count."""
    import tensorflow as tf

    height, width, channels = input_shape
    images = tf.image.resize(images, (height, width))
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 1:
        return tf.repeat(images, channels, axis=-1)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(images)
    raise ValueError(
        f"Cannot convert {have}-channel images to input_shape={input_shape!r}; "
        "accepted: the same channel count, 1 -> any, or 3 -> 1."
    )


def _finish(ds, batch_size, shuffle, seed, size=None):
    import tensorflow as tf

    if shuffle:
        ds = ds.shuffle(min(size or 10_000, 10_000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@register_dataset("digits")
def _digits(*, input_shape=None, batch_size=32, validation_split=0.2, seed=0):
    """scikit-learn's 1,797 bundled 8x8 handwritten digits (offline), seeded split."""
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    input_shape = _check_image_shape(input_shape or (32, 32, 1))
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]  # pixels are 0..16
    labels = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = round(len(labels) * validation_split)
    val_idx, train_idx = order[:n_val], order[n_val:]
    # Resize once, up front: the set is small and every epoch reuses it.
    x_train = _to_model_images(images[train_idx], input_shape)
    x_val = _to_model_images(images[val_idx], input_shape)
    train = tf.data.Dataset.from_tensor_slices((x_train, labels[train_idx]))
    val = tf.data.Dataset.from_tensor_slices((x_val, labels[val_idx]))
    return DatasetBundle(
        train=_finish(train, batch_size, True, seed, len(train_idx)),
        validation=_finish(val, batch_size, False, seed),
        num_classes=10,
        input_shape=input_shape,
        name="digits",
        train_size=len(train_idx),
        validation_size=len(val_idx),
    )


def _folder(path, input_shape, batch_size, validation_split, seed):
    """An image folder with one sub-folder per class, split with a fixed seed."""
    import keras
    import tensorflow as tf

    input_shape = _check_image_shape(input_shape or (224, 224, 3))
    height, width, channels = input_shape
    color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(channels)
    if color_mode is None:
        raise ValueError(f"Image folders load 1, 3 or 4 channels; got input_shape={input_shape!r}.")
    train, val = keras.utils.image_dataset_from_directory(
        path,
        validation_split=validation_split,
        subset="both",
        seed=seed,
        image_size=(height, width),
        color_mode=color_mode,
        batch_size=batch_size,
    )
    num_classes = len(train.class_names)

    def scale(x, y):
        return tf.cast(x, tf.float32) / 255.0, y

    train = train.map(scale).prefetch(tf.data.AUTOTUNE)
    val = val.map(scale).prefetch(tf.data.AUTOTUNE)
    return DatasetBundle(train, val, num_classes, input_shape, name=os.fspath(path))


def _offline_hint():
    return (
        f"Offline alternatives: the bundled datasets ({', '.join(list_datasets())}) "
        "or an image folder (`--data path/to/folder`, one sub-folder per class)."
    )


def _online(host=_TFDS_HOST, timeout=3.0):
    # tensorflow-datasets retries an unreachable host for minutes; ask once, quickly.
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _tfds(name, input_shape, batch_size, validation_split, seed, data_dir):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    dataset_name = name.split(":")[0].split("/")[0]
    if dataset_name not in tfds.list_builders():
        raise ValueError(
            f"Unknown dataset name={name!r}: not a bundled dataset "
            f"({', '.join(list_datasets())}), not an existing folder, and not a "
            "tensorflow-datasets name (see tfds.list_builders())."
        )
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not _online():
            raise DatasetUnavailableError(
                f"Dataset {name!r} comes from tensorflow-datasets and must be downloaded, "
                f"but {_TFDS_HOST[0]} cannot be reached. {_offline_hint()}"
            )
        try:
            builder.download_and_prepare()
        except Exception as e:
            raise DatasetUnavailableError(
                f"Downloading dataset {name!r} from tensorflow-datasets failed ({e}). "
                f"{_offline_hint()}"
            ) from e
    info = builder.info
    if "label" not in info.features or "image" not in info.features:
        raise ValueError(
            f"Dataset {name!r} has no 'image' and 'label' features; image classification "
            "needs both."
        )
    splits = list(info.splits.keys())
    if "validation" in splits:
        train_split, val_split = "train", "validation"
    elif "test" in splits:
        train_split, val_split = "train", "test"
    else:
        pct = round(100 * (1 - validation_split))
        train_split, val_split = f"train[:{pct}%]", f"train[{pct}%:]"
    shape = _check_image_shape(input_shape or tuple(info.features["image"].shape))

    def prepare(example_image, label):
        image = tf.cast(example_image, tf.float32) / 255.0
        return _to_model_images(image, shape), label

    train, val = (
        builder.as_dataset(split=s, as_supervised=True, shuffle_files=(s == train_split))
        for s in (train_split, val_split)
    )
    train = train.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    val = val.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return DatasetBundle(
        train=_finish(train, batch_size, True, seed),
        validation=_finish(val, batch_size, False, seed),
        num_classes=info.features["label"].num_classes,
        input_shape=shape,
        name=name,
    )

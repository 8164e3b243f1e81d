"""Image-classification datasets: scikit-learn's digits, image folders, tensorflow-datasets.

- `digits`: scikit-learn's 1,797 bundled 8x8 handwritten digits (offline), resized to
  the model's input shape, split with a fixed seed.
- an image folder with one sub-folder per class (`load_folder`).
- a tensorflow-datasets image set (`load_tfds_images`: `mnist`, `cifar10`, ...),
  downloaded on first use; offline it fails at once naming the offline alternatives.

Every pipeline yields float32 pixels in [0, 1] and integer labels. They are reached
through `keras_archs.data.load_dataset`.
"""

from __future__ import annotations

import os

from keras_archs.data.datasets import (
    DatasetBundle,
    list_datasets,
    register_dataset,
    tfds_builder,
)
from keras_archs.validation import check_int_sequence


def _check_image_shape(input_shape):
    """`(height, width, channels)` of positive integers, as a tuple (exactly three)."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "input_shape must be (height, width, channels) of positive integers; "
            f"got input_shape={input_shape!r}."
        )
    return check_int_sequence("input_shape", input_shape, minimum=1, min_length=3)


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


def load_folder(path, input_shape=None, batch_size=32, validation_split=0.2, seed=0):
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


def _offline_alternatives():
    return (
        f"the bundled datasets ({', '.join(list_datasets())}) or an image folder "
        "(`--data path/to/folder`, one sub-folder per class)"
    )


def load_tfds_images(
    name, input_shape=None, batch_size=32, validation_split=0.2, seed=0, *, data_dir=None
):
    """A tensorflow-datasets set with `image` and `label` features, downloaded if needed."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    dataset_name = name.split(":")[0].split("/")[0]
    if dataset_name not in tfds.list_builders():
        raise ValueError(
            f"Unknown dataset name={name!r}: not a bundled dataset "
            f"({', '.join(list_datasets())}), not an existing folder, and not a "
            "tensorflow-datasets name (see tfds.list_builders())."
        )
    builder = tfds_builder(name, data_dir, _offline_alternatives())
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

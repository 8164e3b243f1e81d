"""Image-classification datasets: scikit-learn's digits, image folders, tensorflow-datasets.

- `digits`: scikit-learn's 1,797 bundled 8x8 handwritten digits (offline), resized to
  the model's input shape, split with a fixed seed.
- an image folder with one sub-folder per class (`load_folder`).
- a tensorflow-datasets image set (`load_tfds_images`: `mnist`, `fashion_mnist`,
  `cifar10`, `cifar100`, `imagenette`, `imagenet2012`, ...), downloaded on first use;
  offline it fails at once naming the offline alternatives. `imagenet2012` cannot be
  downloaded: it is prepared from the ImageNet tar files in `manual_dir`.

Every pipeline runs decode/resize -> cache -> shuffle -> augment -> scale -> batch ->
mix -> prefetch, with parallel maps:

- decode/resize: to `input_shape`, or for images of varying size (folders, Imagenette,
  ImageNet) and inputs of at least 64 px, to `input_shape / 0.875` after an
  aspect-preserving resize and central crop; validation (and training without
  augmentation) then takes the central `input_shape` crop, the usual ImageNet
  evaluation (resize 256, crop 224).
- cache: the resized uint8 images, in memory, when they fit in `CACHE_LIMIT_BYTES`
  (digits, MNIST, CIFAR, Imagenette, small folders; not ImageNet, whose training
  images are then shuffled encoded and cropped from the full decoded image).
- shuffle: seeded, reshuffled each epoch.
- augment (training split only): `keras_archs.data.augment.augment_images`.
- scale: `preprocessing` of the 0-255 pixels: "scale" (x / 255, pixels in [0, 1]: the
  default) or one of keras.applications' modes "caffe", "tf", "torch".
- batch (`drop_remainder` for the training split of XLA-compiled steps) and mix
  (training split only): MixUp/CutMix with `mixup`/`cutmix` alphas > 0.

Labels are integers, or one-hot float32 in both splits with `one_hot=True` (label
smoothing) or when mixing (MixUp/CutMix make soft labels): train those with a
categorical loss.

They are reached through `keras_archs.data.load_dataset`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import warnings

from keras_archs.data.augment import AUGMENT_MODES, RESIZED_CROP_MIN_SIZE, check_image_shape
from keras_archs.data.datasets import (
    DatasetBundle,
    list_datasets,
    register_dataset,
    tfds_builder,
)
from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_string,
)

PREPROCESSING_MODES = ("scale", "caffe", "tf", "torch")
# The modes that normalise with per-channel ImageNet statistics: RGB inputs only.
RGB_MODES = ("caffe", "torch")
# Decoded, resized uint8 images up to this size are cached in memory after the first
# epoch; larger sets (ImageNet: ~1.3 million images) are decoded every epoch.
CACHE_LIMIT_BYTES = 4 * 2**30
# Validation images of varying size are resized to input / 0.875 and centrally cropped
# to the input (256 -> 224), as the ImageNet papers and keras.applications evaluate.
EVAL_CROP_FRACTION = 0.875
SHUFFLE_BUFFER = 10_000
# The extensions keras.utils.image_dataset_from_directory reads, and the first bytes of
# each format tf.io.decode_image decodes (JPEG, PNG, GIF, BMP).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
# A bare tensorflow-datasets name that needs a configuration gets this one: Imagenette's
# default is the full-size set (1.5 GB); images of 320 px suffice for 224 px inputs.
TFDS_DEFAULT_CONFIGS = {"imagenette": "imagenette/320px-v2"}
# Sets whose mirror image is not an image of the set (a flipped 2 is no digit): no
# horizontal flip when augmenting.
NOT_MIRRORED = ("digits", "mnist", "emnist", "kmnist")
# What tensorflow-datasets needs in `manual_dir` for the sets it cannot download.
MANUAL_FILES = {"imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")}
# keras.applications.imagenet_utils' constants for its "torch" and "caffe" modes.
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@dataclasses.dataclass(frozen=True)
class _Options:
    """The loaders' pipeline options, checked."""

    augment: str
    mixup: float
    cutmix: float
    drop_remainder: bool
    preprocessing: str
    one_hot: bool

    @property
    def mixing(self):
        return bool(self.mixup or self.cutmix)

    @property
    def soft_labels(self):
        return self.one_hot or self.mixing


def _check_options(augment, mixup, cutmix, drop_remainder, preprocessing, one_hot):
    check_choice("augment", augment, AUGMENT_MODES)
    return _Options(
        augment=augment,
        mixup=check_float("mixup", mixup, minimum=0.0),
        cutmix=check_float("cutmix", cutmix, minimum=0.0),
        drop_remainder=check_bool("drop_remainder", drop_remainder),
        preprocessing=check_choice("preprocessing", preprocessing, PREPROCESSING_MODES),
        one_hot=check_bool("one_hot", one_hot),
    )


def _check_preprocessing_channels(options, input_shape):
    if options.preprocessing in RGB_MODES and input_shape[-1] != 3:
        raise ValueError(
            f"preprocessing={options.preprocessing!r} normalises RGB channels and needs 3 "
            f"channels; got input_shape={input_shape!r}. Accepted with other channel "
            "counts: 'scale', 'tf'."
        )


def _check_common(batch_size, validation_split, seed):
    check_int("batch_size", batch_size, minimum=1)
    check_float(
        "validation_split", validation_split, minimum=0.0, maximum=1.0, exclusive_maximum=True
    )
    check_int("seed", seed, minimum=0)


def _check_channels(have, input_shape):
    """Refuses channel counts `_convert_channels` cannot convert, before any tensor work."""
    channels = input_shape[-1]
    if have != channels and have != 1 and not (have == 3 and channels == 1):
        raise ValueError(
            f"Cannot convert {have}-channel images to input_shape={input_shape!r}; "
            "accepted: the same channel count, 1 -> any, or 3 -> 1."
        )


def _convert_channels(images, channels):
    """Converts images (uint8 or float) to `channels` (checked by `_check_channels`)."""
    import tensorflow as tf

    have = images.shape[-1]
    if have == channels:
        return images
    if have == 1:
        return tf.repeat(images, channels, axis=-1)
    return tf.image.rgb_to_grayscale(images)


def _to_model_images(images, input_shape):
    """Resizes images to `input_shape`, converting the channel count."""
    import tensorflow as tf

    height, width, channels = input_shape
    _check_channels(images.shape[-1], input_shape)
    return _convert_channels(tf.image.resize(images, (height, width)), channels)


def _stored_size(input_shape, varying_size):
    """Height and width the decoded images are resized (and cached) to."""
    height, width = input_shape[:2]
    if varying_size and min(height, width) >= RESIZED_CROP_MIN_SIZE:
        return round(height / EVAL_CROP_FRACTION), round(width / EVAL_CROP_FRACTION)
    return height, width


def _cover(image, size):
    """Aspect-preserving resize to cover `size`, then the central crop of `size`."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.constant(size, tf.float32)
    scale = tf.reduce_max(target / shape)
    resized = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), tf.constant(size))
    image = tf.image.resize(image, resized, antialias=True)
    return tf.image.resize_with_crop_or_pad(image, *size)


def _as_pixels(image):
    """float 0-255 -> uint8, the cached form (a quarter of float32's memory)."""
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def _framer(input_shape, varying_size, training, keep_full_size):
    """The decode-stage resize of one uint8 image (H, W, C) to its cached form."""
    import tensorflow as tf

    height, width, channels = input_shape
    stored = _stored_size(input_shape, varying_size)

    def frame(image):
        if keep_full_size:
            # The random resized crop samples the full decoded image.
            return image
        if not varying_size:
            if tuple(image.shape[:2]) == (height, width):
                return image  # already the input size: no resampling
            image = tf.image.resize(image, (height, width), antialias=True)
        else:
            image = _cover(image, stored)
            if not training:
                image = tf.image.resize_with_crop_or_pad(image, height, width)
        image = _as_pixels(image)
        if not training or not varying_size:
            return tf.ensure_shape(image, (height, width, channels))
        return tf.ensure_shape(image, (*stored, channels))

    return frame


def _preprocess(images, mode):
    """keras.applications.imagenet_utils.preprocess_input(images, mode) on 0-255 pixels.

    Written with TensorFlow ops (keras.applications' version uses Keras ops, which fail
    on tf.data's symbolic tensors when Keras' backend is not TensorFlow); a test checks
    the two agree.
    """
    import tensorflow as tf

    if mode == "scale":
        return images / 255.0
    if mode == "tf":
        return images / 127.5 - 1.0
    if mode == "torch":
        return (images / 255.0 - tf.constant(_TORCH_MEAN)) / tf.constant(_TORCH_STD)
    return images[..., ::-1] - tf.constant(_CAFFE_BGR_MEAN)  # caffe: RGB -> BGR, centred


def _pipeline(
    ds,
    *,
    training,
    input_shape,
    batch_size,
    seed,
    num_classes,
    options,
    cache,
    size=None,
    center_crop=False,
    horizontal_flip=True,
):
    """cache -> shuffle -> augment -> scale -> batch -> mix -> prefetch.

    `ds` yields decoded `(image, label)` pairs, images at their cached size; training
    without augmentation takes the central `input_shape` crop where `center_crop`.
    """
    import tensorflow as tf

    from keras_archs.data.augment import augment_images, mix_dataset

    height, width, channels = input_shape
    if cache:
        ds = ds.cache()
    if training:  # in memory either way: cached here, or tensors already (digits)
        ds = ds.shuffle(
            min(size or SHUFFLE_BUFFER, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
        )
    augmenting = training and options.augment != "none"
    if augmenting:
        ds = augment_images(
            ds,
            options.augment,
            input_shape,
            seed,
            horizontal_flip=horizontal_flip,
        )

    def scale(image, label):
        image = tf.cast(image, tf.float32)
        if center_crop and not augmenting:
            image = tf.image.resize_with_crop_or_pad(image, height, width)
        image = tf.ensure_shape(image, (height, width, channels))
        return _preprocess(image, options.preprocessing), label

    ds = ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE)
    # Validation keeps every example: dropping the last, smaller batch only serves the
    # training step's fixed shape.
    ds = ds.batch(batch_size, drop_remainder=training and options.drop_remainder)
    if training and options.mixing:
        ds = mix_dataset(ds, num_classes, options.mixup, options.cutmix, seed)
    elif options.soft_labels:
        ds = ds.map(
            lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def _fits_in_memory(count, shape, input_shape):
    """Whether `count` uint8 images of `shape` (height, width) fit in CACHE_LIMIT_BYTES.

    An unknown count (a mocked dataset) is taken as small; a limit of 0 caches nothing.
    """
    size = (count or 0) * math.prod(shape) * input_shape[-1]
    return CACHE_LIMIT_BYTES > 0 and size <= CACHE_LIMIT_BYTES


@register_dataset("digits")
def _digits(
    *,
    input_shape=None,
    batch_size=32,
    validation_split=0.2,
    seed=0,
    augment="none",
    mixup=0.0,
    cutmix=0.0,
    drop_remainder=False,
    preprocessing="scale",
    one_hot=False,
):
    """scikit-learn's 1,797 bundled 8x8 handwritten digits (offline), seeded split."""
    input_shape = check_image_shape(input_shape or (32, 32, 1))
    _check_common(batch_size, validation_split, seed)
    options = _check_options(augment, mixup, cutmix, drop_remainder, preprocessing, one_hot)
    _check_preprocessing_channels(options, input_shape)
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).astype("float32")[..., None]  # pixels are 0..16
    labels = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = round(len(labels) * validation_split)
    val_idx, train_idx = order[:n_val], order[n_val:]
    # Resized once, up front, into tensors: the set is small and already in memory, so
    # cache() would only copy it.
    splits = {}
    for training, idx in ((True, train_idx), (False, val_idx)):
        ds = tf.data.Dataset.from_tensor_slices(
            (_to_model_images(images[idx], input_shape), labels[idx])
        )
        splits[training] = _pipeline(
            ds,
            training=training,
            input_shape=input_shape,
            batch_size=batch_size,
            seed=seed,
            num_classes=10,
            options=options,
            cache=False,
            size=len(idx),
            horizontal_flip=False,
        )
    return DatasetBundle(
        train=splits[True],
        validation=splits[False],
        num_classes=10,
        input_shape=input_shape,
        name="digits",
        train_size=len(train_idx),
        validation_size=len(val_idx),
    )


def _looks_like_image(path):
    """Whether the file starts as a JPEG, PNG, GIF or BMP does (an unreadable file: no)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith(_IMAGE_SIGNATURES)


def _list_image_folder(path):
    """Class names (the sorted sub-folders) and the image files with their labels.

    Files that do not start as an image does are left out with one warning counting
    them; they would otherwise stop training when the pipeline reaches them.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        raise ValueError(f"path must be an existing folder; got path={path!r}.")
    path = os.fspath(path)
    need = (
        "one sub-folder per class, at least two classes, holding image files "
        f"({', '.join(IMAGE_EXTENSIONS)})"
    )
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir())
    files, labels = [], []
    for label, name in enumerate(classes):
        for root, dirs, names in os.walk(os.path.join(path, name), followlinks=True):
            dirs.sort()
            for file in sorted(names):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(os.path.join(root, file))
                    labels.append(label)
    # Reading a few bytes of each file is I/O-bound: threads overlap the waits.
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        readable = list(pool.map(_looks_like_image, files, chunksize=256))
    skipped = [f for f, ok in zip(files, readable) if not ok]
    if skipped:
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        warnings.warn(
            f"Skipped {len(skipped)} file(s) of image folder {path!r} that are not "
            f"JPEG, PNG, GIF or BMP images: {skipped[0]!r}{more}.",
            stacklevel=3,
        )
        labels = [label for label, ok in zip(labels, readable) if ok]
        files = [f for f, ok in zip(files, readable) if ok]
    if not files:
        raise ValueError(f"Image folder {path!r} has no images; it needs {need}.")
    present = sorted(set(labels))
    if len(present) < 2:
        raise ValueError(
            f"Image folder {path!r} has images of one class only "
            f"({classes[present[0]]!r}); it needs {need}."
        )
    return classes, files, labels


def load_folder(
    path,
    input_shape=None,
    batch_size=32,
    validation_split=0.2,
    seed=0,
    *,
    augment="none",
    mixup=0.0,
    cutmix=0.0,
    drop_remainder=False,
    preprocessing="scale",
    one_hot=False,
):
    """An image folder with one sub-folder per class, split per class with a fixed seed.

    The sub-folders, sorted, are the classes (as `keras.utils.image_dataset_from_
    directory` names them). Files that are not JPEG, PNG, GIF or BMP data are skipped
    with one warning; an image that still fails to decode is dropped in the pipeline
    (`ignore_errors`) instead of stopping an epoch. The other arguments are the
    module's pipeline options.
    """
    import numpy as np

    input_shape = check_image_shape(input_shape or (224, 224, 3))
    _check_common(batch_size, validation_split, seed)
    height, width, channels = input_shape
    if channels not in (1, 3, 4):
        raise ValueError(f"Image folders load 1, 3 or 4 channels; got input_shape={input_shape!r}.")
    options = _check_options(augment, mixup, cutmix, drop_remainder, preprocessing, one_hot)
    _check_preprocessing_channels(options, input_shape)
    classes, files, labels = _list_image_folder(path)
    files, labels = np.array(files), np.array(labels, dtype="int32")
    rng = np.random.default_rng(seed)
    val_idx, train_idx = [], []
    for label in range(len(classes)):
        # Split each class alike, so a small folder keeps every class in both splits.
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = round(len(idx) * validation_split)
        val_idx.extend(idx[:n_val])
        train_idx.extend(idx[n_val:])
    # A random order before caching, so the shuffle buffer mixes classes from the start.
    train_idx = rng.permutation(np.array(train_idx, dtype="int64"))
    val_idx = np.array(val_idx, dtype="int64")
    import tensorflow as tf

    splits = {}
    for training, idx in ((True, train_idx), (False, val_idx)):
        cache = _fits_in_memory(len(idx), _stored_size(input_shape, True), input_shape)
        keep_full = training and not cache and options.augment != "none"
        keep_full = keep_full and min(height, width) >= RESIZED_CROP_MIN_SIZE
        frame = _framer(input_shape, True, training, keep_full)

        def decode(file, label, frame=frame):
            image = tf.io.decode_image(
                tf.io.read_file(file), channels=channels, expand_animations=False
            )
            return frame(tf.ensure_shape(image, (None, None, channels))), label

        ds = tf.data.Dataset.from_tensor_slices((files[idx], labels[idx]))
        if training and not cache:
            ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        # A file that passed the signature check but is truncated or corrupt inside.
        ds = ds.ignore_errors(log_warning=True)
        splits[training] = _pipeline(
            ds,
            training=training,
            input_shape=input_shape,
            batch_size=batch_size,
            seed=seed,
            num_classes=len(classes),
            options=options,
            cache=cache,
            size=len(idx),
            center_crop=training,
        )
    return DatasetBundle(
        splits[True],
        splits[False],
        len(classes),
        input_shape,
        name=os.fspath(path),
        train_size=len(train_idx),
        validation_size=len(val_idx),
    )


def _offline_alternatives():
    return (
        f"the bundled datasets ({', '.join(list_datasets())}) or an image folder "
        "(`--data path/to/folder`, one sub-folder per class)"
    )


def _prepare_manual(builder, name, manual_dir):
    """Prepares a set tensorflow-datasets cannot download from the files in `manual_dir`."""
    import tensorflow_datasets as tfds

    base = builder.name
    needed = MANUAL_FILES.get(base, ())
    where = (
        f"download {' and '.join(needed)} into one folder"
        if needed
        else "put its files in a folder"
    )
    how = (
        f"Dataset {name!r} must be prepared from files tensorflow-datasets cannot download: "
        f"{where} and pass manual_dir=that folder (CLI: --data-arg manual_dir=PATH). "
        f"tensorflow-datasets says: {' '.join(builder.MANUAL_DOWNLOAD_INSTRUCTIONS.split())}"
    )
    if manual_dir is None:
        raise ValueError(how)
    if not os.path.isdir(manual_dir):
        raise ValueError(
            f"manual_dir must be an existing folder; got manual_dir={manual_dir!r}. {how}"
        )
    missing = [f for f in needed if not os.path.isfile(os.path.join(manual_dir, f))]
    if missing:
        raise ValueError(f"manual_dir={manual_dir!r} lacks {', '.join(missing)}. {how}")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
    )
    return builder


def _split_size(info, split):
    try:
        return info.splits[split].num_examples or None
    except (KeyError, ValueError, TypeError):
        return None  # unknown (e.g. a mocked dataset): assumed small


def load_tfds_images(
    name,
    input_shape=None,
    batch_size=32,
    validation_split=0.2,
    seed=0,
    *,
    data_dir=None,
    manual_dir=None,
    augment="none",
    mixup=0.0,
    cutmix=0.0,
    drop_remainder=False,
    preprocessing="scale",
    one_hot=False,
):
    """A tensorflow-datasets set with `image` and `label` features, downloaded if needed.

    A bare name in `TFDS_DEFAULT_CONFIGS` gets that configuration (`imagenette` ->
    `imagenette/320px-v2`). Sets tensorflow-datasets cannot download (`imagenet2012`)
    are prepared from `manual_dir` (e.g. ILSVRC2012_img_train.tar and
    ILSVRC2012_img_val.tar). The other arguments are the module's pipeline options.
    """
    check_string("name", name)
    if input_shape is not None:
        input_shape = check_image_shape(input_shape)
    _check_common(batch_size, validation_split, seed)
    options = _check_options(augment, mixup, cutmix, drop_remainder, preprocessing, one_hot)
    if input_shape is not None:
        _check_preprocessing_channels(options, input_shape)
    if manual_dir is not None and not isinstance(manual_dir, (str, os.PathLike)):
        raise TypeError(f"manual_dir must be a folder path or None; got manual_dir={manual_dir!r}.")
    import tensorflow as tf
    import tensorflow_datasets as tfds

    dataset_name = name.split(":")[0].split("/")[0]
    if dataset_name not in tfds.list_builders():
        raise ValueError(
            f"Unknown dataset name={name!r}: not a bundled dataset "
            f"({', '.join(list_datasets())}), not an existing folder, and not a "
            "tensorflow-datasets name (see tfds.list_builders())."
        )
    full_name = TFDS_DEFAULT_CONFIGS.get(name, name)
    builder = tfds.builder(full_name, data_dir=data_dir)
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        if not builder.is_prepared():
            builder = _prepare_manual(builder, name, manual_dir)
    elif manual_dir is not None:
        raise ValueError(
            f"manual_dir is for datasets tensorflow-datasets cannot download "
            f"({', '.join(MANUAL_FILES)}); {name!r} downloads by itself. Got "
            f"manual_dir={manual_dir!r}."
        )
    else:
        builder = tfds_builder(full_name, data_dir, _offline_alternatives())
    info = builder.info
    if "label" not in info.features or "image" not in info.features:
        raise ValueError(
            f"Dataset {name!r} has no 'image' and 'label' features; image classification "
            "needs both."
        )
    source_shape = tuple(info.features["image"].shape)
    varying_size = None in source_shape[:2]
    if input_shape is None:
        input_shape = (224, 224, source_shape[-1]) if varying_size else source_shape
        input_shape = check_image_shape(input_shape)
        _check_preprocessing_channels(options, input_shape)
    splits = list(info.splits.keys())
    if "validation" in splits:
        train_split, val_split = "train", "validation"
    elif "test" in splits:
        train_split, val_split = "train", "test"
    else:
        pct = round(100 * (1 - validation_split))
        train_split, val_split = f"train[:{pct}%]", f"train[{pct}%:]"
    num_classes = info.features["label"].num_classes
    height, width, channels = input_shape
    have = source_shape[-1]
    _check_channels(have, input_shape)
    stored = _stored_size(input_shape, varying_size)

    result = {}
    for training, split in ((True, train_split), (False, val_split)):
        size = _split_size(info, split)
        cache = _fits_in_memory(size, stored if training else (height, width), input_shape)
        keep_full = training and not cache and options.augment != "none"
        keep_full = keep_full and varying_size and min(height, width) >= RESIZED_CROP_MIN_SIZE
        frame = _framer(input_shape, varying_size, training, keep_full)
        read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
        encoded = training and not cache
        if encoded:
            # Shuffled while still encoded: a buffer of JPEG bytes, not of decoded images.
            ds = builder.as_dataset(
                split=split,
                shuffle_files=True,
                read_config=read_config,
                decoders={"image": tfds.decode.SkipDecoding()},
            )
            ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        else:
            ds = builder.as_dataset(split=split, shuffle_files=training, read_config=read_config)

        def prepare(example, frame=frame, encoded=encoded):
            image = example["image"]
            if encoded:
                image = tf.io.decode_image(image, channels=have, expand_animations=False)
                image = tf.ensure_shape(image, (None, None, have))
            return frame(_convert_channels(image, channels)), example["label"]

        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        result[training] = _pipeline(
            ds,
            training=training,
            input_shape=input_shape,
            batch_size=batch_size,
            seed=seed,
            num_classes=num_classes,
            options=options,
            cache=cache,
            size=size,
            center_crop=training and varying_size,
            horizontal_flip=dataset_name not in NOT_MIRRORED,
        )
    return DatasetBundle(
        train=result[True],
        validation=result[False],
        num_classes=num_classes,
        input_shape=input_shape,
        name=name,
        train_size=_split_size(info, train_split),
        validation_size=_split_size(info, val_split),
    )

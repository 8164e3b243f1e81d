"""The dataset registry: `load_dataset(name, ...)` and what every loader shares.

- `DatasetBundle`: the training and validation pipelines a loader returns, with what a
  model needs to know about them.
- `register_dataset(name)`: registers a loader; its keyword-only arguments are the
  options it accepts. `load_dataset` refuses any other option with the list of the
  accepted ones, so a misspelt option (`T` typed `t`) fails instead of being ignored.
- `is_online()` and `tfds_builder(...)`: tensorflow-datasets sets are downloaded on
  first use; offline they fail at once with a `DatasetUnavailableError` that names an
  offline alternative, instead of tensorflow-datasets retrying for minutes.

TensorFlow and tensorflow-datasets are imported lazily, inside the functions.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import socket
from collections.abc import Callable
from typing import Any

from keras_archs.validation import (
    check_float,
    check_int,
    check_options,
    check_string,
)

_LOADERS: dict[str, Callable[..., DatasetBundle]] = {}
# tensorflow-datasets serves its files (and its prepared-data mirror) from here.
TFDS_HOST = ("storage.googleapis.com", 443)
# The options `load_dataset` itself takes; a loader receives those it declares.
COMMON_OPTIONS = ("input_shape", "batch_size", "validation_split", "seed", "data_dir")
# What every image pipeline (keras_archs.data.images) also takes.
IMAGE_OPTIONS = ("augment", "mixup", "cutmix", "drop_remainder", "preprocessing", "one_hot")


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
    loss: Any = None  # a Keras loss (or its name), or one per output
    metrics: Any = ()
    # Metrics that take the pipeline's sample weights (BERT's masked-token accuracy
    # counts the chosen positions only).
    weighted_metrics: Any = None
    # Held-out data for a task's own measure, scored after every epoch by `keras-archs
    # train` (e.g. {"kind": "exact_match", "encoder_inputs", "answers", "max_length"}).
    evaluation: dict | None = None
    # Keyword arguments of the model's training head (BERT's pre-training heads need the
    # pipeline's number of masked slots); None: the model trains as built.
    head_kwargs: dict | None = None


def register_dataset(name: str):
    """Registers a loader under `name` (used as a decorator).

    The loader takes keyword-only arguments: those of `COMMON_OPTIONS` it uses and its
    own options (e.g. `T`), each with a default; `load_dataset` passes it only those.
    """
    check_string("name", name)

    def decorator(fn):
        if name in _LOADERS:
            raise ValueError(f"Dataset name {name!r} is already registered.")
        _LOADERS[name] = fn
        return fn

    return decorator


def list_datasets() -> list[str]:
    """Names of the registered datasets (tensorflow-datasets names and folders also work)."""
    return sorted(_LOADERS)


def dataset_options(name: str) -> list[str]:
    """The options (keyword arguments) the registered dataset `name` accepts."""
    if name not in _LOADERS:
        raise ValueError(
            f"name must be a registered dataset ({', '.join(list_datasets())}); got name={name!r}."
        )
    parameters = inspect.signature(_LOADERS[name]).parameters.values()
    return sorted(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)


def load_dataset(
    name: str,
    *,
    input_shape: tuple | None = None,
    batch_size: int | None = None,
    validation_split: float | None = None,
    seed: int | None = None,
    data_dir: str | None = None,
    **options,
) -> DatasetBundle:
    """Returns batched, prefetched (train, validation) pipelines for `name`.

    Args:
        name: a registered dataset (`list_datasets()`), a tensorflow-datasets name, or
            the path of an image folder with one sub-folder per class.
        input_shape: image sets: `(height, width, channels)` the images are resized
            and converted to. Image sets also take `preprocessing` (default "scale":
            pixels in [0, 1]; or keras.applications' "caffe", "tf", "torch"),
            `augment`, `mixup`, `cutmix`, `one_hot` and `drop_remainder`
            (`keras_archs.data.images`).
        batch_size: batch size of both pipelines (default: the loader's, else 32).
        validation_split: fraction held out when the source has no validation split
            (default: the loader's, else 0.2).
        seed: seed of the split and the shuffling (default 0).
        data_dir: tensorflow-datasets data folder (its default when None).
        **options: options of a registered dataset, e.g. `T=200` for `adding_problem`
            (`dataset_options(name)` lists them).

    Only the arguments given are passed on, so each loader keeps its own defaults; an
    argument or option the dataset does not take is a ValueError that lists those it
    does.
    """
    check_string("name", name)
    given = {
        "input_shape": input_shape,
        "batch_size": check_int("batch_size", batch_size, minimum=1, allow_none=True),
        "validation_split": check_float(
            "validation_split",
            validation_split,
            minimum=0.0,
            maximum=1.0,
            allow_none=True,
            exclusive_minimum=True,
            exclusive_maximum=True,
        ),
        "seed": check_int("seed", seed, minimum=0, allow_none=True),
        "data_dir": data_dir,
    }
    kwargs = {k: v for k, v in given.items() if v is not None}
    kwargs.update(options)
    if name in _LOADERS:
        check_options(f"dataset {name!r}", kwargs, dataset_options(name))
        return _LOADERS[name](**kwargs)
    folder = os.path.isdir(name)
    from keras_archs.data import bert

    if folder and bert.is_text_folder(name):
        check_options(
            f"text folder {name!r}", kwargs, COMMON_OPTIONS + bert.TEXT_CLASSIFICATION_OPTIONS
        )
        if input_shape is not None or data_dir is not None:
            raise ValueError(
                f"Text folder {name!r} takes no input_shape or data_dir; got "
                f"input_shape={input_shape!r}, data_dir={data_dir!r}."
            )
        return bert.load_text_folder(
            name,
            batch_size or 32,
            0.2 if validation_split is None else validation_split,
            seed or 0,
            **options,
        )
    # Image folders and tensorflow-datasets image sets take the common options and the
    # image pipeline's (augmentation, mixing, preprocessing, label format).
    extra = IMAGE_OPTIONS + (() if folder else ("manual_dir",))
    check_options(f"dataset {name!r}", kwargs, COMMON_OPTIONS + extra)
    from keras_archs.data import images

    args = (
        input_shape,
        batch_size or 32,
        0.2 if validation_split is None else validation_split,
        seed or 0,
    )
    image_kwargs = {k: v for k, v in options.items() if k in extra}
    if folder:
        return images.load_folder(name, *args, **image_kwargs)
    return images.load_tfds_images(name, *args, data_dir=data_dir, **image_kwargs)


def is_online(host=TFDS_HOST, timeout=3.0) -> bool:
    """True when a TCP connection to `host` (tensorflow-datasets' server) opens in time."""
    # tensorflow-datasets retries an unreachable host for minutes; ask once, quickly.
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def tfds_builder(name, data_dir=None, alternative=None):
    """The prepared tensorflow-datasets builder of `name`, downloading it if needed.

    Offline, or when the download fails, raises `DatasetUnavailableError` at once,
    naming `alternative` (an offline dataset or recipe that does the same job).
    """
    import tensorflow_datasets as tfds

    hint = f" Offline alternative: {alternative}." if alternative else ""
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not is_online():
            raise DatasetUnavailableError(
                f"Dataset {name!r} comes from tensorflow-datasets and must be downloaded, "
                f"but {TFDS_HOST[0]} cannot be reached.{hint}"
            )
        try:
            builder.download_and_prepare()
        except Exception as e:  # tensorflow-datasets raises many types for a failed fetch
            raise DatasetUnavailableError(
                f"Downloading dataset {name!r} from tensorflow-datasets failed ({e}).{hint}"
            ) from e
    return builder

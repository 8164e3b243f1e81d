"""The fit loop behind `keras-archs train`: data, model, policy, run folder."""

from __future__ import annotations

import dataclasses
import datetime
import os
import time

import keras

from keras_archs.registry import get_spec
from keras_archs.training.policy import choose_policy
from keras_archs.validation import (
    check_bool,
    check_int,
    check_positive_float,
    check_positive_int,
    check_string,
)

# Arguments of `train` that are also dataset options: given there, not in `data_kwargs`.
_TRAIN_OWNED = ("input_shape", "batch_size", "seed")


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    history: dict
    out_dir: str
    val_accuracy: float | None
    seconds: float
    jit_compile: bool
    dtype_policy: str


def _claim_run_folder(out, name):
    """Creates the run folder; an existing folder with files in it is never reused."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = os.path.join("runs", f"{name}-{stamp}")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ValueError(
            f"out={out!r} already exists and is not an empty folder; choose a new run "
            "folder (runs are never overwritten)."
        )
    os.makedirs(out, exist_ok=True)
    return out


def plot_history(history: dict, path: str):
    """Writes loss and accuracy curves (train and validation) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in ("loss", "accuracy") if m in history]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    name: str,
    *,
    data: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    out: str | None = None,
    input_shape: tuple | None = None,
    jit_compile: bool | None = None,
    dtype_policy: str | None = None,
    seed: int = 0,
    verbose="auto",
    data_kwargs: dict | None = None,
) -> TrainResult:
    """Trains registered model `name` with `model.fit` and writes a run folder.

    Defaults (dataset, epochs, batch size, learning rate, input shape) come from
    the registry's `train_defaults`; `jit_compile` and the dtype policy from
    `keras_archs.training.policy`. The run folder holds `model.keras`,
    `history.csv` and `curves.png`. Image models are fed pixels in [0, 1] (export
    such a model with `preprocessing="scale"`).

    Sequence models (registry task other than image classification, `"trainer":
    "task"` in `train_defaults`) train on a task of `keras_archs.data.tasks`: its
    options come from `train_defaults["data_kwargs"]` updated by `data_kwargs`, the
    model from `train_defaults["model_kwargs"]` plus what the task dictates (input
    shape, head, vocabulary), and the loss and metrics from the task. `data_kwargs` are
    passed to `keras_archs.data.load_dataset` for image datasets too (e.g.
    `validation_split`); an option the dataset does not take is a ValueError.
    """
    spec = get_spec(name)
    defaults = spec.train_defaults
    if spec.task != "image_classification" and "trainer" not in defaults:
        raise ValueError(
            f"keras-archs train has no training recipe for {spec.name!r} (task={spec.task!r})."
        )
    data = check_string("data", data or defaults.get("data", "digits"))
    epochs = check_positive_int("epochs", defaults.get("epochs", 10) if epochs is None else epochs)
    batch_size = check_positive_int(
        "batch_size", defaults.get("batch_size", 32) if batch_size is None else batch_size
    )
    learning_rate = check_positive_float(
        "learning_rate",
        defaults.get("learning_rate", 1e-3) if learning_rate is None else learning_rate,
    )
    seed = check_int("seed", seed, minimum=0)
    if jit_compile is not None:
        check_bool("jit_compile", jit_compile)
    check_string("dtype_policy", dtype_policy, allow_none=True)
    data_kwargs = dict(data_kwargs or {})
    owned = sorted(set(data_kwargs) & set(_TRAIN_OWNED))
    if owned:
        raise ValueError(
            f"data_kwargs {owned} are arguments of train itself (CLI: --batch-size, --seed); "
            f"got data_kwargs={data_kwargs!r}."
        )
    sequence = spec.task != "image_classification"
    input_shape = tuple(input_shape or defaults.get("input_shape") or spec.default_input_shape)
    if not sequence and min(input_shape[:-1]) < spec.min_input_size:
        raise ValueError(
            f"input_shape={input_shape!r} is below the minimum size {spec.min_input_size} "
            f"of {spec.name!r}."
        )
    policy = choose_policy(spec.name)
    jit_compile = policy.jit_compile if jit_compile is None else jit_compile
    dtype_policy = dtype_policy or policy.dtype_policy

    from keras_archs.data import dataset_options, list_datasets, load_dataset

    if sequence:
        # The registry's task options belong to its default task only.
        task_defaults = defaults.get("data_kwargs", {}) if data == defaults.get("data") else {}
        data_kwargs = {**task_defaults, **data_kwargs}
        bundle = load_dataset(data, batch_size=batch_size, seed=seed, **data_kwargs)
        if bundle.loss is None:
            raise ValueError(
                f"data={data!r} is not a sequence task (keras_archs.data.tasks); "
                f"{spec.name!r} trains on one of those."
            )
        build_kwargs = {**defaults.get("model_kwargs", {}), **bundle.model_kwargs}
        loss, metrics = bundle.loss, list(bundle.metrics)
    else:
        # Registered datasets that take no input shape are sequence tasks or text corpora.
        registered = data in list_datasets()
        if registered and "input_shape" not in dataset_options(data):
            raise ValueError(
                f"data={data!r} is not an image-classification dataset; {spec.name!r} "
                "trains on one (digits, an image folder or a tensorflow-datasets image set)."
            )
        bundle = load_dataset(
            data, input_shape=input_shape, batch_size=batch_size, seed=seed, **data_kwargs
        )
        build_kwargs = {"input_shape": bundle.input_shape, "classes": bundle.num_classes}
        loss, metrics = keras.losses.SparseCategoricalCrossentropy(), ["accuracy"]
    out = _claim_run_folder(out, spec.name)

    keras.utils.set_random_seed(seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype_policy)
    try:
        model = spec.build(**build_kwargs)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=defaults.get("clipnorm")),
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile,
    )
    start = time.perf_counter()
    history = model.fit(
        bundle.train,
        validation_data=bundle.validation,
        epochs=epochs,
        callbacks=[keras.callbacks.CSVLogger(os.path.join(out, "history.csv"))],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    model.save(os.path.join(out, "model.keras"))
    plot_history(history.history, os.path.join(out, "curves.png"))
    val_acc = history.history.get("val_accuracy", [None])[-1]
    return TrainResult(
        model=model,
        history=history.history,
        out_dir=out,
        val_accuracy=None if val_acc is None else float(val_acc),
        seconds=seconds,
        jit_compile=jit_compile,
        dtype_policy=dtype_policy,
    )

"""The one training path behind `keras-archs train`: data, recipe, policy, run folder.

`train(name, ...)` resolves a run's whole configuration before it touches data or disk:
the model's offline defaults (registry data: dataset, input shape, task options), its
family's training recipe (`keras_archs.training.recipes`), the XLA and precision policy
(`keras_archs.training.policy`), then the caller's overrides. Any bad value is a
ValueError or TypeError at that point, and no run folder is left behind. It then
trains with `model.fit` and writes the run folder:

- `run.json`: the resolved configuration (model, data, recipe, augmentation,
  preprocessing, precision, `jit_compile`, seed, library versions).
  `train_from_config(path)` (CLI: `keras-archs train --config run.json`) repeats it.
- `model.keras`, `history.csv`, and `curves.png` (redrawn after every epoch).

Image pipelines give the model its family's preprocessing of 0-255 pixels (the
registry's keras.applications mode; "scale", x / 255, where the mode needs RGB and the
input has another channel count). `run.json` records it, so `keras-archs export` of the
run's `model.keras` serves raw pixels the way training fed them.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import importlib.util
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time

import keras

from keras_archs.registry import get_spec
from keras_archs.training.policy import choose_policy
from keras_archs.training.recipes import Recipe, make_optimizer, recipe_for
from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_string,
)

RUN_FILE = "run.json"
# What a completed run folder holds (tensorboard/ where TensorBoard logs are on).
RUN_FOLDER = ("best.keras", "curves.png", "history.csv", "model.keras", RUN_FILE, "tensorboard")
RUN_FORMAT = "keras_archs.train/1"  # what `--config` checks a file is
# Arguments of `train` that are also dataset options: given there, not in `data_kwargs`.
_TRAIN_OWNED = ("input_shape", "batch_size", "seed")
# `train` arguments that override fields of the recipe.
RECIPE_ARGUMENTS = (
    "optimizer",
    "learning_rate",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "batch_size",
    "epochs",
    "clipnorm",
    "augment",
    "input_size",
)
_SMALL_INPUT = 64  # default inputs up to this side train as they are offline


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    history: dict
    out_dir: str
    val_accuracy: float | None
    seconds: float
    jit_compile: bool
    dtype_policy: str
    config: dict
    steps_per_epoch: int = 0  # training steps each epoch ran (counted or bounded)


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
        ax.plot(epochs, history[metric], marker="o", label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    # Written under a temporary name and renamed, so a reader never sees half a PNG.
    fig.savefig(path + ".tmp.png", dpi=100)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)


class _Curves(keras.callbacks.Callback):
    """Redraws `curves.png` after every epoch, so a long run can be watched."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        plot_history(self.history, self.path)


def training_preprocessing(spec, channels):
    """The preprocessing of 0-255 pixels an image model is trained with: its registry
    mode, or "scale" (x / 255) where that mode normalises RGB statistics and the input
    has another channel count (LeNet-5 on gray digits)."""
    from keras_archs.data.images import RGB_MODES

    mode = spec.preprocessing or "scale"
    if mode in RGB_MODES and channels != 3:
        return "scale"
    return mode


def _versions():
    import importlib.metadata

    import numpy

    try:
        ours = importlib.metadata.version("keras-archs")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        ours = None
    found = {
        "python": platform.python_version(),
        "keras_archs": ours,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "backend": keras.backend.backend(),
    }
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            found[module] = getattr(sys.modules[module], "__version__", "?")
    return found


def _image_input_shape(spec, defaults, recipe, input_shape):
    """The input shape of an image run: given, else the recipe's `input_size`, else the
    model's offline default, else its default input if small, else its minimum size
    (at least 32)."""
    if input_shape is not None:
        shape = tuple(input_shape)
    elif recipe.input_size is not None:
        channels = (defaults.get("input_shape") or spec.default_input_shape)[-1]
        shape = (recipe.input_size, recipe.input_size, channels)
    elif defaults.get("input_shape"):
        shape = tuple(defaults["input_shape"])
    elif max(spec.default_input_shape[:-1]) <= _SMALL_INPUT:
        shape = tuple(spec.default_input_shape)
    else:
        # ImageNet-sized defaults take minutes a step on a CPU: the offline run trains
        # at the model's minimum size (32 at least), in RGB like its default.
        side = max(32, spec.min_input_size)
        shape = (side, side, spec.default_input_shape[-1])
    if len(shape) != 3 or min(shape[:-1]) < spec.min_input_size:
        raise ValueError(
            f"input_shape={shape!r} is below the minimum size {spec.min_input_size} of "
            f"{spec.name!r} (or not (height, width, channels))."
        )
    return shape


def resolve_config(
    name: str,
    *,
    data: str | None = None,
    data_kwargs: dict | None = None,
    model_kwargs: dict | None = None,
    init_from: str | None = None,
    input_shape: tuple | None = None,
    mixup: float = 0.0,
    cutmix: float = 0.0,
    steps_per_epoch: int | None = None,
    jit: str = "auto",
    precision: str = "auto",
    seed: int = 0,
    deterministic: bool = False,
    backup_every: int | None = None,
    tensorboard: bool = True,
    early_stopping: int | None = None,
    strategy: str = "none",
    cpu_devices: int | None = None,
    **recipe_overrides,
) -> dict:
    """The whole configuration of a run of `train` (what `run.json` holds), checked.

    Raises ValueError/TypeError for any bad value; loads no data and writes nothing.
    """
    spec = get_spec(name)
    defaults = spec.train_defaults
    sequence = spec.task != "image_classification"
    if sequence and "trainer" not in defaults:
        raise ValueError(
            f"keras-archs train has no training recipe for {spec.name!r} (task={spec.task!r})."
        )
    # Any field of the recipe may be set (the CLI has flags for RECIPE_ARGUMENTS).
    fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(recipe_overrides) - fields)
    if unknown:
        raise TypeError(f"train() got unknown argument(s) {', '.join(map(repr, unknown))}.")
    overrides = {k: v for k, v in recipe_overrides.items() if v is not None}
    recipe = recipe_for(spec.name, **overrides)
    data = check_string("data", data or defaults.get("data", "digits"))
    seed = check_int("seed", seed, minimum=0)
    steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, minimum=1, allow_none=True)
    # A bound given here bounds validation too; a model's own offline run on its
    # default data may bound both (a text corpus is far longer than a CPU epoch).
    own = defaults if data == defaults.get("data", "digits") else {}
    validation_steps = steps_per_epoch or own.get("validation_steps")
    steps_per_epoch = steps_per_epoch or own.get("steps_per_epoch")
    deterministic = check_bool("deterministic", deterministic)
    backup_every = check_int("backup_every", backup_every, minimum=1, allow_none=True)
    tensorboard = check_bool("tensorboard", tensorboard)
    early_stopping = check_int("early_stopping", early_stopping, minimum=1, allow_none=True)
    from keras_archs.training.distribution import check_distribution

    cpu_devices = check_distribution(strategy, cpu_devices, recipe.batch_size, spec.family)
    mixup = check_float("mixup", mixup, minimum=0.0)
    cutmix = check_float("cutmix", cutmix, minimum=0.0)
    check_choice("jit", jit, ("auto", "on", "off"))
    policy = choose_policy(spec.name, jit=jit, precision=precision)
    for argument, value in (("data_kwargs", data_kwargs), ("model_kwargs", model_kwargs)):
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{argument} must be a dict; got {argument}={value!r}.")
    data_kwargs = dict(data_kwargs or {})
    model_kwargs = dict(model_kwargs or {})
    if init_from is not None:
        init_from = check_string("init_from", init_from)
        if not os.path.isfile(init_from):
            raise ValueError(
                f"init_from={init_from!r} is not a file; it takes a .keras model (such as a "
                "run folder's model.keras) whose layers share names with the new model."
            )
        init_from = os.path.abspath(init_from)
    owned = sorted(set(data_kwargs) & set(_TRAIN_OWNED))
    if owned:
        raise ValueError(
            f"data_kwargs {owned} are arguments of train itself (CLI: --batch-size, --seed, "
            f"--input-size); got data_kwargs={data_kwargs!r}."
        )
    config = {
        "format": RUN_FORMAT,
        "model": spec.name,
        "task": spec.task,
        "data": data,
        "data_kwargs": data_kwargs,
        "recipe": recipe.to_dict(),
        "steps_per_epoch": steps_per_epoch,
        "validation_steps": validation_steps,
        "jit": jit,
        "precision": precision,
        "jit_compile": policy.jit_compile,
        "dtype_policy": policy.dtype_policy,
        "policy_reason": policy.reason,
        "seed": seed,
        "deterministic": deterministic,
        "backup_every": backup_every,
        "tensorboard": tensorboard,
        "early_stopping": early_stopping,
        "strategy": strategy,
        "cpu_devices": cpu_devices,
        # The model's own offline configuration, then the caller's changes to it.
        "model_kwargs": {**defaults.get("model_kwargs", {}), **model_kwargs},
        "init_from": init_from,
    }
    if sequence:
        if mixup or cutmix or recipe.augment != "none":
            raise ValueError(
                f"augment, mixup and cutmix apply to image classifiers; {spec.name!r} is a "
                f"{spec.task} model (got augment={recipe.augment!r}, mixup={mixup}, "
                f"cutmix={cutmix})."
            )
        # The registry's task options belong to its default task only.
        task_defaults = defaults.get("data_kwargs", {}) if data == defaults.get("data") else {}
        config["data_kwargs"] = {**task_defaults, **data_kwargs}
        return config

    from keras_archs.data import dataset_options, list_datasets

    if data in list_datasets() and "input_shape" not in dataset_options(data):
        raise ValueError(
            f"data={data!r} is not an image-classification dataset; {spec.name!r} trains on "
            "one (digits, an image folder or a tensorflow-datasets image set)."
        )
    shape = _image_input_shape(spec, defaults, recipe, input_shape)
    config.update(
        input_shape=list(shape),
        preprocessing=training_preprocessing(spec, shape[-1]),
        augment=recipe.augment,
        mixup=mixup,
        cutmix=cutmix,
    )
    return config


def _drops_remainder(config):
    from keras_archs.training.distribution import SPLITS_BATCHES

    return bool(config.get("jit_compile") or config.get("strategy") in SPLITS_BATCHES)


def _load_data(config):
    from keras_archs.data import load_dataset

    recipe = config["recipe"]
    common = {"batch_size": recipe["batch_size"], "seed": config["seed"]}
    if config["task"] != "image_classification":
        return load_dataset(config["data"], **common, **config["data_kwargs"])
    mixing = config["mixup"] > 0 or config["cutmix"] > 0
    return load_dataset(
        config["data"],
        input_shape=tuple(config["input_shape"]),
        preprocessing=config["preprocessing"],
        augment=config["augment"],
        mixup=config["mixup"],
        cutmix=config["cutmix"],
        # Soft labels for mixing and label smoothing; integer labels otherwise.
        one_hot=mixing or recipe["label_smoothing"] > 0,
        # An XLA-compiled step recompiles for a smaller last batch, and JAX's data
        # parallelism cannot split one: drop it.
        drop_remainder=_drops_remainder(config),
        **common,
        **config["data_kwargs"],
    )


def _loss_and_metrics(config, bundle):
    smoothing = config["recipe"]["label_smoothing"]
    if config["task"] != "image_classification":
        if bundle.loss is None:
            raise ValueError(
                f"data={config['data']!r} is not a sequence task (keras_archs.data.tasks); "
                f"{config['model']!r} trains on one."
            )
        metrics = bundle.metrics if isinstance(bundle.metrics, dict) else list(bundle.metrics)
        if smoothing > 0:
            return _smoothed(bundle.loss, smoothing, config), metrics
        return bundle.loss, metrics
    if config["mixup"] > 0 or config["cutmix"] > 0 or smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        return loss, [keras.metrics.CategoricalAccuracy(name="accuracy")]
    return keras.losses.SparseCategoricalCrossentropy(), ["accuracy"]


def _smoothed(loss, smoothing, config):
    """The task's next-token loss with label smoothing (Szegedy et al. 2016), as the
    Transformer was trained; only a cross-entropy on logits has a smoothed form here."""
    from keras_archs.applications.transformer import LabelSmoothedCrossEntropy

    on_logits = (
        isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
        and loss.get_config()["from_logits"]
    )
    if not on_logits:
        raise ValueError(
            f"label_smoothing={smoothing} needs a model trained with cross-entropy on logits; "
            f"{config['model']!r} on {config['data']!r} trains with {loss!r}. Pass "
            "label_smoothing=0."
        )
    return LabelSmoothedCrossEntropy(smoothing)


def _steps(config, bundle):
    if config["steps_per_epoch"]:
        return config["steps_per_epoch"]
    cardinality = int(bundle.train.cardinality())
    if cardinality > 0:
        return cardinality
    # Unknown (a pipeline that skips damaged files): count from the split's size.
    if bundle.train_size:
        batch = config["recipe"]["batch_size"]
        drop = _drops_remainder(config) and config["task"] == "image_classification"
        return max(1, bundle.train_size // batch if drop else math.ceil(bundle.train_size / batch))
    raise ValueError(
        f"data={config['data']!r}: the number of training batches per epoch is unknown; "
        "pass steps_per_epoch (CLI: --steps-per-epoch)."
    )


def _write_json(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def _summary(config, history, seconds, out):
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{config['model']} on {config['data']}", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("epochs", str(len(history.get("loss", []))))
    table.add_row("seconds", f"{seconds:.1f}")
    for key, values in history.items():
        if key != "learning_rate" and values:
            table.add_row(key, f"{values[-1]:.4f}")
    table.add_row("precision, XLA", f"{config['dtype_policy']}, {config['jit_compile']}")
    table.add_row("run folder", out)
    Console(soft_wrap=True).print(table)


def train(
    name: str,
    *,
    out: str | None = None,
    verbose="auto",
    callbacks: list | None = None,
    **options,
) -> TrainResult:
    """Trains registered model `name` with `model.fit` and writes a run folder.

    `out`, `verbose` and `callbacks` concern this call; every other keyword is a setting
    of the run (`resolve_config`'s arguments, then any recipe field), recorded in
    run.json.

    Args:
        name: a registry name (`keras_archs.list_models()`).
        data: a dataset name of `keras_archs.data`, a tensorflow-datasets image set or an
            image folder; default: the model's offline default (digits for the CNNs).
        out: the run folder (created; an existing non-empty folder is refused).
        input_shape: image models: `(height, width, channels)`; default: the recipe's
            `input_size` if set, the model's offline default, else its minimum size
            (at least 32) with 3 channels.
        mixup, cutmix: Beta(alpha, alpha) mixing of training batches (0 disables).
        steps_per_epoch: bounds each epoch's training (and validation) steps.
        jit, precision: "auto" (the measured policy), or "on"/"off" and a dtype
            policy name ("float32", "mixed_bfloat16", "mixed_float16").
        seed: seeds the split, the shuffling, the augmentation and the weights.
        deterministic: TensorFlow op determinism: two CPU runs with one seed give the
            same weights, and a resumed run the history of an uninterrupted one.
        backup_every: also back up every that many steps (a backup is always written
            at each epoch end); `resume` continues from the newest good one.
        tensorboard: write TensorBoard logs (scalars, learning rate, graph) to
            `out/tensorboard`.
        early_stopping: stop after that many epochs without a lower validation loss.
        strategy: "none", "mirrored" (tf.distribute over local GPUs, or `cpu_devices`
            logical CPUs), "data_parallel" (JAX, `keras.distribution.DataParallel`;
            `batch_size` is the global batch), "multiworker" (JAX: the same over several
            processes, one per machine, the cluster named by `TF_CONFIG`; `out` must be
            on storage they share) or "model_parallel" (JAX, GPT and BERT: their weights
            split over the devices).
        verbose: Keras' fit verbosity; "auto" is a progress bar on a terminal and one
            line per epoch otherwise (no control characters in logs).
        data_kwargs: options of the dataset (`keras_archs.data.dataset_options`).
        model_kwargs: arguments of the model's builder, over its offline defaults
            (e.g. `{"attention": "bahdanau"}` for seq2seq).
        init_from: a `.keras` model to start from (fine-tuning): every layer of the new
            model whose name and weight shapes match one of it starts with its weights
            (a pre-training run's BERT backbone, say); the heads that match nothing
            start fresh.
        callbacks: more Keras callbacks for `fit` (not recorded in `run.json`).
        **recipe_overrides: fields of the recipe (`RECIPE_ARGUMENTS`: optimizer,
            learning_rate, weight_decay, schedule, warmup_epochs, label_smoothing,
            batch_size, epochs, clipnorm, augment, input_size).
    """
    # Every setting of the run is checked (and defaulted) in one place.
    config = resolve_config(name, **options)
    return run_config(config, out=out, verbose=verbose, callbacks=callbacks)


def load_run_config(path: str) -> dict:
    """The configuration in a run folder's `run.json` (or a copy of it), checked."""
    path = check_string("config", path)
    if os.path.isdir(path):
        path = os.path.join(path, RUN_FILE)
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"config={path!r} is not a readable run.json ({e}).") from e
    if not isinstance(config, dict) or config.get("format") != RUN_FORMAT:
        raise ValueError(
            f"config={path!r} is not a run.json written by keras-archs train (its "
            f"'format' is not {RUN_FORMAT!r})."
        )
    return config


def train_from_config(path: str, *, out: str | None = None, verbose="auto") -> TrainResult:
    """Repeats the run described by `path` (a `run.json`, or its run folder) into `out`.

    The configuration is re-checked as `train` checks its arguments, so a file edited
    by hand fails before any training.
    """
    return run_config(_resolve_saved(load_run_config(path)), out=out, verbose=verbose)


def _resolve_saved(saved):
    """A saved run configuration, checked again as `train` checks its arguments."""
    image = saved.get("task") == "image_classification"
    return resolve_config(
        saved.get("model"),
        data=saved.get("data"),
        data_kwargs=saved.get("data_kwargs"),
        model_kwargs=saved.get("model_kwargs"),
        init_from=saved.get("init_from"),
        input_shape=tuple(saved["input_shape"]) if image and saved.get("input_shape") else None,
        mixup=saved.get("mixup", 0.0),
        cutmix=saved.get("cutmix", 0.0),
        steps_per_epoch=saved.get("steps_per_epoch"),
        jit={True: "on", False: "off"}.get(saved.get("jit_compile"), "auto"),
        precision=saved.get("dtype_policy", "auto"),
        seed=saved.get("seed", 0),
        deterministic=saved.get("deterministic", False),
        backup_every=saved.get("backup_every"),
        tensorboard=saved.get("tensorboard", True),
        early_stopping=saved.get("early_stopping"),
        strategy=saved.get("strategy", "none"),
        cpu_devices=saved.get("cpu_devices"),
        **dict(saved.get("recipe") or {}),
    )


def resume(out: str, *, name: str | None = None, data: str | None = None, verbose="auto"):
    """Continues the run in folder `out` from its newest good backup (CLI: `keras-archs
    train --resume --out RUN`): weights, optimizer state, the schedule's step, the epoch
    and the data order continue; history.csv keeps every epoch exactly once.

    `name` and `data`, when given, must be the run's own (a guard against resuming the
    wrong folder). The run's `run.json` supplies every other setting.
    """
    from keras_archs.training.backup import BACKUP_DIR, read_backup

    out = check_string("out", out)
    if not os.path.isfile(os.path.join(out, RUN_FILE)):
        raise ValueError(f"resume: out={out!r} holds no run (no {RUN_FILE}); nothing to resume.")
    saved = load_run_config(out)
    for argument, given in (("model", name), ("data", data)):
        if given is not None and given != saved.get(argument):
            raise ValueError(
                f"resume: the run in {out!r} trains {argument} {saved.get(argument)!r}, not "
                f"{given!r}; resume it without that argument or choose its folder."
            )
    if saved.get("completed"):
        raise ValueError(f"resume: the run in {out!r} completed; nothing to resume.")
    if read_backup(os.path.join(out, BACKUP_DIR)) is None:
        raise ValueError(
            f"resume: the run in {out!r} has no usable backup (it stopped before its first "
            "backup); start it again in a new folder."
        )
    return run_config(_resolve_saved(saved), out=out, verbose=verbose, resume=True)


def _task_callbacks(spec, bundle):
    """Callbacks that score a task's own measure (exact match of generated answers)."""
    evaluation = bundle.evaluation
    decode = spec.train_defaults.get("decode")
    if not evaluation or evaluation.get("kind") != "exact_match" or decode is None:
        return []
    from keras_archs.data.tasks import decode as to_text
    from keras_archs.training.callbacks import ExactMatch

    return [
        ExactMatch(
            decode,
            evaluation["encoder_inputs"],
            evaluation["answers"],
            evaluation["max_length"],
            to_text,
        )
    ]


def _shapes(layer):
    return [tuple(w.shape) for w in layer.weights]


def _layers_of(model):
    """`model`'s layers and, recursively, those of the models nested in it."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers_of(layer)


def initialize_from(model, source):
    """Copies into `model` the weights of `source`'s layers (a loaded `.keras` model) that
    share a layer name and weight shapes; a nested model (a backbone) that matches by
    name, or else is the one model of `source` with its weight shapes, is copied whole.
    Returns the number of weight tensors copied; ValueError when none matched."""
    candidates = [source, *_layers_of(source)]
    by_name = {}
    for layer in candidates:
        by_name.setdefault(layer.name, layer)

    def copy(layer):
        if not layer.weights:
            return 0
        match = by_name.get(layer.name)
        if match is None and isinstance(layer, keras.Model):
            same = [
                c for c in candidates if isinstance(c, keras.Model) and _shapes(c) == _shapes(layer)
            ]
            match = same[0] if len(same) == 1 else None
        if match is not None and _shapes(match) == _shapes(layer):
            layer.set_weights(match.get_weights())
            return len(layer.weights)
        if isinstance(layer, keras.Model):
            return sum(copy(inner) for inner in layer.layers)
        return 0

    copied = sum(copy(layer) for layer in model.layers)
    if not copied:
        raise ValueError(
            f"init_from: no layer of {source.name!r} matches a layer of {model.name!r} by "
            "name and weight shapes (a different vocabulary or size?)."
        )
    return copied


def _build(spec, config, bundle):
    """The model `fit` trains: the registry's builder, under the training head the
    pipeline asks for (BERT's masked-token and next-sentence heads)."""
    if config["task"] == "image_classification":
        build_kwargs = {"input_shape": bundle.input_shape, "classes": bundle.num_classes}
    else:
        build_kwargs = {}
    build_kwargs.update({**bundle.model_kwargs, **config["model_kwargs"]})
    model = spec.build(**build_kwargs)
    if bundle.head_kwargs is not None:
        model = spec.train_defaults["head"](model, **bundle.head_kwargs)
    if config.get("init_from"):
        source = keras.saving.load_model(config["init_from"], compile=False)
        copied = initialize_from(model, source)
        print(f"init_from: {copied} of {len(model.weights)} weights from {config['init_from']}")
    return model


def _read_history(path):
    """The rows of a history.csv as dicts of floats (epoch an int)."""
    import csv

    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items()} for r in rows]


def _columns(rows):
    """History rows as Keras' `history.history`: each metric's values, epoch by epoch."""
    columns = {}
    for row in rows:
        for key, value in row.items():
            if key != "epoch":
                columns.setdefault(key, []).append(value)
    return columns


def _keep_history_before(path, epoch):
    """Drops the rows of epochs >= `epoch` (written after the backup resumed from)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) < epoch]
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(kept) + "\n")
    os.replace(path + ".tmp", path)
    return _read_history(path)


def _run_callbacks(config, out, spec, bundle, callbacks, history, resume, restore_from):
    """The run folder's callbacks, in the order their effects must happen: the task's
    scores join the logs first; the backup is written before the epoch's history row, so
    a row on disk always has its backup."""
    from keras_archs.training.backup import BACKUP_DIR, AtomicCheckpoint, RunBackup

    backup = RunBackup(
        os.path.join(out, BACKUP_DIR),
        save_freq=config["backup_every"] or "epoch",
        restore_from=restore_from,
    )
    best = AtomicCheckpoint(
        os.path.join(out, "best.keras"), monitor="val_loss", mode="min", save_best_only=True
    )
    if resume and any("val_loss" in row for row in history):
        best.best = min(row["val_loss"] for row in history)  # the best so far stays best
    found = [
        *_task_callbacks(spec, bundle),
        *(callbacks or []),
        keras.callbacks.TerminateOnNaN(),
        backup,
        best,
    ]
    if config["early_stopping"]:
        found.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["early_stopping"])
        )
    # TensorBoard's summaries need TensorFlow and the tensorboard package.
    if config["tensorboard"] and all(
        importlib.util.find_spec(m) is not None for m in ("tensorflow", "tensorboard")
    ):
        found.append(
            keras.callbacks.TensorBoard(
                os.path.join(out, "tensorboard"), write_graph=True, update_freq="epoch"
            )
        )
    curves = _Curves(os.path.join(out, "curves.png"))
    curves.history = _columns(history)  # a resumed run's curves keep its earlier epochs
    found += [
        keras.callbacks.CSVLogger(os.path.join(out, "history.csv"), append=resume),
        curves,
    ]
    return backup, found


def _compiled(spec, config, bundle, recipe, loss, metrics, steps):
    """The run's model, seeded, built under its precision policy and compiled."""
    keras.utils.set_random_seed(config["seed"])
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config["dtype_policy"])
    try:
        model = _build(spec, config, bundle)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    model.compile(
        optimizer=make_optimizer(recipe, steps),
        loss=loss,
        metrics=metrics,
        weighted_metrics=bundle.weighted_metrics,
        jit_compile=config["jit_compile"],
    )
    # The optimizer's variables now, on the run's devices: created inside the first call
    # of the training function, they make TensorFlow trace that function twice.
    model.optimizer.build(model.trainable_variables)
    prime_gradients(model)
    return model


def prime_gradients(model) -> None:
    """Gives every trainable variable of a compiled PyTorch-backed `model` a zero
    gradient before its first training step, so that torch.compile compiles that step once.

    Keras' PyTorch trainer clears the gradients with `torch.nn.Module.zero_grad()` inside
    the compiled step, and the compiled code is guarded on whether each gradient exists:
    none does at the first step and all do from the second on, so torch.compile traced
    and compiled the whole step a second time (minutes for GPT-2 small on a GPU). The
    zeros are cleared by that same `zero_grad()` before the first backward pass, so the
    gradients and the training are unchanged. Does nothing on other backends or when the
    model runs eagerly.
    """
    if keras.backend.backend() != "torch" or not getattr(model, "jit_compile", False):
        return
    import torch

    with torch.no_grad():
        for variable in model.trainable_variables:
            value = variable.value
            if value.grad is None:
                value.grad = torch.zeros_like(value)


def run_config(
    config: dict, *, out: str | None = None, verbose="auto", callbacks=None, resume=False
) -> TrainResult:
    """Trains the resolved `config` (from `resolve_config`) into run folder `out`
    (`resume=True`: continues the run already there, see `resume`)."""
    spec = get_spec(config["model"])
    recipe = Recipe(**config["recipe"])
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    from keras_archs.training.distribution import SPLITS_BATCHES, Placement

    # Devices first: TensorFlow can split the CPU into logical devices only before it runs.
    placement = Placement(config.get("strategy", "none"), config.get("cpu_devices"))
    placement.check_batch(recipe.batch_size)
    # In a cluster only the chief writes the run folder `out`; every other process keeps
    # its files in a temporary folder and reads the chief's backup from `out`.
    chief = placement.chief
    # Seeded next: TensorFlow derives the pipeline's shuffle from the global seed too.
    keras.utils.set_random_seed(config["seed"])
    bundle = _load_data(config)  # bad data (unknown name, empty folder) fails here
    loss, metrics = _loss_and_metrics(config, bundle)
    if bundle.head_kwargs is not None and "head" not in spec.train_defaults:
        raise ValueError(
            f"data={config['data']!r} with {config['data_kwargs']} trains a model under a "
            f"training head that {spec.name!r} does not have."
        )
    steps = _steps(config, bundle)
    now = datetime.datetime.now().isoformat()
    from keras_archs.training.backup import BACKUP_DIR, read_backup

    if chief and not resume:
        out = _claim_run_folder(out, spec.name)
    files = out
    if not chief:
        files = tempfile.mkdtemp(prefix=f"keras_archs_process{placement.process_id}_")
        atexit.register(shutil.rmtree, files, ignore_errors=True)  # also when a run fails
    history_path = os.path.join(files, "history.csv")
    if resume:
        saved = load_run_config(out)
        start_epoch = int(read_backup(os.path.join(out, BACKUP_DIR))["epoch"])
        history = _keep_history_before(history_path, start_epoch) if chief else []
        config = {**saved, "resumed": [*saved.get("resumed", []), now]}
        print(f"resuming {out} at epoch {start_epoch}")
    else:
        start_epoch, history = 0, []
        config = {**config, "versions": _versions(), "started": now}
    _write_json(os.path.join(files, RUN_FILE), config)
    if config.get("deterministic") and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    print(f"recipe: {recipe.describe()}")
    print(f"devices: {placement.describe(recipe.batch_size, recipe.learning_rate)}")
    print(
        f"policy: jit_compile={config['jit_compile']}, {config['dtype_policy']} ("
        f"{config['policy_reason']})"
    )

    # One repeated stream cut into epochs of `steps` batches: every epoch has the same
    # length (a pipeline that drops damaged files has no known one), and epoch k's order
    # is the k-th pass of the seeded shuffle however often Keras restarts an iterator.
    # A resumed run skips the batches the interrupted one trained on before its backup.
    train_data = bundle.train.repeat()
    if start_epoch:
        train_data = train_data.skip(start_epoch * steps)
    validation_steps = config.get("validation_steps")
    batches = int(bundle.validation.cardinality()) if bundle.validation is not None else -1
    if validation_steps and batches > 0:
        # A bound above the validation set's size would only run out of data.
        validation_steps = min(validation_steps, batches)
    validation = bundle.validation
    if placement.name in SPLITS_BATCHES and validation is not None:
        # Each batch is split over the devices: the last, uneven one is left out.
        validation = validation.rebatch(recipe.batch_size, drop_remainder=True)
        validation_steps = None
    from keras_archs.training.backup import preemption_handler

    # The model is built, compiled and trained on the run's devices.
    with placement.scope():
        model = _compiled(spec, config, bundle, recipe, loss, metrics, steps)
        backup, run_callbacks = _run_callbacks(
            config,
            files,
            spec,
            bundle,
            callbacks,
            history,
            resume,
            # A resumed cluster run continues from the chief's backup in `out`.
            restore_from=os.path.join(out, BACKUP_DIR) if resume else None,
        )
        start = time.perf_counter()
        with preemption_handler(backup):
            fitted = model.fit(
                train_data,
                validation_data=validation,
                epochs=recipe.epochs,
                steps_per_epoch=steps,
                validation_steps=validation_steps,
                callbacks=run_callbacks,
                verbose=verbose,
                shuffle=False,  # the pipeline shuffles, seeded
            )
    seconds = time.perf_counter() - start
    # The whole history, resumed runs included, from the file that holds every epoch.
    history = _columns(_read_history(history_path)) or fitted.history
    seconds += config.get("seconds", 0.0) if resume else 0.0
    config = {**config, "seconds": round(seconds, 2), "completed": True}
    # Every process saves (saving creates variables, which a cluster's processes must do
    # in step); the others then drop their private copies.
    model.save(os.path.join(files, "model.keras"))
    _write_json(os.path.join(files, RUN_FILE), config)
    # A complete run needs no backup: the models and history are its result.
    shutil.rmtree(backup.backup_dir, ignore_errors=True)
    if chief:
        _summary(config, history, seconds, out)
    else:
        shutil.rmtree(files, ignore_errors=True)
        print(f"process {placement.process_id} done; the chief wrote the run folder {out}")
    val_acc = history.get("val_accuracy", [None])[-1]
    return TrainResult(
        model=model,
        history=history,
        out_dir=out,
        val_accuracy=None if val_acc is None else float(val_acc),
        seconds=seconds,
        jit_compile=config["jit_compile"],
        dtype_policy=config["dtype_policy"],
        config=config,
        steps_per_epoch=steps,
    )

"""`keras-archs bench`: a model's speed against the machine's limit and against its anchor.

Every number is measured in one process, and the contenders of a comparison take turns:
on a shared 2-core machine a timing moves by 2x when anything else runs, so keras_archs
and its anchor run alternating rounds and the fastest round of each is reported. Not the
median: on these virtual machines a round runs either at full speed or slowed to a fixed
level by the host (five ResNet50 training steps took 3.7 s or 5.11 s, nothing between,
for three copies of one model), so the median reports whichever level came up most
often. `round_spread` (slowest over fastest round, minus 1) shows how much they moved.
Nor the median of each round's ratio between neighbouring turns: a slowed round lasts
about the same time whatever runs in it (0.626 to 0.629 s for eight rounds of three
different contenders, two ResNet50 training steps at 64x64), so slowed pairs read 1.0x.

- Throughput: examples/s for images (tokens/s for text) of `steps` training steps
  (`model.fit` on a resident synthetic batch, the way the training path runs) or
  predictions (`predict_on_batch`); the first call, which compiles, is timed apart.
- GFLOP/s: the model's forward FLOPs per example (`count_flops`; training counts 3x the
  forward pass: the backward pass costs about twice the forward) times the throughput.
- Peak: what this machine does at the same precision and compiler setting, the larger of
  a 2048x2048 matrix product and a 3x3 convolution at 32x32x256 (batch 32, forward and
  backward), each through a one-layer Keras model, measured in the same run.
- Contenders: keras_archs under its policy (`choose_policy`: XLA and precision chosen per
  model and device; predicting with BatchNormalization folded into the layer before it,
  as its SavedModels serve), keras_archs at the anchor's settings, and the anchor (see
  `anchors`) at Keras' defaults (`jit_compile="auto"`, float32).
- `mode="serve"`: the exported SavedModel's `serving_default`, called from a plain
  TensorFlow process (no Keras model in it), against the anchor's own `model.export`.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

from keras_archs.bench.anchors import anchor_available, anchor_name, build_anchor
from keras_archs.export.fold import fold_batch_norms
from keras_archs.registry import get_spec
from keras_archs.validation import check_choice, check_int

MODES = ("train", "infer", "serve")
AGAINST = ("auto", "none")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
JIT_CHOICES = ("auto", "on", "off")
# The fields of one measurement (`--json` prints them in this order).
FIELDS = (
    "model",
    "contender",
    "mode",
    "unit",
    "batch_size",
    "input_size",
    "precision",
    "jit_compile",
    "throughput",
    "step_ms",
    "round_spread",
    "compile_s",
    "peak_rss_mb",
    "gflops_per_s",
    "peak_gflops_per_s",
    "peak_fraction",
    "anchor",
    "anchor_throughput",
    "ratio",
    "backend",
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a contender is compiled: XLA ("auto" is Keras' default) and dtype policy."""

    jit_compile: bool | str
    dtype_policy: str


KERAS_DEFAULTS = Settings("auto", "float32")


@dataclasses.dataclass
class _Contender:
    label: str
    build: object  # () -> keras.Model
    settings: Settings
    times: list = dataclasses.field(default_factory=list)
    model: object = None
    step: object = None  # () -> None: runs `steps` steps
    compile_s: float = 0.0
    jit_compile: object = None
    rss_mb: float = 0.0


def check_bench(name, mode, batch_size, input_size, steps, rounds, precision, jit, against):
    """Checks a bench request; returns the registry spec. Nothing is built."""
    spec = get_spec(name)
    check_choice("mode", mode, MODES)
    check_choice("precision", precision, PRECISIONS)
    check_choice("jit", jit, JIT_CHOICES)
    check_choice("against", against, AGAINST)
    check_int("batch_size", batch_size, minimum=1, allow_none=True)
    check_int("steps", steps, minimum=1)
    check_int("rounds", rounds, minimum=1)
    text = spec.family in ("gpt", "bert")
    if spec.task != "image_classification" and not text:
        raise ValueError(
            f"bench measures image classifiers, GPT and BERT; {spec.name!r} is a {spec.task} model."
        )
    minimum = spec.min_input_size
    check_int("input_size", input_size, minimum=minimum, allow_none=True)
    if text and input_size is not None:
        limit = _text_config(spec)["max_sequence_length"]
        check_int("input_size", input_size, minimum=1, maximum=limit)
    if mode == "serve" and importlib.util.find_spec("tensorflow") is None:
        raise ValueError("mode='serve' times a SavedModel in TensorFlow, which is not installed.")
    return spec


def _text_config(spec):
    family = importlib.import_module(f"keras_archs.applications.{spec.family}")
    return dict(family.PRESETS[spec.name])


def _inputs(spec, batch_size, input_size, rng):
    """A synthetic batch (x, y) at the model's input and `input_size`."""
    if spec.family in ("gpt", "bert"):
        config = _text_config(spec)
        length = input_size or config["max_sequence_length"]
        tokens = rng.integers(0, config["vocabulary_size"], (batch_size, length), "int32")
        x = {"token_ids": tokens, "padding_mask": np.ones_like(tokens)}
        if spec.family == "bert":
            x["segment_ids"] = np.zeros_like(tokens)
            return x, {"pooled_output": np.zeros((batch_size, config["hidden_dim"]), "float32")}
        return x, tokens
    shape = tuple(spec.default_input_shape)
    if input_size is not None:
        shape = (input_size, input_size, *shape[2:])
    x = rng.standard_normal((batch_size, *shape)).astype("float32")
    # Labels below 10: valid for every head (LeNet-5 has 10 classes, the anchored 1,000).
    return x, rng.integers(0, 10, batch_size).astype("int32")


def _loss(spec):
    if spec.family == "gpt":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec.family == "bert":
        # One loss on the pooled output: both backbones run their whole graph for it.
        return {"pooled_output": "mse"}
    return "sparse_categorical_crossentropy"


def _build_under(settings, build):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(settings.dtype_policy)
    try:
        return build()
    finally:
        keras.config.set_dtype_policy(previous)


def _prepare(contender, spec, mode, x, y, steps):
    """Builds and compiles a contender and runs its first call (the compile time)."""
    model = _build_under(contender.settings, contender.build)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=_loss(spec),
        jit_compile=contender.settings.jit_compile,
    )
    if mode == "train":
        data = _resident(x, y)

        def step():
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)

        start = time.perf_counter()
        model.fit(data, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    else:
        predictor = model
        if contender.label == "keras_archs":
            # keras_archs predicts and serves with BatchNormalization folded into the
            # layer before it (`fold_batch_norms`); at the anchor's settings it does not.
            predictor = fold_batch_norms(model)
            if predictor is not model:  # a copy: compiled with the same XLA setting
                predictor.compile(jit_compile=contender.settings.jit_compile)

        def step():
            for _ in range(steps):
                predictor.predict_on_batch(x)

        start = time.perf_counter()
        predictor.predict_on_batch(x)
    contender.compile_s = time.perf_counter() - start
    contender.model, contender.step = model, step
    contender.jit_compile = bool(model.jit_compile)


def _resident(x, y):
    """One batch repeated without copies: a tf.data stream when TensorFlow is there (the
    training path's input), else a Keras PyDataset over the same arrays."""
    if importlib.util.find_spec("tensorflow") is not None:
        import tensorflow as tf

        return tf.data.Dataset.from_tensors((x, y)).repeat()

    class _Repeat(keras.utils.PyDataset):
        def __len__(self):
            return 1_000_000

        def __getitem__(self, index):
            return x, y

    return _Repeat()


def _rss_mb():
    # ru_maxrss is in KiB on Linux: the process's peak so far, all contenders included.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _alternate(contenders, rounds):
    for _ in range(rounds):
        for c in contenders:
            start = time.perf_counter()
            c.step()
            c.times.append(time.perf_counter() - start)
            c.rss_mb = max(c.rss_mb, _rss_mb())


_PEAKS = {}


def machine_peak(dtype_policy="float32", jit_compile=False, rounds=5):
    """GFLOP/s this machine reaches at `dtype_policy` and `jit_compile`: the larger of a
    2048x2048 matrix product (a Dense layer on a batch of 2048) and a 3x3 convolution at
    32x32x256, batch 32, forward and backward (a one-layer model's training step)."""
    key = (dtype_policy, bool(jit_compile))
    if key in _PEAKS:
        return _PEAKS[key]
    rng = np.random.default_rng(0)
    settings = Settings(bool(jit_compile), dtype_policy)
    # Dense: 2 * 2048^3 FLOPs per product.
    dense = _build_under(
        settings, lambda: keras.Sequential([keras.Input((2048,)), keras.layers.Dense(2048)])
    )
    dense.compile(jit_compile=bool(jit_compile))
    a = rng.standard_normal((2048, 2048)).astype("float32")
    # Convolution: 2 * 32*32*256*256*9 FLOPs per example forward; 3x with the backward.
    conv = _build_under(
        settings,
        lambda: keras.Sequential(
            [keras.Input((32, 32, 256)), keras.layers.Conv2D(256, 3, padding="same")]
        ),
    )
    conv.compile(optimizer="sgd", loss="mse", jit_compile=bool(jit_compile))
    images = rng.standard_normal((32, 32, 32, 256)).astype("float32")
    target = np.zeros_like(images)
    work = {
        "matmul": (lambda: dense.predict_on_batch(a), 2 * 2048**3),
        "conv": (lambda: conv.train_on_batch(images, target), 3 * 2 * 32 * 32**2 * 256**2 * 9),
    }
    best = 0.0
    for call, flops in work.values():
        call()  # compiles
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        best = max(best, flops / min(times) / 1e9)
    _PEAKS[key] = best
    return best


def _flops_per_example(model, length=None):
    """Forward FLOPs of one example; a text model's at `length` tokens."""
    from keras_archs.bench.flops import count_flops

    return count_flops(model, None if length is None else (length,))


def bench(
    name: str,
    *,
    mode: str = "train",
    batch_size: int | None = None,
    input_size: int | None = None,
    steps: int = 10,
    rounds: int = 3,
    precision: str = "auto",
    jit: str = "auto",
    against: str = "auto",
    warn=print,
) -> list[dict]:
    """Measures `name` (see the module docstring); returns one dict per contender with
    the fields of `FIELDS`. `precision` and `jit` override the policy of keras_archs'
    own contender only."""
    spec = check_bench(name, mode, batch_size, input_size, steps, rounds, precision, jit, against)
    text = spec.family in ("gpt", "bert")
    batch_size = batch_size or (8 if text else 32)
    from keras_archs.training.policy import choose_policy

    policy = choose_policy(spec.name, jit=jit, precision=precision)
    rng = np.random.default_rng(0)
    x, y = _inputs(spec, batch_size, input_size, rng)
    anchor = anchor_name(spec.name) if against == "auto" else None
    if against == "auto" and not anchor_available(spec.name):
        warn(
            f"no anchor for {spec.name!r} ("
            + ("its library is not installed" if anchor else "no other library has it")
            + "); measuring keras_archs alone."
        )
        anchor = None
    if text:
        config = _text_config(spec)
        size = x["token_ids"].shape[1]
        ours = lambda: spec.build(**config)  # noqa: E731
    else:
        size = x.shape[1]
        # The anchor's 1,000-class head when there is one; else the model's own.
        head = {"classes": 1000} if anchor else {}
        ours = lambda: spec.build(input_shape=x.shape[1:], **head)  # noqa: E731
    contenders = [
        _Contender("keras_archs", ours, Settings(policy.jit_compile, policy.dtype_policy))
    ]
    if anchor:
        kwargs = dict(model_kwargs=config) if text else dict(input_shape=x.shape[1:])
        contenders.append(_Contender("keras_archs@keras_defaults", ours, KERAS_DEFAULTS))
        contenders.append(
            _Contender(anchor, lambda: build_anchor(spec.name, **kwargs), KERAS_DEFAULTS)
        )
    if mode == "serve":
        return _serve(spec, contenders, x, batch_size, size, steps, rounds, anchor)
    for c in contenders:
        _prepare(c, spec, mode, x, y, steps)
    _alternate(contenders, rounds)
    length = size if text else None
    flops = _flops_per_example(contenders[0].model, length) * (3 if mode == "train" else 1)
    return _rows(spec, contenders, mode, batch_size, size, steps, flops, anchor, text)


def _rows(spec, contenders, mode, batch_size, size, steps, flops, anchor, text):
    per_step = batch_size * (size if text else 1)
    if text:
        flops /= size  # per token
    anchor_c = contenders[-1] if anchor else None
    rows = []
    for c in contenders:
        step = min(c.times) / steps
        throughput = per_step / step
        precision = c.settings.dtype_policy
        peak = machine_peak(precision, c.jit_compile)
        gflops = flops * throughput / 1e9
        row = {
            "model": spec.name,
            "contender": c.label,
            "mode": mode,
            "unit": "tokens/s" if text else "images/s",
            "batch_size": batch_size,
            "input_size": size,
            "precision": precision,
            "jit_compile": c.jit_compile,
            "throughput": round(throughput, 3),
            "step_ms": round(step * 1000, 3),
            "round_spread": round(max(c.times) / min(c.times) - 1, 4),
            "compile_s": round(c.compile_s, 3),
            "peak_rss_mb": round(c.rss_mb, 1),
            "gflops_per_s": round(gflops, 2),
            "peak_gflops_per_s": round(peak, 1),
            "peak_fraction": round(gflops / peak, 4) if peak else None,
            "anchor": None,
            "anchor_throughput": None,
            "ratio": None,
            "backend": keras.backend.backend(),
        }
        if anchor_c is not None and c is not anchor_c:
            anchor_step = min(anchor_c.times) / steps
            row["anchor"] = anchor_c.label
            row["anchor_throughput"] = round(per_step / anchor_step, 3)
            row["ratio"] = round(anchor_step / step, 4)
        rows.append(row)
    return rows


# --- serving -----------------------------------------------------------------------------
_SERVE = r"""
import json, sys, time
import numpy as np
import tensorflow as tf

paths = json.loads(sys.argv[1])
batch, steps, rounds = (int(v) for v in sys.argv[2:5])
calls = []
rng = np.random.default_rng(0)
for path in paths:
    loaded = tf.saved_model.load(path)
    fn = loaded.signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    feed = {}
    for key, spec in specs.items():
        shape = [batch if d is None else d for d in spec.shape]
        if spec.dtype.is_floating:
            feed[key] = tf.constant(rng.standard_normal(shape), spec.dtype)
        else:
            feed[key] = tf.zeros(shape, spec.dtype)
    start = time.perf_counter(); fn(**feed); first = time.perf_counter() - start
    calls.append((loaded, fn, feed, first, []))
for _ in range(rounds):
    for loaded, fn, feed, first, times in calls:
        start = time.perf_counter()
        for _ in range(steps):
            out = fn(**feed)
        [v.numpy() for v in out.values()]
        times.append(time.perf_counter() - start)
print(json.dumps([[t, first] for _, _, _, first, t in calls]))
"""


def _serve(spec, contenders, x, batch_size, size, steps, rounds, anchor):
    """Exports each contender (keras_archs: `export_saved_model`; the anchor: its own
    `model.export`) and times `serving_default` in a plain TensorFlow process."""
    from keras_archs.export import export_saved_model

    served = [c for c in contenders if c.label != "keras_archs@keras_defaults"]
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for i, c in enumerate(served):
            model = _build_under(c.settings, c.build)
            if c.label == "keras_archs":
                # The model's own inputs, as the anchor's export takes them.
                path = export_saved_model(
                    model,
                    os.path.join(root, str(i)),
                    version=1,
                    name=spec.name,
                    preprocessing=None,
                    tokenizer=None,
                )
                paths.append(path)
            else:
                path = os.path.join(root, str(i))
                model.export(path, format="tf_saved_model", verbose=False)
                paths.append(path)
            c.jit_compile = False  # a SavedModel runs TensorFlow's graph as exported
            del model
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _SERVE,
                json.dumps(paths),
                str(batch_size),
                str(steps),
                str(rounds),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
        )
        if proc.returncode:
            raise RuntimeError(f"serving the SavedModels failed: {proc.stderr[-2000:]}")
    for c, (times, first) in zip(served, json.loads(proc.stdout.strip().splitlines()[-1])):
        c.times, c.compile_s = times, first
    text = spec.family in ("gpt", "bert")
    model = _build_under(served[0].settings, served[0].build)
    flops = _flops_per_example(model, size if text else None)
    return _rows(spec, served, "serve", batch_size, size, steps, flops, anchor, text)

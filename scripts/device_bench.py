"""Accelerator throughput of keras_archs' ResNet50 and GPT-2 small, one backend per process.

    KERAS_BACKEND=jax   python3 scripts/device_bench.py [--json PATH] [--budget-seconds S]
    KERAS_BACKEND=torch python3 scripts/device_bench.py ...
    python3 scripts/device_bench.py --smoke          # the same path, small models, on a CPU
    python3 scripts/device_bench.py --report PATH    # one table of a JSON-lines file

Written for a GPU machine that has JAX and PyTorch but neither TensorFlow nor a network
(scripts/device_bench.sh installs Keras there from carried wheels and runs this file under
both backends): the numbers a user of the zoo would get from Keras' own training and
prediction calls on such a machine, against the chip's datasheet peak.

What is measured, on synthetic data (no dataset, no TensorFlow), everything under the
`mixed_bfloat16` dtype policy and `jit_compile=True` (XLA under JAX, `torch.compile`
under PyTorch; `--no-jit` measures PyTorch's eager mode instead, whose rows say
"eager"):

- ResNet50 (224x224x3, 1,000 classes): training at batch 256 (SGD with momentum, sparse
  categorical cross-entropy), images/s; prediction at batch 256 and 1.
- GPT-2 small (124M: 12 x 768, vocabulary 50,257) at its full context of 1,024 tokens:
  training at batch 32 (AdamW, next-token cross-entropy), tokens/s; the forward pass at
  batch 32 and 1. The forward model ends in the argmax over the vocabulary (the greedy
  next token at every position): its output is then 4 bytes a token, where the float32
  logits, 200 KB a token, would make the measurement one of the copy back to the host.
  Without dropout (`--dropout` sets it), as GPT-2 reproductions pre-train it: with
  attention dropout Keras' MultiHeadAttention computes attention with explicit score
  matrices instead of the fused kernel (on an H200 under JAX, batch 16: 200.7k tokens/s
  with the preset's 0.1, 299.2k without; batch 32 without: 316.6k).

Every batch is made once and placed on the accelerator with `keras.ops.convert_to_tensor`
(a jax.Array on the default device under JAX, a tensor on "cuda" under PyTorch), so
`train_on_batch` / `predict_on_batch` copy nothing to the device in the timed steps. Both
calls return their (small) result to the host, so each step ends with a synchronisation,
as a training loop that reads its loss does; the rounds end with one more
(`block_until_ready` / `torch.cuda.synchronize`). The first two calls of a measurement
(compilation, cuDNN's and XLA's autotuning, first-use allocations) are kept out of the
timings and reported as `compile_s` (their seconds beyond two steady steps). Then
`rounds` rounds of `steps` steps are timed; `step_ms` is the median round over `steps`.

Under PyTorch, cuDNN's benchmark mode is on (the shapes are fixed; XLA autotunes its
convolutions likewise) and torch.compile runs at its defaults. Keras' layers break its
graph in places: each row's `notes` says how many graphs it compiled and why it broke most.

MFU (model FLOP utilisation): FLOPs done per second over the chip's dense bf16 peak, read
from its name (`PEAK_TFLOPS`; null for a chip not listed, a CPU included). Training counts
3 times the forward FLOPs (the backward pass costs about twice the forward). The forward
FLOPs of one example are `keras_archs.bench.flops.count_flops(model)` (a multiply-add
counts 2), or the published formulas of `published_flops` where that is not available.

`--budget-seconds` bounds one process: a measurement is not started with less than
`--min-seconds` left, and at the deadline a watchdog ends the process, after saying which
measurements it skipped and writing what was measured. Each result is written (appended)
to the `--json` file as soon as it is measured, so an interrupted run keeps its rows.
"""

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
import threading
import time
import traceback

# The fields of one JSON line, in this order.
FIELDS = (
    "model",
    "mode",
    "backend",
    "batch_size",
    "input",
    "precision",
    "throughput",
    "unit",
    "step_ms",
    "compile_s",
    "mfu",
    "tflops",
    "flops_source",
    "steps",
    "rounds",
    "device",
    "placement",
    "notes",
    "skipped",
)
PRECISION = "mixed_bfloat16"
# Dense bf16 peaks of the datasheets, TFLOP/s, matched in order against the words of the
# lower-cased device name (jax's `device_kind`, torch's `get_device_name`, e.g. "NVIDIA
# H100 80GB HBM3" for the SXM part): the PCIe and NVL parts share the SXM part's model
# number but are slower, so they come first.
PEAK_TFLOPS = (
    (("h200", "nvl"), 835.0),
    (("h100", "nvl"), 835.0),
    (("h100", "pcie"), 756.0),
    (("h200",), 989.0),
    (("h100",), 989.0),
    (("a100",), 312.0),
    (("l4",), 121.0),
)


@dataclasses.dataclass(frozen=True)
class Case:
    """One measurement: `model` (a registry name) in `mode` at `batch_size` and `size`
    (an image's side, or a text model's context in tokens)."""

    model: str
    mode: str
    batch_size: int
    size: int
    steps: int
    rounds: int

    @property
    def text(self):
        return self.model.startswith("gpt")

    @property
    def label(self):
        return f"{self.model} {self.mode} batch {self.batch_size} at {self.size}"


def plan(smoke=False):
    """The measurements, most wanted first: with too little time, the training numbers of
    both models survive. `smoke`: the same measurements of the same families' small
    members (ResNet-18 at 32x32, GPT mini at 64 tokens), with one step a round, that a
    CPU runs in seconds."""
    if smoke:
        # XLA's compilation is most of a smoke run, and it grows with the layers, not
        # with the sizes: ResNet-18, built by the same family builder and measured by
        # the same code, takes 22 s of measurements where ResNet-50 took 37 s on a
        # 2-core CPU. Two rounds still make a median; the batches are the smallest that differ
        # from the latency batch of 1.
        image, text = ("resnet18", 32, 2), ("gpt_mini", 64, 2)
        steps = {"train": 1, "infer": 1}
        rounds = 2
        large = {"resnet18": 2, "gpt_mini": 2}
    else:
        image, text = ("resnet50", 224, 256), ("gpt2", 1024, 32)
        # A second or less of work per round at the rates an H100 reaches.
        steps = {"train": 10, "infer": 10}
        rounds = 3
        large = {"resnet50": 256, "gpt2": 32}
    cases = []
    for name, size, batch in (image, text):
        cases.append(Case(name, "train", batch, size, steps["train"], rounds))
    for name, size, _ in (image, text):
        cases.append(Case(name, "infer", large[name], size, steps["infer"], rounds))
    # Batch 1 is latency: many short steps.
    for name, size, _ in (image, text):
        cases.append(Case(name, "infer", 1, size, 3 * steps["infer"], rounds))
    return cases


def peak_tflops(device):
    """The datasheet's dense bf16 TFLOP/s of the chip named `device`, or None."""
    # Whole words only: "l4" is not the L40S, a chip three times faster.
    words = set(re.split(r"[^a-z0-9]+", device.lower()))
    for parts, tflops in PEAK_TFLOPS:
        if words.issuperset(parts):
            return tflops
    return None


def published_flops(case, model):
    """Forward FLOPs of one example from the published formulas (a multiply-add is 2),
    for when `count_flops` is missing or fails."""
    if not case.text:
        # Multiply-adds at 224x224 (He et al. 2015, Table 1; ResNet-50's for the
        # stride-in-the-1x1 layout Keras builds); convolutions scale with the image area.
        multiply_adds = {"resnet18": 1.8e9, "resnet50": 3.9e9}[case.model]
        return 2 * multiply_adds * (case.size / 224) ** 2
    import numpy as np

    embedding = model.get_layer("token_embedding")
    layers = len([x for x in model.layers if x.name.startswith("transformer_layer_")])
    d_model = model.get_layer("layer_norm").gamma.shape[0]
    vocabulary = model.output_shape[-1]
    embedding_params = sum(int(np.prod(v.shape)) for v in embedding.weights)
    non_embedding = model.count_params() - embedding_params
    # Per token (Kaplan et al. 2020): 2 x the non-embedding parameters, plus the tied
    # output projection (a d_model x vocabulary product that the embedding's parameter
    # count hides), plus attention's QK^T and AV over the whole context, all of it
    # computed under a causal mask.
    per_token = 2 * non_embedding + 2 * d_model * vocabulary + 2 * 2 * layers * case.size * d_model
    return per_token * case.size


class Recorder:
    """Prints each result and appends it to the JSON-lines file; thread-safe, since the
    watchdog may write the skipped measurements while the main thread measures."""

    def __init__(self, path):
        self.path = path
        self.rows = []
        self.lock = threading.RLock()

    def add(self, row):
        row = {key: row.get(key) for key in FIELDS}
        with self.lock:
            self.rows.append(row)
            if self.path:
                with open(self.path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if row["skipped"]:
                print(
                    f"SKIPPED {row['model']} {row['mode']} batch {row['batch_size']}: "
                    f"{row['skipped']}",
                    flush=True,
                )
            else:
                print(
                    f"{row['backend']} {row['model']} {row['mode']} batch {row['batch_size']}"
                    f" at {row['input']}: {row['throughput']:,.1f} {row['unit']}, "
                    f"{row['step_ms']:.2f} ms/step, compile {row['compile_s']:.1f} s, "
                    f"MFU {_percent(row['mfu'])}" + (f"; {row['notes']}" if row["notes"] else ""),
                    flush=True,
                )


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def print_table(rows, title="device_bench"):
    """One table of result rows (rich's when it is installed)."""
    columns = ("model", "mode", "backend", "batch", "input", "throughput", "unit", "step ms")
    columns += ("compile s", "TFLOP/s", "MFU", "device")
    lines = []
    for r in rows:
        if r.get("skipped"):
            cells = [r["model"], r["mode"], r["backend"], r["batch_size"], r["input"]]
            cells += ["skipped", r["skipped"], "", "", "", "", r.get("device") or ""]
        else:
            cells = [r["model"], r["mode"], r["backend"], r["batch_size"], r["input"]]
            cells += [f"{r['throughput']:,.1f}", r["unit"], f"{r['step_ms']:.2f}"]
            cells += [f"{r['compile_s']:.1f}", _tflops(r), _percent(r["mfu"]), r["device"]]
        lines.append([str(c) for c in cells])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for cells in [list(columns), *lines]:
            print("  ".join(cells))
        return
    table = Table(title=f"{title} ({PRECISION})")
    for c in columns:
        table.add_column(c, justify="right" if c not in ("model", "mode", "unit") else "left")
    for cells in lines:
        table.add_row(*cells)
    Console(width=max(160, Console().width)).print(table)


def _tflops(row):
    # Three significant digits: a CPU's few GFLOP/s stay readable next to a GPU's hundreds.
    return "" if row.get("tflops") is None else f"{row['tflops']:.3g}"


# --- the measurements (Keras imported) -----------------------------------------------------
class Bench:
    """Builds each model once, under the dtype policy, and measures the cases."""

    def __init__(self, dropout=0.0, image_data_format=None, jit_compile=True):
        import keras

        self.keras = keras
        self.dropout = dropout
        self.jit_compile = jit_compile
        if image_data_format:
            keras.config.set_image_data_format(image_data_format)
        self.backend = keras.backend.backend()
        self.models = {}
        self.flops = {}
        self.device = _device_name(self.backend)
        self.peak = peak_tflops(self.device)
        if self.backend == "torch":
            import torch

            # Fixed shapes: let cuDNN time its convolution algorithms once and keep the
            # fastest, as XLA's autotuner does.
            torch.backends.cudnn.benchmark = True
        keras.config.set_dtype_policy(PRECISION)

    def model(self, case):
        """The case's model, built and compiled on first use (training and prediction of
        one model share its weights)."""
        key = (case.model, case.size)
        if key in self.models:
            return self.models[key]
        keras = self.keras
        from keras_archs import create_model
        from keras_archs.training import prime_gradients

        if case.text:
            model = create_model(case.model, sequence_length=case.size, dropout=self.dropout)
            optimizer = keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        else:
            shape = self._image_shape(case)
            model = create_model(case.model, weights=None, input_shape=shape, classes=1000)
            optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
            loss = keras.losses.SparseCategoricalCrossentropy()
        model.compile(optimizer=optimizer, loss=loss, jit_compile=self.jit_compile)
        # torch.compile would otherwise compile the training step a second time at the
        # second step, once gradients exist (see prime_gradients).
        prime_gradients(model)
        forward = model
        if case.text:
            argmax = keras.ops.argmax(model.output, axis=-1)
            forward = keras.Model(model.input, argmax, name=f"{model.name}_next_tokens")
            forward.compile(jit_compile=self.jit_compile)
        self.flops[key] = self._forward_flops(case, model)
        self.models[key] = (model, forward)
        return model, forward

    def _forward_flops(self, case, model):
        try:
            from keras_archs.bench.flops import count_flops

            return float(count_flops(model)), "count_flops"
        except Exception as error:  # a missing or failing counter: the published formula
            print(
                f"count_flops unavailable ({type(error).__name__}: {error}); "
                "using the published formula",
                flush=True,
            )
            return float(published_flops(case, model)), "published"

    def batch(self, case):
        """Inputs and labels for one step, made on the host once and moved to the device."""
        import numpy as np

        ops = self.keras.ops
        rng = np.random.default_rng(0)
        if case.text:
            vocabulary = self.models[(case.model, case.size)][0].output_shape[-1]
            tokens = rng.integers(0, vocabulary, (case.batch_size, case.size), dtype="int32")
            x = {"token_ids": tokens, "padding_mask": np.ones_like(tokens)}
            y = tokens
        else:
            shape = self._image_shape(case)
            x = rng.standard_normal((case.batch_size, *shape), dtype="float32")
            y = rng.integers(0, 1000, case.batch_size, dtype="int32")
        tree = self.keras.tree
        return tree.map_structure(ops.convert_to_tensor, x), ops.convert_to_tensor(y)

    def sync(self, model):
        """Waits for the device's queued work."""
        if self.backend == "jax":
            import jax

            jax.block_until_ready([v.value for v in model.trainable_variables])
        elif self.backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()

    def measure(self, case):
        model, forward = self.model(case)
        x, y = self.batch(case)
        if case.mode == "train":

            def step():
                model.train_on_batch(x, y)

        else:

            def step():
                forward.predict_on_batch(x)

        breaks = _graph_breaks(self.backend)
        warm = []
        for _ in range(2):
            start = time.perf_counter()
            step()
            self.sync(model)
            warm.append(time.perf_counter() - start)
        times = []
        for _ in range(case.rounds):
            start = time.perf_counter()
            for _ in range(case.steps):
                step()
            self.sync(model)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times) / case.steps
        # What torch.compile made of the step; nothing to say of an eager one.
        compiled = _graph_break_note(self.backend, breaks) if self.jit_compile else None
        per_step = case.batch_size * (case.size if case.text else 1)
        throughput = per_step / seconds
        flops, source = self.flops[(case.model, case.size)]
        if case.text:
            flops /= case.size  # per token, as the throughput counts tokens
        flops *= 3 if case.mode == "train" else 1
        achieved = flops * throughput
        return {
            **self._case(case),
            "throughput": round(throughput, 2),
            "step_ms": round(seconds * 1000, 3),
            "compile_s": round(max(0.0, sum(warm) - 2 * seconds), 2),
            "mfu": round(achieved / (self.peak * 1e12), 4) if self.peak else None,
            "tflops": float(f"{achieved / 1e12:.4g}"),
            "flops_source": source,
            "placement": _placement(self.backend, y),
            "notes": "; ".join(filter(None, (self._settings(case), compiled))) or None,
            "skipped": None,
        }

    def _image_shape(self, case):
        """One image's shape in Keras' image data format."""
        if self.keras.config.image_data_format() == "channels_first":
            return (3, case.size, case.size)
        return (case.size, case.size, 3)

    def _settings(self, case):
        """What a row was measured with that its fields do not say: the text model's
        dropout, the image data format where it is not Keras' default, and eager mode."""
        notes = []
        if case.text:
            notes.append(f"dropout {self.dropout:g}")
        elif self.keras.config.image_data_format() != "channels_last":
            notes.append(self.keras.config.image_data_format())
        if not self.jit_compile:
            notes.append("eager")
        return "; ".join(notes) or None

    def skipped(self, case, reason):
        return {**self._case(case), "skipped": reason}

    def _case(self, case):
        """The fields that name a measurement, measured or skipped."""
        return {
            "model": case.model,
            "mode": case.mode,
            "backend": self.backend,
            "batch_size": case.batch_size,
            "input": case.size,
            "precision": PRECISION,
            "unit": "tokens/s" if case.text else "images/s",
            "steps": case.steps,
            "rounds": case.rounds,
            "device": self.device,
        }


def _device_name(backend):
    """The accelerator's name as its driver gives it, or "cpu"."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform == "gpu" else "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "cpu"


def _graph_breaks(backend):
    """torch.compile's graph breaks so far, by reason, and the graphs it compiled (None
    under other backends)."""
    if backend != "torch":
        return None
    from torch._dynamo.utils import counters

    return dict(counters["graph_break"]), counters["stats"]["unique_graphs"]


def _graph_break_note(backend, before):
    """What torch.compile made of a measurement's step: each graph break splits the step
    into separately compiled graphs with Python between them, which is where the compiled
    step loses speed (and a code object recompiled past dynamo's limit runs eagerly)."""
    if backend != "torch":
        return None
    (breaks, graphs), (old_breaks, old_graphs) = _graph_breaks(backend), before
    new = {k: v - old_breaks.get(k, 0) for k, v in breaks.items() if v > old_breaks.get(k, 0)}
    note = f"{graphs - old_graphs} graphs compiled, {sum(new.values())} graph breaks"
    if new:
        # A reason's first line names its kind; the rest is an explanation and hints.
        top = str(max(new, key=new.get)).strip().splitlines()[0][:120]
        note += f" ({len(new)} reasons; most: {top})"
    return note


def _placement(backend, tensor):
    """Where a batch tensor lives: proof that the timed steps read device memory."""
    if backend == "jax":
        return ",".join(str(d) for d in tensor.devices())
    return str(getattr(tensor, "device", "host"))


def _versions():
    import importlib.metadata as metadata

    found = []
    for package in ("keras", "jax", "jaxlib", "torch"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def select(cases, only):
    """The cases named by `only` ("MODEL:MODE" or "MODEL:MODE:BATCH", the latter at that
    batch size), in the plan's order; every case when `only` is empty. An entry that
    names no case of the plan is a ValueError."""
    if not only:
        return cases
    known = sorted({f"{c.model}:{c.mode}" for c in cases})
    for entry in only:
        parts = entry.split(":")
        if (
            len(parts) not in (2, 3)
            or ":".join(parts[:2]) not in known
            or (len(parts) == 3 and not (parts[2].isdigit() and int(parts[2]) > 0))
        ):
            raise ValueError(
                f"--only got {entry!r}; accepted: MODEL:MODE or MODEL:MODE:BATCH (a positive "
                f"batch size) with MODEL:MODE one of {', '.join(known)}"
            )
    chosen = []
    for case in cases:
        for entry in only:
            model, mode, *batch = entry.split(":")
            if (model, mode) == (case.model, case.mode) and (not batch or case.batch_size != 1):
                size = int(batch[0]) if batch else case.batch_size
                chosen.append(dataclasses.replace(case, batch_size=size))
    return chosen


def run(args):
    """Measures every case of the plan under this process's backend; returns the rows."""
    deadline = time.monotonic() + args.budget_seconds
    recorder = Recorder(args.json)
    cases = args.cases
    bench = Bench(args.dropout, args.image_data_format, jit_compile=not args.no_jit)
    print(
        f"backend {bench.backend} on {bench.device} (peak "
        f"{bench.peak or 'unknown'} TFLOP/s bf16); {_versions()}; Python "
        f"{sys.version.split()[0]}; budget {args.budget_seconds:.0f} s",
        flush=True,
    )
    # The rows so far and the first case without one; `done` once the rest is recorded.
    # Both threads change them under the recorder's lock, so each case gets one row.
    state = {"next": 0, "done": False}

    def record(row):
        with recorder.lock:
            if not state["done"]:
                recorder.add(row)
                state["next"] += 1

    def skip_rest(reason):
        with recorder.lock:
            if not state["done"]:
                for case in cases[state["next"] :]:
                    recorder.add(bench.skipped(case, reason))
                state["done"] = True

    def out_of_time():
        # The main thread may be inside a compilation that Python cannot interrupt:
        # record what is left, print the table and end the process from here.
        skip_rest(f"the budget of {args.budget_seconds:.0f} s ran out")
        print_table(recorder.rows, f"device_bench, {bench.backend}")
        sys.stdout.flush()
        os._exit(0 if any(not r["skipped"] for r in recorder.rows) else 1)

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), out_of_time)
    watchdog.daemon = True
    watchdog.start()
    for case in cases:
        left = deadline - time.monotonic()
        if left < args.min_seconds:
            skip_rest(f"{max(left, 0):.0f} s of the {args.budget_seconds:.0f} s budget left")
            break
        print(f"measuring {case.label} ({left:.0f} s left)", flush=True)
        try:
            row = bench.measure(case)
        except Exception as error:  # one failure (out of memory, say) spares the rest
            traceback.print_exc()
            row = bench.skipped(case, f"failed: {type(error).__name__}: {str(error)[:200]}")
        record(row)
    watchdog.cancel()
    with recorder.lock:
        state["done"] = True
    print_table(recorder.rows, f"device_bench, {bench.backend}")
    return recorder.rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for a CPU")
    out = os.environ.get("OUT")
    parser.add_argument(
        "--json",
        default=os.path.join(out, "device_bench.jsonl") if out else None,
        help="JSON-lines file the results are appended to (default $OUT/device_bench.jsonl)",
    )
    parser.add_argument("--budget-seconds", type=float, default=240.0)
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=None,
        help="start no measurement with less left (default 20, 0 with --smoke)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="MODEL:MODE[:BATCH]",
        help="measure only these, e.g. resnet50:train gpt2:train:32 (a batch size "
        "replaces the plan's; without one, every batch size of the plan)",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="the text model's dropout rate (default 0: pre-training without dropout, "
        "which lets attention use the fused kernel)",
    )
    parser.add_argument(
        "--image-data-format",
        choices=("channels_last", "channels_first"),
        default=None,
        help="Keras' image data format for the image model (default: Keras' own)",
    )
    parser.add_argument(
        "--no-jit",
        action="store_true",
        help="compile with jit_compile=False: PyTorch's eager mode (under JAX every op "
        "would then run alone)",
    )
    parser.add_argument("--backend", choices=("jax", "torch"), help="default: $KERAS_BACKEND")
    parser.add_argument("--report", metavar="PATH", help="print the table of a JSON-lines file")
    args = parser.parse_args(argv)
    if args.min_seconds is None:
        args.min_seconds = 0.0 if args.smoke else 20.0
    try:
        args.cases = select(plan(args.smoke), args.only)
    except ValueError as error:  # before Keras is imported: one line, exit status 2
        parser.error(str(error))
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout got {args.dropout}; accepted: a rate in [0, 1)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        with open(args.report) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        print_table(rows, f"device_bench: {args.report}")
        return 0
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    # `python3 scripts/device_bench.py` from anywhere: keras_archs is this repository's.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows = run(args)
    return 0 if any(not r["skipped"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

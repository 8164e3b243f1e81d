"""Where a model's training step spends its time on a CPU, from oneDNN's own log.

    python scripts/profile_train.py resnet50 --input-size 128 --batch-size 16 \
        --precision mixed_bfloat16 [--steps 3] [--json out.json]

TensorFlow runs convolutions, matrix products and the layout conversions between them
("reorders") through oneDNN on x86 CPUs. With `ONEDNN_VERBOSE=1` oneDNN prints one line
per primitive it executes, with its kind, implementation, propagation kind (forward,
backward data, backward weights), shapes and milliseconds; `ONEDNN_VERBOSE_TIMESTAMP=1`
adds the time it started. The model trains in a child process with both set (a few
warm-up steps, then `--steps` timed steps of `train_on_batch` on one resident synthetic
batch, the bench's setting); the lines that start inside the timed window are summed by
primitive and propagation kind and set against the window's wall time. What oneDNN does
not run (BatchNormalization, which Keras 3 computes from element-wise TensorFlow ops,
the casts of mixed precision, the optimizer's updates) is the remainder. TensorFlow runs
independent ops at once on its inter-op threads, so primitives can overlap and the
remainder is a lower bound (it went negative for ResNet50 in float32, whose convolutions
overlapped most). The convolution rows are also split by output feature-map side, which
shows where the small late stages stand.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(args):
    """Trains in this process (ONEDNN_VERBOSE is set) and writes the timed window."""
    import keras
    import numpy as np

    from keras_archs import create_model

    keras.config.set_dtype_policy(args.precision)
    size = args.input_size
    model = create_model(
        args.model, weights=None, input_shape=(size, size, 3), classes=args.classes
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size, size, size, 3)).astype("float32")
    y = rng.integers(0, args.classes, args.batch_size)
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    start = time.time()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    end = time.time()
    with open(args.window, "w") as f:
        json.dump({"start_ms": start * 1000, "end_ms": end * 1000}, f)


# One executed primitive: "onednn_verbose,[v1,]<timestamp>,[primitive,]exec,<engine>,
# <kind>,<implementation>,<propagation>,...,<milliseconds>"; the field layout moved
# between oneDNN versions, so the fields are found by what they hold.
_EXEC = re.compile(r"^onednn_verbose,")


def parse(lines, start_ms, end_ms):
    """[(timestamp_ms, kind, implementation, propagation, shape, ms)] of the executed
    primitives that started inside [start_ms, end_ms]."""
    found = []
    for line in lines:
        if not _EXEC.match(line):
            continue
        fields = line.rstrip("\n").split(",")
        if "exec" not in fields:
            continue
        at = fields.index("exec")
        stamps = [f for f in fields[1:at] if re.fullmatch(r"\d+(\.\d+)?", f)]
        if not stamps:
            continue
        stamp = float(stamps[0])
        if not start_ms <= stamp <= end_ms:
            continue
        kind, implementation, propagation = fields[at + 2 : at + 5]
        shape = next((f for f in reversed(fields[:-1]) if re.match(r"^(mb|g)\d|^\d+x\d+", f)), "")
        found.append((stamp, kind, implementation, propagation, shape, float(fields[-1])))
    return found


def _output_side(shape):
    # Convolution descriptors read "...ih128oh64kh7..."; the output height stands for the
    # feature map's side.
    match = re.search(r"oh(\d+)", shape)
    return int(match.group(1)) if match else None


def summarise(records, wall_ms, steps):
    """Per-step milliseconds by (kind, propagation), by convolution output side, the
    oneDNN total and what is left of the wall time."""
    by_kind = collections.Counter()
    calls = collections.Counter()
    by_side = collections.Counter()
    for _, kind, _, propagation, shape, ms in records:
        by_kind[(kind, propagation)] += ms / steps
        calls[(kind, propagation)] += 1 / steps
        if kind == "convolution":
            by_side[(_output_side(shape), propagation)] += ms / steps
    onednn = sum(by_kind.values())
    step = wall_ms / steps
    return {
        "step_ms": round(step, 2),
        "onednn_ms": round(onednn, 2),
        "outside_onednn_ms": round(step - onednn, 2),
        "by_kind": [
            {
                "kind": kind,
                "propagation": propagation,
                "ms": round(ms, 2),
                "calls": round(calls[(kind, propagation)]),
                "of_step": round(ms / step, 4),
            }
            for (kind, propagation), ms in by_kind.most_common()
        ],
        "convolution_by_output_side": [
            {"side": side, "propagation": propagation, "ms": round(ms, 2)}
            for (side, propagation), ms in sorted(
                by_side.items(), key=lambda item: (-(item[0][0] or 0), item[0][1])
            )
        ],
    }


def profile(args):
    with tempfile.TemporaryDirectory() as folder:
        window = os.path.join(folder, "window.json")
        log = os.path.join(folder, "onednn.log")
        env = dict(os.environ, ONEDNN_VERBOSE="1", ONEDNN_VERBOSE_TIMESTAMP="1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env["KERAS_BACKEND"] = "tensorflow"  # oneDNN is TensorFlow's CPU library here
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        command = [sys.executable, __file__, *sys.argv[1:], "--child", "--window", window]
        with open(log, "w") as out:
            proc = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode:
            sys.exit(f"the training process failed: {proc.stderr[-2000:]}")
        with open(window) as f:
            span = json.load(f)
        with open(log, errors="replace") as f:
            records = parse(f, span["start_ms"], span["end_ms"])
    if not records:
        sys.exit(
            "oneDNN logged nothing in the timed steps: this TensorFlow does not use oneDNN "
            "(TF_ENABLE_ONEDNN_OPTS=0, or not an x86 CPU)"
        )
    summary = summarise(records, span["end_ms"] - span["start_ms"], args.steps)
    summary.update(
        model=args.model,
        input_size=args.input_size,
        batch_size=args.batch_size,
        precision=args.precision,
        steps=args.steps,
        implementations=sorted({r[2] for r in records if r[1] == "convolution"}),
    )
    return summary


def report(summary):
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{summary['model']} training, {summary['input_size']}px, batch "
        f"{summary['batch_size']}, {summary['precision']}: {summary['step_ms']:.0f} ms a step, "
        f"oneDNN {summary['onednn_ms']:.0f} ms, "
        f"outside oneDNN {summary['outside_onednn_ms']:.0f} ms"
    )
    for column in ("primitive", "propagation", "ms/step", "calls/step", "of step"):
        table.add_column(
            column, justify="left" if column in ("primitive", "propagation") else "right"
        )
    for row in summary["by_kind"]:
        table.add_row(
            row["kind"],
            row["propagation"],
            f"{row['ms']:.1f}",
            str(row["calls"]),
            f"{row['of_step']:.1%}",
        )
    table.add_row(
        "(outside oneDNN)",
        "",
        f"{summary['outside_onednn_ms']:.1f}",
        "",
        f"{summary['outside_onednn_ms'] / summary['step_ms']:.1%}",
    )
    console = Console(width=132)
    console.print(table)
    sides = Table(title="convolutions by output side (ms/step)")
    for column in ("side", "propagation", "ms/step"):
        sides.add_column(column, justify="right")
    for row in summary["convolution_by_output_side"]:
        sides.add_row(str(row["side"]), row["propagation"], f"{row['ms']:.1f}")
    console.print(sides)
    console.print("convolution implementations: " + ", ".join(summary["implementations"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an image model's registry name, e.g. resnet50")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument(
        "--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16")
    )
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--json", help="also write the summary here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--window", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("input_size", "batch_size", "classes", "steps", "warmup"):
        least = 0 if name == "warmup" else 1
        if getattr(args, name) < least:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} got {getattr(args, name)}; accepted: >= {least}")
    if args.child:
        return child(args)
    summary = profile(args)
    report(summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

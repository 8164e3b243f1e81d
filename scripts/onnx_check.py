"""Exports every registered image classifier to ONNX and checks each file in ONNX Runtime.

    python scripts/onnx_check.py                       # every image model, test sizes
    python scripts/onnx_check.py 'resnet*' vgg16       # fnmatch patterns over them
    python scripts/onnx_check.py --input-size 64       # another (small) image side
    python scripts/onnx_check.py --markdown            # a markdown table
    python scripts/onnx_check.py --json                # one JSON object per model

Each model (registry `task == "image_classification"`) is built at its registry test
configuration (`test_kwargs`: a small input and 10 classes; `--input-size` changes the
side, raised to the model's minimum) with random weights, written with
`keras_archs.export.export_onnx` into a temporary folder (or `--out`), run in ONNX
Runtime on a random batch of 2 and compared with Keras. The table gives, per model, the
conversion method (Keras' `model.export(format="onnx")` or tf2onnx directly), the
conversion's seconds ("export s"), those with the check ("total s"), the CPU seconds of
all this process's threads meanwhile ("CPU s": on a busy machine the wall clock says
little), the file's size and the largest absolute difference from Keras' outputs; a model over
`--atol` (default 1e-4) or whose export fails is marked, and the script then exits 1.
Models run one after another in this process (TensorFlow's start-up is paid once, by
the first), the Keras session cleared between them.
"""

import argparse
import fnmatch
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the ONNX export converts TF graphs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

IMAGE_TASK = "image_classification"


def image_models(patterns=()):
    from keras_archs.registry import get_spec, list_models

    names = [n for n in list_models() if get_spec(n).task == IMAGE_TASK]
    if patterns:
        names = [n for n in names if any(fnmatch.fnmatch(n, p.lower()) for p in patterns)]
    return names


def build(name, input_size=None):
    """The model at its registry test configuration, with `input_size` as its side."""
    from keras_archs.registry import get_spec

    spec = get_spec(name)
    kwargs = dict(spec.test_kwargs)
    if input_size is not None:
        channels = kwargs.get("input_shape", spec.default_input_shape)[-1]
        side = max(input_size, spec.min_input_size)
        kwargs["input_shape"] = (side, side, channels)
    return spec.build(**kwargs)


def check(name, out_dir, input_size=None, atol=1e-4, method="auto"):
    """One row: the export of `name` and its difference from Keras."""
    import keras

    from keras_archs.export import export_onnx

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    row = {"model": name}
    try:
        model = build(name, input_size)
        row["input_shape"] = list(model.inputs[0].shape[1:])
        row["params"] = model.count_params()
        start, cpu = time.perf_counter(), time.process_time()
        result = export_onnx(
            model, os.path.join(out_dir, f"{name}.onnx"), overwrite=True, method=method
        )
        row.update(
            method=result.method,
            export_s=round(result.seconds, 2),
            total_s=round(time.perf_counter() - start, 2),
            cpu_s=round(time.process_time() - cpu, 2),
            max_abs_diff=result.max_abs_diff,
            ok=result.max_abs_diff <= atol,
            mb=round(os.path.getsize(result.path) / 2**20, 2),
            fallback_reason=result.fallback_reason,
        )
    except Exception as e:  # reported in the table; the other models still run
        row.update(ok=False, error=f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
    return row


def print_table(rows, markdown, atol, input_size):
    from keras_archs.export.onnx import KERAS_EXPORT_MAX_BYTES

    columns = (
        "model",
        "input",
        "params",
        "method",
        "export s",
        "total s",
        "CPU s",
        "MB",
        "max abs diff",
    )

    def cells(row):
        if "error" in row:
            return (row["model"], _shape(row), _params(row), "FAILED", *"----", row["error"])
        diff = f"{row['max_abs_diff']:.2e}" + ("" if row["ok"] else f"  > {atol:g}")
        return (
            row["model"],
            _shape(row),
            _params(row),
            row["method"],
            f"{row['export_s']:.1f}",
            f"{row['total_s']:.1f}",
            f"{row['cpu_s']:.1f}",
            f"{row['mb']:.2f}",
            diff,
        )

    size = "registry test sizes" if input_size is None else f"side {input_size}"
    title = f"ONNX export of {len(rows)} image models ({size}), ONNX Runtime vs Keras"
    if markdown:
        print(f"{title}\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(columns))) + "|")
        for row in rows:
            print("| " + " | ".join(cells(row)) + " |")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for i, column in enumerate(columns):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*cells(row))
        Console(width=max(Console().width, 120)).print(table)
    good = sum(r["ok"] for r in rows)
    export_s = sum(r.get("export_s", 0) for r in rows)
    print(f"\n{good}/{len(rows)} within {atol:g}; {export_s:.1f} s of export in all")
    by_size = [r["model"] for r in rows if "MB of weights" in (r.get("fallback_reason") or "")]
    if by_size:
        print(
            f"tf2onnx directly, for weights over {KERAS_EXPORT_MAX_BYTES / 2**20:g} MB (Keras' "
            f"model.export freezes them: minutes for 100 MB): {', '.join(by_size)}"
        )
    for row in rows:
        if row.get("fallback_reason") and row["model"] not in by_size:
            print(f"{row['model']}: tf2onnx, as {row['fallback_reason']}")


def _shape(row):
    return "x".join(str(d) for d in row.get("input_shape", ())) or "-"


def _params(row):
    return f"{row['params']:,}" if "params" in row else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("patterns", nargs="*", help="fnmatch patterns (default: every image model)")
    parser.add_argument("--input-size", type=int, default=None, help="image side (default: test)")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest accepted difference")
    parser.add_argument("--method", default="auto", choices=("auto", "keras", "tf2onnx"))
    parser.add_argument("--out", default=None, help="keep the .onnx files in this folder")
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    parser.add_argument("--markdown", action="store_true", help="a markdown table")
    args = parser.parse_args(argv)

    names = image_models(args.patterns)
    if not names:
        parser.error(f"no image model matches {args.patterns}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or tmp
        for name in names:
            row = check(name, out_dir, args.input_size, args.atol, args.method)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                state = "ok" if row["ok"] else "FAILED" if "error" in row else "OVER ATOL"
                print(f"{name}: {row.get('export_s', '-')} s, {state}", file=sys.stderr)
    if not args.json:
        print_table(rows, args.markdown, args.atol, args.input_size)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

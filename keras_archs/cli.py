"""`keras-archs`: list, inspect, train, export, benchmark and search the architectures.

keras-archs list [PATTERN]
keras-archs info NAME
keras-archs train NAME [--data digits] [--epochs N] [--steps-per-epoch N] [--out DIR]
                  [--optimizer ...] [--augment ...] [--data-arg KEY=VALUE ...] ...
keras-archs train --config RUN/run.json [--out DIR]
keras-archs export NAME_OR_MODEL_FILE [--out saved_models/NAME] [--version N] [--overwrite]
                   [--name NAME] [--preprocessing MODE] [--keep-batch-norms] [--serving-config]
                   [--example-request]
keras-archs export NAME_OR_MODEL_FILE --format onnx [--out DIR | --out FILE.onnx] [--overwrite]
                   [--opset N]
keras-archs bench NAME [--mode train|infer|serve] [--against auto|none] [--json] ...
keras-archs search --out DIR [--data digits] [--children N] [--budget-steps S] [--workers W]
                   [--ray-address HOST:PORT] [--baseline random|none] ...

A bad argument prints one line, `keras-archs COMMAND: error: ...`, and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import sys


def _quiet_tensorflow():
    """Imports Keras (and TensorFlow, when it is the backend) with their C++ start-up
    lines (oneDNN, CUDA probing, CPU features) kept out of the CLI's output: they say
    nothing actionable, and TensorFlow writes some of them before any log level set in
    the environment applies."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_archs.quiet import native_stderr_silenced

    with native_stderr_silenced():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes CUDA, which logs when absent


def _console():
    from rich.console import Console

    return Console()


def _fmt_params(spec):
    if spec.reference_params is None:
        return "-"
    suffix = " (trainable)" if spec.params_kind == "trainable" else ""
    return f"{spec.reference_params:,}{suffix}"


def cmd_list(args):
    from rich.table import Table

    from keras_archs.registry import get_spec, list_models

    table = Table(title="keras_archs models")
    for column in ("name", "family", "year", "task", "params"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for name in list_models(args.pattern):
        spec = get_spec(name)
        table.add_row(name, spec.family, str(spec.year), spec.task, _fmt_params(spec))
    _console().print(table)
    return 0


def cmd_info(args):
    from rich.table import Table

    from keras_archs import model_info

    info = model_info(args.name)
    table = Table(title=info["name"], show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in info.items():
        if key in ("reference_params", "flops") and value is not None:
            value = f"{value:,}"
        table.add_row(key, str(value))
    _console().print(table)
    return 0


# timm's benchmark.py column names, where a measurement has one.
_TIMM_COLUMNS = {
    "throughput": "{mode}_samples_per_sec",
    "step_ms": "{mode}_step_time",
    "batch_size": "{mode}_batch_size",
    "input_size": "{mode}_img_size",
}


def cmd_bench(args):
    import csv
    import json

    from rich.table import Table

    from keras_archs.bench.measure import FIELDS, bench

    if args.csv and os.path.exists(args.csv) and not args.overwrite:
        raise ValueError(f"--csv {args.csv!r} already exists; pass --overwrite to replace it.")
    rows = bench(
        args.name,
        mode=args.mode,
        batch_size=args.batch_size,
        input_size=args.input_size,
        steps=args.steps,
        rounds=args.rounds,
        precision=args.precision,
        jit=args.jit,
        against=args.against,
        warn=lambda message: print(f"keras-archs bench: {message}", file=sys.stderr),
    )
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        table = Table(title=f"{args.name}, {args.mode}, batch {rows[0]['batch_size']}")
        for column in (
            "contender",
            "precision",
            "XLA",
            rows[0]["unit"],
            "ms/step",
            "compile s",
            "GFLOP/s",
            "of peak",
            "ratio",
        ):
            table.add_column(column, justify="left" if column == "contender" else "right")
        for row in rows:
            table.add_row(
                row["contender"],
                row["precision"],
                str(row["jit_compile"]),
                f"{row['throughput']:.1f}",
                f"{row['step_ms']:.1f}",
                f"{row['compile_s']:.1f}",
                f"{row['gflops_per_s']:.1f}",
                f"{row['peak_fraction']:.1%}",
                "-" if row["ratio"] is None else f"{row['ratio']:.2f}x",
            )
        from rich.console import Console

        Console(width=max(_console().width, 132)).print(table)  # a pipe's 80 columns cut it
        print(f"peak (same precision and compiler): {rows[0]['peak_gflops_per_s']} GFLOP/s")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            columns = [_TIMM_COLUMNS.get(k, k).format(mode=args.mode) for k in FIELDS]
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows([[row[k] for k in FIELDS] for row in rows])
    return 0


def _key_values(pairs, flag="--data-arg"):
    """`--data-arg T=600` options of a dataset (or `--model-arg units=64` arguments of a
    builder); numbers become int or float, true/false/none their Python values. The
    dataset or builder refuses a name it does not take."""
    words = {"true": True, "false": False, "none": None}
    result = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"{flag} takes KEY=VALUE; got {pair!r}.")
        if value.lower() in words:
            value = words[value.lower()]
        else:
            for kind in (int, float):
                try:
                    value = kind(value)
                    break
                except ValueError:
                    pass
        result[key] = value
    return result


def _model_kwargs(args):
    """--model-arg pairs, and the cells of --cell-spec read from its file (so that
    run.json records the cells themselves, not a path that may change)."""
    kwargs = _key_values(args.model_arg, "--model-arg")
    if args.cell_spec is not None:
        import inspect

        from keras_archs.applications.nasnet import check_cell_spec
        from keras_archs.registry import get_spec

        if "cell_spec" not in inspect.signature(get_spec(args.name).builder).parameters:
            raise ValueError(
                f"--cell-spec applies to a model built from cell specifications "
                f"(nasnet_custom); {args.name!r} is not one."
            )
        kwargs["cell_spec"] = check_cell_spec(args.cell_spec)
    return kwargs


def cmd_search(args):
    from keras_archs.nas import search

    console = _console()
    report, stop = _search_report(console)
    try:
        summary = _run_search(args, search, report)
    finally:
        stop()
    _print_search_summary(args, console, summary)
    return 0


def _run_search(args, search, report):
    return search(
        args.out,
        workers=args.workers,
        ray_address=args.ray_address,
        report=report,
        data=args.data,
        children=args.children,
        budget_steps=args.budget_steps,
        batch=args.batch,
        seed=args.seed,
        num_blocks=args.blocks,
        cells=args.cells,
        filters=args.filters,
        input_size=args.input_size,
        controller_learning_rate=args.controller_lr,
        entropy_weight=args.entropy_weight,
        baseline=args.baseline,
        threads=args.threads,
    )


def _print_search_summary(args, console, summary):
    from rich.table import Table

    from keras_archs.nas.search import summary_rows

    table = Table(title=f"search in {args.out}")
    columns = ("", "children", "accuracy: first quarter", "last quarter", "best", "entropy")
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    for row in summary_rows(summary):
        table.add_row(*row[: len(columns)])
    console.print(table)
    best = summary["best"]
    print(
        f"best: {best['phase']} child {best['child']}, accuracy {best['accuracy']:.4f}, "
        f"{best['params']:,} parameters: {os.path.join(args.out, 'best.json')} "
        f"(keras-archs train nasnet_custom --cell-spec {os.path.join(args.out, 'best.json')})"
    )


def _search_report(console):
    """`(report, stop)`: one line per trained child; on a terminal, a live table of the
    latest ones, which `stop` ends."""
    from keras_archs.nas.search import describe

    if not console.is_terminal:
        return (lambda record: print(describe(record))), (lambda: None)
    from rich.live import Live
    from rich.table import Table

    rows = []
    live = Live(console=console, auto_refresh=False)
    live.start()
    columns = ("phase", "child", "accuracy", "best so far", "entropy", "seconds", "cells")

    def report(record):
        entropy = record.get("entropy")
        rows.append(
            (record["phase"], str(record["child"]), f"{record['accuracy']:.4f}",
             f"{record['best']:.4f}", "-" if entropy is None else f"{entropy:.3f}",
             f"{record['seconds']:.1f}", record["summary"])
        )  # fmt: skip
        table = Table(title="children (latest 20)")
        for column in columns:
            table.add_column(column)
        for row in rows[-20:]:
            table.add_row(*row)
        live.update(table, refresh=True)

    return report, live.stop


def cmd_train(args):
    from keras_archs.training import resume, train, train_from_config
    from keras_archs.training.fit import RECIPE_ARGUMENTS

    if args.resume:
        if args.out is None or args.config:
            raise ValueError("--resume continues the run in --out RUN (and takes no --config).")
        result = resume(args.out, name=args.name, data=args.data)
    elif args.config:
        if args.name is not None:
            raise ValueError(
                f"--config repeats the run in its file; drop the model name {args.name!r} "
                "(or drop --config)."
            )
        result = train_from_config(args.config, out=args.out)
    else:
        if args.name is None:
            raise ValueError("train needs a model NAME (keras-archs list) or --config run.json.")
        # Each recipe field has its flag (--learning-rate for learning_rate, ...).
        recipe = {k: getattr(args, k) for k in RECIPE_ARGUMENTS}
        result = train(
            args.name,
            data=args.data,
            out=args.out,
            mixup=args.mixup,
            cutmix=args.cutmix,
            steps_per_epoch=args.steps_per_epoch,
            jit=args.jit,
            precision=args.precision,
            seed=args.seed,
            data_kwargs=_key_values(args.data_arg),
            model_kwargs=_model_kwargs(args),
            init_from=args.init_from,
            deterministic=args.deterministic,
            backup_every=args.backup_every,
            tensorboard=args.tensorboard,
            early_stopping=args.early_stopping,
            strategy=args.strategy,
            cpu_devices=args.cpu_devices,
            **recipe,
        )
    print(f"run folder: {result.out_dir} (run.json, model.keras, history.csv, curves.png)")
    print(
        f"trained in {result.seconds:.1f} s (jit_compile={result.jit_compile}, "
        f"dtype_policy={result.dtype_policy})"
    )
    if result.val_accuracy is not None:
        print(f"final validation accuracy: {result.val_accuracy:.4f}")
    else:  # a task's own scores (exact match, masked-token accuracy) or its loss
        scores = {k: v[-1] for k, v in result.history.items() if k.startswith("val_")}
        scores = {k: v for k, v in scores.items() if not k.endswith("loss")} or scores
        if scores:
            listed = ", ".join(f"{k[4:]} {v:.4f}" for k, v in sorted(scores.items()))
            print(f"final validation {listed}")
    return 0


# SavedModel-only options of `export` and their defaults: --format onnx refuses them.
_SAVED_MODEL_ONLY = {
    "version": ("--version", None),
    "preprocessing": ("--preprocessing", "auto"),
    "tokenizer": ("--tokenizer", "auto"),
    "max_new_tokens": ("--max-new-tokens", 32),
    "keep_batch_norms": ("--keep-batch-norms", False),
    "serving_config": ("--serving-config", False),
    "example_request": ("--example-request", False),
}


def cmd_export(args):
    if args.format == "onnx":
        return _export_onnx(args)
    if args.opset is not None:
        raise ValueError("--opset applies to --format onnx only.")
    from keras_archs.export import export_saved_model, load_model_file
    from keras_archs.export.preprocessing import trained_with
    from keras_archs.export.serving import write_example_request, write_serving_config

    source = args.name_or_file
    preprocessing = args.preprocessing
    if source.endswith(".keras") or os.path.isfile(source):
        model, name = load_model_file(source), args.name
        default_out = os.path.splitext(os.path.basename(source))[0]
        # A model trained by `keras-archs train`: its run.json says what it is and how
        # its pixels were fed in training.
        record = trained_with(source)
        name = name or record.get("model")
        if preprocessing == "auto" and "preprocessing" in record:
            preprocessing = record["preprocessing"]
            print(f"preprocessing: {preprocessing!r}, as the model was trained (run.json)")
    else:
        import inspect

        from keras_archs.registry import get_spec

        spec = get_spec(source)
        kwargs = {"weights": args.weights} if args.weights else {}
        if "input_shape" in inspect.signature(spec.builder).parameters:
            # Sequence builders have no default input shape; use the registry's.
            kwargs["input_shape"] = spec.default_input_shape
        name, model = spec.name, spec.build(**kwargs)
        default_out = name
    out = args.out or os.path.join("saved_models", default_out)
    tokenizer = None if args.tokenizer == "none" else args.tokenizer
    path = export_saved_model(
        model,
        out,
        version=args.version,
        overwrite=args.overwrite,
        name=name,
        preprocessing=preprocessing,
        tokenizer=tokenizer,
        max_new_tokens=args.max_new_tokens,
        fold_batch_norms=not args.keep_batch_norms,
    )
    print(f"SavedModel: {path}")
    if args.example_request:
        request = write_example_request(
            model,
            os.path.join(out, "request.json"),
            name=name,
            tokenizer=tokenizer,
            preprocessing=preprocessing,
        )
        model_name = os.path.basename(os.path.abspath(out))
        print(f"example request: {request}")
        print(
            f"  curl -d @{request} -H 'Content-Type: application/json' "
            f"http://localhost:8501/v1/models/{model_name}:predict"
        )
    if args.serving_config:
        print(f"serving config: {write_serving_config(os.path.dirname(os.path.abspath(out)))}")
    return 0


def _is_model_file(source):
    return source.endswith(".keras") or os.path.isfile(source)


def _export_model(args):
    """(model, registry name or None) of a registry name or a .keras file."""
    from keras_archs.export import load_model_file

    source = args.name_or_file
    if _is_model_file(source):
        from keras_archs.export.preprocessing import trained_with

        return load_model_file(source), args.name or trained_with(source).get("model")
    import inspect

    from keras_archs.registry import get_spec

    spec = get_spec(source)
    kwargs = {"weights": args.weights} if args.weights else {}
    if "input_shape" in inspect.signature(spec.builder).parameters:
        # Sequence builders have no default input shape; use the registry's.
        kwargs["input_shape"] = spec.default_input_shape
    return spec.build(**kwargs), spec.name


def _dims(shape):
    """[batch, 32, 32, 1]: a free size is `batch` first (as the file names it), else `?`."""
    sizes = [str(d) if d is not None else "batch" if i == 0 else "?" for i, d in enumerate(shape)]
    return f"[{', '.join(sizes)}]"


def _export_onnx(args):
    """`--format onnx`: OUT/NAME.onnx (or --out FILE.onnx), checked in ONNX Runtime."""
    from keras_archs.export import export_onnx
    from keras_archs.export.onnx import check_onnx_path
    from keras_archs.export.preprocessing import model_spec, takes_images
    from keras_archs.registry import get_spec

    for key, (flag, default) in _SAVED_MODEL_ONLY.items():
        if getattr(args, key) != default:
            raise ValueError(f"{flag} applies to --format saved_model only.")
    source, out = args.name_or_file, args.out or "onnx_models"
    if not out.endswith(".onnx"):
        stem = os.path.splitext(os.path.basename(source))[0]
        out = os.path.join(out, f"{stem if _is_model_file(source) else get_spec(source).name}.onnx")
    check_onnx_path(out, args.overwrite)  # before the model is built: fails fast
    model, name = _export_model(args)
    result = export_onnx(model, out, overwrite=args.overwrite, opset=args.opset)
    print(f"ONNX: {result.path}")
    inputs = ", ".join(f"{k} {dtype}{_dims(shape)}" for k, (shape, dtype) in result.inputs.items())
    print(f"inputs: {inputs}; outputs: {', '.join(result.outputs)}")
    if result.method == "keras":
        how = "Keras' model.export"
    else:
        how = "tf2onnx" + (f" ({result.fallback_reason})" if result.fallback_reason else "")
    print(f"converted by {how} in {result.seconds:.1f} s")
    print(f"ONNX Runtime vs Keras on a random batch: max abs difference {result.max_abs_diff:.3g}")
    if takes_images(model):
        try:
            spec = model_spec(model, name)
        except ValueError:
            spec = None
        mode = getattr(spec, "preprocessing", None)
        if mode is not None:
            print(
                f"the file takes preprocessed pixels ({mode!r}: "
                f"keras_archs.export.preprocess_images(images, {mode!r})), not 0-255 values"
            )
    return 0


def build_parser():
    from keras_archs.export.preprocessing import PREPROCESSING_CHOICES

    parser = argparse.ArgumentParser(
        prog="keras-archs", description="The classic deep-learning architectures in Keras 3."
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's registry metadata")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "train",
        help="train a model with model.fit and write a run folder",
        description="Train a registered model with its family's training recipe (the "
        "paper's optimizer and schedule; flags override) and write a run folder: run.json "
        "(the resolved configuration), model.keras, history.csv, curves.png.",
    )
    p.add_argument("name", nargs="?", help="registry name (keras-archs list)")
    p.add_argument("--config", default=None, help="repeat the run of this run.json (or folder)")
    p.add_argument("--data", default=None, help="dataset name or image folder (default: digits)")
    p.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=None, help="bound each epoch")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--input-size", type=int, default=None, help="image side, e.g. 32")
    p.add_argument("--optimizer", default=None, help="sgd, adam, adamw or rmsprop")
    p.add_argument("--learning-rate", type=float, default=None, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--schedule", default=None, help="constant, step, cosine or linear")
    p.add_argument("--warmup-epochs", type=float, default=None)
    p.add_argument("--label-smoothing", type=float, default=None)
    p.add_argument("--clipnorm", type=float, default=None, help="gradient-norm clipping")
    p.add_argument("--augment", default=None, help="none, basic or randaugment")
    p.add_argument("--mixup", type=float, default=0.0, help="MixUp alpha (0: off)")
    p.add_argument("--cutmix", type=float, default=0.0, help="CutMix alpha (0: off)")
    p.add_argument("--jit", default="auto", help="XLA: auto (measured policy), on or off")
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (measured policy), float32, mixed_bfloat16 or mixed_float16",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-arg",
        action="append",
        metavar="KEY=VALUE",
        help="option of the dataset, e.g. T=600 for adding_problem (repeatable)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed or pre-empted run in --out from its newest good backup",
    )
    p.add_argument(
        "--backup-every",
        type=int,
        default=None,
        metavar="STEPS",
        help="also back up every STEPS steps (a backup is written at every epoch end)",
    )
    p.add_argument(
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TensorBoard logs in OUT/tensorboard (default: on)",
    )
    p.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a lower validation loss",
    )
    p.add_argument(
        "--strategy",
        default="none",
        help="none; mirrored (tf.distribute over local GPUs, or --cpu-devices N logical CPUs); "
        "data_parallel (JAX, keras.distribution); multiworker (JAX, one process per machine, "
        "the cluster from TF_CONFIG; --out on shared storage); model_parallel (JAX, GPT and "
        "BERT weights split over the devices); the batch size is the global batch",
    )
    p.add_argument(
        "--cpu-devices",
        type=int,
        default=None,
        metavar="N",
        help="with --strategy mirrored: split the CPU into N logical devices (testing)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="TensorFlow op determinism: same seed, same weights (CPU); a resumed run "
        "repeats an uninterrupted one",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL_FILE",
        help="start from the weights of a .keras model whose layers match by name, e.g. a "
        "bert_tiny pre-training run's model.keras before fine-tuning on a text folder",
    )
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="argument of the model's builder over its offline defaults, e.g. "
        "attention=bahdanau for seq2seq (repeatable)",
    )
    p.add_argument(
        "--cell-spec",
        default=None,
        metavar="FILE",
        help="nasnet_custom: the cells, a JSON specification (a search's best.json)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "export",
        help="export a SavedModel version for TensorFlow Serving, or an ONNX file",
    )
    p.add_argument("name_or_file", metavar="NAME_OR_MODEL_FILE", help="registry name or .keras")
    p.add_argument(
        "--format",
        choices=("saved_model", "onnx"),
        default="saved_model",
        help="saved_model (default): a TensorFlow Serving version folder; onnx: OUT/NAME.onnx, "
        "run in ONNX Runtime against Keras after writing",
    )
    p.add_argument(
        "--out",
        default=None,
        help="model base path (default: saved_models/NAME); onnx: the folder of NAME.onnx "
        "(default: onnx_models) or a FILE.onnx",
    )
    p.add_argument("--version", type=int, default=None, help="default: next integer")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing version (or .onnx file)"
    )
    p.add_argument("--opset", type=int, default=None, help="onnx: the opset (default: tf2onnx's)")
    p.add_argument(
        "--name",
        default=None,
        help="registry name of a .keras file's model (found from the model's name otherwise)",
    )
    p.add_argument("--weights", default=None, help="weights of a registry model (file, imagenet)")
    p.add_argument(
        "--preprocessing",
        choices=[c for c in PREPROCESSING_CHOICES if c is not None],
        default="auto",
        help="image models: what the serving graph does to 0-255 pixels; 'auto' is the "
        "registry's mode (keras.applications' caffe/tf/torch, 'scale' = x/255), or for a "
        "model.keras of `keras-archs train` the mode its run.json records",
    )
    p.add_argument(
        "--tokenizer",
        default="auto",
        help="text models: WordPiece vocabulary file for string signatures; 'auto' (a "
        "byte-level GPT gets keras-hub's ByteTokenizer) or 'none' (token-id signature only)",
    )
    p.add_argument(
        "--max-new-tokens", type=int, default=32, help="tokens the GPT generate signature adds"
    )
    p.add_argument(
        "--keep-batch-norms",
        action="store_true",
        help="serve BatchNormalization as it is (default: folded into the convolution or "
        "dense layer before it, the same outputs up to rounding, faster)",
    )
    p.add_argument("--serving-config", action="store_true", help="write models.config beside --out")
    p.add_argument(
        "--example-request", action="store_true", help="write a REST body to OUT/request.json"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "bench",
        help="throughput against the machine's peak and against keras.applications / keras-hub",
    )
    p.add_argument("name", help="registry name (keras-archs list)")
    p.add_argument("--mode", default="train", help="train, infer or serve (the SavedModel)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 32 images, 8 texts")
    p.add_argument(
        "--input-size", type=int, default=None, help="image side or tokens (default: the model's)"
    )
    p.add_argument(
        "--precision", default="auto", help="keras_archs' dtype policy (auto: the policy table)"
    )
    p.add_argument("--jit", default="auto", help="keras_archs' XLA: auto (the policy), on, off")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds (the fastest reported)"
    )
    p.add_argument(
        "--against",
        default="auto",
        help="auto: also time the anchor (keras.applications, keras-hub) in alternation; none",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per measurement")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the rows (timm's columns)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "search",
        help="NASNet's architecture search: a controller RNN rewarded by trained children",
        description="Sample cell specifications with an LSTM controller, train each child "
        "network for --budget-steps steps, reward the controller with their validation "
        "accuracy (REINFORCE), then spend the same budget on random cells. Writes "
        "controller.jsonl / random.jsonl (rerunning the command continues from them), "
        "summary.json, search.png and best.json into --out.",
    )
    p.add_argument("--out", required=True, help="the search folder (new, or one to continue)")
    p.add_argument("--data", default="digits", help="image dataset (digits offline, cifar10)")
    p.add_argument("--children", type=int, default=32, help="children for the controller")
    p.add_argument("--budget-steps", type=int, default=50, help="training steps per child")
    p.add_argument("--workers", type=int, default=1, help="children trained at once (Ray)")
    p.add_argument("--ray-address", default=None, help="HOST:PORT of a Ray cluster to join")
    p.add_argument("--batch", type=int, default=4, help="children per controller update")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", default="random", help="random (same budget) or none")
    p.add_argument("--blocks", type=int, default=5, help="blocks per cell (B)")
    p.add_argument("--cells", type=int, default=1, help="Normal cells per stack of a child")
    p.add_argument("--filters", type=int, default=8, help="a child's first-stack filters")
    p.add_argument("--input-size", type=int, default=16, help="the children's image side")
    p.add_argument("--controller-lr", type=float, default=1.0, help="controller SGD rate")
    p.add_argument("--entropy-weight", type=float, default=0.1, help="entropy bonus")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per child")
    p.set_defaults(func=cmd_search)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    _quiet_tensorflow()
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as e:
        if args.debug:
            raise
        print(f"keras-archs {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`keras-archs`: list, inspect, train and export the registered architectures.

keras-archs list [PATTERN]
keras-archs info NAME
keras-archs train NAME [--data digits] [--epochs N] [--batch-size N] [--out DIR]
                  [--data-arg KEY=VALUE ...]
keras-archs export NAME_OR_MODEL_FILE [--out saved_models/NAME] [--version N] [--overwrite]
                   [--name NAME] [--preprocessing MODE] [--serving-config] [--example-request]

A bad argument prints one line, `keras-archs COMMAND: error: ...`, and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import sys


def _quiet_tensorflow():
    # Keep the log readable: TensorFlow's C++ INFO/WARNING lines say nothing actionable here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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

    from keras_archs.registry import model_info

    info = model_info(args.name)
    table = Table(title=info["name"], show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in info.items():
        if key == "reference_params" and value is not None:
            value = f"{value:,}"
        table.add_row(key, str(value))
    _console().print(table)
    return 0


def _data_kwargs(pairs):
    """`--data-arg T=600` options of a dataset; numbers become int or float. The dataset
    refuses an option it does not take, listing those it does."""
    result = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--data-arg takes KEY=VALUE; got {pair!r}.")
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                pass
        result[key] = value
    return result


def cmd_train(args):
    from keras_archs.training import train

    jit = {"auto": None, "on": True, "off": False}[args.jit_compile]
    result = train(
        args.name,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        out=args.out,
        jit_compile=jit,
        dtype_policy=args.dtype_policy,
        seed=args.seed,
        data_kwargs=_data_kwargs(args.data_arg),
    )
    print(f"run folder: {result.out_dir} (model.keras, history.csv, curves.png)")
    print(
        f"trained in {result.seconds:.1f} s (jit_compile={result.jit_compile}, "
        f"dtype_policy={result.dtype_policy})"
    )
    if result.val_accuracy is not None:
        print(f"final validation accuracy: {result.val_accuracy:.4f}")
    elif "val_loss" in result.history:
        print(f"final validation loss: {result.history['val_loss'][-1]:.5f}")
    return 0


def cmd_export(args):
    from keras_archs.export import export_saved_model, load_model_file
    from keras_archs.export.serving import write_example_request, write_serving_config

    source = args.name_or_file
    if source.endswith(".keras") or os.path.isfile(source):
        model, name = load_model_file(source), args.name
        default_out = os.path.splitext(os.path.basename(source))[0]
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
        preprocessing=args.preprocessing,
        tokenizer=tokenizer,
        max_new_tokens=args.max_new_tokens,
    )
    print(f"SavedModel: {path}")
    if args.example_request:
        request = write_example_request(
            model,
            os.path.join(out, "request.json"),
            name=name,
            tokenizer=tokenizer,
            preprocessing=args.preprocessing,
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


def build_parser():
    from keras_archs.export.preprocessing import PREPROCESSING_CHOICES

    parser = argparse.ArgumentParser(
        prog="keras-archs", description="The classic deep-learning architectures in Keras 3."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's registry metadata")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", help="train a model with model.fit and write a run folder")
    p.add_argument("name")
    p.add_argument("--data", default=None, help="dataset name or image folder (default: digits)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    p.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--dtype-policy", default=None, help="e.g. float32, mixed_bfloat16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-arg",
        action="append",
        metavar="KEY=VALUE",
        help="option of the dataset, e.g. T=600 for adding_problem (repeatable)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="export a SavedModel version for TensorFlow Serving")
    p.add_argument("name_or_file", metavar="NAME_OR_MODEL_FILE", help="registry name or .keras")
    p.add_argument("--out", default=None, help="model base path (default: saved_models/NAME)")
    p.add_argument("--version", type=int, default=None, help="default: next integer")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
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
        "registry's mode (keras.applications' caffe/tf/torch, 'scale' = x/255); a model "
        "trained by `keras-archs train` takes 'scale'",
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
    p.add_argument("--serving-config", action="store_true", help="write models.config beside --out")
    p.add_argument(
        "--example-request", action="store_true", help="write a REST body to OUT/request.json"
    )
    p.set_defaults(func=cmd_export)
    return parser


def main(argv=None):
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as e:
        print(f"keras-archs {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

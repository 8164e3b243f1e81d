"""Runs `keras-archs bench` over many models and modes into one JSON-lines file.

    python scripts/bench.py --models resnet50 mobilenet --modes train infer \
        --input-size 128 --out docs/bench.jsonl [--precision ...] [--batch-size 16]
    python scripts/bench.py --models 'resnet*' ...      # fnmatch over the registry

Each model runs in its own `keras-archs bench --json` process (a model's compiled
functions and memory do not carry into the next), in the order given; the rows keep the
machine's description so that `scripts/benchmarks_doc.py` can write docs/benchmarks.md
from the file alone. A model that fails is reported and the rest still run.
"""

import argparse
import json
import os
import subprocess
import sys


def machine():
    """What the numbers were measured on: CPU model and flags, library versions."""
    import importlib.metadata as metadata

    from keras_archs.training.policy import BF16_CPU_FLAGS, cpu_flags, cpu_model

    flags = cpu_flags()
    shown = ("avx2", "avx512f", "avx512_vnni", *BF16_CPU_FLAGS, "amx_tile", "amx_int8")
    versions = {}
    for package in ("keras", "tensorflow", "keras-hub", "jax", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "flags": [f for f in shown if f in flags],
        "versions": versions,
        "python": sys.version.split()[0],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True, help="names or fnmatch patterns")
    parser.add_argument("--modes", nargs="+", default=["train"], help="train, infer, serve")
    parser.add_argument("--out", required=True, help="JSON-lines file (appended to)")
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--jit", default="auto")
    args = parser.parse_args(argv)

    from keras_archs import list_models

    names = []
    for pattern in args.models:
        found = list_models(pattern)
        if not found:
            parser.error(f"--models {pattern!r} matches no registered model")
        names += [n for n in found if n not in names]
    about = machine()
    failures = 0
    for name in names:
        for mode in args.modes:
            command = [sys.executable, "-m", "keras_archs.cli", "bench", name, "--mode", mode]
            command += ["--json", "--steps", str(args.steps), "--rounds", str(args.rounds)]
            command += ["--precision", args.precision, "--jit", args.jit]
            for flag, value in (
                ("--input-size", args.input_size),
                ("--batch-size", args.batch_size),
            ):
                if value is not None:
                    command += [flag, str(value)]
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode:
                failures += 1
                print(f"{name} {mode}: failed: {proc.stderr.strip().splitlines()[-1]}")
                continue
            rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
            with open(args.out, "a") as f:
                for row in rows:
                    f.write(json.dumps({**row, "machine": about}) + "\n")
            for row in rows:
                ratio = "" if row["ratio"] is None else f", {row['ratio']:.2f}x the anchor"
                print(
                    f"{name} {mode} {row['contender']}: {row['throughput']:.1f} {row['unit']} "
                    f"({row['peak_fraction']:.1%} of peak{ratio})"
                )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""`keras-archs train NAME --epochs 1 --steps-per-epoch 5` for every registered model.

    python scripts/train_every_model.py [--out runs/sweep] [PATTERN]

Each model trains in its own process through the CLI, on its offline default data,
and its run folder is checked: run.json, history.csv, curves.png and a model.keras
that reloads in yet another process. Prints one line per model (seconds, or the
error) and exits non-zero when any failed. The test suite runs the same check on a
few cheap models; this script is the whole sweep (minutes per large model on a CPU).
"""

import argparse
import fnmatch
import os
import subprocess
import sys
import time

RELOAD = "import keras, keras_archs, sys; keras.saving.load_model(sys.argv[1], safe_mode=True)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*")
    parser.add_argument("--out", default=os.path.join("runs", "sweep"))
    args = parser.parse_args(argv)

    import keras_archs
    from keras_archs.training.fit import RUN_FOLDER

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    failed = []
    for name in fnmatch.filter(keras_archs.list_models(), args.pattern):
        out = os.path.join(args.out, name)
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "keras_archs.cli", "train", name]
        cmd += ["--epochs", "1", "--steps-per-epoch", "5", "--out", out]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        problem = None
        if proc.returncode != 0:
            problem = (proc.stderr.strip().splitlines() or ["?"])[-1]
        else:
            files = sorted(os.listdir(out))
            if files != sorted(RUN_FOLDER):
                problem = f"run folder has {files}"
            else:
                path = os.path.join(out, "model.keras")
                reload = subprocess.run(
                    [sys.executable, "-c", RELOAD, path], capture_output=True, text=True, env=env
                )
                if reload.returncode != 0:
                    problem = "reload: " + (reload.stderr.strip().splitlines() or ["?"])[-1]
        seconds = time.perf_counter() - start
        print(f"{name:20s} {seconds:7.1f} s  {'ok' if problem is None else problem}", flush=True)
        if problem is not None:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

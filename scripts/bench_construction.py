"""Model construction time: keras.applications vs keras_archs, side by side.

    python scripts/bench_construction.py [--repeats 2] [--models nasnet_mobile,xception]

Each builder runs with `weights=None` at its default input size; the time shown is the
minimum over `--repeats` builds (alternating the two libraries, `clear_session` between
builds), so one slow build on a shared machine does not decide the comparison.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

import keras_archs

# registry name -> keras.applications builder name.
PAIRS = {
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "mobilenet": "MobileNet",
    "mobilenet_v2": "MobileNetV2",
    "xception": "Xception",
    "nasnet_mobile": "NASNetMobile",
    "nasnet_large": "NASNetLarge",
}


def build_seconds(fn):
    keras.backend.clear_session()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, repeats=2):
    """(keras.applications seconds, keras_archs seconds), each the min over `repeats`."""
    theirs_fn = getattr(keras.applications, PAIRS[name])
    ka, ours = [], []
    for _ in range(repeats):
        ka.append(build_seconds(lambda: theirs_fn(weights=None)))
        ours.append(build_seconds(lambda: keras_archs.create_model(name)))
    return min(ka), min(ours)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default=",".join(PAIRS))
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}  min of {args.repeats} builds, weights=None")
    print(f"{'model':<15}{'keras.applications':>20}{'keras_archs':>14}{'ratio':>8}")
    for name in args.models.split(","):
        ka, ours = compare(name, args.repeats)
        print(f"{name:<15}{ka:>19.2f}s{ours:>13.2f}s{ours / ka:>8.2f}", flush=True)


if __name__ == "__main__":
    main()

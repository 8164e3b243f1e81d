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
    """(wall, CPU) seconds of one build; CPU time (all threads of this process) is what
    other jobs on a shared machine disturb least."""
    keras.backend.clear_session()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(name, repeats=2):
    """((wall, CPU) of keras.applications, (wall, CPU) of keras_archs), each the min over
    `repeats` alternating builds."""
    theirs_fn = getattr(keras.applications, PAIRS[name])
    ka, ours = [], []
    for _ in range(repeats):
        ka.append(build_seconds(lambda: theirs_fn(weights=None)))
        ours.append(build_seconds(lambda: keras_archs.create_model(name)))
    return tuple(min(t[i] for t in ka) for i in (0, 1)), tuple(
        min(t[i] for t in ours) for i in (0, 1)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default=",".join(PAIRS))
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}  min of {args.repeats} builds, weights=None")
    print(
        f"{'model':<15}{'keras.applications wall/CPU':>30}{'keras_archs wall/CPU':>24}"
        f"{'ratio (CPU)':>13}"
    )
    for name in args.models.split(","):
        (ka_wall, ka_cpu), (wall, cpu) = compare(name, args.repeats)
        print(
            f"{name:<15}{ka_wall:>21.2f}s /{ka_cpu:>6.2f}s{wall:>15.2f}s /{cpu:>6.2f}s"
            f"{cpu / ka_cpu:>13.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""float32 against mixed_bfloat16 training steps/s, the evidence of the CPU precision rows.

    python scripts/bench_precision.py [MODEL ...]      (ROUNDS=9 for more rounds)

Each model is built twice (float32, mixed_bfloat16), compiled in TensorFlow graph mode
without XLA, and trained on the same synthetic batch stream in one process, in
alternating rounds whose order flips every round (the shared CPU's load moves by 2x
when anything else runs); prints one JSON line per model with the medians and their
ratio. The rows of keras_archs/training/policy.py cite its numbers.
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_archs.registry import get_spec

CONFIGS = [  # name, input shape, batch
    ("lenet5", (32, 32, 1), 32),
    ("resnet18", (64, 64, 3), 16),
    ("mobilenet_v2", (64, 64, 3), 16),
    ("vgg16", (32, 32, 3), 16),
    ("densenet121", (64, 64, 3), 16),
    ("inception_v3", (75, 75, 3), 16),
]
ROUNDS = int(os.environ.get("ROUNDS", 5))
TARGET_SECONDS = float(os.environ.get("TARGET_S", 1.5))  # per timed round


def build(name, shape, dtype):
    keras.config.set_dtype_policy(dtype)
    try:
        model = get_spec(name).build(input_shape=shape, classes=10)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=False)
    return model


def steps_per_second(model, x, y, batch, steps):
    start = time.perf_counter()
    model.fit(x[: steps * batch], y[: steps * batch], batch_size=batch, verbose=0, shuffle=False)
    return steps / (time.perf_counter() - start)


def measure(name, shape, batch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200 * batch, *shape)).astype("float32")
    y = rng.integers(0, 10, 200 * batch)
    models = {d: build(name, shape, d) for d in ("float32", "mixed_bfloat16")}
    for model in models.values():
        steps_per_second(model, x, y, batch, 3)  # trace the graph, warm up
    calibration = steps_per_second(models["float32"], x, y, batch, 5)
    steps = int(min(200, max(3, TARGET_SECONDS * calibration)))
    rates = {d: [] for d in models}
    for r in range(ROUNDS):
        order = ("float32", "mixed_bfloat16") if r % 2 == 0 else ("mixed_bfloat16", "float32")
        for d in order:
            rates[d].append(steps_per_second(models[d], x, y, batch, steps))
    median = {d: statistics.median(v) for d, v in rates.items()}
    keras.backend.clear_session()
    return {
        "model": name,
        "input": shape,
        "batch": batch,
        "rounds": ROUNDS,
        "steps_per_round": steps,
        "float32": round(median["float32"], 2),
        "mixed_bfloat16": round(median["mixed_bfloat16"], 2),
        "ratio": round(median["mixed_bfloat16"] / median["float32"], 3),
    }


def main(argv=None):
    only = sys.argv[1:] if argv is None else argv
    for name, shape, batch in CONFIGS:
        if not only or name in only:
            print(json.dumps(measure(name, shape, batch)), flush=True)


if __name__ == "__main__":
    main()

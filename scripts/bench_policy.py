"""Measures what the XLA / precision policy table claims, for one model, in one process.

    python scripts/bench_policy.py lenet5 [--steps 60] [--batch-size 32]

Times training steps per second of `model.fit` on a fixed synthetic batch stream
with jit_compile off/on and float32/mixed_bfloat16, after a warm-up epoch, and
prints each setting's ratio to plain float32 graph mode.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def steps_per_second(name, jit_compile, dtype_policy, steps, batch_size):
    import keras
    import numpy as np

    from keras_archs.registry import get_spec

    spec = get_spec(name)
    shape = tuple(spec.train_defaults.get("input_shape") or spec.default_input_shape)
    keras.config.set_dtype_policy(dtype_policy)
    try:
        model = spec.build(input_shape=shape, classes=10)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * batch_size, *shape)).astype("float32")
    y = rng.integers(0, 10, steps * batch_size)
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # compile / warm up
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    import keras

    from keras_archs.training import choose_policy, current_device

    results = {}
    for jit in (False, True):
        for dtype in ("float32", "mixed_bfloat16"):
            results[(jit, dtype)] = steps_per_second(
                args.name, jit, dtype, args.steps, args.batch_size
            )
    base = results[(False, "float32")]
    print(
        f"{args.name} on {keras.backend.backend()} / {current_device()}, batch {args.batch_size}:"
    )
    for (jit, dtype), sps in results.items():
        print(f"  jit_compile={jit!s:5} {dtype:15} {sps:8.1f} steps/s  {sps / base:5.2f}x")
    print(f"policy now: {choose_policy(args.name)}")


if __name__ == "__main__":
    main()

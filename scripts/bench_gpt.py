"""Training throughput of keras_archs' GPT against keras-hub's GPT2 of the same configuration.

Run: `python scripts/bench_gpt.py [--preset gpt_mini|gpt2] [--batch-size 8] [--seq-len 128]
[--steps 20] [--dtype-policy float32|mixed_bfloat16] [--jit-compile auto|on|off]`.

Both models are built in the same process with the same configuration, dtype policy
and `jit_compile`: keras_archs' `GPT` and `keras_hub.models.GPT2CausalLM` over a
`GPT2Backbone` (no preprocessor; its logits also come from the tied token
embedding). Each trains with Adam on the same random batch through
`train_on_batch`; after `--warmup` steps (compilation) the next `--steps` steps are
timed, the two models alternating rounds so that load changes hit both alike. It
prints the tokens/s of each and the ratio keras_archs / keras-hub (>= 1 means
keras_archs is at least as fast), plus the median step times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_archs.applications.gpt import GPT, PRESETS, causal_lm_loss


def build_pair(preset, seq_len, dropout=None):
    import keras_hub

    config = dict(PRESETS[preset])
    if dropout is not None:
        config["dropout"] = dropout
    config["max_sequence_length"] = max(config["max_sequence_length"], seq_len)
    ours = GPT(**config, name="keras_archs_gpt")
    backbone = keras_hub.models.GPT2Backbone(**config)
    hub = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    return ours, hub


def _compile(model, jit_compile):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4), loss=causal_lm_loss(), jit_compile=jit_compile
    )


def _step_seconds(model, x, y, steps):
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)
        float(np.asarray(loss).ravel()[0])  # wait for the step to finish
        times.append(time.perf_counter() - start)
    return times


def run(
    preset="gpt_mini",
    batch_size=8,
    seq_len=128,
    steps=20,
    warmup=3,
    rounds=4,
    dtype_policy="float32",
    jit_compile="auto",
    seed=0,
):
    """Returns {"keras_archs": tokens/s, "keras_hub": tokens/s, "ratio": ..., ...}."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype_policy)
    try:
        keras.utils.set_random_seed(seed)
        ours, hub = build_pair(preset, seq_len)
    finally:
        keras.config.set_dtype_policy(previous)
    vocab = PRESETS[preset]["vocabulary_size"]
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch_size, seq_len + 1)).astype("int32")
    x = {"token_ids": ids[:, :-1], "padding_mask": np.ones((batch_size, seq_len), "int32")}
    y = ids[:, 1:]
    models = {"keras_archs": ours, "keras_hub": hub}
    times = {}
    for name, model in models.items():
        _compile(model, jit_compile)
        _step_seconds(model, x, y, warmup)
        times[name] = []
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for name, model in models.items():
            times[name] += _step_seconds(model, x, y, per_round)
    tokens = batch_size * seq_len
    result = {name: tokens / statistics.median(t) for name, t in times.items()}
    result["ratio"] = result["keras_archs"] / result["keras_hub"]
    result["median_step_s"] = {name: statistics.median(t) for name, t in times.items()}
    result["params"] = {name: m.count_params() for name, m in models.items()}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), default="gpt_mini")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--dtype-policy", default="float32")
    parser.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto")
    args = parser.parse_args(argv)
    jit = {"auto": "auto", "on": True, "off": False}[args.jit_compile]
    r = run(
        args.preset,
        args.batch_size,
        args.seq_len,
        args.steps,
        args.warmup,
        dtype_policy=args.dtype_policy,
        jit_compile=jit,
    )
    print(
        f"backend={keras.backend.backend()} preset={args.preset} batch={args.batch_size} "
        f"seq_len={args.seq_len} dtype_policy={args.dtype_policy} jit_compile={args.jit_compile}"
    )
    print(
        f"parameters: keras_archs {r['params']['keras_archs']:,}, "
        f"keras_hub {r['params']['keras_hub']:,}"
    )
    for name in ("keras_archs", "keras_hub"):
        print(f"{name}: {r[name]:,.0f} tokens/s (median step {r['median_step_s'][name]:.4f} s)")
    print(f"ratio keras_archs / keras_hub: {r['ratio']:.3f}")


if __name__ == "__main__":
    main()

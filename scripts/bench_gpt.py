"""Training and generation speed of keras_archs' GPT against keras-hub's GPT2 of one configuration.

Run: `python scripts/bench_gpt.py [--preset gpt_mini|gpt2] [--batch-size 8] [--seq-len 128]
[--steps 20] [--dtype-policy float32|mixed_bfloat16] [--jit-compile auto|on|off]`, or
`python scripts/bench_gpt.py --mode generate [--preset ...] [--batch-size 8]
[--prompt-length 32] [--new-tokens 64] [--rounds 5]`.

Generation: keras-hub's `GPT2CausalLM` and keras_archs' `GPT` converted from its
backbone (`from_keras_hub`, the same weights) continue the same random prompts
greedily for `--new-tokens` tokens, each the way its users call it: keras-hub's
`generate` (sampler "greedy", no stop token, its default compilation) and
`keras_archs.applications.gpt.generate(..., greedy=True)`. Both are first called once
(compilation), then timed in alternating rounds; it prints new tokens/s of each, the
ratio, and whether the two continuations are the same tokens.

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


def run_generate(
    preset="gpt_mini", batch_size=8, prompt_length=32, new_tokens=64, rounds=5, seed=0
):
    """Returns {"keras_archs": new tokens/s, "keras_hub": new tokens/s, "ratio": ...,
    "same_tokens": bool, "median_s": {...}}."""
    from keras_archs.applications.gpt import generate
    from keras_archs.convert import from_keras_hub

    keras.utils.set_random_seed(seed)
    _, hub = build_pair(preset, prompt_length + new_tokens)
    ours = from_keras_hub(hub.backbone)
    hub.compile(sampler="greedy")
    vocab = PRESETS[preset]["vocabulary_size"]
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, vocab, (batch_size, prompt_length)).astype("int32")
    # keras-hub without a preprocessor fills the positions its padding mask leaves out.
    total = prompt_length + new_tokens
    hub_ids = np.zeros((batch_size, total), "int32")
    hub_ids[:, :prompt_length] = prompt
    hub_mask = np.zeros((batch_size, total), bool)
    hub_mask[:, :prompt_length] = True
    hub_inputs = {"token_ids": hub_ids, "padding_mask": hub_mask}

    def call_ours():
        return np.asarray(generate(ours, prompt, new_tokens, greedy=True))

    def call_hub():
        out = hub.generate(hub_inputs, stop_token_ids=None)
        return np.asarray(out["token_ids"])[:, prompt_length:]

    calls = {"keras_archs": call_ours, "keras_hub": call_hub}
    produced = {name: call() for name, call in calls.items()}  # compiles
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    tokens = batch_size * new_tokens
    result = {name: tokens / statistics.median(t) for name, t in times.items()}
    result["ratio"] = result["keras_archs"] / result["keras_hub"]
    result["median_s"] = {name: statistics.median(t) for name, t in times.items()}
    result["same_tokens"] = bool(
        np.array_equal(produced["keras_archs"][:, :new_tokens], produced["keras_hub"])
    )
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
    parser.add_argument("--mode", choices=("train", "generate"), default="train")
    parser.add_argument("--prompt-length", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.mode == "generate":
        r = run_generate(
            args.preset, args.batch_size, args.prompt_length, args.new_tokens, args.rounds
        )
        print(
            f"backend={keras.backend.backend()} preset={args.preset} batch={args.batch_size} "
            f"prompt={args.prompt_length} new_tokens={args.new_tokens} greedy"
        )
        for name in ("keras_archs", "keras_hub"):
            print(f"{name}: {r[name]:,.0f} new tokens/s (median {r['median_s'][name]:.3f} s)")
        print(f"ratio keras_archs / keras_hub: {r['ratio']:.3f}")
        print(f"same continuations: {r['same_tokens']}")
        return
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

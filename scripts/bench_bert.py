"""Training-step speed of keras_archs' BERT against keras-hub's BertBackbone.

Both models get the same heads (masked-LM head of keras-hub's `MaskedLMHead` layout,
Dense(hidden, GELU) -> LayerNorm -> Dense(vocab), at `mask_positions`, plus a 2-way
NSP Dense on the pooled output), the same batch, optimizer, precision and compile
settings, in one process. The timed steps alternate between the two models over
`--repeats` rounds and the median step time of each is printed.

Run: `python scripts/bench_bert.py [--preset bert_tiny] [--batch-size 32]
[--sequence-length 128] [--steps 20] [--repeats 3] [--precision float32|mixed_bfloat16]
[--jit-compile]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np


def _hub_pretrainer(config, max_predictions):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(**config)
    inputs = dict(backbone.input)
    positions = keras.Input((max_predictions,), dtype="int32", name="mask_positions")
    out = backbone(inputs)
    mlm = keras_hub.layers.MaskedLMHead(
        vocabulary_size=config["vocabulary_size"],
        intermediate_activation="gelu",
        layer_norm_epsilon=1e-12,
        name="mlm_head",
    )(out["sequence_output"], mask_positions=positions)
    nsp = keras.layers.Dense(2, name="nsp_logits")(out["pooled_output"])
    mlm = keras.layers.Activation("linear", dtype="float32", name="mlm")(mlm)
    nsp = keras.layers.Activation("linear", dtype="float32", name="nsp")(nsp)
    return keras.Model({**inputs, "mask_positions": positions}, {"mlm": mlm, "nsp": nsp})


def _ours(config, max_predictions, sequence_length):
    from keras_archs.applications.bert import BERT, BERTPretrainer

    backbone = BERT(**config, sequence_length=sequence_length)
    return BERTPretrainer(backbone, max_predictions=max_predictions)


def _batch(config, batch_size, sequence_length, max_predictions, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(0, config["vocabulary_size"], (batch_size, sequence_length)),
        "segment_ids": (np.arange(sequence_length) >= sequence_length // 2)[None].repeat(
            batch_size, 0
        ),
        "padding_mask": np.ones((batch_size, sequence_length)),
        "mask_positions": np.sort(
            rng.permuted(np.tile(np.arange(sequence_length), (batch_size, 1)), axis=1)[
                :, :max_predictions
            ],
            axis=1,
        ),
    }
    x = {k: v.astype("int32") for k, v in x.items()}
    y = {
        "mlm": rng.integers(0, config["vocabulary_size"], (batch_size, max_predictions)),
        "nsp": rng.integers(0, 2, (batch_size,)),
    }
    return x, y


def _compile(model, jit_compile):
    from keras_archs.applications.bert import pretraining_losses

    model.compile(
        optimizer=keras.optimizers.Adam(1e-4), loss=pretraining_losses(), jit_compile=jit_compile
    )


def bench(
    preset="bert_tiny",
    batch_size=32,
    sequence_length=128,
    steps=20,
    repeats=3,
    precision="float32",
    jit_compile=False,
    vocabulary_size=None,
):
    from keras_archs.applications.bert import PRESETS

    keras.config.set_dtype_policy(precision)
    config = dict(PRESETS[preset])
    config["max_sequence_length"] = max(sequence_length, 8)
    if vocabulary_size:
        config["vocabulary_size"] = vocabulary_size
    max_predictions = int(np.ceil(0.15 * sequence_length))
    keras.utils.set_random_seed(0)
    models = {
        "keras_archs.BERT": _ours(config, max_predictions, sequence_length),
        "keras_hub.BertBackbone": _hub_pretrainer(config, max_predictions),
    }
    assert len({m.count_params() for m in models.values()}) == 1, "configurations differ"
    x, y = _batch(config, batch_size, sequence_length, max_predictions)
    for model in models.values():
        _compile(model, jit_compile)
        for _ in range(3):  # trace/compile and warm up
            model.train_on_batch(x, y)
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                loss = model.train_on_batch(x, y)
            keras.ops.convert_to_numpy(keras.tree.flatten(loss)[0])
            times[name].append((time.perf_counter() - start) / steps)
    result = {
        "backend": keras.backend.backend(),
        "preset": preset,
        "config": config,
        "batch_size": batch_size,
        "sequence_length": sequence_length,
        "precision": precision,
        "jit_compile": jit_compile,
        "params": models["keras_archs.BERT"].count_params(),
        "step_ms": {k: 1000 * statistics.median(v) for k, v in times.items()},
        "all_ms": {k: [round(1000 * t, 2) for t in v] for k, v in times.items()},
    }
    result["speedup"] = (
        result["step_ms"]["keras_hub.BertBackbone"] / result["step_ms"]["keras_archs.BERT"]
    )
    keras.config.set_dtype_policy("float32")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--vocabulary-size", type=int, default=None)
    parser.add_argument("--jit-compile", action="store_true")
    args = parser.parse_args()
    result = bench(
        args.preset,
        args.batch_size,
        args.sequence_length,
        args.steps,
        args.repeats,
        args.precision,
        args.jit_compile,
        args.vocabulary_size,
    )
    for name, ms in result["step_ms"].items():
        print(f"{name:24s} {ms:8.2f} ms/step")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

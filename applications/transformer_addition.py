"""The Transformer learns 3-digit addition offline: "123+45" -> "168" (Vaswani et al. 2017).

Run: `python applications/transformer_addition.py [--target 0.95] [--max-seconds 280]`.

The offline sequence-transduction task `addition` of `keras_archs.data.tasks`
(50,000 distinct training pairs, 2,000 held-out pairs never seen in training) with
a small post-LN Transformer trained with teacher forcing and the paper's
label-smoothed loss under Adam with warm-up. After every epoch it decodes the
held-out questions with `greedy_decode` (the decoder's key/value cache, compiled
once) and reports the exact-match accuracy (every digit and the end token right);
it stops at `--target` or after `--max-seconds`.

Online, `ted_hrlr_translate/pt_to_en` (tensorflow-datasets) is the paper-like
translation task: `keras_archs.data.load_dataset("ted_hrlr_translate/pt_to_en")`
gives its byte-level pipelines; offline it fails at once naming this task.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_archs.applications.transformer import (
    Transformer,
    greedy_decode,
    transformer_loss,
)
from keras_archs.data import tasks
from keras_archs.training import choose_policy

DIGITS = 3


def model_inputs(d):
    """The Transformer's four inputs from an `addition_arrays` split."""
    enc, dec = d["encoder_inputs"], d["decoder_inputs"]
    return {
        "encoder_token_ids": enc,
        "encoder_padding_mask": (enc != tasks.PAD).astype("int32"),
        "decoder_token_ids": dec,
        "decoder_padding_mask": np.ones_like(dec),
    }


def exact_match(model, test, batch_size=1000):
    """Fraction of held-out pairs whose greedy answer equals the true sum."""
    _, dec_len = tasks.addition_lengths(DIGITS)
    predicted = []
    for i in range(0, len(test["answers"]), batch_size):
        ids = greedy_decode(model, test["encoder_inputs"][i : i + batch_size], dec_len)
        predicted += tasks.decode(ids)
    return float(np.mean([p == a for p, a in zip(predicted, test["answers"])]))


def run(
    hidden_dim=64,
    num_layers=2,
    num_heads=4,
    intermediate_dim=256,
    dropout=0.0,
    batch_size=128,
    learning_rate=2e-3,
    warmup_steps=300,
    decay_epochs=8,
    label_smoothing=0.1,
    max_epochs=40,
    max_seconds=280.0,
    target=0.95,
    num_train=50_000,
    seed=0,
    verbose=True,
    jit_compile=None,
):
    """Trains until held-out exact match >= target; returns a dict of what it reached."""
    keras.utils.set_random_seed(seed)
    train, test = tasks.addition_arrays(num_train, 2_000, DIGITS, seed=seed)
    enc_len, dec_len = tasks.addition_lengths(DIGITS)
    model = Transformer(
        vocabulary_size=len(tasks.ADDITION_VOCABULARY),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        max_sequence_length=max(enc_len, dec_len),
    )
    steps_per_epoch = -(-num_train // batch_size)
    # Linear warm-up, then a cosine decay over `decay_epochs` (the paper: 1/sqrt(step)).
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate * 0.01,
        decay_steps=decay_epochs * steps_per_epoch,
        alpha=0.05,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )
    if jit_compile is None:  # the measured choice for this model, backend and device
        jit_compile = choose_policy("transformer").jit_compile
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, beta_2=0.98, epsilon=1e-9),
        loss=transformer_loss(label_smoothing),
        metrics=["sparse_categorical_accuracy"],
        jit_compile=jit_compile,
    )
    x = model_inputs(train)
    start = time.perf_counter()
    accuracy, epoch = 0.0, 0
    for epoch in range(1, max_epochs + 1):
        model.fit(x, train["targets"], batch_size=batch_size, epochs=1, verbose=0)
        accuracy = exact_match(model, test)
        seconds = time.perf_counter() - start
        if verbose:
            print(f"epoch {epoch}: held-out exact match {accuracy:.4f} ({seconds:.0f} s)")
        if accuracy >= target or seconds > max_seconds:
            break
    return {
        "model": model,
        "exact_match": accuracy,
        "epochs": epoch,
        "steps": epoch * steps_per_epoch,
        "seconds": time.perf_counter() - start,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--max-seconds", type=float, default=280.0)
    args = parser.parse_args(argv)
    result = run(target=args.target, max_seconds=args.max_seconds)
    print(
        f"held-out exact match {result['exact_match']:.4f} after {result['steps']} steps "
        f"({result['epochs']} epochs, {result['seconds']:.0f} s)"
    )


if __name__ == "__main__":
    main()

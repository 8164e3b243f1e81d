"""Seq2Seq learns 3-digit addition: "123+45" -> "168" (Sutskever et al. 2014).

Run: `python applications/seq2seq_addition.py [--attention none|bahdanau|luong]`;
`keras-archs train seq2seq` is the same run with Luong attention and a fixed epoch count.

Training is the package's one training path (`keras_archs.training.train`): teacher
forcing on 50,000 distinct pairs of the offline `addition` task (the input string
reversed, Sutskever et al.'s trick), Adam at 3e-3, batch 128. After every epoch it
generates answers for 2,000 held-out pairs with `greedy_decode` and logs the exact-match
accuracy (every digit and the end token right); this recipe stops once that reaches
`--target` (default 0.95) and prints the optimizer steps it needed.

Measured (LSTM, 128 units, 391 steps per epoch, seed 0, on shared 2-core CPUs):
- no attention: 0.9575 after 2,346 steps (6 epochs; 85 s; exact match per epoch 0.0075,
  0.126, 0.681, 0.851, 0.841, 0.958)
- bahdanau: 0.953 after 2,346 steps (6 epochs; 97 s; per epoch 0.011, 0.082, 0.727,
  0.900, 0.893, 0.953)
- luong: 0.9540 after 1,955 steps (5 epochs; 64 s)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_archs.training import train
from keras_archs.training.callbacks import StopAtTarget


def run(attention=None, cell="lstm", target=0.95, max_epochs=30, out=None, seed=0, verbose="auto"):
    """Trains until held-out exact match >= `target` (or `max_epochs`); returns a dict
    of what it reached and the `TrainResult`."""
    result = train(
        "seq2seq",
        data="addition",
        model_kwargs={"attention": attention, "cell": cell},
        epochs=max_epochs,
        callbacks=[StopAtTarget("val_exact_match", target)],
        out=out,
        seed=seed,
        verbose=verbose,
    )
    epochs = len(result.history["loss"])
    return {
        "result": result,
        "exact_match": result.history["val_exact_match"][-1],
        "epochs": epochs,
        "steps": epochs * result.steps_per_epoch,
        "seconds": result.seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attention", choices=("none", "bahdanau", "luong"), default="none")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    args = parser.parse_args(argv)
    attention = None if args.attention == "none" else args.attention
    reached = run(attention, args.cell, args.target, args.max_epochs, args.out)
    print(f"run folder: {reached['result'].out_dir}")
    print(
        f"attention={args.attention}: held-out exact match {reached['exact_match']:.4f} after "
        f"{reached['steps']} steps ({reached['epochs']} epochs, {reached['seconds']:.0f} s)"
    )


if __name__ == "__main__":
    main()

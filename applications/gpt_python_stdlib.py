"""gpt_mini learns Python from the standard library's own sources, offline (Radford et al.).

Run: `python applications/gpt_python_stdlib.py [--epochs 4] [--sample]`, the same run as
`keras-archs train gpt_mini`.

The corpus is `python_stdlib` (`keras_archs.data.text`): the `.py` files of the running
interpreter's standard library, split by file into training and validation with a fixed
seed, read byte by byte with keras-hub's `ByteTokenizer` and packed into windows of 64
tokens. `gpt_mini` (4 pre-LN layers, width 128) trains through the package's training
path with the next-token loss: AdamW at 3e-3, warmed up over 100 steps then
cosine-annealed over the run (4 epochs of 200 steps); annealing over a known number of
steps is what makes a short run good. The recipe then scores the model on 512 windows
spread over the validation split (nats per byte) next to the bigram model counted from
the same training split. `--sample` prints a greedy continuation of a prompt (cached
`generate`).

Online, `--data tiny_shakespeare` trains on tensorflow-datasets' tiny Shakespeare.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from keras_archs.applications.gpt import generate
from keras_archs.data import text
from keras_archs.training import train

SEQUENCE_LENGTH = 64  # the registry's offline window for gpt_mini


def run(data="python_stdlib", out=None, seed=0, verbose="auto", **overrides):
    """Trains gpt_mini through `keras_archs.training.train` and scores it against the
    bigram model; returns a dict of the numbers and the `TrainResult`."""
    result = train("gpt_mini", data=data, out=out, seed=seed, verbose=verbose, **overrides)
    corpus = text.load_text_corpus(data, seed=seed)
    x, y = text.validation_windows(corpus, SEQUENCE_LENGTH)
    val_loss = float(
        result.model.evaluate(
            {"token_ids": x, "padding_mask": np.ones_like(x)}, y, batch_size=64, verbose=0
        )[0]
    )
    return {
        "result": result,
        "corpus": corpus,
        "validation_loss": val_loss,
        "bigram_loss": text.bigram_loss(corpus.train_ids, x, y, corpus.vocabulary_size),
        "seconds": result.seconds,
        "steps": result.steps_per_epoch * len(result.history["loss"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="python_stdlib")
    parser.add_argument("--epochs", type=int, default=None, help="default: 4 of 200 steps")
    parser.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    parser.add_argument("--sample", action="store_true")
    args = parser.parse_args(argv)
    reached = run(args.data, args.out, epochs=args.epochs)
    loss, bigram = reached["validation_loss"], reached["bigram_loss"]
    print(f"run folder: {reached['result'].out_dir}")
    print(
        f"{args.data}: validation loss {loss:.3f} nats/token vs bigram {bigram:.3f} "
        f"({1 - loss / bigram:.1%} below) after {reached['steps']} steps, "
        f"{reached['seconds']:.0f} s"
    )
    if args.sample:
        tok = reached["corpus"].tokenizer
        prompt = tok.encode("def ")[None, :]
        new = generate(reached["result"].model, prompt, 100, greedy=True)
        print(tok.decode(np.concatenate([prompt[0], new[0]])))


if __name__ == "__main__":
    main()

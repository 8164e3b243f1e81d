"""The text recipes at their full defaults, each against the bar its README row claims.

    python scripts/text_recipes.py [gpt_mini] [transformer] [bert_tiny]

Runs `keras-archs train NAME` with its defaults through the recipe modules of
applications/ (the same call plus their scoring), one after the other, and prints one
line per run: the numbers reached, the bar and whether it was met; exits non-zero if any
bar was missed. The test suite trains each of them for a quarter to a half of the
default length against lower bars: the full runs take 2 to 12 minutes each on a 2-core
CPU, most of a CI budget together.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "applications"))


def gpt_mini(out):
    import gpt_python_stdlib

    reached = gpt_python_stdlib.run(out=out, verbose=0)
    loss, bigram = reached["validation_loss"], reached["bigram_loss"]
    text = f"validation loss {loss:.3f} vs bigram {bigram:.3f} ({1 - loss / bigram:.1%} below)"
    return reached["steps"], text, "at least 15% below the bigram", loss <= 0.85 * bigram


def transformer(out):
    import transformer_addition

    result = transformer_addition.run(out=out, verbose=0)
    exact = result.history["val_exact_match"]
    steps = result.steps_per_epoch * len(exact)
    return steps, f"held-out exact match {exact[-1]:.4f}", "0.95", exact[-1] >= 0.95


def bert_tiny(out):
    import bert_pretrain_python_stdlib

    reached = bert_pretrain_python_stdlib.run(out=out, verbose=0)
    mlm, frequent, nsp = (
        reached["mlm_accuracy"],
        reached["most_frequent_accuracy"],
        reached["nsp_accuracy"],
    )
    text = f"masked tokens {mlm:.3f} vs {frequent:.3f} most frequent; next sentence {nsp:.3f}"
    met = mlm >= 2 * frequent and nsp > 0.6
    return reached["steps"], text, "masked 2x the most frequent, next sentence 0.6", met


RUNS = {"gpt_mini": gpt_mini, "transformer": transformer, "bert_tiny": bert_tiny}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(RUNS)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in RUNS]
    if unknown:
        parser.error(f"names={unknown!r}: accepted are {', '.join(RUNS)}")
    missed = []
    with tempfile.TemporaryDirectory() as root:
        for name in args.names or list(RUNS):
            start = time.perf_counter()
            steps, reached, bar, met = RUNS[name](os.path.join(root, name))
            seconds = time.perf_counter() - start
            verdict = "met" if met else "MISSED"
            print(f"{name}: {steps} steps, {seconds:.0f} s: {reached} (bar: {bar}: {verdict})")
            if not met:
                missed.append(name)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A bidirectional LSTM reads 8x8 digit images pixel by pixel (sequential digits).

Run: `python applications/bilstm_sequential_digits.py [--epochs 30]`
or `keras-archs train bidirectional_rnn` (the same registry defaults).

Each image becomes a 64-step sequence of one pixel value, so the network must carry
the shape of the digit through time; the bidirectional layer reads it from both ends
(Schuster & Paliwal, 1997). scikit-learn's 1,797 bundled digits make this offline;
`--data sequential_mnist` reads 784-step MNIST sequences when tensorflow-datasets can
supply MNIST (the sequential MNIST benchmark of the TCN paper).

Registry defaults: one bidirectional LSTM layer of 64 units per direction, Adam 3e-3,
30 epochs of batch 32. Measured with that configuration (seed 0): 0.93 validation
accuracy after 30 epochs (0.84 after 15), 184 s on a heavily shared 2-core CPU.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_archs.training import train


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the registry's")
    parser.add_argument("--data", default="sequential_digits")
    parser.add_argument("--out", default=None, help="run folder (must not exist or be empty)")
    args = parser.parse_args(argv)
    result = train("bidirectional_rnn", data=args.data, epochs=args.epochs, out=args.out, verbose=2)
    print(f"run folder: {result.out_dir}")
    print(f"final validation accuracy: {result.val_accuracy:.4f} ({result.seconds:.0f} s)")


if __name__ == "__main__":
    main()

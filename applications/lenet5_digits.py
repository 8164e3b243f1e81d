"""Recipe: LeNet-5 on the bundled handwritten digits (offline).

    python applications/lenet5_digits.py [--epochs 30] [--out runs/lenet5-digits]

The same job as `keras-archs train lenet5`: scikit-learn's 1,797 8x8 digits resized to
LeNet-5's 32x32x1 input, a seeded 80/20 split, random shifts of up to 4 pixels, Adam at
2e-3 cosine-annealed over 30 epochs, batch 32. It reaches 0.983 to 0.989 validation
accuracy (seeds 0 to 2) in about 15 seconds of training on 2 CPU cores.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: 30")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 32")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: 2e-3")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from keras_archs.training import train

    result = train(
        "lenet5",
        data="digits",
        input_shape=(32, 32, 1),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        out=args.out,
    )
    print(f"run folder: {result.out_dir}")
    print(f"final validation accuracy: {result.val_accuracy:.4f}")


if __name__ == "__main__":
    main()

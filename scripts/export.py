"""Export a registered model or a .keras file as a TensorFlow Serving SavedModel version.

    python scripts/export.py NAME_OR_MODEL_FILE [--out saved_models/NAME] [--version N]
        [--overwrite] [--serving-config] [--example-request] [--preprocessing scale]

The same as `keras-archs export ...` (see README, "Serving with TensorFlow Serving").
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # SavedModels come from the TF backend

from keras_archs.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))

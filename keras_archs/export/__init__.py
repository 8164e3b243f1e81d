"""SavedModel export for TensorFlow Serving (TensorFlow is imported lazily, only here)."""

from keras_archs.export.saved_model import (
    build_archive,
    describe_signatures,
    existing_versions,
    export_saved_model,
    load_model_file,
)

__all__ = [
    "build_archive",
    "describe_signatures",
    "existing_versions",
    "export_saved_model",
    "load_model_file",
]

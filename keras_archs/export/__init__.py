"""SavedModel export for TensorFlow Serving, and ONNX export (TensorFlow, tf2onnx, onnx and
onnxruntime are imported lazily, only here).

Modules: `saved_model` (`export_saved_model`, `load_model_file`), `fold`
(`fold_batch_norms`: a copy for inference with BatchNormalization folded into the layer
before it, which the SavedModels serve), `signatures` (the named signatures),
`preprocessing` (the pixels an image signature takes, from the registry's mode), `text`
(string signatures of text models), `versions` (atomic version folders), `serving`
(`models.config` and example REST requests) and `onnx` (`export_onnx`: one `.onnx`
file, checked in ONNX Runtime against Keras).
"""

from keras_archs.export.fold import fold_batch_norms, foldable_pairs
from keras_archs.export.onnx import OnnxExport, export_onnx
from keras_archs.export.preprocessing import (
    MODES,
    PREPROCESSING_CHOICES,
    model_spec,
    preprocess_images,
    serving_preprocessing,
)
from keras_archs.export.saved_model import export_saved_model, load_model_file
from keras_archs.export.signatures import build_archive, describe_signatures
from keras_archs.export.versions import existing_versions

__all__ = [
    "MODES",
    "PREPROCESSING_CHOICES",
    "OnnxExport",
    "build_archive",
    "describe_signatures",
    "existing_versions",
    "export_onnx",
    "export_saved_model",
    "fold_batch_norms",
    "foldable_pairs",
    "load_model_file",
    "model_spec",
    "preprocess_images",
    "serving_preprocessing",
]

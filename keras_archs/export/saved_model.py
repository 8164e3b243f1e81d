"""Versioned, atomic SavedModel export with named signatures for TensorFlow Serving.

TensorFlow Serving watches `<model_base_path>/<version>/` folders and serves the
highest integer version it finds (https://www.tensorflow.org/tfx/serving/serving_basic).
`export_saved_model` writes such a folder with Keras' `ExportArchive`, first into a
hidden temporary folder beside it (".tmp-..."; Serving ignores names that are not
integers), then renames it into place, so a server polling the folder never loads a
half-written version.

Signatures (all traced by `tf.function` without `jit_compile`: TensorFlow Serving on
GPU cannot load XLA-compiled functions):

- image classifiers: `serving_default` takes `images` (float32 pixels in [0, 255],
  shape (batch, H, W, C), batch None) and applies the family's `preprocess_input`
  inside the graph; `serving_bytes` takes `image_bytes` (encoded JPEG/PNG/BMP/GIF
  strings), decodes and resizes (bilinear) them to the model's H x W inside the graph.
  Both return `probabilities` (softmax top) or the output layer's name.
- every other model: `serving_default` takes the model's own inputs by name (e.g.
  `token_ids`, `padding_mask`) and returns its outputs by name (`probabilities` for a
  softmax output).

- text models given a tokenizer (`keras_archs.export.text`): `serving_default` takes
  `text` strings (the keras-hub tokenizer runs in the graph), `serving_ids` keeps the
  id-level signature, and a GPT language model also gets `generate` (prompt strings in,
  greedy continuations out).

TensorFlow is imported lazily here: the rest of keras_archs runs without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile

from keras_archs.export.text import add_text_endpoints, resolve_tokenizer, text_signatures

PREPROCESSING = ("auto", "family", "scale", "none")
_TMP_PREFIX = ".tmp-"


def _tf():
    import tensorflow as tf

    return tf


# ---------------------------------------------------------------- argument checks


def _check_version(version):
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError(f"version must be an integer >= 1 or None; got version={version!r}.")
    if version < 1:
        raise ValueError(
            f"version must be >= 1 (TensorFlow Serving versions are positive integers); "
            f"got version={version!r}."
        )
    return version


def _check_export_dir(export_dir):
    if not isinstance(export_dir, (str, os.PathLike)):
        raise TypeError(f"export_dir must be a path; got export_dir={export_dir!r}.")
    export_dir = os.path.abspath(os.fspath(export_dir))
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ValueError(
            f"export_dir={export_dir!r} is a file; expected a folder (it will hold one "
            "sub-folder per version) or a path that does not exist yet."
        )
    # The nearest existing ancestor must be writable: everything is created under it.
    existing = export_dir
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise ValueError(f"export_dir={export_dir!r} is under {existing!r}, which is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"export_dir={export_dir!r} is not writable (no write permission on {existing!r})."
        )
    return export_dir


def existing_versions(export_dir):
    """Sorted integer version folders under `export_dir` (the ones Serving would load)."""
    if not os.path.isdir(export_dir):
        return []
    return sorted(
        int(n)
        for n in os.listdir(export_dir)
        if n.isdigit() and int(n) >= 1 and os.path.isdir(os.path.join(export_dir, n))
    )


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got model={type(model).__name__}.")
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "export_saved_model needs the TensorFlow backend (KERAS_BACKEND=tensorflow): "
            f"the {keras.backend.backend()!r} backend would embed XLA-compiled functions, "
            "which TensorFlow Serving on GPU cannot load. Save a .keras file and export it "
            "from a TensorFlow-backend process (`keras-archs export model.keras`)."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"model={model.name!r} has no static inputs (a subclassed or unbuilt model); "
            "export needs a Functional model whose inputs have a known rank and dtype."
        )
    for tensor in inputs:
        if tensor.shape is None or any(d is not None and d < 0 for d in tensor.shape):
            raise ValueError(
                f"Input {tensor.name!r} of model={model.name!r} has no static rank "
                f"(shape={tensor.shape}); export needs inputs of known rank."
            )
    return inputs


# ---------------------------------------------------------------- model description


def find_spec(model, name=None):
    """The registry spec for `model` (by `name`, else by `model.name`), or None."""
    from keras_archs.registry import _REGISTRY, get_spec, list_models

    if name is not None:
        return get_spec(name)
    list_models()  # loads the registry
    key = model.name.lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    squeezed = {n.replace("_", ""): n for n in _REGISTRY}
    hit = squeezed.get(key.replace("_", ""))
    return _REGISTRY[hit] if hit else None


def _family_preprocess(spec):
    import importlib

    module = importlib.import_module(spec.builder.__module__)
    # A family variant may have its own function (resnet_v2 -> preprocess_input_v2).
    suffix = spec.family.rpartition("_")[2] if "_" in spec.family else None
    if suffix and hasattr(module, f"preprocess_input_{suffix}"):
        return getattr(module, f"preprocess_input_{suffix}")
    return getattr(module, "preprocess_input", None)


def _check_preprocessing(preprocessing):
    if not callable(preprocessing) and preprocessing not in PREPROCESSING:
        raise ValueError(
            f"preprocessing must be one of {PREPROCESSING} or a callable; "
            f"got preprocessing={preprocessing!r}."
        )
    return preprocessing


def _scale(x):
    return x / 255.0


def image_preprocessing(model, spec, preprocessing="auto"):
    """The in-graph function from 0-255 pixels to what the model expects.

    "auto"/"family": the family's `preprocess_input` (keras.applications' convention
    for ImageNet weights); families without one (LeNet-5, AlexNet) are scaled to
    [0, 1] under "auto", as `keras-archs train` feeds them. "scale": x / 255 (use it
    for any model trained with `keras-archs train`, which feeds every model [0, 1]
    pixels). "none": pixels are passed unchanged. A callable is used as given.
    """
    if callable(_check_preprocessing(preprocessing)):
        return preprocessing
    if preprocessing == "none":
        return lambda x: x
    if preprocessing == "scale":
        return _scale
    family = _family_preprocess(spec) if spec is not None else None
    if family is None:
        if preprocessing == "family":
            raise ValueError(
                f"preprocessing='family' but model={model.name!r} has no family "
                "`preprocess_input`; use 'scale', 'none' or a callable."
            )
        return _scale
    channels = model.inputs[0].shape[-1]
    if channels != 3:
        raise ValueError(
            f"The {spec.family} `preprocess_input` expects 3 (RGB) channels but "
            f"model={model.name!r} takes {channels}; pass preprocessing='scale', 'none' "
            "or a callable."
        )
    return family


def _output_names(model):
    """Signature output names: `probabilities` for a softmax output, else layer names."""
    outputs = model.output
    if isinstance(outputs, dict):
        return list(outputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    names = []
    for tensor in outputs:
        layer = tensor._keras_history.operation
        activation = getattr(getattr(layer, "activation", None), "__name__", "")
        names.append("probabilities" if activation == "softmax" else layer.name)
    if len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(len(names))]
    return names


def _named_outputs(model, outputs):
    if isinstance(outputs, dict):
        return dict(outputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return dict(zip(_output_names(model), outputs))


def is_image_classifier(model, spec):
    inputs = model.inputs
    return (
        spec is not None
        and spec.task == "image_classification"
        and len(inputs) == 1
        and len(inputs[0].shape) == 4
        and "float" in str(inputs[0].dtype)
    )


def describe_signatures(model, name=None, tokenizer="auto"):
    """{signature: ({input: (shape, dtype)}, [output names])} export_saved_model writes."""
    spec = find_spec(model, name)
    outputs = _output_names(model)
    if is_image_classifier(model, spec):
        shape = tuple(model.inputs[0].shape)
        result = {"serving_default": ({"images": (shape, "float32")}, outputs)}
        if _bytes_size(model, spec) is not None:
            result["serving_bytes"] = ({"image_bytes": ((None,), "string")}, outputs)
        return result
    inputs = {t.name: (tuple(t.shape), str(t.dtype)) for t in model.inputs}
    if resolve_tokenizer(model, tokenizer) is None:
        return {"serving_default": (inputs, outputs)}
    return {**text_signatures(model, outputs), "serving_ids": (inputs, outputs)}


# ---------------------------------------------------------------- signatures


def _bytes_size(model, spec):
    height, width = model.inputs[0].shape[1:3]
    if height is None or width is None:
        if spec is None or None in spec.default_input_shape[:2]:
            return None
        height, width = spec.default_input_shape[:2]
    return int(height), int(width)


def _image_endpoints(archive, model, spec, preprocessing):
    tf = _tf()
    preprocess = image_preprocessing(model, spec, preprocessing)
    shape = tuple(model.inputs[0].shape)
    channels = int(shape[-1])

    # One trace of the model: `serving_bytes` calls this function instead of re-tracing.
    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")], autograph=False)
    def serve_images(images):
        return _named_outputs(model, model(preprocess(images), training=False))

    # ExportArchive takes traced tf.functions only. serving_bytes calls the concrete
    # function: calling `serve_images` itself would trace the whole model again.
    traced = serve_images.get_concrete_function()
    archive.add_endpoint("serving_default", serve_images)
    size = _bytes_size(model, spec)
    if size is None:
        return

    def decode(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
        return tf.ensure_shape(image, (*size, channels))

    def serve_bytes(image_bytes):
        images = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=tf.TensorSpec((*size, channels), tf.float32),
        )
        return traced(images)

    archive.add_endpoint(
        "serving_bytes",
        serve_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name="image_bytes")],
    )


def _generic_endpoint(archive, model, endpoint="serving_default"):
    tf = _tf()
    specs = {
        t.name: tf.TensorSpec(tuple(t.shape), tf.as_dtype(str(t.dtype)), name=t.name)
        for t in model.inputs
    }
    structure = model.input

    @tf.function(input_signature=[specs], autograph=False)
    def serve(inputs):
        if isinstance(structure, dict):
            args = {key: inputs[t.name] for key, t in structure.items()}
        elif isinstance(structure, (list, tuple)):
            args = [inputs[t.name] for t in structure]
        else:
            args = inputs[structure.name]
        return _named_outputs(model, model(args, training=False))

    traced = serve.get_concrete_function()  # traced once; the archive would trace it twice
    archive.add_endpoint(endpoint, serve)
    return traced


def build_archive(model, name=None, preprocessing="auto", tokenizer="auto", max_new_tokens=32):
    """A `keras.export.ExportArchive` with the named signatures (see module docstring)."""
    import keras

    _check_model(model)
    spec = find_spec(model, name)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if is_image_classifier(model, spec):
        _image_endpoints(archive, model, spec, preprocessing)
        return archive
    tokenizer = resolve_tokenizer(model, tokenizer)
    if tokenizer is None:
        _generic_endpoint(archive, model)
    else:
        serve_ids = _generic_endpoint(archive, model, "serving_ids")
        add_text_endpoints(archive, model, tokenizer, serve_ids, max_new_tokens)
    return archive


# ---------------------------------------------------------------- atomic write


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        with contextlib.suppress(OSError):
            os.remove(path)


def _write(archive, target_dir):
    archive.write_out(target_dir, verbose=False)


def export_saved_model(
    model,
    export_dir,
    version=None,
    overwrite=False,
    *,
    name=None,
    preprocessing="auto",
    tokenizer="auto",
    max_new_tokens=32,
):
    """Writes `model` to `<export_dir>/<version>/` for TensorFlow Serving, atomically.

    Args:
        model: a Functional `keras.Model` (TensorFlow backend).
        export_dir: the model's base path; created if missing. Holds one folder per version.
        version: integer >= 1; None picks the next integer after the existing versions.
        overwrite: replace an existing `<version>` folder (atomically: the new version is
            written completely first). Without it an existing version raises ValueError
            and is left untouched.
        name: registry name to choose the signatures by (default: found from `model.name`).
        preprocessing: image classifiers only: "auto", "family", "scale", "none" or a
            callable on float32 0-255 pixels (see `image_preprocessing`).
        tokenizer: text models only: the keras-hub tokenizer to embed for the string
            signatures (`keras_archs.export.text`); "auto" gives a byte-level GPT
            keras-hub's `ByteTokenizer`; a path reads a WordPiece vocabulary file;
            None keeps the id-level `serving_default` only.
        max_new_tokens: tokens the GPT `generate` signature adds to a prompt.

    Returns:
        The absolute path of the version folder written.
    """
    version = _check_version(version)
    _check_preprocessing(preprocessing)
    export_dir = _check_export_dir(export_dir)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got overwrite={overwrite!r}.")
    if version is None:
        version = (existing_versions(export_dir) or [0])[-1] + 1
    target = os.path.join(export_dir, str(version))
    if os.path.lexists(target) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {target!r}; pass overwrite=True "
            "(CLI: --overwrite) to replace it, or version=None for the next version."
        )
    # Trace every signature before anything touches the disk.
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        raise ValueError(
            f"max_new_tokens must be an int >= 1; got max_new_tokens={max_new_tokens!r}."
        )
    archive = build_archive(model, name, preprocessing, tokenizer, max_new_tokens)

    created = not os.path.exists(export_dir)
    os.makedirs(export_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{version}-", dir=export_dir)
    old = None
    try:
        _write(archive, tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700; the server may run as another user
        if os.path.lexists(target):
            if not overwrite:
                raise ValueError(f"Version {version} appeared at {target!r} during the export.")
            # POSIX cannot rename over a non-empty folder: move the old one aside first.
            old = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}old-{version}-", dir=export_dir)
            os.rename(target, os.path.join(old, "v"))
        os.rename(tmp, target)
    except BaseException:
        _remove(tmp)
        if old is not None:
            if not os.path.lexists(target) and os.path.lexists(os.path.join(old, "v")):
                os.rename(os.path.join(old, "v"), target)
            _remove(old)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(export_dir)
        raise
    if old is not None:
        _remove(old)
    return target


# ---------------------------------------------------------------- .keras files


def load_model_file(path):
    """Loads a `.keras` archive (safe mode), or raises ValueError saying what is wrong."""
    import keras

    import keras_archs  # noqa: F401  (registers the custom layers)

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Model file {path!r} does not exist.")
    if not path.endswith(".keras") or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras archive (expected a .keras zip file written by "
            "model.save(); legacy .h5 and SavedModel folders are not accepted)."
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # keras raises many types for a damaged archive
        raise ValueError(f"Cannot load the Keras archive {path!r}: {e}") from e

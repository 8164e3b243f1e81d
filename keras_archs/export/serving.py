"""TensorFlow Serving side files: `models.config` and example REST request bodies.

`models.config` is the text-format `ModelServerConfig` protocol buffer that
`tensorflow_model_server --model_config_file=...` reads; it lists one model per folder
of `saved_models/` that holds at least one version, with the base path it has inside the
serving container (`/models/<name>` when `saved_models/` is mounted at `/models`).
"""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np

from keras_archs.export.preprocessing import image_data_format
from keras_archs.export.signatures import describe_signatures
from keras_archs.export.versions import existing_versions, write_text_atomically
from keras_archs.validation import check_choice, check_positive_int, check_string


def served_models(root):
    """Names of the folders under `root` that hold a version with a `saved_model.pb`."""
    if not os.path.isdir(root):
        raise ValueError(f"Serving root {root!r} is not a folder.")
    names = []
    for name in sorted(os.listdir(root)):
        base = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(base):
            continue
        if any(
            os.path.isfile(os.path.join(base, str(v), "saved_model.pb"))
            for v in existing_versions(base)
        ):
            names.append(name)
    return names


def serving_config_text(names, container_root="/models"):
    """Text-format ModelServerConfig listing `names` under `container_root`."""
    check_string("container_root", container_root)
    if not container_root.startswith("/"):
        raise ValueError(
            f"container_root must be an absolute path (TensorFlow Serving requires absolute "
            f"base paths); got container_root={container_root!r}."
        )
    entries = "".join(
        "  config {\n"
        f"    name: {json.dumps(name)}\n"
        f"    base_path: {json.dumps(container_root.rstrip('/') + '/' + name)}\n"
        '    model_platform: "tensorflow"\n'
        "  }\n"
        for name in names
    )
    return "model_config_list {\n" + entries + "}\n"


def write_serving_config(root, container_root="/models"):
    """Writes `<root>/models.config` for every exported model under `root`; returns its path."""
    root = os.path.abspath(os.fspath(root))
    names = served_models(root)
    if not names:
        raise ValueError(f"No exported model (a <name>/<version>/saved_model.pb) under {root!r}.")
    path = os.path.join(root, "models.config")
    write_text_atomically(path, serving_config_text(names, container_root))
    return path


def _example_value(shape, dtype, name, rng):
    # A dimension left free (e.g. a TCN's time axis) gets an arbitrary 8 steps.
    shape = tuple(8 if d is None else int(d) for d in shape[1:])
    if "float" in dtype:
        if name == "images":
            return rng.integers(0, 256, shape).astype("float32").tolist()
        return np.round(rng.standard_normal(shape), 3).astype("float32").tolist()
    if "mask" in name:
        return np.ones(shape, dtype="int64").tolist()
    return rng.integers(0, 2, shape).astype("int64").tolist()


def _example_png(size, channels):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (*size, channels)).astype("uint8")
    return bytes(tf.io.encode_png(pixels).numpy())


def example_request(
    model,
    name=None,
    signature="serving_default",
    instances=1,
    tokenizer="auto",
    preprocessing="auto",
):
    """A REST `:predict` body ({"signature_name", "instances"}) matching a signature
    that `export_saved_model(model, ..., name, preprocessing, tokenizer)` writes."""
    signatures = describe_signatures(model, name, tokenizer, preprocessing)
    check_choice("signature", signature, sorted(signatures))
    instances = check_positive_int("instances", instances)
    inputs, _ = signatures[signature]
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(instances):
        row = {}
        for key, (shape, dtype) in inputs.items():
            if dtype == "string" and key in ("text", "prompt"):
                row[key] = "def main():\n    "
            elif dtype == "string":
                height, width, channels = _image_size(model)
                png = _example_png((height, width), channels)
                row[key] = {"b64": base64.b64encode(png).decode("ascii")}
            else:
                row[key] = _example_value(shape, dtype, key, rng)
        rows.append(row)
    return {"signature_name": signature, "instances": rows}


def _image_size(model):
    """(height, width, channels) of an example image; a free height or width gets 224."""
    shape = model.inputs[0].shape
    if image_data_format(model) == "channels_first":
        channels, height, width = shape[1:4]
    else:
        height, width, channels = shape[1:4]
    return height or 224, width or 224, int(channels)


def write_example_request(
    model, path, name=None, signature="serving_default", tokenizer="auto", preprocessing="auto"
):
    """Writes `example_request(...)` as JSON to `path` (atomically); returns the path."""
    body = example_request(
        model, name=name, signature=signature, tokenizer=tokenizer, preprocessing=preprocessing
    )
    buffer = io.StringIO()
    json.dump(body, buffer, separators=(",", ":"))
    write_text_atomically(os.fspath(path), buffer.getvalue() + "\n")
    return os.fspath(path)

"""The named signatures of an export, traced into a `keras.export.ExportArchive`.

All are traced by `tf.function` without `jit_compile`: TensorFlow Serving on GPU
cannot load XLA-compiled functions.

- image classifiers: `serving_default` takes `images` (float32 pixels in [0, 255] in
  the model's layout, batch None) and applies the model's preprocessing inside the
  graph (`keras_archs.export.preprocessing`); `serving_bytes` takes `image_bytes`
  (encoded JPEG/PNG/BMP/GIF strings), decodes and resizes (bilinear) them to the
  model's height and width inside the graph. Both return `probabilities` (softmax top)
  or the output layer's name.
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

from keras_archs.export.preprocessing import (
    image_data_format,
    model_spec,
    preprocess_images,
    serving_preprocessing,
)
from keras_archs.export.text import add_text_endpoints, resolve_tokenizer, text_signatures
from keras_archs.validation import check_positive_int


def check_model(model):
    """Refuses what cannot be exported: not a Functional model with static inputs, or a
    backend other than TensorFlow."""
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
    return static_inputs(model)


def static_inputs(model, what="export"):
    """The model's input tensors, refused unless there are some, each of static rank
    (`what` names the exporter in the messages)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"model={model.name!r} has no static inputs (a subclassed or unbuilt model); "
            f"{what} needs a Functional model whose inputs have a known rank and dtype."
        )
    for tensor in inputs:
        if tensor.shape is None or any(d is not None and d < 0 for d in tensor.shape):
            raise ValueError(
                f"Input {tensor.name!r} of model={model.name!r} has no static rank "
                f"(shape={tensor.shape}); {what} needs inputs of known rank."
            )
    return inputs


def _output_names(model):
    """Signature output names: `probabilities` for a softmax output, else layer names."""
    outputs = model.output
    if isinstance(outputs, dict):
        return list(outputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    # A Functional model's `output_names` are the names of the layers making its outputs.
    layer_names = list(getattr(model, "output_names", None) or [])
    if len(layer_names) != len(outputs):
        return [f"output_{i}" for i in range(len(outputs))]
    names = []
    for layer_name in layer_names:
        layer = next((la for la in model.layers if la.name == layer_name), None)
        activation = getattr(getattr(layer, "activation", None), "__name__", "")
        names.append("probabilities" if activation == "softmax" else layer_name)
    if len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(len(names))]
    return names


def _named_outputs(model, outputs):
    if isinstance(outputs, dict):
        return dict(outputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return dict(zip(_output_names(model), outputs))


def _bytes_size(model, spec):
    """(height, width) the `serving_bytes` signature resizes to, or None if unknown."""
    first = image_data_format(model) == "channels_first"
    shape = model.inputs[0].shape
    height, width = shape[2:4] if first else shape[1:3]
    if height is None or width is None:
        if spec is None or None in spec.default_input_shape[:2]:
            return None
        height, width = spec.default_input_shape[:2]
    return int(height), int(width)


def describe_signatures(model, name=None, tokenizer="auto", preprocessing="auto"):
    """{signature: ({input: (shape, dtype)}, [output names])} export_saved_model writes."""
    outputs = _output_names(model)
    if serving_preprocessing(model, name, preprocessing) is not None:
        shape = tuple(model.inputs[0].shape)
        result = {"serving_default": ({"images": (shape, "float32")}, outputs)}
        if _bytes_size(model, model_spec(model, name)) is not None:
            result["serving_bytes"] = ({"image_bytes": ((None,), "string")}, outputs)
        return result
    inputs = {t.name: (tuple(t.shape), str(t.dtype)) for t in model.inputs}
    if resolve_tokenizer(model, tokenizer) is None:
        return {"serving_default": (inputs, outputs)}
    return {**text_signatures(model, outputs), "serving_ids": (inputs, outputs)}


def _image_endpoints(archive, model, spec, mode):
    import tensorflow as tf

    data_format = image_data_format(model)
    shape = tuple(model.inputs[0].shape)
    channels = int(shape[1] if data_format == "channels_first" else shape[-1])

    # One trace of the model: `serving_bytes` calls this function instead of re-tracing.
    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")], autograph=False)
    def serve_images(images):
        model_input = preprocess_images(images, mode, data_format)
        return _named_outputs(model, model(model_input, training=False))

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
        image = tf.ensure_shape(image, (*size, channels))
        return tf.transpose(image, (2, 0, 1)) if data_format == "channels_first" else image

    decoded = (channels, *size) if data_format == "channels_first" else (*size, channels)

    def serve_bytes(image_bytes):
        images = tf.map_fn(
            decode, image_bytes, fn_output_signature=tf.TensorSpec(decoded, tf.float32)
        )
        return traced(images)

    archive.add_endpoint(
        "serving_bytes",
        serve_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name="image_bytes")],
    )


def _generic_endpoint(archive, model, endpoint="serving_default"):
    import tensorflow as tf

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
    """A `keras.export.ExportArchive` holding the signatures of `model` (module docstring).

    `name`, `preprocessing`: see `keras_archs.export.preprocessing.serving_preprocessing`;
    `tokenizer`, `max_new_tokens`: see `keras_archs.export.text`. Every signature is
    traced here, so a failure surfaces before anything is written.
    """
    import keras

    check_model(model)
    check_positive_int("max_new_tokens", max_new_tokens)
    mode = serving_preprocessing(model, name, preprocessing)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if mode is not None:
        _image_endpoints(archive, model, model_spec(model, name), mode)
        return archive
    tokenizer = resolve_tokenizer(model, tokenizer)
    if tokenizer is None:
        _generic_endpoint(archive, model)
    else:
        serve_ids = _generic_endpoint(archive, model, "serving_ids")
        add_text_endpoints(archive, model, tokenizer, serve_ids, max_new_tokens)
    return archive

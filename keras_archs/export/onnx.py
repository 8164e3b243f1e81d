"""`export_onnx`: a model as one `.onnx` file that ONNX Runtime runs, checked against Keras.

The file takes the model's own inputs, named as the model names them (`input_layer` of
an image classifier, `token_ids` / `padding_mask` / `segment_ids` of GPT and BERT), with a
free batch dimension called `batch`; pixels go in preprocessed as the model expects
(`keras_archs.export.preprocess_images`), not as the 0-255 values the SavedModel's
`serving_default` takes. Its outputs are named as the SavedModel's are
(`probabilities` for a softmax output, else the output layer's name or the output
dict's keys).

How the file is made (`method="auto"`): Keras' own `model.export(path, format="onnx")`,
which under the TensorFlow backend freezes the model's weights into its serving function
and converts that with tf2onnx. Two cases go to tf2onnx directly instead
(`tf2onnx.convert.from_function` on a `tf.function` of the model's forward pass, with
an input signature built from `model.inputs`), and the result records which and why
(`method`, `fallback_reason`):

- Keras' path raises. It takes its input signature from the model's build config and
  refuses a model never called ("The model provided has never called."), it hands a
  multi-input model's inputs to the function as one list, and `format="onnx"` exists
  only from Keras 3.6.
- The model's weights are large (over `KERAS_EXPORT_MAX_BYTES`). tf2onnx copies the
  whole graph, frozen weights included, in each of its grappler and optimizer passes,
  so its time grows with the weights' bytes, not the graph's size: with frozen weights
  AlexNet's 217 MB took 112 s (ResNet-18 at 224 px: 61 s). The direct conversion
  passes the large weights in as graph inputs instead (13 s; ResNet-18 9 s) and turns
  them into initializers afterwards (`_convert_with_tf2onnx`).

The file is written atomically: into a hidden temporary file beside the target, then
checked (loaded and run in ONNX Runtime on a random batch), then renamed into place.
An existing file is never replaced without `overwrite=True`; a failed export or check
leaves the target as it was.

TensorFlow, tf2onnx, onnx and onnxruntime are imported lazily, only here: the rest of
keras_archs runs without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
import warnings

from keras_archs.export.signatures import static_inputs
from keras_archs.validation import check_bool, check_int, check_positive_int

TMP_PREFIX = ".tmp-"
METHODS = ("auto", "keras", "tf2onnx")
# A sequence length for inputs whose length the model leaves free (verification only).
FREE_LENGTH = 8
# Variables of this many elements or more enter the tf2onnx conversion as graph inputs
# (`_convert_with_tf2onnx`); smaller ones (biases, batch-norm statistics) are frozen.
LARGE_WEIGHT_ELEMENTS = 4096
# method="auto" lets Keras' model.export convert a model whose large weights take at
# most this many bytes; beyond, tf2onnx on weight inputs (`_convert_with_tf2onnx`), which
# scripts/onnx_check.py measured as fast or faster for every registered image model over
# it (MobileNet-v2 at 1.5 MB and smaller: the two within a second of each other).
KERAS_EXPORT_MAX_BYTES = 4 * 2**20


@dataclasses.dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote.

    Attributes:
        path: absolute path of the `.onnx` file.
        method: "keras" (`model.export(format="onnx")`) or "tf2onnx" (the fallback).
        seconds: wall-clock seconds of the conversion (tracing and tf2onnx), without
            the check.
        max_abs_diff: largest absolute difference between ONNX Runtime's and Keras'
            outputs on a random batch (over every output), or None when not verified.
        inputs: {input name: (shape, dtype)} of the ONNX graph; None marks a free size.
        outputs: the ONNX graph's output names, in order.
        fallback_reason: why Keras' own export was not used (its error), or None.
    """

    path: str
    method: str
    seconds: float
    max_abs_diff: float | None
    inputs: dict
    outputs: list
    fallback_reason: str | None = None


def export_onnx(
    model,
    path,
    overwrite=False,
    *,
    opset=None,
    verify=True,
    atol=None,
    method="auto",
    batch_size=2,
    seed=0,
):
    """Writes `model` to the ONNX file `path`, atomically, and checks it in ONNX Runtime.

    Args:
        model: a Functional `keras.Model` (TensorFlow backend: the conversion traces
            TensorFlow functions). A model never called is called once here on the
            verification batch (Keras' export needs a called model).
        path: the file to write, ending in `.onnx`; its folder is created if missing.
        overwrite: replace an existing file. Without it an existing `path` raises
            ValueError and is left untouched.
        opset: the ONNX opset; None takes tf2onnx's default.
        verify: run the written file in ONNX Runtime on a random batch and compare with
            the Keras model (`OnnxExport.max_abs_diff`); False skips it (and `atol`).
        atol: with `verify`, refuse (ValueError, nothing written) a file whose outputs
            differ from Keras' by more than this; None only reports the difference.
        method: "auto" (Keras' export for a model with at most `KERAS_EXPORT_MAX_BYTES`
            of large weights, else, or where Keras' export raises, tf2onnx directly; see
            the module's docstring), "keras" or "tf2onnx" (that one only, no fallback).
        batch_size: rows of the verification batch (2: checks the free batch dimension).
        seed: seed of the verification batch.

    Returns:
        An `OnnxExport` (path, method, seconds, max_abs_diff, input and output names).
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got model={type(model).__name__}.")
    check_bool("overwrite", overwrite)
    check_bool("verify", verify)
    check_int("opset", opset, minimum=7, allow_none=True)
    check_positive_int("batch_size", batch_size)
    check_int("seed", seed, minimum=0)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got method={method!r}.")
    if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float))):
        raise TypeError(f"atol must be a number or None; got atol={atol!r}.")
    path = check_onnx_path(path, overwrite)
    _check_model(model)
    _check_packages()

    inputs = example_inputs(model, batch_size=batch_size, seed=seed)
    # Also marks the model as called, which Keras' export requires.
    expected = model(_model_call_structure(model, inputs), training=False)
    expected = _named_numpy(model, expected)

    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        start = time.perf_counter()
        used, reason, proto = _convert(model, tmp, opset, method, list(expected))
        seconds = time.perf_counter() - start
        graph_inputs, graph_outputs = _describe(proto)
        del proto
        diff = None
        if verify:
            diff = max_abs_diff(tmp, inputs, expected)
            if atol is not None and not diff <= atol:
                raise ValueError(
                    f"The ONNX file of model={model.name!r} differs from Keras by {diff:.3g} "
                    f"(max abs) on a random batch, over atol={atol}; nothing was written."
                )
        os.chmod(tmp, 0o666 & ~_umask())
        _move_into_place(tmp, path, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return OnnxExport(
        path=path,
        method=used,
        seconds=seconds,
        max_abs_diff=diff,
        inputs=graph_inputs,
        outputs=graph_outputs,
        fallback_reason=reason,
    )


def check_onnx_path(path, overwrite=False):
    """The absolute path of a `.onnx` file that may be written (checked before anything
    is traced): an existing file is a ValueError unless `overwrite`."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path ending in .onnx; got path={path!r}.")
    path = os.path.abspath(os.fspath(path))
    if not path.endswith(".onnx"):
        raise ValueError(f"path must end in .onnx; got path={path!r}.")
    if os.path.isdir(path):
        raise ValueError(f"path={path!r} is a folder; expected the .onnx file to write.")
    if os.path.lexists(path) and not overwrite:
        raise ValueError(
            f"{path!r} already exists; pass overwrite=True (CLI: --overwrite) to replace it."
        )
    existing = os.path.dirname(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"path={path!r} is under {existing!r}, which is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"path={path!r} is not writable (no write permission on {existing!r}).")
    return path


def _check_model(model):
    import keras

    if keras.backend.backend() != "tensorflow":
        # Keras' export would go through jax2onnx or torch.onnx instead, and the
        # fallback traces TensorFlow functions.
        raise RuntimeError(
            "export_onnx needs the TensorFlow backend (KERAS_BACKEND=tensorflow): it "
            "converts the model's TensorFlow graph with tf2onnx. Save a .keras file and "
            "export it from a TensorFlow-backend process (`keras-archs export model.keras "
            "--format onnx`)."
        )
    static_inputs(model, "ONNX export")


def _check_packages():
    # onnxruntime also folds the direct conversion's graph (`_fold_with_onnxruntime`).
    needed = ["tf2onnx", "onnx", "onnxruntime"]
    missing = []
    for name in needed:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise RuntimeError(
            f"ONNX export needs {', '.join(missing)}: pip install {' '.join(missing)}."
        )


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(tmp, path, overwrite):
    if overwrite:
        os.replace(tmp, path)
        return
    # A hard link fails if `path` appeared meanwhile, where a rename would replace it.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ValueError(
            f"{path!r} already exists; pass overwrite=True (CLI: --overwrite) to replace it."
        ) from None
    except OSError:  # a file system without hard links
        if os.path.lexists(path):
            raise ValueError(
                f"{path!r} already exists; pass overwrite=True (CLI: --overwrite) to replace it."
            ) from None
        os.replace(tmp, path)


# ----------------------------------------------------------------------------- conversion


@contextlib.contextmanager
def _quiet_tf2onnx():
    """tf2onnx logs every step at INFO and numpy 2 warns about `np.object` (Keras'
    numpy-2 patch of tf2onnx sets it); neither says anything a user can act on."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _convert(model, tmp, opset, method, output_names):
    """(method used, why Keras' export was not used or None, the ONNX model), having
    written `tmp`: the graph's outputs named `output_names` (`_name_graph`)."""
    reason = None
    with _quiet_tf2onnx():
        if method == "auto":
            size = sum(_nbytes(v) for v in _large_weights(model))
            if size > KERAS_EXPORT_MAX_BYTES:
                method = "tf2onnx"
                reason = (
                    f"{size / 2**20:.0f} MB of weights: model.export freezes them into the "
                    "graph, which tf2onnx copies in every pass (minutes for 100 MB)"
                )
        if method in ("auto", "keras"):
            try:
                model.export(tmp, format="onnx", verbose=False, opset_version=opset)
            except Exception as e:  # Keras and tf2onnx raise many types
                if method == "keras":
                    raise RuntimeError(f"Keras' ONNX export failed: {_one_line(e)}") from e
                reason = f"model.export raised {_one_line(e)}"
            else:
                import onnx

                proto = onnx.load(tmp)
                _name_graph(model, proto, output_names)
                _save(proto, tmp)
                return "keras", None, proto
        proto = _convert_with_tf2onnx(model, tmp, opset, output_names)
    return "tf2onnx", reason, proto


def _one_line(error):
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _patch_tf2onnx():
    """Keras' numpy-2 fixes of tf2onnx (`np.object`, a constant-folding rewrite), applied
    once; absent in a Keras without them."""
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        return
    patch_tf2onnx()


def _nbytes(variable):
    import numpy as np

    return int(np.prod(variable.shape, dtype="int64")) * np.dtype(variable.dtype).itemsize


def _large_weights(model):
    """The model's float variables of at least `LARGE_WEIGHT_ELEMENTS` elements (kernels,
    embeddings: nearly all of its bytes), each once."""
    import numpy as np

    found, seen = [], set()
    for variable in model.variables:
        size = int(np.prod(variable.shape, dtype="int64"))
        if id(variable) in seen or size < LARGE_WEIGHT_ELEMENTS:
            continue
        if "float" in str(variable.dtype):
            seen.add(id(variable))
            found.append(variable)
    return found


def _convert_with_tf2onnx(model, tmp, opset, output_names):
    """tf2onnx on a `tf.function` of the model's forward pass, its large weights passed
    in as inputs; they become initializers of the ONNX graph afterwards.

    The function takes one positional argument per model input, named as the input, in
    `model.inputs` order, then one per large weight (`_large_weights`), which the model
    reads through a `keras.StatelessScope` mapping. Why not freeze them, as Keras' export
    does: tf2onnx copies the whole graph, constants included, in each of its grappler
    and optimizer passes (protobuf copies of every tensor), so its time grows with the
    weights' bytes: AlexNet's 217 MB took 112 s, as weight inputs 13 s. Small variables
    (batch-norm statistics, biases) stay frozen, so tf2onnx still folds what depends on
    them. ONNX Runtime's basic, portable graph optimizations (constant folding and
    Conv+BatchNorm/Mul/Add fusion, ORT_ENABLE_BASIC) then fold the kernels' layout
    transposes and the batch norms into the weights, as tf2onnx does for frozen ones.
    """
    import keras
    import tensorflow as tf
    import tf2onnx

    specs = [
        tf.TensorSpec(tuple(t.shape), tf.as_dtype(str(t.dtype)), name=_input_name(t))
        for t in model.inputs
    ]
    names = [s.name for s in specs]
    weights = _large_weights(model)
    # Graph input names of the weights (renamed to the variables' paths afterwards).
    weight_names = [f"keras_archs_weight_{i}" for i in range(len(weights))]
    weight_specs = [
        tf.TensorSpec(tuple(v.shape), tf.as_dtype(str(v.dtype)), name=n)
        for v, n in zip(weights, weight_names)
    ]

    def forward(*args):
        inputs = _model_call_structure(model, dict(zip(names, args[: len(names)])))
        with keras.StatelessScope(state_mapping=list(zip(weights, args[len(names) :]))):
            return model(inputs, training=False)

    signature = specs + weight_specs
    function = tf.function(forward, input_signature=signature, autograph=False)
    _patch_tf2onnx()
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    except Exception as e:
        raise RuntimeError(f"tf2onnx could not convert model={model.name!r}: {_one_line(e)}") from e
    _name_graph(model, proto, output_names)
    if not weights:
        _save(proto, tmp)
        return proto
    _weights_to_initializers(proto, dict(zip(weight_names, weights)))
    return _fold_with_onnxruntime(proto, tmp)


def _weights_to_initializers(proto, weights):
    """Turns the graph inputs named as `weights`' keys into initializers holding the
    variables' values, named by the variables' paths."""
    import keras
    import onnx

    graph = proto.graph
    used = {name for node in graph.node for name in node.input}
    taken = {v.name for v in graph.input} | {i.name for i in graph.initializer}
    taken |= {name for node in graph.node for name in node.output}
    kept = [v for v in graph.input if v.name not in weights]
    del graph.input[:]
    graph.input.extend(kept)
    renames = {}
    for name, variable in weights.items():
        if name not in used:
            continue  # a weight the forward pass does not read (not in the graph)
        path = new = getattr(variable, "path", None) or name
        suffix = 0
        while new in taken:  # two variables of one path (shared layers), or a tensor's name
            suffix += 1
            new = f"{path}_{suffix}"
        taken.add(new)
        renames[name] = new
        value = keras.ops.convert_to_numpy(variable)
        tensor = graph.initializer.add()
        tensor.name = new
        tensor.data_type = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
        tensor.dims.extend(value.shape)
        tensor.raw_data = value.tobytes()
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]


def _fold_with_onnxruntime(proto, tmp):
    """Writes (and returns) `proto` to `tmp` as ONNX Runtime's basic graph optimizations leave it:
    constant folding, redundant node removal and Conv fusions, all standard ONNX
    operators (the levels above that are specific to ONNX Runtime and the machine, and
    are not used). Opset imports of domains no node uses (ONNX Runtime adds its own)
    are dropped."""
    import onnx
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = tmp
    onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    folded = onnx.load(tmp)
    domains = {node.domain for node in folded.graph.node}
    kept = [o for o in folded.opset_import if o.domain in domains or o.domain in ("", "ai.onnx")]
    del folded.opset_import[:]
    folded.opset_import.extend(kept)
    _save(folded, tmp)
    return folded


def _save(proto, path):
    import onnx

    onnx.save(proto, path)


def _input_name(tensor):
    # KerasTensor names are the Input layers' names; ":0" suffixes come from TensorFlow.
    return tensor.name.split(":")[0]


def _model_call_structure(model, by_name):
    """`by_name` ({input name: array}) in the structure the model is called with: a dict
    when the Functional model was built on a dict of inputs, else a list in
    `model.inputs` order, or the single array."""
    arrays = [by_name[_input_name(t)] for t in model.inputs]
    structure = getattr(model, "_inputs_struct", None)
    if isinstance(structure, dict):
        return {key: by_name[_input_name(t)] for key, t in structure.items()}
    return arrays[0] if len(arrays) == 1 else arrays


# ------------------------------------------------------------------------------ names


def _output_names(model, outputs):
    """The SavedModel signature's output names (`probabilities` for a softmax output),
    so that both formats name an output alike."""
    from keras_archs.export.signatures import _output_names as signature_output_names

    names = signature_output_names(model)
    return names if len(names) == len(outputs) else [f"output_{i}" for i in range(len(outputs))]


def _named_numpy(model, outputs):
    """{output name: numpy array} of Keras' outputs, in the model's output order."""
    import keras

    if isinstance(outputs, dict):
        items = list(outputs.items())
    else:
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        items = list(zip(_output_names(model, outputs), outputs))
    return {k: keras.ops.convert_to_numpy(v) for k, v in items}


def _name_graph(model, proto, output_names):
    """Renames the graph's outputs to `output_names` (tf2onnx names a tensor output
    `Identity:0`; a dict output already has its keys) and the free batch dimension of
    every input and output to `batch`, in place."""
    graph = proto.graph
    current = [o.name for o in graph.output]
    if set(current) != set(output_names):
        if len(current) != len(output_names):
            raise RuntimeError(
                f"The ONNX graph has {len(current)} outputs ({current}); model="
                f"{model.name!r} has {len(output_names)} ({output_names})."
            )
        taken = {v.name for v in graph.input} | {i.name for i in graph.initializer}
        taken |= {name for node in graph.node for name in node.output} - set(current)
        clash = taken & set(output_names)
        if clash:
            raise RuntimeError(f"Output names {sorted(clash)} name other tensors of the graph.")
        renames = dict(zip(current, output_names))
        for node in graph.node:
            node.output[:] = [renames.get(n, n) for n in node.output]
            node.input[:] = [renames.get(n, n) for n in node.input]
        for value in list(graph.output) + list(graph.value_info):
            value.name = renames.get(value.name, value.name)
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


def _describe(proto):
    """({input name: (shape, dtype)}, [output names]) of an ONNX model."""
    import onnx

    def describe(value):
        tensor = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        return shape, onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name

    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    inputs = {v.name: describe(v) for v in graph.input if v.name not in initializers}
    return inputs, [o.name for o in graph.output]


# ------------------------------------------------------------------------ verification


def _vocabulary_sizes(model):
    """(token vocabulary, segment count) the model's embeddings accept: the smallest
    `vocabulary_size` (keras-hub-style token embeddings) or else the smallest
    `keras.layers.Embedding` `input_dim`; segments from a segment embedding, else 2."""
    import keras

    vocab, segments, embedding_dims = [], [], []
    for layer in model._flatten_layers(include_self=False):
        if "segment" in layer.name and hasattr(layer, "input_dim"):
            segments.append(int(layer.input_dim))
        elif getattr(layer, "vocabulary_size", None):
            vocab.append(int(layer.vocabulary_size))
        elif isinstance(layer, keras.layers.Embedding):
            embedding_dims.append(int(layer.input_dim))
    token = min(vocab or embedding_dims or [2])
    return token, min(segments or [2])


def example_inputs(model, batch_size=2, seed=0, length=FREE_LENGTH):
    """{input name: random array} a model accepts: floats ~ N(0, 1); integer inputs by
    their role: a padding mask all ones but the last positions of every other row,
    segment ids below the segment count, token ids below the vocabulary size."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    vocabulary, segments = _vocabulary_sizes(model)
    result = {}
    for tensor in model.inputs:
        shape = (batch_size, *(length if d is None else int(d) for d in tensor.shape[1:]))
        name = _input_name(tensor)
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if "float" in dtype:
            value = rng.standard_normal(shape).astype(dtype)
        elif "bool" in dtype or "mask" in name:
            value = np.ones(shape, dtype=dtype)
            if len(shape) == 2 and shape[1] > 1:
                value[1::2, -(shape[1] // 4 or 1) :] = 0  # some padding in odd rows
        elif "segment" in name:
            value = rng.integers(0, segments, shape).astype(dtype)
        else:
            value = rng.integers(0, vocabulary, shape).astype(dtype)
        result[name] = value
    return result


def max_abs_diff(onnx_path, inputs, expected):
    """Runs `onnx_path` in ONNX Runtime (CPU) on `inputs` ({name: array}) and returns the
    largest absolute difference from `expected` ({output name: array})."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    missing = sorted(set(expected) - set(names))
    if missing:
        raise RuntimeError(f"The ONNX graph lacks the outputs {missing}; it has {names}.")
    feed = {i.name: inputs[i.name] for i in session.get_inputs()}
    got = dict(zip(names, session.run(names, feed)))
    diff = 0.0
    for name, want in expected.items():
        have = np.asarray(got[name])
        if have.shape != want.shape:
            raise RuntimeError(
                f"ONNX output {name!r} has shape {have.shape}; Keras gives {want.shape}."
            )
        if want.size:
            delta = np.abs(have.astype("float64") - np.asarray(want).astype("float64"))
            diff = max(diff, float("inf") if np.isnan(delta).any() else float(delta.max()))
    return diff

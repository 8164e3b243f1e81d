"""ONNX export: every image family, GPT and BERT run in ONNX Runtime as in Keras; names;
atomic writes that never replace a file without overwrite=True; the fallback.

Each image family is represented by its cheapest model at the registry's test
configuration (`test_kwargs`); `scripts/onnx_check.py` checks every image model the same
way (minutes). Export seconds at these sizes are in that script's table.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import onnxruntime
import pytest

from keras_archs.export import OnnxExport, export_onnx
from keras_archs.export import onnx as onnx_export
from keras_archs.registry import get_spec
from tests.utils import example_inputs, max_abs_diff, to_numpy_tree

TOLERANCE = 1e-4
# The cheapest registered model of each image family (one per `family`).
IMAGE_REPRESENTATIVES = (
    "alexnet",
    "densenet121",
    "inception_v1",
    "lenet5",
    "mobilenet",
    "nasnet_custom",
    "resnet18",
    "resnet50_v2",
    "vgg16",
    "xception",
)


def _build(name, seed=0):
    keras.utils.set_random_seed(seed)
    spec = get_spec(name)
    return spec.build(**spec.test_kwargs)


def _session(path):
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def _run_onnx(path, inputs):
    """ONNX Runtime's outputs {name: array} on `inputs` ({name: array} or one array)."""
    session = _session(path)
    if not isinstance(inputs, dict):
        inputs = {session.get_inputs()[0].name: inputs}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(onnx_export.TMP_PREFIX)]


def test_every_image_family_has_a_representative():
    from keras_archs import list_models

    families = {
        get_spec(n).family for n in list_models() if get_spec(n).task == "image_classification"
    }
    assert {get_spec(n).family for n in IMAGE_REPRESENTATIVES} == families


@pytest.mark.parametrize("name", IMAGE_REPRESENTATIVES)
def test_image_family_runs_in_onnxruntime_as_in_keras(name, tmp_path):
    model = _build(name)
    result = export_onnx(model, tmp_path / f"{name}.onnx")
    assert isinstance(result, OnnxExport)
    assert result.path == str(tmp_path / f"{name}.onnx") and os.path.isfile(result.path)
    assert result.max_abs_diff <= TOLERANCE, result
    # The model's input name and a free batch; outputs named as the SavedModel's are.
    [(input_name, (shape, dtype))] = result.inputs.items()
    assert input_name == model.inputs[0].name
    assert shape == (None, *model.inputs[0].shape[1:]) and dtype == "float32"
    assert result.outputs == ["probabilities"]
    # An independent check: another batch size and seed than the exporter's own.
    images = example_inputs(model, batch_size=3, seed=7)
    got = _run_onnx(result.path, images)["probabilities"]
    assert max_abs_diff(got, to_numpy_tree(model(images, training=False))) <= TOLERANCE
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "name, outputs",
    [("gpt_mini", ["logits"]), ("bert_tiny", ["pooled_output", "sequence_output"])],
)
def test_text_models_take_named_integer_inputs(name, outputs, tmp_path):
    model = _build(name)
    result = export_onnx(model, tmp_path / f"{name}.onnx")
    assert result.max_abs_diff <= TOLERANCE, result
    expected_inputs = {t.name for t in model.inputs}
    assert set(result.inputs) == expected_inputs
    assert {dtype for _, dtype in result.inputs.values()} == {"int32"}
    assert sorted(result.outputs) == outputs
    session = _session(result.path)
    assert {i.name for i in session.get_inputs()} == expected_inputs
    assert all(i.shape[0] == "batch" for i in session.get_inputs())
    # Token ids over the whole vocabulary, a padded row, a batch of 3.
    inputs = example_inputs(model, batch_size=3, seed=3, int_high=16)
    inputs["padding_mask"][1, -5:] = 0
    if "segment_ids" in inputs:
        inputs["segment_ids"] = inputs["segment_ids"] % 2
    want = to_numpy_tree(model(inputs, training=False))
    got = _run_onnx(result.path, inputs)
    if not isinstance(want, dict):
        want = {outputs[0]: want}
    assert max_abs_diff(got, want) <= TOLERANCE


def test_never_overwrites_without_overwrite(tmp_path):
    model = _build("lenet5")
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    before = path.read_bytes()
    other = _build("lenet5", seed=1)
    with pytest.raises(ValueError, match=r"already exists; pass overwrite=True"):
        export_onnx(other, path)
    assert path.read_bytes() == before
    result = export_onnx(other, path, overwrite=True)
    assert path.read_bytes() != before and result.max_abs_diff <= TOLERANCE
    # The new file holds the other weights.
    x = example_inputs(other, batch_size=1)
    got = _run_onnx(str(path), x)["probabilities"]
    assert max_abs_diff(got, to_numpy_tree(other(x))) <= TOLERANCE
    assert _leftovers(tmp_path) == []


def test_a_failure_leaves_the_target_as_it_was(tmp_path, monkeypatch):
    model = _build("lenet5")
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("conversion broke")

    monkeypatch.setattr(onnx_export, "_convert", broken)
    with pytest.raises(RuntimeError, match="conversion broke"):
        export_onnx(model, path, overwrite=True)
    with pytest.raises(RuntimeError, match="conversion broke"):
        export_onnx(model, tmp_path / "new.onnx")
    assert path.read_bytes() == before and not (tmp_path / "new.onnx").exists()
    monkeypatch.undo()
    # A file over atol is refused and not written.
    monkeypatch.setattr(onnx_export, "max_abs_diff", lambda *args: 0.5)
    with pytest.raises(ValueError, match=r"differs from Keras by 0.5.*nothing was written"):
        export_onnx(model, tmp_path / "far.onnx", atol=1e-4)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_falls_back_to_tf2onnx_when_keras_export_fails(tmp_path, monkeypatch):
    model = _build("lenet5")
    assert export_onnx(model, tmp_path / "a.onnx").method == "keras"

    def refuse(self, *args, **kwargs):
        raise ValueError("no ONNX here")

    monkeypatch.setattr(type(model), "export", refuse)
    result = export_onnx(model, tmp_path / "b.onnx")
    assert result.method == "tf2onnx" and "no ONNX here" in result.fallback_reason
    assert result.max_abs_diff <= TOLERANCE and result.outputs == ["probabilities"]
    with pytest.raises(RuntimeError, match="Keras' ONNX export failed: ValueError: no ONNX"):
        export_onnx(model, tmp_path / "c.onnx", method="keras")


def test_large_weights_become_initializers(tmp_path):
    """tf2onnx takes the large weights as inputs (fast); the file has them as
    initializers (named by the variables' paths where ONNX Runtime's folding keeps them),
    and no graph input but the model's."""
    import onnx

    inputs = keras.Input((64,), name="features")
    hidden = keras.layers.Dense(128, activation="relu", name="wide")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(hidden))
    result = export_onnx(model, tmp_path / "m.onnx", method="tf2onnx")
    assert result.method == "tf2onnx" and result.max_abs_diff <= TOLERANCE
    assert list(result.inputs) == ["features"] and result.outputs == ["head"]
    proto = onnx.load(result.path)
    assert [v.name for v in proto.graph.input] == ["features"]
    assert "wide/kernel" in {i.name for i in proto.graph.initializer}
    assert {o.domain for o in proto.opset_import} <= {"", "ai.onnx"}


def test_refuses_bad_arguments(tmp_path):
    model = _build("lenet5")
    with pytest.raises(ValueError, match=r"path must end in \.onnx"):
        export_onnx(model, tmp_path / "m.keras")
    os.mkdir(tmp_path / "dir.onnx")
    with pytest.raises(ValueError, match="is a folder"):
        export_onnx(model, tmp_path / "dir.onnx")
    with pytest.raises(ValueError, match="method must be one of"):
        export_onnx(model, tmp_path / "m.onnx", method="onnxscript")
    with pytest.raises(TypeError, match=r"model must be a keras\.Model"):
        export_onnx("lenet5", tmp_path / "m.onnx")
    assert sorted(os.listdir(tmp_path)) == ["dir.onnx"]


def test_says_which_package_is_missing(tmp_path, monkeypatch):
    import sys

    model = _build("lenet5")
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # `import tf2onnx` raises ImportError
    with pytest.raises(RuntimeError, match=r"ONNX export needs tf2onnx: pip install tf2onnx\."):
        export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_imports_tensorflow_and_onnx_only_inside_functions():
    """keras_archs.export must import without TensorFlow (tests/test_models.py imports the
    package with it blocked): onnx.py names TensorFlow, tf2onnx, onnx and onnxruntime only
    inside functions."""
    import ast

    with open(onnx_export.__file__) as f:
        tree = ast.parse(f.read())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert not top & {"tensorflow", "tf2onnx", "onnx", "onnxruntime", "keras", "numpy"}


def test_needs_the_tensorflow_backend(tmp_path, monkeypatch):
    model = _build("lenet5")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="needs the TensorFlow backend"):
        export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_example_inputs_respect_vocabulary_and_segments():
    model = _build("bert_tiny")
    inputs = onnx_export.example_inputs(model, batch_size=4)
    assert inputs["token_ids"].max() < 16 and inputs["segment_ids"].max() < 2
    assert inputs["padding_mask"][0].all() and not inputs["padding_mask"][1].all()
    assert np.issubdtype(inputs["token_ids"].dtype, np.integer)

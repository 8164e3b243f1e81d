"""Every registered model: exported, then served by plain TensorFlow without keras_archs."""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.export import describe_signatures, export_saved_model
from keras_archs.export.saved_model import _family_preprocess, find_spec, is_image_classifier
from keras_archs.registry import get_spec
from tests.utils import example_inputs, run_python

# One fresh interpreter serves every export. A meta-path finder makes any import of
# keras_archs fail, so the SavedModels must stand alone (TF Serving's situation).
SERVE_WITHOUT_KERAS_ARCHS = """
import json, sys

class _BlockKerasArchs:
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] == "keras_archs":
            raise ImportError(f"importing {fullname} is blocked in this test")
        return None

sys.meta_path.insert(0, _BlockKerasArchs())
try:
    import keras_archs  # noqa
    blocked = False
except ImportError:
    blocked = True

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

def xla_compiled(meta):
    # What `saved_model_cli show` would flag: functions or calls marked _XlaMustCompile.
    found = []
    nodes = list(meta.graph_def.node)
    for f in meta.graph_def.library.function:
        if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b:
            found.append(f.signature.name)
        nodes.extend(f.node_def)
    found += [n.name for n in nodes if "_XlaMustCompile" in n.attr and n.attr["_XlaMustCompile"].b]
    return found

results = {"blocked": blocked, "models": {}}
for item in json.loads(sys.argv[1]):
    proto = saved_model_pb2.SavedModel()
    with open(item["path"] + "/saved_model.pb", "rb") as f:
        proto.ParseFromString(f.read())
    meta = proto.meta_graphs[0]
    signatures = {
        key: [sorted(sig.inputs), sorted(sig.outputs)]
        for key, sig in meta.signature_def.items()
        if not key.startswith("__")
    }
    loaded = tf.saved_model.load(item["path"])
    data = np.load(item["inputs"])
    fn = loaded.signatures[item["signature"]]
    out = fn(**{k: tf.constant(data[k]) for k in data.files})
    np.savez(item["outputs"], **{k: v.numpy() for k, v in out.items()})
    results["models"][item["name"]] = {
        "tags": list(meta.meta_info_def.tags),
        "signatures": signatures,
        "xla": xla_compiled(meta),
    }
results["leaked"] = sorted(m for m in sys.modules if m.split(".")[0] == "keras_archs")
print(json.dumps(results))
"""


def _id_signature(model):
    """The signature that takes the model's own inputs (text models also get string ones)."""
    return "serving_ids" if "serving_ids" in describe_signatures(model) else "serving_default"


def _inputs_and_expected(model, spec):
    """Signature inputs by name, and the outputs `model.predict` gives for them."""
    if is_image_classifier(model, spec):
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (2, *model.inputs[0].shape[1:])).astype("float32")
        family = _family_preprocess(spec)
        # NumPy path of keras.applications' preprocess_input: independent of the graph's.
        model_input = family(images.copy()) if family is not None else images / 255.0
        feed = {"images": images}
    else:
        x = example_inputs(model, batch_size=2)
        feed = dict(x) if isinstance(x, dict) else {model.inputs[0].name: x}
        model_input = x
    # What model.predict computes (inference mode), run eagerly: predict would trace
    # every model once more, as long again as its export on the deep ones.
    predicted = model(model_input, training=False)
    _, output_names = describe_signatures(model)[_id_signature(model)]
    if not isinstance(predicted, dict):
        predicted = dict(
            zip(output_names, predicted if isinstance(predicted, (list, tuple)) else [predicted])
        )
    return feed, {k: keras.ops.convert_to_numpy(v) for k, v in predicted.items()}


def export_models(names, workdir):
    """Builds and exports each model; writes its inputs, expected outputs and signatures.

    Runs in a child process (see below): building and tracing every model grows a
    process by gigabytes that TensorFlow does not give back.
    """
    items, described = [], {}
    started = time.perf_counter()
    for name in names:
        spec = get_spec(name)
        keras.utils.set_random_seed(0)
        model = spec.build(**spec.test_kwargs)
        assert find_spec(model) is spec or find_spec(model, name) is spec
        path = export_saved_model(model, os.path.join(workdir, name), name=name)
        assert path == os.path.join(workdir, name, "1")
        feed, expected = _inputs_and_expected(model, spec)
        described[name] = describe_signatures(model, name)
        np.savez(os.path.join(workdir, f"{name}_in.npz"), **feed)
        np.savez(os.path.join(workdir, f"{name}_expected.npz"), **expected)
        items.append(
            dict(
                name=name,
                path=path,
                inputs=os.path.join(workdir, f"{name}_in.npz"),
                outputs=os.path.join(workdir, f"{name}_out.npz"),
                expected=os.path.join(workdir, f"{name}_expected.npz"),
                signature=_id_signature(model),
            )
        )
        keras.backend.clear_session()
        print(f"{name}: built and exported at {time.perf_counter() - started:.1f} s", flush=True)
    with open(os.path.join(workdir, "manifest.json"), "w") as f:
        json.dump({"items": items, "described": described}, f)


def check_models_serve_without_keras_archs(names, tmp_path):
    """Exports each model (child process), serves all of them in a second fresh process
    with keras_archs blocked, compares the outputs."""
    started = time.perf_counter()
    run_python(
        "from tests.export.test_every_model import export_models\n"
        f"export_models({list(names)!r}, {str(tmp_path)!r})\n",
        timeout=3000,
    )
    with open(tmp_path / "manifest.json") as f:
        manifest = json.load(f)
    items, described = manifest["items"], manifest["described"]
    expected = {item["name"]: dict(np.load(item["expected"])) for item in items}
    exported = time.perf_counter() - started
    code = f"import sys\nsys.argv = ['x', {json.dumps(json.dumps(items))}]\n"
    stdout = run_python(code + SERVE_WITHOUT_KERAS_ARCHS)
    report = json.loads(stdout.strip().splitlines()[-1])
    print(f"exported {len(items)} models in {exported:.1f} s; served in a fresh process")
    assert report["blocked"] and report["leaked"] == []
    for item in items:
        name, served = item["name"], report["models"][item["name"]]
        assert served["tags"] == ["serve"], name
        assert served["xla"] == [], (name, served["xla"])
        # saved_model_cli's view: every signature with its named inputs and outputs.
        want = {
            key: [sorted(inputs), sorted(outputs)]
            for key, (inputs, outputs) in described[name].items()
        }
        assert served["signatures"] == want, name
        if get_spec(name).task == "image_classification":
            assert set(served["signatures"]) == {"serving_default", "serving_bytes"}, name
            assert served["signatures"]["serving_default"][0] == ["images"], name
        got = dict(np.load(item["outputs"]))
        assert sorted(got) == sorted(expected[name]), name
        for key, value in expected[name].items():
            np.testing.assert_allclose(
                got[key], value, rtol=0, atol=1e-5, err_msg=f"{name}: output {key}"
            )


# Half the registry here, the other half in test_every_model_b.py: two files, so the two
# pytest-xdist workers (--dist loadfile) share the export of every model.
@pytest.mark.slow
def test_every_registered_model_serves_without_keras_archs(tmp_path):
    check_models_serve_without_keras_archs(keras_archs.list_models()[0::2], tmp_path)

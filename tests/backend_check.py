"""The test suite's one subprocess runner: a fresh interpreter that answers requests.

`python tests/backend_check.py [--block-keras-archs]` runs under the backend named by
KERAS_BACKEND. It reads one JSON request per line on stdin and writes one JSON reply
per line ({"ok": true, "result": ...} or {"ok": false, "error": traceback}); anything
the libraries print goes to stderr. `tests/harness.py` starts one runner per backend
per pytest process and keeps it for the session, so a test pays for a request, not for
importing TensorFlow, JAX or torch again (seconds each on the 2-core CI machine).

Requests ("op"):

- "reload": load `.keras` files with safe_mode=True and no custom_objects (importing
  keras_archs registers its layers; nothing else in this process built them), write
  their outputs, optionally through a jit-compiled predict, train one step, or export
  a SavedModel of the reloaded model (TensorFlow only).
- "check_model": build a registered model's test configuration under this backend:
  forward pass (shape and finite; compiled on JAX) or, with "forward": false, the symbolic output
  shapes only; `.keras` save and reload (same outputs, or same weights); optionally a
  float32 and a mixed_bfloat16 training step (compiled as `fit` compiles it: XLA on
  JAX, eager on torch).
- "serve" (only with --block-keras-archs, where any import of keras_archs fails): load
  SavedModels with plain TensorFlow, as TensorFlow Serving would, and run a signature.
"""

import json
import os
import sys
import time
import traceback

# The replies own the real stdout; everything else (Python and C libraries) writes to
# stderr, so a library that prints cannot corrupt a reply.
_REPLIES = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKED = "--block-keras-archs" in sys.argv


class _BlockKerasArchs:
    """Makes any import of keras_archs fail: an exported SavedModel must stand alone."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] == "keras_archs":
            raise ImportError(f"importing {fullname} is blocked in this process")
        return None


if BLOCKED:
    sys.meta_path.insert(0, _BlockKerasArchs())
else:
    sys.path.insert(0, REPO)


def _rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _clear():
    import keras

    keras.backend.clear_session()
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()  # compiled executables of every model otherwise pile up (GiBs)


def _load_inputs(path):
    import numpy as np

    data = np.load(path, allow_pickle=False)
    keys = sorted(data.files)
    return data["x"] if keys == ["x"] else {k: data[k] for k in keys}


def _save_outputs(path, outputs):
    import keras
    import numpy as np

    if isinstance(outputs, dict):
        out = {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    elif isinstance(outputs, (list, tuple)):
        out = {str(i): keras.ops.convert_to_numpy(v) for i, v in enumerate(outputs)}
    else:
        out = {"y": keras.ops.convert_to_numpy(outputs)}
    np.savez(path, **out)
    return out


def _reload_one(item):
    """Loads one `.keras` file and runs it; see the module docstring for the options."""
    import keras

    from tests.utils import train_one_step

    result = {}
    model = keras.saving.load_model(item["path"], safe_mode=True)
    x = _load_inputs(item["inputs"])
    if item.get("jit"):
        model.compile(jit_compile=True)
        outputs = model.predict_on_batch(x)
    else:
        outputs = model(x, training=False)
    _save_outputs(item["outputs"], outputs)
    if item.get("export_dir"):
        result["export"] = _export(model, item)
    if item.get("train"):
        jit = bool(item.get("jit"))
        result["loss"], result["moved"] = train_one_step(model, x, jit_compile=jit)
        result["has_weights"] = bool(model.trainable_weights)
    del model
    _clear()
    return result


def _reload(items):
    results = {}
    for item in items:
        start = time.perf_counter()
        try:
            results[item["name"]] = _reload_one(item)
        except Exception:
            results[item["name"]] = {"error": traceback.format_exc()}
            _clear()
        results[item["name"]]["seconds"] = round(time.perf_counter() - start, 1)
    return results


def _export(model, item):
    """Exports `model` (the reloaded registry model `item["name"]`) and writes the inputs
    of its id-level signature and the outputs the eager model gives for them."""
    import keras
    import numpy as np

    from keras_archs.export import (
        describe_signatures,
        export_saved_model,
        model_spec,
        serving_preprocessing,
    )
    from keras_archs.registry import get_spec
    from tests.utils import example_inputs, numpy_preprocess

    name, workdir = item["name"], item["export_dir"]
    spec = get_spec(name)
    assert model_spec(model, name) is spec
    path = export_saved_model(model, os.path.join(workdir, name), name=name)
    assert path == os.path.join(workdir, name, "1"), path
    described = describe_signatures(model, name)
    signature = "serving_ids" if "serving_ids" in described else "serving_default"
    mode = serving_preprocessing(model, name)
    assert (mode is not None) == (spec.task == "image_classification"), (name, mode)
    if mode is not None:
        assert mode == spec.preprocessing, (mode, spec.preprocessing)
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (2, *model.inputs[0].shape[1:])).astype("float32")
        # keras.applications' NumPy preprocessing: independent of the exported graph's.
        model_input = numpy_preprocess(images.copy(), mode)
        feed = {"images": images}
    else:
        model_input = example_inputs(model, batch_size=2)
        feed = dict(model_input) if isinstance(model_input, dict) else {}
        if not feed:
            feed = {model.inputs[0].name: model_input}
    # What model.predict computes (inference mode), run eagerly: predict would trace the
    # model once more, as long again as its export on the deep ones.
    predicted = model(model_input, training=False)
    output_names = described[signature][1]
    if not isinstance(predicted, dict):
        leaves = predicted if isinstance(predicted, (list, tuple)) else [predicted]
        predicted = dict(zip(output_names, leaves))
    inputs_path = os.path.join(workdir, f"{name}_serve_in.npz")
    expected_path = os.path.join(workdir, f"{name}_serve_expected.npz")
    np.savez(inputs_path, **feed)
    np.savez(expected_path, **{k: keras.ops.convert_to_numpy(v) for k, v in predicted.items()})
    return {
        "name": name,
        "path": path,
        "signature": signature,
        "inputs": inputs_path,
        "expected": expected_path,
        "outputs": os.path.join(workdir, f"{name}_served.npz"),
        "described": {k: [sorted(i), sorted(o)] for k, (i, o) in described.items()},
    }


def _trained_model(spec):
    """A smaller twin whose training steps are checked instead of the registered model,
    where a family's own builder makes the same blocks in fewer repeats; else None.

    Compiling DenseNet-121's training step took JAX 60 s alone on the 2 cores and over
    1,000 s in a loaded CI run; two layers per dense block train through the same
    blocks (dense layers, transitions) in 9 s. NASNet-Mobile's twelve Normal cells
    likewise become one per stage (its Normal and Reduction cells, with their
    width-adjusting paths, all still run).
    """
    if spec.family == "densenet":
        from keras_archs.applications.densenet import DenseNet

        return DenseNet((2, 2, 2, 2), weights=None, **spec.test_kwargs)
    if spec.family == "nasnet" and "num_blocks" not in spec.test_kwargs:
        # (A model whose test configuration already has one cell per stage is its own twin.)
        from keras_archs.applications.nasnet import NASNet

        small = {"penultimate_filters": 96, "num_blocks": 1, "stem_block_filters": 8}
        return NASNet(weights=None, skip_reduction=False, **small, **spec.test_kwargs)
    return None


def _forward(model, x):
    """Inference outputs as NumPy. JAX runs an eager call op by op, compiling each new
    shape (9 s for NASNet-Mobile at 32x32 on 2 cores); `predict_on_batch` compiles the
    whole pass once (4 s), the way users run it. The other backends call eagerly."""
    import keras

    from tests.utils import to_numpy_tree

    if keras.backend.backend() == "jax":
        return to_numpy_tree(model.predict_on_batch(x))
    return to_numpy_tree(model(x, training=False))


def _check_model(name, workdir, train, forward=True):
    import keras
    import numpy as np

    from keras_archs.registry import get_spec
    from tests.utils import example_inputs, max_abs_diff, output_spec, train_one_step

    spec = get_spec(name)
    keras.utils.set_random_seed(0)
    model = spec.build(**spec.test_kwargs)
    x = example_inputs(model)
    declared = [tuple(t.shape) for t in keras.tree.flatten(model.output)]
    result = {"backend": keras.backend.backend(), "declared": [list(s) for s in declared]}
    if forward:
        y = _forward(model, x)
        leaves = keras.tree.flatten(y)
        result["output_finite"] = all(bool(np.isfinite(a).all()) for a in leaves)
        result["shapes"] = [list(a.shape) for a in leaves]
    else:
        # The output shapes Keras infers for this batch, without running the model.
        spec_out = output_spec(model, x)
        result["output_finite"] = True  # nothing was computed
        result["shapes"] = [list(t.shape) for t in keras.tree.flatten(spec_out)]
    path = os.path.join(workdir, f"{name}.{keras.backend.backend()}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    if forward:
        result["reload_diff"] = max_abs_diff(y, _forward(loaded, x))
    else:
        pairs = zip(model.get_weights(), loaded.get_weights())
        same = len(model.weights) == len(loaded.weights) and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in pairs
        )
        result["reload_diff"] = 0.0 if same else float("inf")
    del loaded
    if train:
        # The model just checked trains, unless its family trains a smaller twin (a
        # second build costs JAX seconds of compiling initializers).
        trained = _trained_model(spec) or model
        result["loss"], result["moved"] = train_one_step(trained, x)
        # JAX compiles every training step with XLA (tens of seconds per deep CNN on the
        # 2-core CPU): its mixed_bfloat16 step is left to TensorFlow and torch.
        if keras.backend.backend() != "jax":
            keras.config.set_dtype_policy("mixed_bfloat16")
            try:
                mixed = _trained_model(spec) or spec.build(**spec.test_kwargs)
                result["mixed_loss"], _ = train_one_step(mixed, x)
            finally:
                keras.config.set_dtype_policy("float32")
    del model
    _clear()
    return result


def _xla_compiled(meta):
    """What `saved_model_cli show` would flag: functions or calls marked _XlaMustCompile."""
    found = []
    nodes = list(meta.graph_def.node)
    for f in meta.graph_def.library.function:
        if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b:
            found.append(f.signature.name)
        nodes.extend(f.node_def)
    must = [n.name for n in nodes if "_XlaMustCompile" in n.attr and n.attr["_XlaMustCompile"].b]
    return found + must


def _serve(items):
    import numpy as np
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    try:
        import keras_archs  # noqa: F401

        blocked = False
    except ImportError:
        blocked = True
    results = {"blocked": blocked, "models": {}}
    for item in items:
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(item["path"], "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        meta = proto.meta_graphs[0]
        signatures = {
            key: [sorted(sig.inputs), sorted(sig.outputs)]
            for key, sig in meta.signature_def.items()
            if not key.startswith("__")
        }
        loaded = tf.saved_model.load(item["path"])
        data = np.load(item["inputs"])
        out = loaded.signatures[item["signature"]](**{k: tf.constant(data[k]) for k in data.files})
        np.savez(item["outputs"], **{k: v.numpy() for k, v in out.items()})
        results["models"][item["name"]] = {
            "tags": list(meta.meta_info_def.tags),
            "signatures": signatures,
            "xla": _xla_compiled(meta),
        }
        del loaded
    results["leaked"] = sorted(m for m in sys.modules if m.split(".")[0] == "keras_archs")
    return results


def _handle(request):
    op = request["op"]
    if BLOCKED:
        if op != "serve":
            raise ValueError(f"op={op!r} needs keras_archs, which this process blocks")
        return _serve(request["items"])
    import keras_archs  # noqa: F401  (registers the layers; no custom_objects anywhere)

    if op == "reload":
        return _reload(request["items"])
    if op == "check_model":
        return _check_model(
            request["name"],
            request["workdir"],
            request.get("train", False),
            request.get("forward", True),
        )
    if op == "ping":
        import keras

        return {"backend": keras.backend.backend()}
    raise ValueError(f"Unknown op={op!r}")


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {"ok": True, "result": _handle(json.loads(line))}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        reply["rss_mb"] = _rss_mb()
        _REPLIES.write(json.dumps(reply) + "\n")
        _REPLIES.flush()


if __name__ == "__main__":
    main()

"""SavedModel export: layout, versions, atomicity, bad input, signatures, CLI files."""

from __future__ import annotations

import json
import os
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_archs
from keras_archs import cli
from keras_archs.export import (
    export_saved_model,
    load_model_file,
    model_spec,
    preprocess_images,
    serving_preprocessing,
)
from keras_archs.export.serving import example_request, serving_config_text


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    return keras_archs.create_model("lenet5", input_shape=(32, 32, 1), classes=10)


def export_saved_model_scaled(model, export_dir, **kwargs):
    # LeNet-5 takes [0, 1] pixels: say so, so that these tests do not depend on the
    # registry (test_preprocessing_* check the registry's modes).
    kwargs.setdefault("preprocessing", "scale")
    return export_saved_model(model, export_dir, **kwargs)


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


def _snapshot(folder):
    """{relative path: bytes} of every file under `folder`."""
    result = {}
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                result[os.path.relpath(path, folder)] = fh.read()
    return result


def _leftovers(export_dir):
    return [n for n in os.listdir(export_dir) if n.startswith(".tmp")]


def test_layout_and_next_version(tiny, tmp_path):
    base = tmp_path / "lenet5"
    first = export_saved_model_scaled(tiny, base)
    second = export_saved_model_scaled(tiny, base)
    assert (first, second) == (str(base / "1"), str(base / "2"))
    assert export_saved_model_scaled(tiny, base, version=7) == str(base / "7")
    assert export_saved_model_scaled(tiny, base) == str(base / "8")
    for v in ("1", "2", "7", "8"):
        assert {"assets", "saved_model.pb", "variables"} <= set(os.listdir(base / v))
        assert (base / v / "variables" / "variables.index").is_file()
    assert _leftovers(base) == []
    # Serving needs the folder readable by another user (mkdtemp makes 0o700).
    assert oct(os.stat(first).st_mode & 0o777) == "0o755"


def test_existing_version_untouched_then_overwritten(tiny, tmp_path):
    base = tmp_path / "m"
    export_saved_model_scaled(tiny, base, version=3)
    before = _snapshot(base / "3")
    with pytest.raises(ValueError, match=r"Version 3 already exists.*overwrite=True"):
        export_saved_model_scaled(_tiny(seed=1), base, version=3)
    assert _snapshot(base / "3") == before
    # With overwrite the other weights replace the old ones, and nothing else remains.
    other = _tiny(seed=1)
    export_saved_model_scaled(other, base, version=3, overwrite=True)
    after = _snapshot(base / "3")
    assert (
        after["variables/variables.data-00000-of-00001"]
        != before["variables/variables.data-00000-of-00001"]
    )
    assert sorted(os.listdir(base)) == ["3"]
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    served = tf.saved_model.load(str(base / "3")).signatures["serving_default"]
    got = served(images=tf.constant(x))["probabilities"].numpy()
    np.testing.assert_allclose(got, other.predict(x / 255.0, verbose=0), atol=1e-6)


def _fail_after_writing(monkeypatch):
    real = os.rename

    def rename(src, dst):
        # The temporary folder is complete, but renaming it into place fails.
        if os.path.basename(os.fspath(src)).startswith(".tmp-") and os.path.isfile(
            os.path.join(src, "saved_model.pb")
        ):
            raise RuntimeError("disk full (simulated)")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)


def test_failure_part_way_leaves_nothing(tiny, tmp_path, monkeypatch):
    _fail_after_writing(monkeypatch)
    base = tmp_path / "new"
    with pytest.raises(RuntimeError, match="simulated"):
        export_saved_model_scaled(tiny, base)
    assert not base.exists()  # created by the export, removed with it

    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(RuntimeError, match="simulated"):
        export_saved_model_scaled(tiny, existing)
    assert os.listdir(existing) == []


def test_failed_overwrite_keeps_old_version(tiny, tmp_path, monkeypatch):
    base = tmp_path / "m"
    export_saved_model_scaled(tiny, base, version=1)
    before = _snapshot(base / "1")
    _fail_after_writing(monkeypatch)
    with pytest.raises(RuntimeError, match="simulated"):
        export_saved_model_scaled(_tiny(seed=1), base, version=1, overwrite=True)
    assert sorted(os.listdir(base)) == ["1"]
    assert _snapshot(base / "1") == before


def test_signature_function_that_raises_writes_nothing(tiny, tmp_path):
    def broken(images):
        raise RuntimeError("preprocessing failed while tracing")

    base = tmp_path / "m"
    with pytest.raises(RuntimeError, match="while tracing"):
        export_saved_model_scaled(tiny, base, preprocessing=broken)
    assert not base.exists()
    export_saved_model_scaled(tiny, base, version=1)
    before = _snapshot(base)
    with pytest.raises(RuntimeError, match="while tracing"):
        export_saved_model_scaled(tiny, base, preprocessing=broken)
    assert _snapshot(base) == before


@pytest.mark.parametrize(
    "version, error, match",
    [
        (0, ValueError, "version must be an integer >= 1 or None; got version=0"),
        (-2, ValueError, "version=-2"),
        (True, TypeError, "version=True"),
        ("3", TypeError, "version='3'"),
        (1.0, ValueError, "version=1.0"),
    ],
)
def test_bad_version(tiny, tmp_path, version, error, match):
    with pytest.raises(error, match=match):
        export_saved_model_scaled(tiny, tmp_path / "m", version=version)
    assert not (tmp_path / "m").exists()


def test_export_dir_is_a_file(tiny, tmp_path):
    path = tmp_path / "file"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        export_saved_model_scaled(tiny, path)
    with pytest.raises(ValueError, match="is a file"):
        export_saved_model_scaled(tiny, path / "below")
    assert path.read_text() == "not a folder"


def test_unwritable_export_dir(tiny, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            # Running as root: permission bits do not bind; make access() report them.
            monkeypatch.setattr(os, "access", lambda p, mode: os.stat(p).st_mode & 0o222 != 0)
        with pytest.raises(ValueError, match="not writable"):
            export_saved_model_scaled(tiny, locked / "m")
        with pytest.raises(ValueError, match="not writable"):
            export_saved_model_scaled(tiny, locked)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_model_without_static_inputs(tmp_path):
    with pytest.raises(ValueError, match="no static inputs"):
        export_saved_model(_Subclassed(), tmp_path / "m")
    with pytest.raises(TypeError, match=r"keras.Model"):
        export_saved_model("resnet50", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_corrupt_or_foreign_model_files(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(os.urandom(512))
    not_keras = tmp_path / "weights.h5"
    not_keras.write_bytes(b"\x89HDF\r\n")
    broken_zip = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken_zip, "w") as z:
        z.writestr("config.json", "{not json")
    for path, match in [
        (junk, "not a Keras archive"),
        (not_keras, "not a Keras archive"),
        (broken_zip, "Cannot load the Keras archive"),
        (tmp_path / "missing.keras", "path must be a path to an existing file"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_model_file(path)
        out = tmp_path / "saved_models" / path.stem
        assert cli.main(["export", str(path), "--out", str(out)]) == 2
        assert not out.exists()


def _rgb(channels, name="rgb_net"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, channels))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x), name=name)


def _served(path, x):
    served = tf.saved_model.load(path).signatures["serving_default"]
    return served(images=tf.constant(x))["probabilities"].numpy()


def test_preprocessing_choices(tmp_path):
    model = _rgb(channels=3)
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    from keras_archs.applications.resnet import preprocess_input

    assert keras_archs.model_info("resnet50")["preprocessing"] == "caffe"
    for choice, expected_input in [
        ("auto", preprocess_input(x.copy())),  # resnet50's registry mode: caffe
        ("tf", x / 127.5 - 1.0),
        ("torch", (x / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]),
        ("scale", x / 255.0),
        ("none", x),
    ]:
        # name= says which registry entry the model is (its preprocessing for "auto").
        path = export_saved_model(model, tmp_path / choice, name="resnet50", preprocessing=choice)
        want = model.predict(expected_input.astype("float32"), verbose=0)
        np.testing.assert_allclose(_served(path, x), want, atol=1e-5)
    with pytest.raises(
        ValueError, match=r"preprocessing must be one of.*got preprocessing='bogus'"
    ):
        export_saved_model(model, tmp_path / "bad", preprocessing="bogus")
    with pytest.raises(ValueError, match=r"3 \(RGB\) channels.*takes 1"):
        export_saved_model(_rgb(channels=1), tmp_path / "gray", name="resnet50")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "gray").exists()


def test_preprocessing_is_never_guessed(tmp_path):
    # A model that is not found in the registry by its exact name: "auto" cannot tell.
    model = _rgb(channels=3, name="resnet_50")
    assert model_spec(model) is None
    with pytest.raises(ValueError, match=r"takes images.*not found in the registry.*--name"):
        export_saved_model(model, tmp_path / "unknown")
    assert not (tmp_path / "unknown").exists()
    # Its exact default name finds the registry entry; an explicit mode needs no entry.
    assert model_spec(_rgb(3, name="resnet50v2")).name == "resnet50_v2"
    assert serving_preprocessing(_rgb(3, name="resnet50v2")) == "tf"
    assert serving_preprocessing(model, preprocessing="torch") == "torch"
    assert serving_preprocessing(model, preprocessing=None) is None
    # A mode for a model that does not take images is an error, not ignored.
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="dense_net")
    assert serving_preprocessing(dense) is None
    with pytest.raises(ValueError, match="applies to image models"):
        export_saved_model(dense, tmp_path / "dense", preprocessing="scale")
    # The NumPy reference is keras.applications' (independent of the serving graph).
    x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(preprocess_images(x, "tf"), x / 127.5 - 1, rtol=1e-6)
    np.testing.assert_allclose(preprocess_images(x, "caffe")[..., 0], x[..., 2] - 103.939)


def test_channels_first_model_serves_its_layout(tmp_path):
    x = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    last = keras_archs.create_model("resnet18", input_shape=(32, 32, 3), classes=4)
    keras.config.set_image_data_format("channels_first")
    try:
        first = keras_archs.create_model("resnet18", input_shape=(3, 32, 32), classes=4)
    finally:
        keras.config.set_image_data_format("channels_last")
    first.set_weights(last.get_weights())
    path = export_saved_model(first, tmp_path / "m")
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["serving_default"](images=tf.constant(x.transpose(0, 3, 1, 2)))
    want = last.predict(preprocess_images(x, "caffe"), verbose=0)
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5)
    png = tf.io.encode_png(x[0].astype("uint8"))
    from_bytes = loaded.signatures["serving_bytes"](image_bytes=tf.stack([png]))
    want = last.predict(preprocess_images(x[:1].astype("uint8").astype("float32"), "caffe"))
    np.testing.assert_allclose(from_bytes["probabilities"].numpy(), want, atol=1e-5)


def test_serving_bytes_decodes_and_resizes(tiny, tmp_path):
    path = export_saved_model_scaled(tiny, tmp_path / "m")
    loaded = tf.saved_model.load(path)
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 1)).astype("uint8")
    png = tf.io.encode_png(pixels)
    from_bytes = loaded.signatures["serving_bytes"](image_bytes=tf.stack([png, png]))
    from_pixels = loaded.signatures["serving_default"](
        images=tf.constant(np.stack([pixels, pixels]).astype("float32"))
    )
    # Same size: decoding is exact and the resize is the identity.
    np.testing.assert_allclose(
        from_bytes["probabilities"].numpy(), from_pixels["probabilities"].numpy(), atol=1e-6
    )
    # Another size and format: resized inside the graph to the model's 32x32.
    big = np.random.default_rng(1).integers(0, 256, (50, 70, 3)).astype("uint8")
    jpeg = tf.io.encode_jpeg(big)
    out = loaded.signatures["serving_bytes"](image_bytes=tf.stack([jpeg]))["probabilities"]
    assert out.shape == (1, 10)
    np.testing.assert_allclose(out.numpy().sum(), 1.0, atol=1e-5)


def test_cli_export_serving_config_and_request(tmp_path, capsys):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    root = tmp_path / "saved_models"
    lenet = ["export", "lenet5", "--out", str(root / "lenet5"), "--preprocessing", "scale"]
    assert cli.main(lenet) == 0
    args = ["export", "tcn", "--out", str(root / "tcn"), "--version", "4"]
    assert cli.main([*args, "--serving-config", "--example-request"]) == 0
    assert cli.main(args) == 2  # version 4 exists
    assert "already exists" in capsys.readouterr().err
    (root / "empty").mkdir()  # no version: not served
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((root / "models.config").read_text(), config)
    listed = {c.name: (c.base_path, c.model_platform) for c in config.model_config_list.config}
    assert listed == {
        "lenet5": ("/models/lenet5", "tensorflow"),
        "tcn": ("/models/tcn", "tensorflow"),
    }
    # The example body feeds the exported signature as TensorFlow Serving would.
    body = json.loads((root / "tcn" / "request.json").read_text())
    assert body["signature_name"] == "serving_default"
    served = tf.saved_model.load(str(root / "tcn" / "4")).signatures["serving_default"]
    inputs = {k: tf.constant([row[k] for row in body["instances"]]) for k in body["instances"][0]}
    assert list(inputs) == ["inputs"] and inputs["inputs"].shape == (1, 8, 1)  # time axis free
    outputs = served(**inputs)
    assert len(outputs) == 1 and next(iter(outputs.values())).shape[0] == 1


def test_example_request_for_each_signature(tiny):
    body = example_request(tiny, preprocessing="scale")
    assert np.asarray(body["instances"][0]["images"]).shape == (32, 32, 1)
    body = example_request(tiny, signature="serving_bytes", preprocessing="scale")
    assert set(body["instances"][0]["image_bytes"]) == {"b64"}
    with pytest.raises(ValueError, match=r"signature must be one of.*serving_bytes.*'nope'"):
        example_request(tiny, signature="nope", preprocessing="scale")
    assert 'base_path: "/srv/a"' in serving_config_text(["a"], "/srv")
    with pytest.raises(ValueError, match="absolute"):
        serving_config_text(["a"], "models")


def test_reload_with_tfsm_layer(tiny, tmp_path):
    path = export_saved_model_scaled(tiny, tmp_path / "m")
    served = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    x = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 1)).astype("float32")
    got = keras.ops.convert_to_numpy(served(x)["probabilities"])
    np.testing.assert_allclose(got, tiny.predict(x / 255.0, verbose=0), atol=1e-6)

"""`train`'s argument checks: all fail before a dataset is loaded or a run folder made."""

import json
import os

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs import cli
from keras_archs.training import resolve_config, train, train_from_config
from keras_archs.training.fit import RUN_FOLDER
from tests.harness import check_run_folder
from tests.utils import run_python


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1; got epochs=0"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be an integer >= 1"),
        ({"learning_rate": -1}, ValueError, "learning_rate must be a number > 0.0"),
        ({"seed": "0"}, TypeError, "seed must be an integer >= 0"),
        ({"jit": True}, ValueError, "jit must be one of 'auto', 'on', 'off'"),
        ({"precision": "half"}, ValueError, "precision must be one of"),
        ({"optimizer": "lamb"}, ValueError, "optimizer must be one of 'sgd', 'adam'"),
        ({"schedule": "exp"}, ValueError, "schedule must be one of 'constant', 'step'"),
        ({"mixup": -0.2}, ValueError, "mixup must be a number >= 0.0; got mixup=-0.2"),
        ({"steps_per_epoch": 0}, ValueError, "steps_per_epoch must be an integer >= 1"),
        ({"input_size": 8}, ValueError, "below the minimum size 16 of 'lenet5'"),
        ({"augment": "heavy"}, ValueError, "augment must be one of 'none', 'basic'"),
        ({"lr": 0.1}, TypeError, "unknown argument.*'lr'"),
        ({"data_kwargs": {"batch_size": 8}}, ValueError, "arguments of train itself"),
        ({"data": "addition"}, ValueError, "not an image-classification dataset"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    out = tmp_path / "run"
    with pytest.raises(error, match=match):
        train("lenet5", out=str(out), **kwargs)
    assert not os.path.exists(out)


def test_unknown_model():
    with pytest.raises(ValueError, match="Unknown model name='lenet'"):
        train("lenet")


def test_every_registered_model_has_a_complete_run_configuration():
    """Every model resolves a whole run (recipe, data, policy) from its registry data,
    and the configuration is plain JSON (what run.json holds)."""
    for name in keras_archs.list_models():
        config = resolve_config(name)
        json.dumps(config)
        assert config["recipe"]["epochs"] >= 1 and config["data"], name


def test_label_smoothing_needs_a_loss_on_logits(tmp_path):
    # Seq2Seq ends in a softmax: there is no smoothed loss to give it.
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"label_smoothing=0\.1 needs a model trained with"):
        train("seq2seq", label_smoothing=0.1, out=str(out), verbose=0)
    assert not out.exists()


def test_model_kwargs_reach_the_builder_and_run_json(tmp_path):
    out = tmp_path / "run"
    result = train(
        "seq2seq",
        model_kwargs={"attention": "bahdanau", "units": 16},
        data_kwargs={"num_train": 256, "num_test": 64},
        epochs=1,
        out=str(out),
        verbose=0,
    )
    assert result.model.get_layer("encoder").units == 16
    assert any("attention" in layer.name for layer in result.model.layers)
    saved = json.loads((out / "run.json").read_text())
    assert saved["model_kwargs"] == {"units": 16, "embedding_dim": 32, "attention": "bahdanau"}
    # The task's own score is logged after the epoch, beside Keras' metrics.
    assert 0.0 <= result.history["val_exact_match"][0] <= 1.0
    assert "val_exact_match" in (out / "history.csv").read_text().splitlines()[0]
    with pytest.raises(TypeError, match="model_kwargs must be a dict"):
        train("seq2seq", model_kwargs=["units"], out=str(tmp_path / "bad"))


def _png_folder(root, classes=3, per_class=8, size=40):
    """Class sub-folders of small PNG files whose colour tells the class, and one file
    of random bytes named .png (a damaged download)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(root / f"class{c}")
        for i in range(per_class):
            pixels = rng.uniform(0, 60, (size, size, 3)) + 180 * np.eye(3)[c % 3]
            Image.fromarray(pixels.astype("uint8")).save(root / f"class{c}" / f"{i}.png")
    (root / "class0" / "damaged.png").write_bytes(rng.bytes(64))
    return root


def test_png_folder_trains_resnet18_through_the_cli(tmp_path, capsys):
    folder = _png_folder(tmp_path / "pngs")
    out = tmp_path / "run"
    args = ["train", "resnet18", "--data", str(folder), "--input-size", "32"]
    args += ["--augment", "basic", "--epochs", "2", "--out", str(out)]
    with pytest.warns(UserWarning, match=r"Skipped 1 file"):
        assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "recipe: SGD, learning rate 0.1 (momentum 0.9, weight decay 0.0001)" in printed
    assert "basic augmentation" in printed and "policy: jit_compile=" in printed
    assert printed.strip().splitlines()[-1].startswith("final validation accuracy: ")
    assert sorted(os.listdir(out)) == sorted(RUN_FOLDER)
    config = json.loads((out / "run.json").read_text())
    assert config["input_shape"] == [32, 32, 3] and config["augment"] == "basic"
    assert config["preprocessing"] == "caffe"  # ResNet's keras.applications mode
    assert config["recipe"]["optimizer"] == "sgd" and config["recipe"]["epochs"] == 2
    assert config["versions"]["keras"] == keras.__version__
    with open(out / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 3  # header and two epochs

    # Export without --preprocessing: the SavedModel takes 0-255 pixels and gives the
    # Keras model's probabilities on the pixels as training preprocessed them.
    exported = tmp_path / "served"
    assert cli.main(["export", str(out / "model.keras"), "--out", str(exported)]) == 0
    assert "preprocessing: 'caffe', as the model was trained" in capsys.readouterr().out
    import tensorflow as tf

    pixels = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    served = tf.saved_model.load(str(exported / "1")).signatures["serving_default"]
    got = served(images=tf.constant(pixels))["probabilities"].numpy()
    model = keras.saving.load_model(out / "model.keras")
    caffe = keras.applications.imagenet_utils.preprocess_input(pixels.copy(), mode="caffe")
    expected = keras.ops.convert_to_numpy(model(caffe, training=False))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_config_repeats_a_run_and_is_checked(tmp_path, capsys):
    first = tmp_path / "a"
    result = train("lenet5", epochs=2, out=str(first), seed=3, verbose=0)
    again = train_from_config(str(first / "run.json"), out=str(tmp_path / "b"), verbose=0)
    assert again.config["recipe"] == result.config["recipe"]
    # Same seed, data order and float32 CPU kernels: the same history.
    np.testing.assert_allclose(again.history["loss"], result.history["loss"], rtol=1e-4)
    assert cli.main(["train", "--config", str(first), "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    (tmp_path / "other.json").write_text('{"model": "lenet5"}')
    assert cli.main(["train", "--config", str(tmp_path / "other.json")]) == 2
    assert "is not a run.json written by keras-archs train" in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--config", str(first)]) == 2
    assert "--config repeats the run in its file" in capsys.readouterr().err


def test_label_smoothing_and_mixing_train_on_soft_labels(tmp_path):
    result = train(
        "lenet5",
        epochs=1,
        steps_per_epoch=3,
        mixup=0.2,
        cutmix=1.0,
        label_smoothing=0.1,
        out=str(tmp_path / "run"),
        verbose=0,
    )
    loss = result.model.loss
    assert isinstance(loss, keras.losses.CategoricalCrossentropy)
    assert loss.get_config()["label_smoothing"] == 0.1
    assert len(result.history["loss"]) == 1 and np.isfinite(result.history["loss"][0])


# Each family's cheapest model; the sweep over every registered model is
# scripts/train_every_model.py (its result is in the README). The Transformer's and
# BERT's run folders are checked after their learning tests' runs
# (tests/applications/test_transformer.py, test_bert.py), which train those models anyway.
@pytest.mark.parametrize("name", ["mobilenet", "stacked_rnn", "seq2seq", "tcn"])
def test_a_short_run_writes_a_run_folder_that_reloads(name, tmp_path, capsys):
    out = tmp_path / name
    args = ["train", name, "--epochs", "1", "--steps-per-epoch", "5", "--out", str(out)]
    assert cli.main(args) == 0, capsys.readouterr().err
    check_run_folder(out, tmp_path)


def test_torch_compiles_the_training_step_once(tmp_path):
    # Keras' PyTorch trainer clears gradients inside the compiled step, whose guards
    # record whether each gradient exists: without one at the start, the second step
    # compiled the whole step again. torch.compile's frame count must stay as the first
    # step left it, and the run must really be compiled.
    out = run_python(
        f"""
        import json

        import keras
        from torch._dynamo.utils import counters

        from keras_archs.training import train

        class Frames(keras.callbacks.Callback):
            seen = []

            def on_train_batch_end(self, batch, logs=None):
                self.seen.append(counters["frames"]["total"])

        result = train("lenet5", out={str(tmp_path / "run")!r}, jit="on", epochs=1,
                       steps_per_epoch=3, batch_size=8, callbacks=[Frames()], verbose=0,
                       tensorboard=False)
        print(json.dumps({{"frames": Frames.seen, "jit": result.jit_compile}}))
        """,
        backend="torch",
    )
    got = json.loads(out.strip().splitlines()[-1])
    assert got["jit"] is True
    assert got["frames"][0] > 0 and len(set(got["frames"])) == 1, got["frames"]

"""Training on several devices: tf.distribute on TensorFlow, keras.distribution on JAX."""

import csv
import subprocess
import sys

import pytest

from keras_archs.training import resolve_config
from tests.utils import subprocess_env


def _first_epoch_loss(tmp_path, name, *flags, env=None):
    out = tmp_path / name
    command = [sys.executable, "-m", "keras_archs.cli", "train", "lenet5", "--epochs", "1"]
    command += ["--augment", "none", "--deterministic", "--no-tensorboard", "--out", str(out)]
    proc = subprocess.run(
        [*command, *flags],
        env={**subprocess_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "history.csv", newline="") as f:
        return float(next(csv.DictReader(f))["loss"]), proc.stdout


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    """The same global batch of 32 on one replica and split 2 x 16 over two logical CPU
    devices: the same first-epoch loss (each a MirroredStrategy, so that the input
    pipeline is built the same way)."""
    one, _ = _first_epoch_loss(tmp_path, "one", "--strategy", "mirrored", "--cpu-devices", "1")
    two, printed = _first_epoch_loss(
        tmp_path, "two", "--strategy", "mirrored", "--cpu-devices", "2"
    )
    assert "mirrored over 2 replicas; global batch 32 = 2 x 16" in printed
    assert two == pytest.approx(one, rel=1e-3)


def test_jax_data_parallel_over_two_host_devices_matches_one_device(tmp_path):
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    one, _ = _first_epoch_loss(tmp_path, "one", env=env)
    two, printed = _first_epoch_loss(tmp_path, "two", "--strategy", "data_parallel", env=env)
    assert "data_parallel over 2 replicas" in printed
    assert two == pytest.approx(one, rel=1e-3)


_MODEL_PARALLEL_RUN = """
import sys
from keras_archs.training import train
result = train("gpt_mini", strategy=sys.argv[1], epochs=1, steps_per_epoch=5,
               data_kwargs={"sequence_length": 64, "max_files": 40},
               tensorboard=False, out=sys.argv[2], verbose=0)
kernel = [w for w in result.model.weights if "feedforward_intermediate_dense/kernel" in w.path]
print("SPEC", getattr(kernel[0].value.sharding, "spec", None))
print("LOSS", result.history["loss"][0])
"""


def test_jax_model_parallel_splits_gpt_weights_and_keeps_the_loss(tmp_path):
    """gpt_mini with its kernels split over 2 host devices (keras-hub's layout): the
    feed-forward kernel is sharded along the model axis, and 5 steps give the loss of
    one device."""
    env = {
        **subprocess_env(),
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    printed = {}
    for strategy in ("none", "model_parallel"):
        proc = subprocess.run(
            [sys.executable, "-c", _MODEL_PARALLEL_RUN, strategy, str(tmp_path / strategy)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        printed[strategy] = dict(
            line.split(" ", 1) for line in proc.stdout.splitlines() if line[:4] in ("SPEC", "LOSS")
        )
    assert printed["model_parallel"]["SPEC"] in (
        "P('batch', 'model')",
        "PartitionSpec('batch', 'model')",
    )
    assert printed["none"]["SPEC"] == "None"
    one, split = float(printed["none"]["LOSS"]), float(printed["model_parallel"]["LOSS"])
    assert split == pytest.approx(one, rel=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "ring"}, "strategy must be one of 'none', 'mirrored'"),
        ({"cpu_devices": 2}, "cpu_devices applies to strategy='mirrored' only"),
        ({"strategy": "mirrored", "cpu_devices": 3}, "batch_size=32 does not split over 3"),
        ({"strategy": "data_parallel"}, "runs on the jax backend; this is tensorflow"),
        ({"strategy": "model_parallel"}, "splits the weights of GPT and BERT models; this is"),
    ],
)
def test_bad_distribution_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_config("lenet5", **kwargs)

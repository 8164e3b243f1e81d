"""Training on several devices: tf.distribute on TensorFlow, keras.distribution on JAX."""

import csv
import json
import socket
import subprocess
import sys

import pytest

from keras_archs.training import resolve_config
from keras_archs.training.distribution import read_cluster
from tests.utils import subprocess_env


def _command(out, epochs=1):
    command = [sys.executable, "-m", "keras_archs.cli", "train", "lenet5", "--epochs", str(epochs)]
    return [*command, "--augment", "none", "--deterministic", "--no-tensorboard", "--out", str(out)]


def _history(out):
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _first_epoch_loss(tmp_path, name, *flags, env=None):
    out = tmp_path / name
    command = _command(out)
    proc = subprocess.run(
        [*command, *flags],
        env={**subprocess_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return float(_history(out)[0]["loss"]), proc.stdout


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


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_two_processes_on_localhost_train_as_one(tmp_path):
    """Two processes joined by TF_CONFIG (JAX, one host device each) train two epochs as
    one data-parallel run: the chief alone writes the run folder, with one history of
    epochs 0 and 1 whose training losses are those of one process at the same global
    batch; the other process leaves no files behind."""
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    env = subprocess_env(backend="jax")
    out = tmp_path / "cluster"
    processes = [
        subprocess.Popen(
            [*_command(out, epochs=2), "--strategy", "multiworker"],
            env={
                **env,
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    printed = []
    try:
        for proc in processes:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr[-3000:]
            printed.append(stdout)
    finally:
        for proc in processes:
            proc.kill()
    assert "multiworker over 2 replicas in 2 processes (this is process 0, the chief" in printed[0]
    assert "(this is process 1, writes no run folder)" in printed[1]
    rows = _history(out)
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert sorted(p.name for p in out.iterdir()) == [
        "best.keras",
        "curves.png",
        "history.csv",
        "model.keras",
        "run.json",
    ]
    alone = tmp_path / "alone"
    proc = subprocess.run(_command(alone, epochs=2), env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for joint, single in zip(rows, _history(alone)):
        assert float(joint["loss"]) == pytest.approx(float(single["loss"]), rel=1e-3)


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
        ({"strategy": "multiworker"}, "runs on the jax backend .* MultiWorkerMirroredStrategy"),
    ],
)
def test_bad_distribution_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_config("lenet5", **kwargs)


_TWO = {"cluster": {"worker": ["a:1", "b:2"]}}


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"TF_CONFIG": json.dumps({**_TWO, "task": {"type": "worker", "index": 1}})}, 1),
        (
            {
                "TF_CONFIG": json.dumps(
                    {"cluster": {"chief": ["c:3"], "worker": ["a:1"]}, "task": {"type": "worker"}}
                )
            },
            1,
        ),
        (
            {
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": "a:1,b:2",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": "0",
            },
            0,
        ),
    ],
)
def test_cluster_from_tf_config_or_keras_variables(environ, expected):
    addresses, process_id = read_cluster(environ)
    assert len(addresses) == 2 and process_id == expected


@pytest.mark.parametrize(
    "environ, match",
    [
        ({}, "needs the cluster it joins: set TF_CONFIG"),
        ({"TF_CONFIG": "{cluster"}, "is not JSON"),
        ({"TF_CONFIG": json.dumps(_TWO)}, "needs a 'cluster' and a 'task'"),
        ({"TF_CONFIG": json.dumps({**_TWO, "task": {"type": "worker", "index": 2}})}, "names no"),
        ({"TF_CONFIG": json.dumps({**_TWO, "task": {"type": "ps", "index": 0}})}, "names no"),
        (
            {"TF_CONFIG": json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "worker"}})},
            "no 'ps'",
        ),
        (
            {"TF_CONFIG": json.dumps({"cluster": {"worker": ["a"]}, "task": {"type": "worker"}})},
            "address 'a' is not 'host:port'",
        ),
        (
            {
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": "a:1,b:2",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "3",
                "KERAS_DISTRIBUTION_PROCESS_ID": "0",
            },
            "the count must match",
        ),
    ],
)
def test_bad_cluster(environ, match):
    with pytest.raises(ValueError, match=match):
        read_cluster(environ)

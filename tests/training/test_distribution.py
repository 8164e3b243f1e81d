"""Training on several devices: tf.distribute on TensorFlow, keras.distribution on JAX."""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest

from keras_archs.training import resolve_config
from keras_archs.training.distribution import read_cluster
from tests.utils import run_cli_commands, subprocess_env

# Three steps an epoch: the second and third steps' losses follow the first updates, so
# a wrong gradient over the replicas shows in the epoch's mean loss; more steps would
# only add time.
_ARGS = ["train", "lenet5", "--steps-per-epoch", "3", "--augment", "none", "--deterministic"]


def _args(out, epochs=1):
    return [*_ARGS, "--epochs", str(epochs), "--no-tensorboard", "--out", str(out)]


def _two_host_devices():
    """A JAX subprocess's environment with two host CPU devices (added to the session's
    XLA flags, not replacing them)."""
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    return subprocess_env(backend="jax", XLA_FLAGS=flags.strip())


def _command(out, epochs=1):
    return [sys.executable, "-m", "keras_archs.cli", *_args(out, epochs)]


def _history(out):
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _first_epoch_loss(tmp_path, name, *flags):
    out = tmp_path / name
    command = _command(out)
    proc = subprocess.run(
        [*command, *flags],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return float(_history(out)[0]["loss"]), proc.stdout


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    """The same global batch of 32 on one replica and split 2 x 16 over two logical CPU
    devices: the same first-epoch loss over 3 steps (each a MirroredStrategy, so that the
    input pipeline is built the same way). Two processes: TensorFlow fixes its logical
    devices when it starts."""
    one, _ = _first_epoch_loss(tmp_path, "one", "--strategy", "mirrored", "--cpu-devices", "1")
    two, printed = _first_epoch_loss(
        tmp_path, "two", "--strategy", "mirrored", "--cpu-devices", "2"
    )
    assert "mirrored over 2 replicas; global batch 32 = 2 x 16" in printed
    assert two == pytest.approx(one, rel=1e-3)


def test_jax_data_parallel_over_two_host_devices_matches_one_device(tmp_path):
    """One device, then data_parallel over 2 host devices: the same first-epoch loss."""
    # Both runs in one interpreter: JAX's host devices do not change between them, and
    # a second start-up would cost more than both trainings.
    argvs = [_args(tmp_path / "one"), [*_args(tmp_path / "two"), "--strategy", "data_parallel"]]
    printed = "".join(run_cli_commands(*argvs, env=_two_host_devices(), timeout=300))
    one, two = (float(_history(tmp_path / n)[0]["loss"]) for n in ("one", "two"))
    assert "devices: one device; batch 32" in printed
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
    """Two processes joined by TF_CONFIG (JAX, one host device each) train two epochs of
    3 steps as one data-parallel run: the chief alone writes the run folder, with one history of
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


# Both runs in one process (JAX compiles each anew either way; a second start-up would
# cost more than a run). A one-block GPT of width 16 on windows of 16 bytes from two
# files: the split is the same layout at any size.
_MODEL_PARALLEL_RUN = """
import sys
from keras_archs.training import train
for strategy in ("none", "model_parallel"):
    result = train("gpt_mini", strategy=strategy, epochs=1, steps_per_epoch=3, batch_size=4,
                   data_kwargs={"sequence_length": 16, "max_files": 2},
                   model_kwargs={"num_layers": 1, "num_heads": 2, "hidden_dim": 16,
                                 "intermediate_dim": 32},
                   tensorboard=False, out=sys.argv[1] + "/" + strategy, verbose=0)
    kernel = [w for w in result.model.weights
              if "feedforward_intermediate_dense/kernel" in w.path]
    print(strategy, "SPEC", getattr(kernel[0].value.sharding, "spec", None))
    print(strategy, "LOSS", result.history["loss"][0])
"""


def test_jax_model_parallel_splits_gpt_weights_and_keeps_the_loss(tmp_path):
    """A tiny gpt_mini with its kernels split over 2 host devices (keras-hub's layout):
    the feed-forward kernel is sharded along the model axis, and 3 steps give the loss
    of one device."""
    proc = subprocess.run(
        [sys.executable, "-c", _MODEL_PARALLEL_RUN, str(tmp_path)],
        env=_two_host_devices(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = {"none": {}, "model_parallel": {}}
    for line in proc.stdout.splitlines():
        words = line.split(" ", 2)
        if len(words) == 3 and words[0] in printed and words[1] in ("SPEC", "LOSS"):
            printed[words[0]][words[1]] = words[2]
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

"""Training on more than one device, on the engines that already do it.

- "mirrored": `tf.distribute.MirroredStrategy` (TensorFlow backend) over the local GPUs,
  or over `cpu_devices` logical CPU devices (for testing the path on a CPU).
- "data_parallel": `keras.distribution.DataParallel` (JAX backend) over every local device;
  on a CPU, `XLA_FLAGS=--xla_force_host_platform_device_count=N` set before JAX starts
  makes N host devices.
- "multiworker": the same data parallelism over several processes, one per machine (JAX
  backend): `keras.distribution.initialize` joins the cluster named by `TF_CONFIG` (the
  same variable TensorFlow's multi-worker training reads) or by Keras' own
  `KERAS_DISTRIBUTION_JOB_ADDRESSES` / `_NUM_PROCESSES` / `_PROCESS_ID`, then
  `DataParallel` spans every device of every process. Process 0, the chief, writes the
  run folder; the others keep their files in a temporary folder and read the chief's
  backup when resuming, so the run folder must be on storage all machines share.
  TensorFlow's `MultiWorkerMirroredStrategy` is not offered: Keras 3's `model.fit` fails
  under it (it averages each scalar metric along a batch axis it does not have).
- "model_parallel": `keras.distribution.ModelParallel` (JAX backend, GPT and BERT): the
  attention and feed-forward kernels and the embedding tables are split over the local
  devices with keras-hub's layout for these models (`transformer_layout_map`).

The batch size is the global batch: each step splits it evenly over the replicas (a
size that does not divide is refused), and the recipe's learning rate applies to it
unchanged; both are printed when the run starts. TensorFlow is imported lazily.
"""

from __future__ import annotations

import contextlib
import json
import os

import keras

from keras_archs.validation import check_choice, check_int

STRATEGIES = ("none", "mirrored", "data_parallel", "multiworker", "model_parallel")
_BACKEND = {
    "mirrored": "tensorflow",
    "data_parallel": "jax",
    "multiworker": "jax",
    "model_parallel": "jax",
}
# Strategies that split each batch over the devices (the last, uneven batch is dropped).
SPLITS_BATCHES = ("data_parallel", "multiworker")
_TF_CONFIG_FORM = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host0:port", "host1:port"]}, '
    '"task": {"type": "worker", "index": 0}}\''
)
_KERAS_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
# The families whose weights `transformer_layout_map` knows how to split.
MODEL_PARALLEL_FAMILIES = ("gpt", "bert")


def check_distribution(strategy, cpu_devices, batch_size, family=None):
    """Checks the distribution arguments of a run. No device is touched, except that a
    multiworker process joins its cluster here: JAX allows that only before its first
    computation, and choosing the run's policy is one (it asks for the device)."""
    check_choice("strategy", strategy, STRATEGIES)
    if strategy == "model_parallel" and family not in MODEL_PARALLEL_FAMILIES:
        raise ValueError(
            f"strategy='model_parallel' splits the weights of GPT and BERT models; this is a "
            f"{family} model (use data_parallel)."
        )
    cpu_devices = check_int("cpu_devices", cpu_devices, minimum=1, allow_none=True)
    needed = _BACKEND.get(strategy)
    if strategy == "multiworker" and keras.backend.backend() == "tensorflow":
        raise ValueError(
            "strategy='multiworker' runs on the jax backend (set KERAS_BACKEND=jax; the same "
            "TF_CONFIG names the cluster): Keras 3's model.fit cannot train under "
            "TensorFlow's MultiWorkerMirroredStrategy, which it asks to average each scalar "
            "metric along a batch axis."
        )
    if needed and keras.backend.backend() != needed:
        raise ValueError(
            f"strategy={strategy!r} runs on the {needed} backend; this is "
            f"{keras.backend.backend()} (set KERAS_BACKEND={needed})."
        )
    if strategy == "multiworker":
        join_cluster()
    if cpu_devices is not None:
        if strategy != "mirrored":
            raise ValueError(
                f"cpu_devices applies to strategy='mirrored' only; got strategy={strategy!r} "
                f"with cpu_devices={cpu_devices} (JAX host devices come from XLA_FLAGS)."
            )
        if batch_size % cpu_devices:
            raise ValueError(
                f"batch_size={batch_size} does not split over {cpu_devices} replicas; choose "
                "a multiple of the number of devices (the batch size is the global batch)."
            )
    return cpu_devices


class Placement:
    """Where a run's model lives: `scope()` to build and compile it in, `replicas`, and
    `describe()` for the start of the run."""

    def __init__(self, strategy="none", cpu_devices=None):
        self.name = strategy
        self.strategy = None
        self.replicas = 1
        self.devices = ()
        self.processes, self.process_id = 1, 0
        if strategy == "mirrored":
            import tensorflow as tf

            if cpu_devices:
                self.devices = _logical_cpus(tf, cpu_devices)
            self.strategy = tf.distribute.MirroredStrategy(devices=self.devices or None)
            self.replicas = self.strategy.num_replicas_in_sync
        elif strategy == "data_parallel":
            devices = keras.distribution.list_devices()
            self.strategy = keras.distribution.DataParallel(devices=devices)
            self.replicas, self.devices = len(devices), tuple(devices)
        elif strategy == "multiworker":
            self.processes, self.process_id = join_cluster()
            devices = keras.distribution.list_devices()  # every process's devices
            self.strategy = keras.distribution.DataParallel(devices=devices)
            self.replicas, self.devices = len(devices), tuple(devices)
        elif strategy == "model_parallel":
            devices = keras.distribution.list_devices()
            # Every device holds a slice of each weight; the batch is not split.
            mesh = keras.distribution.DeviceMesh((1, len(devices)), ("batch", "model"), devices)
            self.strategy = keras.distribution.ModelParallel(
                layout_map=transformer_layout_map(mesh), batch_dim_name="batch"
            )
            self.devices = tuple(devices)

    @property
    def chief(self):
        """Whether this process writes the run folder (process 0 of a cluster)."""
        return self.process_id == 0

    def scope(self):
        if self.name == "mirrored":
            return self.strategy.scope()
        if self.name in ("data_parallel", "multiworker", "model_parallel"):
            return _distribution_scope(self.strategy)
        return contextlib.nullcontext()

    def check_batch(self, batch_size):
        if batch_size % self.replicas:
            raise ValueError(
                f"batch_size={batch_size} does not split over the {self.replicas} replicas of "
                f"strategy={self.name!r}; choose a multiple of {self.replicas}."
            )

    def describe(self, batch_size, learning_rate):
        if self.replicas == 1 and self.name == "none":
            return f"one device; batch {batch_size}"
        if self.name == "model_parallel":
            return (
                f"model_parallel: weights split over {len(self.devices)} devices (keras-hub's "
                f"transformer layout); batch {batch_size}"
            )
        where = ""
        if self.name == "multiworker":
            role = "the chief, writes the run folder" if self.chief else "writes no run folder"
            where = f" in {self.processes} processes (this is process {self.process_id}, {role})"
        return (
            f"{self.name} over {self.replicas} replicas{where}; global batch {batch_size} = "
            f"{self.replicas} x {batch_size // self.replicas}; learning rate {learning_rate:g} "
            "for the global batch (not rescaled)"
        )


_joined = []  # this process's (processes, process_id), once it has joined a cluster


def join_cluster():
    """Joins the cluster `read_cluster` describes (once per process) and returns
    `(processes, process_id)`."""
    if not _joined:
        addresses, process_id = read_cluster()
        keras.distribution.initialize(",".join(addresses), len(addresses), process_id)
        _joined.append((len(addresses), process_id))
    return _joined[0]


def read_cluster(environ=None):
    """The cluster of a multiworker run, `(addresses, process_id)`, from `TF_CONFIG` or,
    without it, from Keras' `KERAS_DISTRIBUTION_*` variables; process 0 (TF_CONFIG's
    chief, else its first worker) coordinates. Only checks: no connection is made."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if raw:
        return _tf_config_cluster(raw)
    if all(environ.get(v) for v in _KERAS_VARIABLES):
        addresses = environ[_KERAS_VARIABLES[0]].split(",")
        count, process_id = (_env_int(environ, v) for v in _KERAS_VARIABLES[1:])
        if count != len(addresses) or not 0 <= process_id < count:
            raise ValueError(
                f"KERAS_DISTRIBUTION_JOB_ADDRESSES names {len(addresses)} processes, "
                f"KERAS_DISTRIBUTION_NUM_PROCESSES={count} and KERAS_DISTRIBUTION_PROCESS_ID="
                f"{process_id}; the count must match and the id be in 0..count-1."
            )
        return [
            _check_address(a, "KERAS_DISTRIBUTION_JOB_ADDRESSES") for a in addresses
        ], process_id
    raise ValueError(
        "strategy='multiworker' needs the cluster it joins: set TF_CONFIG on every machine, "
        f"e.g. {_TF_CONFIG_FORM} (index 0 on the first), or Keras' "
        f"{', '.join(_KERAS_VARIABLES)}."
    )


def _tf_config_cluster(raw):
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG={raw!r} is not JSON ({e}); expected {_TF_CONFIG_FORM}.") from e
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(
            f"TF_CONFIG={raw!r} needs a 'cluster' and a 'task' object; expected {_TF_CONFIG_FORM}."
        )
    roles = {role: cluster.get(role) or [] for role in ("chief", "worker")}
    extra = sorted(set(cluster) - set(roles))
    if extra or any(not isinstance(v, list) for v in roles.values()) or len(roles["chief"]) > 1:
        raise ValueError(
            f"TF_CONFIG cluster={cluster!r}: a multiworker run has at most one 'chief' and a "
            f"list of 'worker' addresses (no {', '.join(map(repr, extra)) or 'other shapes'})."
        )
    addresses = [*roles["chief"], *roles["worker"]]
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in roles or not isinstance(index, int) or not 0 <= index < len(roles[kind]):
        raise ValueError(
            f"TF_CONFIG task={task!r} names no process of the cluster; 'type' is 'chief' or "
            f"'worker' and 'index' counts from 0 in that role's list ({cluster!r})."
        )
    process_id = index if kind == "chief" else len(roles["chief"]) + index
    return [_check_address(a, "TF_CONFIG") for a in addresses], process_id


def _check_address(address, source):
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{source} address {address!r} is not 'host:port' with a port in 1..65535."
        )
    return str(address)


def _env_int(environ, variable):
    value = environ[variable]
    if not value.strip().isdigit():
        raise ValueError(f"{variable}={value!r} is not a whole number.")
    return int(value)


def _logical_cpus(tf, count):
    """`count` logical CPU devices; TensorFlow allows this only before it starts."""
    cpus = tf.config.list_physical_devices("CPU")
    if tf.config.list_physical_devices("GPU"):
        raise ValueError(
            f"cpu_devices={count} splits the CPU for testing; this machine has GPUs, which "
            "strategy='mirrored' uses without it."
        )
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError as e:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) != count:
            raise ValueError(
                f"cpu_devices={count}: TensorFlow already started with {len(logical)} CPU "
                "device(s); pass it to a fresh process (the keras-archs command does)."
            ) from e
    return tuple(d.name for d in tf.config.list_logical_devices("CPU"))


@contextlib.contextmanager
def _distribution_scope(distribution):
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(distribution)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def transformer_layout_map(device_mesh, model="model", batch="batch"):
    """How GPT and BERT weights are split over `device_mesh` (keras-hub's layout for
    its GPT-2 and BERT backbones, whose variable names these models share): embedding
    tables by vocabulary row, query/key/value kernels by input feature, the attention
    output and the second feed-forward kernel by their inputs, the first feed-forward
    kernel by its outputs (Megatron-style: one all-reduce per block half)."""
    layout = keras.distribution.LayoutMap(device_mesh)
    layout[r".*token_embedding/embeddings"] = (model, batch)
    layout[r".*position_embedding/embeddings"] = (model, batch)
    layout[r".*transformer_layer.*self_attention.*(query|key|value)/kernel"] = (model, batch, None)
    layout[r".*transformer_layer.*attention_output/kernel"] = (model, None, batch)
    layout[r".*feedforward_intermediate_dense/kernel"] = (batch, model)
    layout[r".*feedforward_output_dense/kernel"] = (model, batch)
    return layout

"""Training on more than one device, on the engines that already do it.

- "mirrored": `tf.distribute.MirroredStrategy` (TensorFlow backend) over the local GPUs,
  or over `cpu_devices` logical CPU devices (for testing the path on a CPU).
- "data_parallel": `keras.distribution.DataParallel` (JAX backend) over every local device;
  on a CPU, `XLA_FLAGS=--xla_force_host_platform_device_count=N` set before JAX starts
  makes N host devices.
- "model_parallel": `keras.distribution.ModelParallel` (JAX backend, GPT and BERT): the
  attention and feed-forward kernels and the embedding tables are split over the local
  devices with keras-hub's layout for these models (`transformer_layout_map`).

The batch size is the global batch: each step splits it evenly over the replicas (a
size that does not divide is refused), and the recipe's learning rate applies to it
unchanged; both are printed when the run starts. TensorFlow is imported lazily.
"""

from __future__ import annotations

import contextlib

import keras

from keras_archs.validation import check_choice, check_int

STRATEGIES = ("none", "mirrored", "data_parallel", "model_parallel")
_BACKEND = {"mirrored": "tensorflow", "data_parallel": "jax", "model_parallel": "jax"}
# The families whose weights `transformer_layout_map` knows how to split.
MODEL_PARALLEL_FAMILIES = ("gpt", "bert")


def check_distribution(strategy, cpu_devices, batch_size, family=None):
    """Checks the distribution arguments of a run (no device is touched)."""
    check_choice("strategy", strategy, STRATEGIES)
    if strategy == "model_parallel" and family not in MODEL_PARALLEL_FAMILIES:
        raise ValueError(
            f"strategy='model_parallel' splits the weights of GPT and BERT models; this is a "
            f"{family} model (use data_parallel)."
        )
    cpu_devices = check_int("cpu_devices", cpu_devices, minimum=1, allow_none=True)
    needed = _BACKEND.get(strategy)
    if needed and keras.backend.backend() != needed:
        raise ValueError(
            f"strategy={strategy!r} runs on the {needed} backend; this is "
            f"{keras.backend.backend()} (set KERAS_BACKEND={needed})."
        )
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
        elif strategy == "model_parallel":
            devices = keras.distribution.list_devices()
            # Every device holds a slice of each weight; the batch is not split.
            mesh = keras.distribution.DeviceMesh((1, len(devices)), ("batch", "model"), devices)
            self.strategy = keras.distribution.ModelParallel(
                layout_map=transformer_layout_map(mesh), batch_dim_name="batch"
            )
            self.devices = tuple(devices)

    def scope(self):
        if self.name == "mirrored":
            return self.strategy.scope()
        if self.name in ("data_parallel", "model_parallel"):
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
        return (
            f"{self.name} over {self.replicas} replicas; global batch {batch_size} = "
            f"{self.replicas} x {batch_size // self.replicas}; learning rate {learning_rate:g} "
            "for the global batch (not rescaled)"
        )


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

"""XLA and mixed-precision choices per model, backend and device, from measurements.

DESIGN.md rule 6: `jit_compile` and the dtype policy are not assumed, they are
chosen by this table, and each row cites the measurement behind it (the
benchmarks in `scripts/` reproduce them). The first matching row wins.
"""

from __future__ import annotations

import dataclasses
import fnmatch


@dataclasses.dataclass(frozen=True)
class Policy:
    jit_compile: bool
    dtype_policy: str
    reason: str


# (model pattern, backend pattern, device, jit_compile, dtype_policy, evidence)
_RULES = [
    # XLA has no kernel for the fused cuDNN LSTM/GRU that TensorFlow picks on GPU.
    (
        "*rnn*",
        "tensorflow",
        "gpu",
        False,
        "float32",
        "cuDNN-backed RNN on TensorFlow GPU: no XLA kernel exists for it",
    ),
    (
        "seq2seq",
        "tensorflow",
        "gpu",
        False,
        "float32",
        "cuDNN-backed RNN on TensorFlow GPU: no XLA kernel exists for it",
    ),
    (
        "lenet5",
        "tensorflow",
        "cpu",
        False,
        "float32",
        "2-core CPU, digits, batch 32: XLA 0.93x the steps/s of plain graph mode "
        "(scripts/bench_policy.py); float32 since bfloat16 gains nothing at this size",
    ),
    (
        "lenet5",
        "jax",
        "cpu",
        True,
        "float32",
        "JAX always compiles with XLA; jit_compile=True is its normal path",
    ),
    # Defaults: XLA everywhere on GPU; on CPU TensorFlow's XLA made MobileNet 13x slower.
    ("*", "jax", "*", True, "float32", "JAX always compiles with XLA"),
    (
        "*",
        "tensorflow",
        "gpu",
        True,
        "mixed_bfloat16",
        "GPU default: XLA fuses elementwise ops, bfloat16 uses tensor cores",
    ),
    ("*", "torch", "*", False, "float32", "torch backend: XLA is not used"),
    (
        "*",
        "*",
        "cpu",
        False,
        "float32",
        "CPU default: TensorFlow XLA made MobileNet 13x slower (DESIGN.md rule 6)",
    ),
    ("*", "*", "*", False, "float32", "fallback"),
]


def current_device() -> str:
    """'gpu' when the active Keras backend sees a GPU, else 'cpu'."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
        if backend == "jax":
            import jax

            return "gpu" if jax.default_backend() == "gpu" else "cpu"
        if backend == "torch":
            import torch

            return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        pass
    return "cpu"


def choose_policy(model_name: str, backend: str | None = None, device: str | None = None):
    """The `Policy` (jit_compile, dtype_policy, reason) for a model on a backend and device."""
    import keras

    backend = backend or keras.backend.backend()
    device = device or current_device()
    for pattern, backend_pattern, dev, jit, dtype, reason in _RULES:
        if (
            fnmatch.fnmatch(model_name, pattern)
            and fnmatch.fnmatch(backend, backend_pattern)
            and dev in ("*", device)
        ):
            return Policy(jit, dtype, reason)
    raise AssertionError("the last rule matches everything")

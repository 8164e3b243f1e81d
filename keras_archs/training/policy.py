"""XLA and mixed-precision choices per model, backend and device, from measurements.

`jit_compile` and the dtype policy are not assumed: XLA and bfloat16 speed some models
up and slow others down (on a CPU, XLA halved AlexNet's training steps per second), so
they are chosen by this table, and each row cites the measurement behind it (the
benchmarks in `scripts/` reproduce them). The first matching row wins.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import NamedTuple

from keras_archs.validation import check_choice, check_string

DEVICES = ("cpu", "gpu")


@dataclasses.dataclass(frozen=True)
class Policy:
    jit_compile: bool
    dtype_policy: str
    reason: str


class _Rule(NamedTuple):
    model: str  # fnmatch pattern over registry names
    backend: str  # fnmatch pattern over keras.backend.backend()
    device: str  # "cpu", "gpu" or "*"
    jit_compile: bool
    dtype_policy: str
    evidence: str


# fmt: off
_CUDNN_RNN = "cuDNN-backed RNN on TensorFlow GPU: no XLA kernel exists for it"
_RULES = [
    # XLA has no kernel for the fused cuDNN LSTM/GRU that TensorFlow picks on GPU.
    _Rule("*rnn*", "tensorflow", "gpu", False, "float32", _CUDNN_RNN),
    _Rule("seq2seq", "tensorflow", "gpu", False, "float32", _CUDNN_RNN),
    _Rule("lenet5", "tensorflow", "cpu", False, "float32",
          "scripts/bench_policy.py lenet5 --steps 200 (2-core CPU, 32x32x1, batch 32): "
          "XLA 0.70x and mixed_bfloat16 0.89x the steps/s of float32 graph mode"),
    _Rule("alexnet", "tensorflow", "cpu", False, "float32",
          "scripts/bench_policy.py alexnet --steps 10 (2-core CPU, 63x63x1, batch 32): "
          "XLA 0.50x and mixed_bfloat16 1.00x the steps/s of float32 graph mode"),
    # Attention models on a CPU: XLA's gain on a lone step does not survive a real run.
    _Rule("gpt*", "tensorflow", "cpu", False, "float32",
          "applications/gpt_python_stdlib.py, 800 steps (2-core CPU, gpt_mini, batch 32 x "
          "64): 153 s with XLA, 153 s without (partly sharing the cores); "
          "scripts/bench_gpt.py (batch 8 x 128): XLA 20.0k vs graph 17.4k tokens/s"),
    _Rule("transformer", "tensorflow", "cpu", False, "float32",
          "applications/transformer_addition.py (2-core CPU), 2 epochs: XLA 62 s vs graph "
          "37 s; compiling the training step and greedy decoding costs more than the 8% it "
          "saves per later epoch (12 s vs 13 s)"),
    _Rule("bert*", "tensorflow", "cpu", False, "float32",
          "applications/bert_pretrain_python_stdlib.py, 300 steps (2-core CPU, bert_tiny, "
          "batch 64 x 64): XLA 54.7 s vs graph 52.7 s; scripts/bench_bert.py (batch 32 x "
          "128): 305 ms per step either way"),
    # Defaults.
    _Rule("*", "jax", "*", True, "float32", "JAX always compiles with XLA"),
    _Rule("*", "torch", "*", False, "float32", "torch backend: XLA is not used"),
    _Rule("*", "tensorflow", "gpu", True, "mixed_bfloat16",
          "GPU default, not yet measured here (no GPU in the sessions so far): XLA fuses "
          "elementwise ops and bfloat16 uses tensor cores"),
    _Rule("*", "*", "cpu", False, "float32",
          "CPU default: XLA was slower or no faster in every CPU measurement above "
          "(lenet5 0.70x, alexnet 0.50x, gpt, transformer and bert no gain)"),
    _Rule("*", "*", "*", False, "float32", "fallback"),
]
# fmt: on


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

    check_string("model_name", model_name)
    backend = check_string("backend", backend or keras.backend.backend())
    device = check_choice("device", device or current_device(), DEVICES)
    for rule in _RULES:
        if (
            fnmatch.fnmatch(model_name, rule.model)
            and fnmatch.fnmatch(backend, rule.backend)
            and rule.device in ("*", device)
        ):
            return Policy(rule.jit_compile, rule.dtype_policy, rule.evidence)
    raise AssertionError("the last rule matches everything")

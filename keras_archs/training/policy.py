"""XLA and mixed-precision choices per model, backend and device, from measurements.

`jit_compile` and the dtype policy are not assumed: XLA and bfloat16 speed some models
up and slow others down (on a CPU, XLA halved AlexNet's training steps per second, and
bfloat16 halved MobileNetV2's on a CPU with bfloat16 matrix units), so they are chosen
by the tables below, and each row cites the measurement behind it (the benchmarks in
`scripts/` reproduce them). The first matching row wins.

What the machine can do is read at run time, never assumed: the CPU's instruction
flags from /proc/cpuinfo (`cpu_flags`) and the GPU's compute capability from the
active backend (`gpu_capability`). A precision row that asks for bfloat16 applies only
where the hardware computes it natively (`bf16_capable`): AVX512-BF16 or AMX-BF16 on a
CPU, compute capability 8.0 (Ampere) or newer on an NVIDIA GPU.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import warnings
from typing import NamedTuple

from keras_archs.validation import check_choice, check_string

DEVICES = ("cpu", "gpu")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
JIT_CHOICES = ("auto", "on", "off")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class Policy:
    jit_compile: bool
    dtype_policy: str
    reason: str


class _JitRule(NamedTuple):
    model: str  # fnmatch pattern over registry names
    backend: str  # fnmatch pattern over keras.backend.backend()
    device: str  # "cpu", "gpu" or "*"
    jit_compile: bool
    evidence: str
    warn_if_forced: bool = False  # forcing XLA on here was measured to be far slower


class _PrecisionRule(NamedTuple):
    family: str  # fnmatch pattern over registry families ("*" also matches unregistered)
    backend: str
    device: str
    needs: str  # hardware the row needs: "bf16", "fp16" (float16 tensor cores) or ""
    dtype_policy: str
    evidence: str


# fmt: off
_CUDNN_RNN = "cuDNN-backed RNN on TensorFlow GPU: no XLA kernel exists for it"
_JIT_RULES = [
    # XLA has no kernel for the fused cuDNN LSTM/GRU that TensorFlow picks on GPU.
    _JitRule("*rnn*", "tensorflow", "gpu", False, _CUDNN_RNN),
    _JitRule("seq2seq", "tensorflow", "gpu", False, _CUDNN_RNN),
    # XLA's CPU depthwise convolution is the slow path of MobileNet.
    _JitRule("mobilenet*", "tensorflow", "cpu", False,
             "MobileNet training on a CPU was 13x slower with XLA than in graph mode",
             warn_if_forced=True),
    _JitRule("lenet5", "tensorflow", "cpu", False,
             "scripts/bench_policy.py lenet5 --steps 200 (2-core CPU, 32x32x1, batch 32): "
             "XLA 0.70x the steps/s of float32 graph mode"),
    _JitRule("alexnet", "tensorflow", "cpu", False,
             "scripts/bench_policy.py alexnet --steps 10 (2-core CPU, 63x63x1, batch 32): "
             "XLA 0.50x the steps/s of float32 graph mode"),
    # Attention models on a CPU: XLA's gain on a lone step does not survive a real run.
    _JitRule("gpt*", "tensorflow", "cpu", False,
             "applications/gpt_python_stdlib.py, 800 steps (2-core CPU, gpt_mini, batch 32 x "
             "64): 153 s with XLA, 153 s without (partly sharing the cores); "
             "scripts/bench_gpt.py (batch 8 x 128): XLA 20.0k vs graph 17.4k tokens/s"),
    _JitRule("transformer", "tensorflow", "cpu", False,
             "applications/transformer_addition.py (2-core CPU), 2 epochs: XLA 62 s vs graph "
             "37 s; compiling the training step and greedy decoding costs more than the 8% it "
             "saves per later epoch (12 s vs 13 s)"),
    _JitRule("bert*", "tensorflow", "cpu", False,
             "applications/bert_pretrain_python_stdlib.py, 300 steps (2-core CPU, bert_tiny, "
             "batch 64 x 64): XLA 54.7 s vs graph 52.7 s; scripts/bench_bert.py (batch 32 x "
             "128): 305 ms per step either way"),
    # PyTorch on a GPU: torch.compile pays for itself where Keras' layers let it build
    # large graphs (the transformer blocks), not where they break it up (the CNNs).
    _JitRule("gpt*", "torch", "gpu", True,
             "scripts/device_bench.py (H200, GPT-2 small, batch 32 x 1,024, mixed bfloat16): "
             "torch.compile 246k vs eager 113k tokens/s, after 195 s of compilation (with "
             "graph breaks in attention, since removed; the one graph left compiles for longer)"),
    # Defaults.
    _JitRule("*", "jax", "*", True,
             "JAX always compiles with XLA (without jit every op is compiled and dispatched "
             "alone)"),
    _JitRule("*", "torch", "*", False,
             "PyTorch runs eagerly unless measured otherwise: scripts/device_bench.py (H200, "
             "ResNet50 training, batch 256, mixed bfloat16) eager 1,053 vs torch.compile 826 "
             "images/s, after 169 s of compilation (Keras' layers break its graph 28 times)"),
    _JitRule("*", "tensorflow", "gpu", True,
             "GPU default, not yet measured here (no GPU in the sessions so far): XLA fuses "
             "elementwise ops"),
    _JitRule("*", "*", "cpu", False,
             "CPU default: XLA was slower or no faster in every CPU measurement above "
             "(lenet5 0.70x, alexnet 0.50x, mobilenet 1/13, gpt, transformer and bert no "
             "gain)"),
    _JitRule("*", "*", "*", False, "fallback"),
]

# CPU rows. First, scripts/bench_precision.py: float32 and mixed_bfloat16 copies of a
# model trained (Adam, synthetic data, TensorFlow graph mode, no XLA) in one process, in
# alternating rounds whose order flips every round, on a shared 2-core "Intel(R)
# Xeon(R) Processor" with amx_bf16 and avx512_bf16, 2026-12-02; the ratio is that of the
# median steps/s. Those runs used small inputs (32x32 to 75x75), where a step is mostly
# the per-step work on the weights, and found no family faster in bfloat16. Then
# `keras-archs bench NAME --precision mixed_bfloat16 --input-size 128 --batch-size 16`
# (keras_archs in mixed bfloat16, keras_archs in float32 and keras.applications in
# alternating rounds, the fastest of each) on a 2-core AMD EPYC with avx512_bf16 and no
# AMX, 2026-12-05: at 128x128 the convolutions dominate, and every family whose
# convolutions are dense gains. A row gives bfloat16 where no measurement found it slower.
_MEASURED_ON = "2-core Intel(R) Xeon(R) Processor, amx_bf16, TF graph mode, 2026-12-02"
_AMD_128 = (
    "keras-archs bench {name} --input-size 128 --batch-size 16 --precision mixed_bfloat16 "
    "(2-core AMD EPYC, avx512_bf16, no AMX, 2026-12-05): {ours} vs {fp32} images/s in "
    "float32, {ratio} ({anchor}x keras.applications at Keras' defaults)"
)
# The same command on a 2-core Intel CPU with AMX, where the runs at small inputs found
# no gain: at 128x128 every family the AMD rows favour gains or breaks even.
_INTEL_128 = (
    "; the same on a 2-core Intel(R) Xeon(R) Processor with amx_bf16, 2026-12-05: {ours} "
    "vs {fp32}, {ratio} ({anchor}x)"
)
_PRECISION_RULES = [
    _PrecisionRule("mobilenet", "tensorflow", "cpu", "", "float32",
                   f"mobilenet_v2 64x64 batch 16: mixed_bfloat16 0.49x the steps/s of float32 "
                   f"(2.21 vs 4.52, 5 alternating rounds; {_MEASURED_ON}); "
                   + _AMD_128.format(name="mobilenet_v2 --steps 10", ours="61.5", fp32="69.4",
                                     ratio="0.89x", anchor="0.83")),
    _PrecisionRule("nasnet", "tensorflow", "cpu", "", "float32",
                   _AMD_128.format(name="nasnet_mobile --steps 10", ours="29.4", fp32="31.3",
                                   ratio="0.94x", anchor="0.78")),
    _PrecisionRule("vgg", "tensorflow", "cpu", "bf16", "mixed_bfloat16",
                   _AMD_128.format(name="vgg16 --steps 3", ours="12.4", fp32="6.6",
                                   ratio="1.90x", anchor="1.93")
                   + _INTEL_128.format(ours="29.7", fp32="9.1", ratio="3.27x", anchor="4.15")
                   + f"; vgg16 32x32 batch 16: 1.00x float32 (1.13 vs 1.13 steps/s, 9 "
                   f"alternating rounds; {_MEASURED_ON})"),
    _PrecisionRule("inception", "tensorflow", "cpu", "bf16", "mixed_bfloat16",
                   _AMD_128.format(name="inception_v3 --steps 3", ours="41.3", fp32="31.9",
                                   ratio="1.30x", anchor="1.47")
                   + "; again with --rounds 7: 43.4 vs 30.4, 1.43x (1.36x)"
                   + _INTEL_128.format(ours="26.2", fp32="25.4", ratio="1.03x", anchor="0.96")
                   + f"; inception_v3 75x75 batch 16: 0.98x float32 (1.89 vs 1.92 steps/s, 9 "
                   f"alternating rounds; {_MEASURED_ON})"),
    _PrecisionRule("xception", "tensorflow", "cpu", "bf16", "mixed_bfloat16",
                   _AMD_128.format(name="xception --steps 3", ours="22.1", fp32="15.4",
                                   ratio="1.43x", anchor="1.43")
                   + _INTEL_128.format(ours="20.9", fp32="16.5", ratio="1.27x", anchor="1.27")),
    # ResNet's bottleneck sizes gain from bfloat16 matrix units (pre-activation ResNet V2's
    # too); the smallest lose nothing.
    _PrecisionRule("resnet*", "tensorflow", "cpu", "bf16", "mixed_bfloat16",
                   "keras-archs bench resnet50 --input-size 128 --batch-size 16 --rounds 5 "
                   "--precision mixed_bfloat16: 25.6 vs 21.7 images/s in float32, 1.18x (and "
                   "1.21x keras.applications.ResNet50 at Keras' defaults; fastest of 5 "
                   "alternating rounds, 2-core Intel(R) Xeon(R) Processor, amx_bf16, "
                   "2026-12-03); resnet18 64x64 batch 16: 1.00x (2.28 vs 2.29 steps/s); "
                   "2-core AMD EPYC with avx512_bf16 and no AMX, 2026-12-04, keras-archs bench "
                   "resnet50 --against auto --batch-size 16 --rounds 5: 1.32x "
                   "keras.applications.ResNet50 at 128x128 (20.3 vs 15.3 images/s) and 1.73x "
                   "at 224x224 (7.8 vs 4.5); at the bench's batch of 32: 1.41x (26.3 vs 18.7) "
                   "and 1.43x (8.4 vs 5.9); keras-archs bench resnet50_v2 --input-size 128 "
                   "--batch-size 16 --precision mixed_bfloat16 (same AMD CPU): 29.3 vs 18.8 "
                   "images/s in float32, 1.55x keras.applications.ResNet50V2; 2-core Intel(R) "
                   "Xeon(R) Processor with amx_bf16, 2026-12-05, keras-archs bench resnet50 "
                   "--against auto (batch 32): 1.51x keras.applications.ResNet50 at 128x128 "
                   "(25.3 vs 16.8 images/s) and 1.41x at 224x224 (8.8 vs 6.3)"),
    _PrecisionRule("densenet", "tensorflow", "cpu", "bf16", "mixed_bfloat16",
                   _AMD_128.format(name="densenet121 --steps 3", ours="25.4", fp32="20.7",
                                   ratio="1.23x", anchor="1.27")
                   + "; again with --rounds 7: 24.6 vs 20.6, 1.19x (1.20x)"
                   + _INTEL_128.format(ours="17.3", fp32="15.4", ratio="1.13x", anchor="1.14")
                   + f"; densenet121 64x64 batch 16: 0.99x float32 (0.87 vs 0.88 steps/s, 5 "
                   f"alternating rounds; {_MEASURED_ON})"),
    _PrecisionRule("lenet", "tensorflow", "cpu", "", "float32",
                   f"lenet5 32x32x1 batch 32: mixed_bfloat16 1.00x float32 (115.97 vs 116.07 "
                   f"steps/s, 5 alternating rounds; {_MEASURED_ON}); "
                   "scripts/bench_policy.py lenet5 --steps 200: 0.89x"),
    _PrecisionRule("alexnet", "tensorflow", "cpu", "", "float32",
                   "scripts/bench_policy.py alexnet --steps 10 (2-core CPU, 63x63x1, batch 32): "
                   "mixed_bfloat16 1.00x the steps/s of float32 graph mode"),
    # GPUs: the tensor cores' published throughput; bfloat16 has been measured on one H200
    # (no float32 run to compare it with yet). Keras 3 scales the loss by itself under
    # mixed_float16 (compile wraps the optimizer in a LossScaleOptimizer); bfloat16 needs
    # no loss scaling.
    _PrecisionRule("*", "*", "gpu", "bf16", "mixed_bfloat16",
                   "GPU of compute capability >= 8.0: bfloat16 runs on the tensor cores at "
                   "float16's rate without loss scaling; scripts/device_bench.sh on an NVIDIA "
                   "H200 under JAX, mixed_bfloat16: ResNet50 training 5,302 images/s (batch "
                   "256, 224x224, 12.4% of the bf16 peak), GPT-2 small 316,590 tokens/s (batch "
                   "32, context 1,024, 27.4%); float32 not yet measured there"),
    _PrecisionRule("*", "*", "gpu", "fp16", "mixed_float16",
                   "GPU of compute capability 7.x (no bfloat16 tensor cores), not yet measured "
                   "here: float16 tensor cores, loss scaled by Keras automatically"),
    # The fallback; its reason is worded by `_precision` (no bfloat16 hardware, or no
    # measurement for the family).
    _PrecisionRule("*", "*", "*", "", "float32", "not measured"),
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


def parse_cpu_flags(text: str) -> frozenset:
    """The instruction flags of the first processor in a /proc/cpuinfo text (x86's
    "flags" line, ARM's "Features" line); empty when there is none."""
    if not isinstance(text, str):
        raise TypeError(f"text must be the text of /proc/cpuinfo (a str); got text={text!r}.")
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def parse_cpu_model(text: str) -> str | None:
    """The "model name" of the first processor in a /proc/cpuinfo text, or None."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name":
            return value.strip() or None
    return None


def _read_cpuinfo(path="/proc/cpuinfo") -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""  # not Linux, or no /proc: nothing is known about the CPU


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset:
    """This machine's CPU flags, read now from /proc/cpuinfo (empty set if unavailable)."""
    return parse_cpu_flags(_read_cpuinfo(path))


def cpu_model(path: str = "/proc/cpuinfo") -> str | None:
    """This machine's CPU model name, read now from /proc/cpuinfo (None if unavailable)."""
    return parse_cpu_model(_read_cpuinfo(path))


def gpu_capability(backend: str | None = None) -> tuple | None:
    """(major, minor) compute capability of the first GPU the active backend sees, or
    None without one (or where the backend does not report it)."""
    import keras

    backend = backend or keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                capability = tf.config.experimental.get_device_details(gpus[0])
                capability = capability.get("compute_capability")
                return tuple(int(v) for v in capability) if capability else None
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            capability = getattr(gpus[0], "compute_capability", None) if gpus else None
            if capability:
                return tuple(int(v) for v in str(capability).split(".")[:2])
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return tuple(int(v) for v in torch.cuda.get_device_capability(0))
    except (ImportError, RuntimeError, ValueError):
        pass
    return None


# The module functions above, for the functions below whose arguments share their names.
_detect_cpu_flags = cpu_flags
_detect_gpu_capability = gpu_capability


def _check_capability(value):
    if value is None:
        return None
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise ValueError(
            f"gpu_capability must be a (major, minor) pair of integers >= 0 or None; "
            f"got gpu_capability={value!r}."
        )
    return tuple(value)


def _check_flags(value):
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise TypeError(
            f"cpu_flags must be a set of flag strings (as cpu_flags() returns) or None; "
            f"got cpu_flags={value!r}."
        )
    return frozenset(value)


def _hardware(device, cpu_flags, gpu_capability):
    """(device, flags or None, capability or None), reading what was not given."""
    import keras

    device = check_choice("device", device or current_device(), DEVICES)
    cpu_flags = _check_flags(cpu_flags)
    gpu_capability = _check_capability(gpu_capability)
    if device == "cpu" and cpu_flags is None:
        cpu_flags = _detect_cpu_flags()
    if device == "gpu" and gpu_capability is None:
        gpu_capability = _detect_gpu_capability(keras.backend.backend())
    return device, cpu_flags, gpu_capability


def bf16_capable(device=None, cpu_flags=None, gpu_capability=None) -> bool:
    """Whether `device` computes bfloat16 natively: a CPU with avx512_bf16 or amx_bf16,
    a GPU of compute capability >= (8, 0). What is not given is read from the machine."""
    device, cpu_flags, gpu_capability = _hardware(device, cpu_flags, gpu_capability)
    if device == "cpu":
        return any(flag in cpu_flags for flag in BF16_CPU_FLAGS)
    return gpu_capability is not None and gpu_capability >= (8, 0)


def _fp16_capable(device, gpu_capability):
    # float16 tensor cores arrived with compute capability 7.0 (Volta).
    return device == "gpu" and gpu_capability is not None and gpu_capability >= (7, 0)


def _family(model_name):
    from keras_archs.registry import get_spec

    try:
        return get_spec(model_name).family
    except ValueError:
        return None  # not registered: only the "*" rows apply


def _precision_rule(model_name, backend, device, cpu_flags, gpu_capability):
    family = _family(model_name)
    capable = {
        "": True,
        "bf16": bf16_capable(device, cpu_flags, gpu_capability),
        "fp16": _fp16_capable(device, gpu_capability),
    }
    for rule in _PRECISION_RULES:
        if (
            (rule.family == "*" or (family is not None and fnmatch.fnmatch(family, rule.family)))
            and fnmatch.fnmatch(backend, rule.backend)
            and rule.device in ("*", device)
            and capable[rule.needs]
        ):
            return rule
    raise AssertionError("the last precision rule matches everything")


def _precision(model_name, precision, backend, device, cpu_flags, gpu_capability):
    """(dtype policy, reason)."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "auto":
        rule = _precision_rule(model_name, backend, device, cpu_flags, gpu_capability)
        if rule is not _PRECISION_RULES[-1]:
            return rule.dtype_policy, rule.evidence
        if device == "gpu" and gpu_capability is None:
            return "float32", "float32: the GPU's compute capability is unknown"
        if device == "gpu":
            return "float32", (
                f"float32: compute capability {gpu_capability} has neither bfloat16 nor "
                "float16 tensor cores"
            )
        if not bf16_capable(device, cpu_flags, gpu_capability):
            return "float32", f"float32: this CPU has neither {' nor '.join(BF16_CPU_FLAGS)}"
        family = _family(model_name) or model_name
        return "float32", (
            f"float32: bfloat16 not measured for {family!r} on {backend}/{device} (not measured)"
        )
    reason = f"{precision} as requested"
    # An explicit choice is honoured: the run is correct either way, only slower where
    # the hardware emulates the format, so this warns instead of refusing.
    if precision == "mixed_bfloat16" and not bf16_capable(device, cpu_flags, gpu_capability):
        what = (
            f"this CPU has neither {' nor '.join(BF16_CPU_FLAGS)}"
            if device == "cpu"
            else f"this GPU's compute capability ({gpu_capability}) is not >= (8, 0)"
        )
        warnings.warn(
            f"precision='mixed_bfloat16' was requested but {what}: bfloat16 is emulated "
            "there and usually slower than float32.",
            stacklevel=3,
        )
        reason += f" ({what})"
    elif precision == "mixed_float16" and not _fp16_capable(device, gpu_capability):
        warnings.warn(
            f"precision='mixed_float16' was requested on a {device} without float16 tensor "
            "cores (a GPU of compute capability >= 7.0): it is usually slower than float32 "
            "there.",
            stacklevel=3,
        )
        reason += " (no float16 tensor cores)"
    return precision, reason


def _jit(model_name, jit, backend, device):
    """(jit_compile, reason)."""
    check_choice("jit", jit, JIT_CHOICES)
    for rule in _JIT_RULES:
        if (
            fnmatch.fnmatch(model_name, rule.model)
            and fnmatch.fnmatch(backend, rule.backend)
            and rule.device in ("*", device)
        ):
            break
    if jit == "auto":
        return rule.jit_compile, rule.evidence
    forced = jit == "on"
    if forced and rule.warn_if_forced and not rule.jit_compile:
        warnings.warn(
            f"jit='on' for {model_name!r} on {backend}/{device} is honoured, but: {rule.evidence}.",
            stacklevel=3,
        )
    return forced, f"jit_compile={forced} as requested"


def _context(model_name, backend, device):
    import keras

    check_string("model_name", model_name)
    backend = check_string("backend", backend or keras.backend.backend())
    device = check_choice("device", device or current_device(), DEVICES)
    return model_name, backend, device


def choose_precision(
    model_name: str,
    precision: str = "auto",
    backend: str | None = None,
    device: str | None = None,
    cpu_flags=None,
    gpu_capability=None,
) -> str:
    """The dtype policy name for a model on a backend and device.

    "auto" gives "mixed_bfloat16" only where the hardware computes bfloat16 natively
    (`bf16_capable`) and a measurement in the table showed it faster for the model's
    family on that device; "mixed_float16" on GPUs of compute capability 7.x (Keras
    3's `compile` then wraps the optimizer in a `LossScaleOptimizer`, so the loss is
    scaled automatically); "float32" otherwise. An explicit "float32",
    "mixed_bfloat16" or "mixed_float16" is returned as given, with a warning where the
    hardware would emulate it. `cpu_flags` and `gpu_capability` default to what this
    machine reports now.
    """
    model_name, backend, device = _context(model_name, backend, device)
    device, cpu_flags, gpu_capability = _hardware(device, cpu_flags, gpu_capability)
    return _precision(model_name, precision, backend, device, cpu_flags, gpu_capability)[0]


def choose_jit(
    model_name: str, jit: str = "auto", backend: str | None = None, device: str | None = None
) -> bool:
    """Whether to compile the training step with XLA: "auto" follows the measured table
    (MobileNet never on a CPU), "on"/"off" are honoured ("on" warns where the table
    measured XLA far slower)."""
    model_name, backend, device = _context(model_name, backend, device)
    return _jit(model_name, jit, backend, device)[0]


def choose_policy(
    model_name: str,
    backend: str | None = None,
    device: str | None = None,
    *,
    jit: str = "auto",
    precision: str = "auto",
    cpu_flags=None,
    gpu_capability=None,
) -> Policy:
    """The `Policy` (jit_compile, dtype_policy, reason) for a model on a backend and device."""
    model_name, backend, device = _context(model_name, backend, device)
    device, cpu_flags, gpu_capability = _hardware(device, cpu_flags, gpu_capability)
    jit_compile, jit_reason = _jit(model_name, jit, backend, device)
    dtype_policy, precision_reason = _precision(
        model_name, precision, backend, device, cpu_flags, gpu_capability
    )
    reason = f"XLA: {jit_reason}; precision: {precision_reason}"
    return Policy(jit_compile, dtype_policy, reason)


def describe_policy(
    model_name: str,
    backend: str | None = None,
    device: str | None = None,
    *,
    jit: str = "auto",
    precision: str = "auto",
    cpu_flags=None,
    gpu_capability=None,
) -> str:
    """One line for the start of a run: XLA on/off, the dtype policy, and why."""
    import keras

    backend = backend or keras.backend.backend()
    device = device or current_device()
    policy = choose_policy(
        model_name,
        backend,
        device,
        jit=jit,
        precision=precision,
        cpu_flags=cpu_flags,
        gpu_capability=gpu_capability,
    )
    return (
        f"{model_name} on {backend}/{device}: jit_compile={policy.jit_compile}, "
        f"dtype policy {policy.dtype_policy}. {policy.reason}."
    )

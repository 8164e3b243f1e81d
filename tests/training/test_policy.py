import warnings

import pytest

from keras_archs.training import choose_policy, policy
from keras_archs.training.policy import (
    bf16_capable,
    choose_jit,
    choose_precision,
    cpu_flags,
    describe_policy,
    gpu_capability,
    parse_cpu_flags,
    parse_cpu_model,
)


def test_cuDNN_rnn_never_forced_into_xla_on_tensorflow_gpu():
    for name in ("stacked_rnn", "bidirectional_rnn", "seq2seq"):
        assert choose_policy(name, backend="tensorflow", device="gpu").jit_compile is False


def test_cpu_rows_cite_measurements():
    policy = choose_policy("lenet5", backend="tensorflow", device="cpu")
    assert policy.jit_compile is False and policy.dtype_policy == "float32"
    assert "bench_policy.py" in policy.reason
    assert choose_policy("lenet5", backend="jax", device="cpu").jit_compile is True
    assert choose_policy("anything", backend="torch", device="gpu").jit_compile is False


def test_torch_gpu_compiles_only_what_was_measured_faster_compiled():
    gpt = choose_policy("gpt2", backend="torch", device="gpu")
    assert gpt.jit_compile is True and "246k vs eager 113k" in gpt.reason
    resnet = choose_policy("resnet50", backend="torch", device="gpu")
    assert resnet.jit_compile is False and "eager 1,053" in resnet.reason
    assert choose_policy("gpt2", backend="torch", device="cpu").jit_compile is False


def test_bad_arguments():
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'gpu'; got device='tpu'"):
        choose_policy("lenet5", backend="tensorflow", device="tpu")
    with pytest.raises(TypeError, match="model_name must be a non-empty string"):
        choose_policy(None)


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Test CPU
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile

processor\t: 1
flags\t\t: fpu sse2
"""
NO_BF16 = frozenset({"fpu", "sse2", "avx2", "avx512f"})
AMX_ONLY = NO_BF16 | {"amx_bf16"}
AVX512_BF16_ONLY = NO_BF16 | {"avx512_bf16"}


def test_cpuinfo_parsing(tmp_path):
    flags = parse_cpu_flags(CPUINFO)
    assert {"avx512_bf16", "amx_bf16", "avx2"} <= flags and "sse3" not in flags
    assert len(flags) == 7  # the first processor's line only
    assert parse_cpu_flags("processor : 0\nFeatures : fp asimd bf16\n") == {"fp", "asimd", "bf16"}
    assert parse_cpu_flags("") == frozenset()
    assert parse_cpu_model(CPUINFO) == "Intel(R) Xeon(R) Test CPU"
    with pytest.raises(TypeError, match="text must be the text of /proc/cpuinfo"):
        parse_cpu_flags(None)
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert cpu_flags(str(path)) == flags
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_bf16_capability_from_flags_and_compute_capability():
    assert bf16_capable("cpu", cpu_flags=AMX_ONLY)
    assert bf16_capable("cpu", cpu_flags=AVX512_BF16_ONLY)
    assert not bf16_capable("cpu", cpu_flags=NO_BF16)
    assert not bf16_capable("cpu", cpu_flags=frozenset())
    assert bf16_capable("gpu", gpu_capability=(8, 0)) and bf16_capable("gpu", gpu_capability=(9, 0))
    assert not bf16_capable("gpu", gpu_capability=(7, 5))
    with pytest.raises(ValueError, match=r"gpu_capability must be a \(major, minor\) pair"):
        bf16_capable("gpu", gpu_capability="8.0")
    if policy.current_device() == "cpu":
        assert gpu_capability() is None


def test_gpu_precision_follows_compute_capability():
    def pick(cap, name="resnet50"):
        return choose_precision(name, backend="tensorflow", device="gpu", gpu_capability=cap)

    assert pick((8, 0)) == pick((9, 0)) == "mixed_bfloat16"
    assert pick((7, 5)) == pick((7, 0)) == "mixed_float16"
    assert pick((6, 1)) == "float32"
    reason = policy.choose_policy("vgg16", "tensorflow", "gpu", gpu_capability=(6, 1)).reason
    assert "(6, 1) has neither bfloat16 nor float16 tensor cores" in reason


def test_cpu_bf16_needs_both_the_flags_and_a_measured_gain(monkeypatch):
    def pick(name, flags):
        return choose_precision(name, backend="tensorflow", device="cpu", cpu_flags=flags)

    # Measured: MobileNet 0.49x (AMX) and 0.89x (avx512_bf16 alone), NASNet 0.94x; at
    # 128x128 on a CPU with avx512_bf16 alone, VGG 1.90x, Xception 1.43x, InceptionV3
    # 1.30x, DenseNet 1.23x, and ResNet50 1.18x with AMX, ResNet50V2 1.55x without.
    for flags in (AMX_ONLY, AVX512_BF16_ONLY):
        for name in ("mobilenet_v2", "nasnet_mobile", "lenet5", "alexnet"):
            assert pick(name, flags) == "float32", (name, flags)
        for name in ("vgg16", "xception", "inception_v3", "inception_v1", "densenet121"):
            assert pick(name, flags) == "mixed_bfloat16", (name, flags)
        for name in ("resnet50", "resnet18", "resnet50_v2"):
            assert pick(name, flags) == "mixed_bfloat16", (name, flags)
    for name in ("resnet50", "vgg16", "densenet121"):
        assert pick(name, NO_BF16) == "float32"
    reason = policy.choose_policy("mobilenet_v2", "tensorflow", "cpu", cpu_flags=AMX_ONLY).reason
    assert "0.49x" in reason and "Xeon" in reason and "0.89x" in reason
    reason = policy.choose_policy("vgg16", "tensorflow", "cpu", cpu_flags=AMX_ONLY).reason
    assert "12.4 vs 6.6 images/s" in reason and "AMD EPYC" in reason
    reason = policy.choose_policy("transformer", "tensorflow", "cpu", cpu_flags=AMX_ONLY).reason
    assert "bfloat16 not measured for 'transformer' on tensorflow/cpu" in reason
    reason = policy.choose_policy("xception", "tensorflow", "cpu", cpu_flags=NO_BF16).reason
    assert "this CPU has neither avx512_bf16 nor amx_bf16" in reason
    # A row with a measured gain gives bfloat16 only where the flags are there.
    gain = policy._PrecisionRule("transformer", "tensorflow", "cpu", "bf16", "mixed_bfloat16", "")
    monkeypatch.setattr(policy, "_PRECISION_RULES", [gain, *policy._PRECISION_RULES])
    assert pick("transformer", AMX_ONLY) == pick("transformer", AVX512_BF16_ONLY)
    assert pick("transformer", AMX_ONLY) == "mixed_bfloat16"
    assert pick("transformer", NO_BF16) == "float32"
    assert choose_precision("xception", backend="jax", device="cpu", cpu_flags=AMX_ONLY) == (
        "float32"
    )


def test_explicit_precision_is_honoured_and_warns_where_emulated():
    kwargs = {"backend": "tensorflow", "device": "cpu"}
    with pytest.warns(UserWarning, match="neither avx512_bf16 nor amx_bf16"):
        assert choose_precision("lenet5", "mixed_bfloat16", cpu_flags=NO_BF16, **kwargs) == (
            "mixed_bfloat16"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_precision("lenet5", "mixed_bfloat16", cpu_flags=AMX_ONLY, **kwargs) == (
            "mixed_bfloat16"
        )
        assert choose_precision("resnet50", "float32", device="gpu", gpu_capability=(9, 0)) == (
            "float32"
        )
    with pytest.warns(UserWarning, match="without float16 tensor cores"):
        choose_precision("lenet5", "mixed_float16", cpu_flags=AMX_ONLY, **kwargs)
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'float32', 'mixed_bf"):
        choose_precision("lenet5", "bfloat16", **kwargs)


def test_mobilenet_never_gets_xla_on_cpu_under_auto():
    for name in ("mobilenet", "mobilenet_v2"):
        for backend in ("tensorflow", "torch"):
            assert choose_jit(name, backend=backend, device="cpu") is False
        assert choose_jit(name, "off", backend="tensorflow", device="gpu") is False
        with pytest.warns(UserWarning, match="13x slower"):
            assert choose_jit(name, "on", backend="tensorflow", device="cpu") is True
    assert choose_jit("mobilenet_v2", backend="tensorflow", device="gpu") is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_jit("lenet5", "on", backend="tensorflow", device="cpu") is True
    with pytest.raises(ValueError, match="jit must be one of 'auto', 'on', 'off'; got jit=True"):
        choose_jit("lenet5", True)


def test_describe_policy_is_one_line_with_the_reasons():
    line = describe_policy("mobilenet_v2", "tensorflow", "cpu", cpu_flags=AMX_ONLY)
    assert "\n" not in line
    assert "jit_compile=False" in line and "dtype policy float32" in line
    assert "13x slower" in line and "0.49x" in line
    line = describe_policy("resnet50", "tensorflow", "gpu", gpu_capability=(8, 0))
    assert "jit_compile=True" in line and "mixed_bfloat16" in line

import pytest

from keras_archs.training import choose_policy


def test_cuDNN_rnn_never_forced_into_xla_on_tensorflow_gpu():
    for name in ("stacked_rnn", "bidirectional_rnn", "seq2seq"):
        assert choose_policy(name, backend="tensorflow", device="gpu").jit_compile is False


def test_cpu_rows_cite_measurements():
    policy = choose_policy("lenet5", backend="tensorflow", device="cpu")
    assert policy.jit_compile is False and policy.dtype_policy == "float32"
    assert "bench_policy.py" in policy.reason
    assert choose_policy("lenet5", backend="jax", device="cpu").jit_compile is True
    assert choose_policy("anything", backend="torch", device="gpu").jit_compile is False


def test_bad_arguments():
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'gpu'; got device='tpu'"):
        choose_policy("lenet5", backend="tensorflow", device="tpu")
    with pytest.raises(TypeError, match="model_name must be a non-empty string"):
        choose_policy(None)

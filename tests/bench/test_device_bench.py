"""scripts/device_bench.py --smoke: the GPU benchmark's code path at tiny sizes on the CPU,
under JAX, in a process where `import tensorflow` fails as it does on the GPU machine."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.utils import REPO, load_module, subprocess_env

# Runs the script as `python3 scripts/device_bench.py` would, where TensorFlow is missing
# as on the GPU machine: None in sys.modules makes `import tensorflow` raise
# ModuleNotFoundError and `importlib.util.find_spec("tensorflow")` return None.
_WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import runpy, sys

    for name in ("tensorflow", "tensorflow_datasets", "tf_keras"):
        sys.modules[name] = None
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def _load_script():
    return load_module("scripts/device_bench.py")


@pytest.mark.slow
def test_smoke_run_writes_every_field_with_positive_throughputs(tmp_path):
    out = tmp_path / "device_bench.jsonl"
    script = os.path.join(REPO, "scripts", "device_bench.py")
    command = [sys.executable, "-c", _WITHOUT_TENSORFLOW, script, "--smoke"]
    command += ["--json", str(out), "--budget-seconds", "300"]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=420,
        env=subprocess_env("jax"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    device_bench = _load_script()
    assert [(r["model"], r["mode"], r["batch_size"]) for r in rows] == [
        (c.model, c.mode, c.batch_size) for c in device_bench.plan(smoke=True)
    ]
    for row in rows:
        assert list(row) == list(device_bench.FIELDS)
        assert row["skipped"] is None, row
        assert row["backend"] == "jax" and row["precision"] == "mixed_bfloat16"
        assert row["throughput"] > 0 and row["step_ms"] > 0 and row["compile_s"] >= 0
        assert row["tflops"] > 0 and row["flops_source"] in ("count_flops", "published")
        assert row["unit"] == ("tokens/s" if row["model"] == "gpt_mini" else "images/s")
        # The text model is measured without dropout, and its rows say so.
        assert row["notes"] == ("dropout 0" if row["model"] == "gpt_mini" else None)
        # A CPU has no datasheet peak here, so no MFU.
        assert row["device"] == "cpu" and row["mfu"] is None
    # Tokens per second count the whole context of every sequence.
    (train,) = [r for r in rows if r["model"] == "gpt_mini" and r["mode"] == "train"]
    assert train["input"] == 64
    assert train["throughput"] == pytest.approx(2 * 64 / (train["step_ms"] / 1000), rel=1e-3)
    # The table of the file, without Keras.
    report = subprocess.run(
        [sys.executable, script, "--report", str(out)], capture_output=True, text=True
    )
    assert report.returncode == 0 and "gpt_mini" in report.stdout


def test_peak_is_read_from_the_device_name():
    device_bench = _load_script()
    assert device_bench.peak_tflops("NVIDIA H200") == 989.0
    assert device_bench.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert device_bench.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert device_bench.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert device_bench.peak_tflops("NVIDIA H100 NVL") == 835.0
    assert device_bench.peak_tflops("NVIDIA L4") == 121.0
    assert device_bench.peak_tflops("NVIDIA L40S") is None
    assert device_bench.peak_tflops("cpu") is None
    assert device_bench.peak_tflops("Tesla T4") is None


def test_only_selects_cases_and_replaces_their_batch_size():
    device_bench = _load_script()
    cases = device_bench.plan()
    assert device_bench.select(cases, None) == cases
    chosen = device_bench.select(cases, ["gpt2:train:16", "gpt2:train:64", "resnet50:infer"])
    # The plan's order; a batch size replaces the plan's (the latency batch of 1 is kept
    # only where no batch size is given).
    assert [(c.model, c.mode, c.batch_size) for c in chosen] == [
        ("gpt2", "train", 16),
        ("gpt2", "train", 64),
        ("resnet50", "infer", 256),
        ("resnet50", "infer", 1),
    ]
    assert chosen[0].size == 1024 and chosen[0].steps == cases[1].steps
    for wrong in ("vgg16:train", "gpt2", "gpt2:train:0", "gpt2:train:x", "gpt2:train:8:1"):
        with pytest.raises(ValueError, match=f"--only got '{wrong}'.*gpt2:infer"):
            device_bench.select(cases, [wrong])


def test_a_spent_budget_skips_every_measurement_with_a_line(tmp_path):
    out = tmp_path / "device_bench.jsonl"
    script = os.path.join(REPO, "scripts", "device_bench.py")
    command = [sys.executable, script, "--smoke", "--json", str(out), "--budget-seconds", "0"]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=subprocess_env("jax")
    )
    # Nothing measured: a failure for the shell script to report, not a crash.
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(_load_script().plan(smoke=True))
    assert all("budget" in row["skipped"] and row["throughput"] is None for row in rows)
    assert proc.stdout.count("SKIPPED") == len(rows)


def test_benchmarks_page_gets_a_gpu_section_from_the_device_rows(tmp_path):
    device_bench = _load_script()
    doc = load_module("scripts/benchmarks_doc.py")
    case = device_bench.plan()[0]
    measured = {key: None for key in device_bench.FIELDS}
    measured.update(
        model=case.model,
        mode=case.mode,
        backend="jax",
        batch_size=case.batch_size,
        input=case.size,
        unit="images/s",
        throughput=5301.61,
        step_ms=48.287,
        compile_s=20.95,
        tflops=122.7,
        mfu=0.1241,
        device="NVIDIA H200",
    )
    skipped = dict(measured, backend="torch", throughput=None, skipped="the budget ran out")
    # A skipped case that another row measured (here at another batch size) has no row.
    superseded = dict(measured, batch_size=128, throughput=None, skipped="the budget ran out")
    text = doc.render_device([measured, skipped, superseded], "docs/device_bench.jsonl")
    assert text.startswith("## GPU: NVIDIA H200")
    rows = [
        line for line in text.splitlines() if line.startswith("| jax") or line.startswith("| torch")
    ]
    assert rows == [
        "| jax | resnet50 | train | 256 | 224 | 5,302 | images/s | 48.3 | 20.9 | 123 | 12.4% |  |",
        "| torch | resnet50 | train | 256 | 224 | skipped: the budget ran out | images/s | - | - "
        "| - | - |  |",
    ]


def test_shell_script_refuses_an_unknown_backend_before_installing_anything(tmp_path):
    script = os.path.join(REPO, "scripts", "device_bench.sh")
    env = subprocess_env(DEVICE_BENCH_BACKENDS="jax tensorflow", OUT=str(tmp_path))
    proc = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "DEVICE_BENCH_BACKENDS got 'tensorflow'; accepted: jax, torch"
    assert list(tmp_path.iterdir()) == []  # nothing measured, nothing written

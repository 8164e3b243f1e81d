"""`keras-archs bench`: the fields it reports, the anchor comparison and its bad input."""

import csv
import json
import subprocess
import sys

import pytest

from keras_archs.bench.anchors import build_anchor
from keras_archs.bench.flops import count_flops
from keras_archs.bench.measure import FIELDS, bench, check_bench
from keras_archs.registry import get_spec
from tests.utils import subprocess_env


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_archs.cli", "bench", *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_cli_json_and_timm_csv_for_a_model_without_anchor(tmp_path):
    out = tmp_path / "bench.csv"
    proc = _cli("lenet5", "--json", "--steps", "3", "--rounds", "2", "--csv", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # No other library has LeNet-5: said, and keras_archs is still measured.
    assert "no anchor for 'lenet5'" in proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert list(row) == list(FIELDS)
    assert row["model"] == "lenet5" and row["mode"] == "train" and row["unit"] == "images/s"
    assert row["batch_size"] == 32 and row["input_size"] == 32
    assert row["throughput"] > 0 and row["step_ms"] > 0
    # Training FLOPs per image (3x LeNet-5's forward pass) times images per second.
    expected = 3 * count_flops(get_spec("lenet5").build())
    assert row["gflops_per_s"] == pytest.approx(expected * row["throughput"] / 1e9, rel=1e-2)
    assert 0 < row["peak_fraction"] < 1
    assert row["anchor"] is None and row["ratio"] is None
    with open(out, newline="") as f:
        (header, values) = list(csv.reader(f))
    assert {"train_samples_per_sec", "train_step_time", "train_batch_size"} <= set(header)
    assert float(values[header.index("train_samples_per_sec")]) == row["throughput"]
    # An existing file is never overwritten without the flag.
    again = _cli("lenet5", "--steps", "1", "--rounds", "1", "--csv", str(out))
    assert again.returncode == 2
    assert "already exists; pass --overwrite" in again.stderr.strip().splitlines()[-1]


def test_keras_applications_anchor_is_the_same_network_timed_in_turn():
    # The anchor computes what keras_archs computes: same FLOPs, same parameters.
    ours = get_spec("resnet50").build(input_shape=(64, 64, 3), classes=1000)
    anchor = build_anchor("resnet50", input_shape=(64, 64, 3))
    assert count_flops(anchor) == count_flops(ours)
    assert anchor.count_params() == ours.count_params()
    rows = bench("resnet50", mode="infer", input_size=32, batch_size=2, steps=2, rounds=2)
    labels = [r["contender"] for r in rows]
    assert labels == ["keras_archs", "keras_archs@keras_defaults", "keras.applications.ResNet50"]
    for row in rows[:2]:
        assert row["anchor"] == labels[2]
        assert row["anchor_throughput"] == rows[2]["throughput"]
        assert row["ratio"] == pytest.approx(row["throughput"] / rows[2]["throughput"], rel=1e-3)
    assert rows[1]["precision"] == rows[2]["precision"] == "float32"
    # One network: every contender's GFLOP/s is the same per-image FLOPs times its
    # images/s (the report rounds GFLOP/s to two decimals, hence the absolute margin).
    per_image = count_flops(get_spec("resnet50").build(input_shape=(32, 32, 3), classes=1000))
    for row in rows:
        assert row["gflops_per_s"] == pytest.approx(per_image * row["throughput"] / 1e9, abs=6e-3)


def test_serve_times_the_exported_saved_model():
    (row,) = bench("lenet5", mode="serve", steps=2, rounds=1, batch_size=4)
    assert row["mode"] == "serve" and row["contender"] == "keras_archs"
    assert row["throughput"] > 0 and row["compile_s"] > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "resnet51"}, "resnet51"),
        ({"mode": "fly"}, "mode must be one of 'train', 'infer', 'serve'"),
        ({"steps": 0}, "steps"),
        ({"input_size": 16}, "input_size"),
        ({"against": "sometimes"}, "against must be one of 'auto', 'none'"),
        ({"precision": "float8"}, "precision must be one of"),
        ({"name": "tcn"}, "bench measures image classifiers, GPT and BERT"),
    ],
)
def test_bad_bench_arguments(kwargs, match):
    arguments = dict(
        name="resnet50",
        mode="train",
        batch_size=None,
        input_size=None,
        steps=1,
        rounds=1,
        precision="auto",
        jit="auto",
        against="auto",
    )
    with pytest.raises(ValueError, match=match):
        check_bench(**{**arguments, **kwargs})

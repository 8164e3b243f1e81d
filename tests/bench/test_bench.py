"""`keras-archs bench`: the fields it reports, the anchor comparison and its bad input."""

import csv
import json

import pytest

from keras_archs import cli
from keras_archs.bench.anchors import build_anchor
from keras_archs.bench.flops import count_flops
from keras_archs.bench.measure import FIELDS, bench, check_bench
from keras_archs.registry import get_spec


def _cli(capsys, *args):
    """`keras-archs bench ARGS` in this process: its exit status, stdout and stderr. A
    subprocess would import TensorFlow again for each call."""
    capsys.readouterr()
    status = cli.main(["bench", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_json_and_timm_csv_for_a_model_without_anchor(tmp_path, capsys):
    out = tmp_path / "bench.csv"
    status, stdout, stderr = _cli(
        capsys, "lenet5", "--json", "--steps", "3", "--rounds", "2", "--csv", str(out)
    )
    assert status == 0, stderr[-3000:]
    # No other library has LeNet-5: said, and keras_archs is still measured.
    assert "no anchor for 'lenet5'" in stderr
    (row,) = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
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
    status, _, stderr = _cli(capsys, "lenet5", "--steps", "1", "--rounds", "1", "--csv", str(out))
    assert status == 2
    assert "already exists; pass --overwrite" in stderr.strip().splitlines()[-1]


def test_keras_applications_anchor_is_the_same_network_timed_in_turn():
    # The anchor computes what keras_archs computes: same FLOPs, same parameters.
    # At the size timed below, so that the count serves the GFLOP/s check too.
    ours = get_spec("resnet50").build(input_shape=(32, 32, 3), classes=1000)
    anchor = build_anchor("resnet50", input_shape=(32, 32, 3))
    per_image = count_flops(ours)
    assert count_flops(anchor) == per_image
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

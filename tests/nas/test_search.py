"""`keras-archs search`: a killed search resumes from its log, Ray workers give the same
results as in-process training, best.json trains and exports, bad input is refused.

The searches run under the torch backend in subprocesses: a child of a few steps trains
eagerly there in about two seconds, where TensorFlow spends most of half a minute
tracing its graph.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_archs.cli import main
from keras_archs.nas import SearchConfig, read_log
from tests.utils import run_cli_commands, subprocess_env

# Two blocks a cell: the smallest cell in which a block can take another block's output;
# each child builds and trains about a fifth faster than with three.
TINY = [
    "--children", "4", "--batch", "2", "--budget-steps", "3", "--input-size", "8",
    "--filters", "4", "--blocks", "2", "--seed", "3",
]  # fmt: skip
SAME = ("child", "spec", "tokens", "accuracy", "params", "flops", "entropy", "round")


def _command(out, *extra):
    return [sys.executable, "-m", "keras_archs.cli", *_search(out, *extra)]


def _run(*argvs):
    # The resumed search, the Ray search and the training share one interpreter.
    return run_cli_commands(*argvs, env=subprocess_env("torch"))


def _search(out, *extra):
    return ["search", "--out", out, *TINY, *extra]


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


@pytest.mark.slow
def test_killed_search_resumes_and_ray_workers_give_the_same_children(tmp_path):
    killed, parallel = tmp_path / "killed", tmp_path / "parallel"
    log = killed / "controller.jsonl"
    proc = subprocess.Popen(
        _command(killed, "--baseline", "none"), env=subprocess_env("torch"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not _lines(log) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _lines(log)
    assert 1 <= len(before) < 4, before
    finished = os.path.getmtime(killed / "children" / "controller_0000" / "run.json")

    # The resumed search, the one on Ray workers and a training of its best cells.
    best, run = parallel / "best.json", tmp_path / "run"
    _, out, train = _run(
        _search(killed, "--baseline", "none"),
        _search(parallel, "--workers", "2"),
        ["train", "nasnet_custom", "--cell-spec", best, "--epochs", "1", "--steps-per-epoch",
         "2", "--out", run, "--model-arg", "num_blocks=1", "--model-arg",
         "penultimate_filters=48", "--input-size", "8", "--no-tensorboard"],
    )  # fmt: skip
    after = _lines(log)
    # Finished children are read back, not retrained; every child is logged once.
    assert after[: len(before)] == before
    assert os.path.getmtime(killed / "children" / "controller_0000" / "run.json") == finished
    resumed = read_log(str(log))
    assert sorted(resumed) == [0, 1, 2, 3] and len(after) == 4
    state = json.loads((killed / "controller" / "state.json").read_text())
    assert state["rounds"] == 2

    together = read_log(str(parallel / "controller.jsonl"))
    # The same seed: the same cells sampled, trained to the same accuracy, by a
    # controller that learned the same way, whether killed or run by Ray workers.
    for child in range(4):
        assert {k: resumed[child][k] for k in SAME} == {k: together[child][k] for k in SAME}
    other = json.loads((parallel / "controller" / "state.json").read_text())
    assert other["baseline"] == pytest.approx(state["baseline"], abs=1e-12)
    # Two workers trained at once: two processes, and overlapping training intervals.
    records = list(together.values()) + list(read_log(str(parallel / "random.jsonl")).values())
    assert len({r["pid"] for r in records}) == 2

    def overlap(a, b):
        return (
            a["started"] < b["started"] + b["seconds"]
            and b["started"] < a["started"] + a["seconds"]
        )

    assert any(overlap(together[2 * r], together[2 * r + 1]) for r in range(2))
    # The random baseline, the summary and what the search leaves for training.
    summary = json.loads((parallel / "summary.json").read_text())
    assert summary["random"]["children"] == 4 and summary["controller"]["children"] == 4
    accuracies = [r["accuracy"] for r in records]
    assert summary["best"]["accuracy"] == pytest.approx(max(accuracies))
    assert "controller" in out and "random" in out and "best.json" in out
    assert (parallel / "search.png").stat().st_size > 10_000

    assert "final validation accuracy" in train
    recorded = json.loads((run / "run.json").read_text())["model_kwargs"]["cell_spec"]
    assert recorded == json.loads(best.read_text())
    # The trained child exports to a SavedModel that serves its predictions.
    assert main(["export", str(run / "model.keras"), "--out", str(tmp_path / "served")]) == 0
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "served" / "1")).signatures["serving_default"]
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 1)).astype("float32")
    (output,) = served(tf.constant(x)).values()
    assert output.shape == (2, 10)
    np.testing.assert_allclose(output.numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_bad_input_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "search"

    def refused(*argv):
        assert main(["search", "--out", str(out), *argv]) == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert "children must be" in refused("--children", "0")
    assert "budget_steps must be" in refused("--budget-steps", "0")
    assert "workers must be" in refused("--workers", "0")
    assert "baseline" in refused("--baseline", "grid")
    message = refused("--ray-address", "127.0.0.1:1")
    assert "no Ray cluster can be reached there" in message and "ray start --head" in message
    assert "is not HOST:PORT" in refused("--ray-address", "somewhere")
    assert not out.exists()
    # A folder holding another search keeps it: its settings are compared, not replaced.
    out.mkdir()
    (out / "search.json").write_text(json.dumps(dataclasses.asdict(SearchConfig())))
    (out / "controller.jsonl").write_text('{"child": 0}\n')
    assert "holds a search with other settings (children)" in refused("--children", "5")
    assert (out / "controller.jsonl").read_text() == '{"child": 0}\n'
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["search", "--out", str(tmp_path / "mine")]) == 2
    assert "holds no search" in capsys.readouterr().err
    assert main(["train", "lenet5", "--cell-spec", "x.json"]) == 2
    assert "--cell-spec applies to" in capsys.readouterr().err


def test_cells_already_trained_are_read_back_not_trained_again(tmp_path):
    from keras_archs.nas.search import Search

    search = Search(str(tmp_path / "s"), SearchConfig(num_blocks=2), report=lambda record: None)
    trained = []

    class Recorder:  # stands in for the workers: records what it is asked to train
        def run(self, config, jobs, done):
            for child, _, _ in jobs:
                trained.append(child)
                result = {"accuracy": 0.5 + child / 10, "params": 1, "flops": 2, "seconds": 1.0}
                done(child, {**result, "pid": 0, "started": 0.0})

    rng = np.random.default_rng(0)
    a, b = (search.space.decode(t) for t in search.space.sample_uniform(rng, 2))
    log = {}
    records = search._train(Recorder(), "random", [(0, a, {}), (1, b, {}), (2, a, {})], log)
    assert trained == [0, 1]
    assert records[2]["accuracy"] == records[0]["accuracy"] and records[2]["reused_from"] == 0
    (record,) = search._train(Recorder(), "random", [(3, b, {})], log)
    assert trained == [0, 1] and record["reused_from"] == 1 and record["seconds"] == 0.0
    assert sorted(read_log(str(tmp_path / "s" / "random.jsonl"))) == [0, 1, 2, 3]


def test_a_line_torn_by_a_crash_is_dropped_and_the_next_record_kept(tmp_path):
    from keras_archs.nas.search import _append

    path = tmp_path / "controller.jsonl"
    path.write_text('{"child": 0}\n{"child": 1, "acc')  # killed while writing child 1
    _append(str(path), {"child": 1})
    _append(str(path), {"child": 2})
    assert read_log(str(path)) == {0: {"child": 0}, 1: {"child": 1}, 2: {"child": 2}}

"""Runs that survive faults: SIGKILL and resume, SIGTERM, damaged backups, a full disk."""

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_archs import cli
from keras_archs.training import resume, train
from keras_archs.training.backup import CheckpointWriteError, PreemptedError, read_backup
from tests.utils import subprocess_env


def _history(out):
    with open(os.path.join(out, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _command(*args):
    return [sys.executable, "-m", "keras_archs.cli", "train", "lenet5", *args]


def _rows(out):
    try:
        return len(_history(out))
    except (OSError, csv.Error):
        return 0


# Five steps an epoch: resuming must still restore the weights, the optimizer, the
# schedule and the data order of an unfinished epoch, at any epoch length.
_RUN = ("--epochs", "6", "--steps-per-epoch", "5", "--deterministic")
# The killed run waits inside epoch 3, after its second step, so that SIGKILL lands
# there however fast or slow the machine is (short epochs could otherwise all finish
# between two looks at history.csv).
_KILLED = """
import sys, time
import keras
from keras_archs.training import train

class WaitInEpoch3(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 3 and batch == 1:
            open(sys.argv[2], "w").close()
            time.sleep(600)

train("lenet5", epochs=6, steps_per_epoch=5, deterministic=True, out=sys.argv[1],
      callbacks=[WaitInEpoch3()])
"""


def test_sigkill_in_epoch_3_then_resume_repeats_the_uninterrupted_run(tmp_path):
    """`train("lenet5", epochs=6, steps_per_epoch=5, deterministic=True)` killed with
    SIGKILL inside epoch 3, then `keras-archs train --resume`: every epoch once, a
    loadable best model, and the history of an uninterrupted
    `keras-archs train lenet5 --epochs 6 --steps-per-epoch 5 --deterministic` to 1e-4."""
    env = subprocess_env()
    whole, cut = str(tmp_path / "whole"), str(tmp_path / "cut")
    waiting = tmp_path / "waiting"
    uninterrupted = subprocess.Popen(
        _command(*_RUN, "--out", whole),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", _KILLED, cut, str(waiting)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not waiting.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert waiting.exists(), killed.stderr.read()[-3000:]
    assert _rows(cut) == 3, "the run was not killed in epoch 3"
    assert not os.path.exists(os.path.join(cut, "model.keras"))
    proc = subprocess.run(
        _command("--resume", "--out", cut), env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stdout and "final validation accuracy" in proc.stdout
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()[-3000:]

    resumed, reference = _history(cut), _history(whole)
    assert [int(r["epoch"]) for r in resumed] == list(range(6))
    for got, want in zip(resumed, reference):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-4), (got, want)
    best = keras.saving.load_model(os.path.join(cut, "best.keras"))
    assert best.output_shape == (None, 10)
    with open(os.path.join(cut, "run.json")) as f:
        saved = json.load(f)
    assert saved["completed"] and len(saved["resumed"]) == 1
    assert not os.path.exists(os.path.join(cut, "backup"))  # a complete run needs none


class _Signal(keras.callbacks.Callback):
    """Sends this process SIGTERM (as a scheduler would) at epoch `epoch`, batch 3."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.now = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.now = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.now == self.epoch and batch == 3:
            os.kill(os.getpid(), signal.SIGTERM)


class _Fail(keras.callbacks.Callback):
    """Kills the run (an exception) at the start of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("power loss")


def test_sigterm_leaves_a_backup_that_resume_completes(tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(PreemptedError, match="continue with: keras-archs train --resume"):
        train("lenet5", epochs=3, out=out, verbose=0, callbacks=[_Signal(1)])
    backup = read_backup(os.path.join(out, "backup"))
    assert backup["epoch"] == 1 and backup["batch"] >= 3  # inside epoch 1
    assert [int(r["epoch"]) for r in _history(out)] == [0]
    result = resume(out, verbose=0)
    assert [int(r["epoch"]) for r in _history(out)] == [0, 1, 2]
    assert len(result.history["loss"]) == 3
    # TensorBoard holds the loss and the learning rate of every epoch, across the resume.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = EventAccumulator(os.path.join(out, "tensorboard", "train"))
    logs.Reload()
    for tag in ("epoch_loss", "epoch_learning_rate"):
        assert sorted({event.step for event in logs.Tensors(tag)}) == [0, 1, 2], tag


def test_a_damaged_backup_falls_back_to_the_previous_one(tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train("lenet5", epochs=4, out=out, verbose=0, callbacks=[_Fail(3)])
    latest = os.path.join(out, "backup", "latest.weights.h5")
    assert read_backup(os.path.join(out, "backup"))["epoch"] == 3
    with open(latest, "r+b") as f:  # bytes overwritten on disk
        f.seek(os.path.getsize(latest) // 2)
        f.write(b"\x00" * 4096)
    with pytest.warns(
        UserWarning, match=r"latest backup .* is damaged; resuming from the previous"
    ):
        result = resume(out, verbose=0)
    # The previous backup is epoch 2's: epoch 2 runs again, and history has each once.
    assert [int(r["epoch"]) for r in _history(out)] == [0, 1, 2, 3]
    assert np.isfinite(result.history["loss"]).all()


def test_a_full_disk_stops_the_run_and_keeps_the_last_good_backup(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    real_save = keras.Model.save_weights

    class _DiskFills(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:

                def full(model, path, *args, **kwargs):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

                monkeypatch.setattr(keras.Model, "save_weights", full)

    with pytest.raises(CheckpointWriteError, match=r"No space left on device.*epoch 2 is intact"):
        train("lenet5", epochs=4, out=out, verbose=0, callbacks=[_DiskFills()])
    monkeypatch.setattr(keras.Model, "save_weights", real_save)
    assert read_backup(os.path.join(out, "backup"))["epoch"] == 2
    assert not [f for f in os.listdir(os.path.join(out, "backup")) if ".tmp" in f]
    keras.saving.load_model(os.path.join(out, "best.keras"))


def test_resume_refuses_what_it_cannot_continue(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["train", "lenet5", "--resume", "--out", str(empty)]) == 2
    assert "holds no run (no run.json); nothing to resume" in capsys.readouterr().err
    out = str(tmp_path / "run")
    train("lenet5", epochs=1, out=out, verbose=0)
    assert cli.main(["train", "resnet18", "--resume", "--out", out]) == 2
    assert "trains model 'lenet5', not 'resnet18'" in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--resume", "--out", out]) == 2
    assert "completed; nothing to resume" in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--backup-every", "0", "--out", str(tmp_path / "x")]) == 2
    assert "backup_every must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

"""What makes a run survive faults: backups, checkpoints and pre-emption, on Keras' own
callbacks.

- `RunBackup`: Keras' `BackupAndRestore` (weights, optimizer state and the schedule's
  step, and the epoch to continue from), with three additions a long run needs: each
  backup is written under a temporary name and renamed into place, so a crash while
  writing never leaves a half-written latest backup; the previous good backup is kept;
  the metadata holds the SHA-256 of the weights file, so a backup damaged on disk is
  detected at restore time and the previous one is used, with a warning. A pre-emption
  request (SIGTERM, from `preemption_handler`) writes a backup at the next batch end
  and stops the run with `PreemptedError`.
- `AtomicCheckpoint`: Keras' `ModelCheckpoint` writing under a temporary name, then
  renaming, so the last good `best.keras` / `last.keras` survives a failed write.
- A failed write (a full disk) stops the run with `CheckpointWriteError`, naming what is
  still intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import warnings

import keras

BACKUP_DIR = "backup"


class PreemptedError(RuntimeError):
    """The run was asked to stop (SIGTERM) and left a backup to resume from."""


class CheckpointWriteError(RuntimeError):
    """Writing a backup or checkpoint failed (a full disk); the last good one is intact."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(*paths):
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def read_backup(backup_dir):
    """The metadata of the newest usable backup in `backup_dir` ({"epoch", "batch",
    "sha256", "which": "latest"|"previous"}), or None when there is none. A backup whose
    weights do not match their recorded checksum is skipped."""
    for which in ("latest", "previous"):
        weights, meta = _paths(backup_dir, which)
        try:
            with open(meta) as f:
                metadata = json.load(f)
            if _sha256(weights) == metadata.get("sha256"):
                return {**metadata, "which": which}
        except (OSError, ValueError):
            continue
    return None


def _paths(backup_dir, which):
    """(weights, metadata) files of the "latest" or the "previous" backup."""
    prefix = "" if which == "latest" else "previous_"
    return (
        os.path.join(backup_dir, f"{which}.weights.h5"),
        os.path.join(backup_dir, f"{prefix}training_metadata.json"),
    )


class RunBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` written atomically, checked on restore, and pre-emptible.

    Args:
        backup_dir: the run's backup folder.
        save_freq: "epoch", or a number of training steps between backups (a backup is
            also written at every epoch end). Keras resumes at an epoch boundary: from a
            backup taken mid-epoch, the interrupted epoch runs again from its start with
            the weights of that step.
        restore_from: the backup folder to resume from, when not `backup_dir`: a process
            of a cluster other than the chief resumes from the chief's backup (the
            processes' weights are the same) and writes its own to a private folder, as
            saving must run the same steps in every process.
    """

    def __init__(self, backup_dir, save_freq="epoch", restore_from=None):
        super().__init__(
            backup_dir, save_freq=save_freq, double_checkpoint=True, delete_checkpoint=False
        )
        self.restore_from = restore_from or backup_dir
        self.restored = None  # the metadata restored from, when resuming
        self.preempt_requested = False

    # Restoring -----------------------------------------------------------------
    def on_train_begin(self, logs=None):
        problems = []
        for which in ("latest", "previous"):
            weights, meta = _paths(self.restore_from, which)
            if not os.path.exists(meta) and not os.path.exists(weights):
                continue
            try:
                with open(meta) as f:
                    metadata = json.load(f)
                if _sha256(weights) != metadata.get("sha256"):
                    raise ValueError("its weights do not match their recorded SHA-256")
                self._restore(weights, metadata)
            except Exception as e:  # a damaged file raises from h5py, json or Keras
                problems.append(f"{which} backup ({type(e).__name__}: {e})")
                continue
            if problems:
                warnings.warn(
                    f"The {problems[0]} is damaged; resuming from the {which} backup "
                    f"(epoch {metadata['epoch']}) instead.",
                    stacklevel=2,
                )
            self.restored = {**metadata, "which": which}
            return
        if problems:
            raise ValueError(f"No usable backup in {self.restore_from!r}: {'; '.join(problems)}.")

    def _restore(self, weights, metadata):
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # The optimizer's variables must exist before its state can be loaded.
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = int(metadata["epoch"])

    # Saving --------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        # A backup inside this epoch resumes at this epoch (Keras counts from 0 after a
        # restore until the first epoch end).
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.preempt_requested:
            self._last_batch_seen = batch
            self._save_model()
            raise PreemptedError(
                f"stopped on request (SIGTERM) in epoch {self._current_epoch} after a backup "
                f"to {self.backup_dir!r}; continue with: keras-archs train --resume --out "
                f"{os.path.dirname(os.path.abspath(self.backup_dir))}"
            )

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights, meta = _paths(self.backup_dir, "latest")
        previous_weights, previous_meta = _paths(self.backup_dir, "previous")
        new_weights = weights[: -len(".weights.h5")] + ".tmp.weights.h5"
        new_meta = meta + ".tmp"
        try:
            self.model.save_weights(new_weights, overwrite=True)
            metadata = {
                "epoch": self._current_epoch,
                "batch": self._last_batch_seen,
                "sha256": _sha256(new_weights),
            }
            with open(new_meta, "w") as f:
                json.dump(metadata, f)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            _remove(new_weights, new_meta)
            good = read_backup(self.backup_dir)
            kept = f"the backup of epoch {good['epoch']} is intact" if good else "no backup"
            raise CheckpointWriteError(
                f"writing a backup to {self.backup_dir!r} failed ({e.strerror or e}); {kept}. "
                "Free space and continue with keras-archs train --resume."
            ) from e
        # The current good backup becomes the previous one, then the new one moves in:
        # at every moment one complete backup is on disk.
        if os.path.exists(weights) and os.path.exists(meta):
            os.replace(weights, previous_weights)
            os.replace(meta, previous_meta)
        os.replace(new_weights, weights)
        os.replace(new_meta, meta)


class AtomicCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` of a fixed `.keras` path, written under a temporary name and
    renamed into place; a failed write raises `CheckpointWriteError` and leaves the
    previous file as it was."""

    def _save_model(self, epoch, batch, logs):
        final = self.filepath
        temporary = final[: -len(".keras")] + ".tmp.keras"
        self.filepath = temporary
        try:
            super()._save_model(epoch, batch, logs)
        except OSError as e:
            _remove(temporary)
            kept = f"{final!r} is intact" if os.path.exists(final) else f"no {final!r} yet"
            raise CheckpointWriteError(
                f"writing the checkpoint {final!r} failed ({e.strerror or e}); {kept}. "
                "Free space and continue with keras-archs train --resume."
            ) from e
        finally:
            self.filepath = final
        if os.path.exists(temporary):
            os.replace(temporary, final)


@contextlib.contextmanager
def preemption_handler(backup):
    """While active, SIGTERM asks `backup` (a `RunBackup`) to write a backup at the next
    batch end and stop the run; outside the main thread it does nothing."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: _request(backup))
    except ValueError:  # signals can only be handled in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _request(backup):
    backup.preempt_requested = True

"""Callbacks of the training path that Keras does not have.

- `StopAtTarget`: ends a run once a metric reaches a score (steps-to-target recipes).
- `ExactMatch`: a sequence-to-sequence model's own measure, scored after every epoch:
  the fraction of held-out sources whose generated answer is entirely right. Teacher
  forcing's per-token accuracy overstates it: one wrong digit spoils an answer.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_archs.validation import check_positive_int


class ExactMatch(keras.callbacks.Callback):
    """Adds `val_exact_match` to each epoch's logs (and so to history.csv).

    Args:
        decode: `decode(model, encoder_inputs, max_length) -> ids`, the model family's
            greedy decoder (`keras_archs.applications.seq2seq.greedy_decode`, or the
            Transformer's).
        encoder_inputs: int array `(n, source_length)` of held-out sources.
        answers: the `n` expected strings.
        max_length: tokens to generate.
        to_text: turns a batch of generated ids into strings (`keras_archs.data.tasks.decode`).
        batch_size: sources decoded at once.

    Place it before the callbacks that read the logs (CSVLogger): Keras hands every
    callback the same logs dictionary.
    """

    def __init__(self, decode, encoder_inputs, answers, max_length, to_text, batch_size=1000):
        super().__init__()
        self.decode = decode
        self.encoder_inputs = np.asarray(encoder_inputs)
        self.answers = list(answers)
        if len(self.answers) != len(self.encoder_inputs):
            raise ValueError(
                f"answers has {len(self.answers)} entries for {len(self.encoder_inputs)} "
                "encoder_inputs; they must match one to one."
            )
        self.max_length = check_positive_int("max_length", max_length)
        self.to_text = to_text
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.last = None

    def score(self, model):
        """The exact-match accuracy of `model` on the held-out pairs."""
        predicted = []
        for i in range(0, len(self.answers), self.batch_size):
            batch = self.encoder_inputs[i : i + self.batch_size]
            predicted += self.to_text(self.decode(model, batch, self.max_length))
        hits = [p == a for p, a in zip(predicted, self.answers)]
        return float(np.mean(hits))

    def on_epoch_end(self, epoch, logs=None):
        self.last = self.score(self.model)
        if logs is not None:
            logs["val_exact_match"] = self.last


class StopAtTarget(keras.callbacks.Callback):
    """Stops training after the first epoch whose `monitor` reaches `target`.

    Keras' EarlyStopping stops when a metric stops improving; a recipe that asks how
    many steps a model needs to reach a score stops when it gets there.
    """

    def __init__(self, monitor, target, mode="max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'; got mode={mode!r}.")
        self.monitor, self.target, self.mode = monitor, float(target), mode
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"monitor={self.monitor!r} is not in the epoch's logs ({sorted(logs or {})})."
            )
        reached = value >= self.target if self.mode == "max" else value <= self.target
        if reached:
            self.stopped_epoch = epoch
            self.model.stop_training = True

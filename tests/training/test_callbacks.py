"""The training path's own callbacks: the exact-match score and the stop at a target."""

import keras
import numpy as np
import pytest

from keras_archs.data import tasks
from keras_archs.training.callbacks import ExactMatch, StopAtTarget


def _answers_of(table):
    """A decoder that answers from `table` (source row -> id row), as a model would."""

    def decode(model, encoder_inputs, max_length):
        assert max_length == 5
        return np.stack([table[tuple(row)] for row in encoder_inputs])

    return decode


def test_exact_match_counts_whole_answers_and_logs_them():
    _, test = tasks.addition_arrays(10, 6, 2, seed=0)
    given = list(test["answers"])
    given[0] += "1"  # one digit too many
    given[3] = "0" if given[3] != "0" else "1"  # a wrong digit
    ids = tasks.encode(given, 5)
    table = {tuple(row): out for row, out in zip(test["encoder_inputs"], ids)}
    callback = ExactMatch(
        _answers_of(table),
        test["encoder_inputs"],
        test["answers"],
        5,
        lambda ids: tasks.decode(ids),
        batch_size=4,  # two batches, the second one short
    )
    logs = {"loss": 1.0}
    callback.set_model(keras.Sequential())
    callback.on_epoch_end(0, logs)
    assert logs["val_exact_match"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="answers has 5 entries for 6 encoder_inputs"):
        ExactMatch(None, test["encoder_inputs"], test["answers"][:5], 5, tasks.decode)


def test_stop_at_target_stops_on_the_first_epoch_that_reaches_it():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stop = StopAtTarget("val_exact_match", 0.9)
    stop.set_model(model)
    model.stop_training = False  # as fit sets it
    for epoch, value in enumerate([0.5, 0.89]):
        stop.on_epoch_end(epoch, {"val_exact_match": value})
        assert not model.stop_training
    stop.on_epoch_end(2, {"val_exact_match": 0.9})
    assert model.stop_training and stop.stopped_epoch == 2
    with pytest.raises(ValueError, match="monitor='val_exact_match' is not in the epoch's logs"):
        StopAtTarget("val_exact_match", 0.9).on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        StopAtTarget("loss", 0.1, mode="down")

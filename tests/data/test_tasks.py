"""The offline sequence tasks: contents, seeds, baselines and bad input."""

import numpy as np
import pytest

from keras_archs.data import load_dataset, tasks


def test_addition_pairs_are_correct_disjoint_and_seeded():
    train, test = tasks.addition_arrays(num_train=3_000, num_test=500, digits=3, seed=7)
    for split in (train, test):
        for q, a in zip(split["questions"], split["answers"]):
            x, y = q.split("+")
            assert int(x) + int(y) == int(a)
        # The decoder strings round-trip to the answers; targets are inputs shifted by one.
        assert tasks.decode(split["targets"]) == split["answers"]
        assert (split["decoder_inputs"][:, 0] == tasks.START).all()
        np.testing.assert_array_equal(split["decoder_inputs"][:, 1:], split["targets"][:, :-1])
        # Encoder inputs are the reversed, padded questions.
        forward = split["encoder_inputs"][:, ::-1]
        assert tasks.decode(np.where(forward == tasks.PAD, tasks.END, forward))[:5] == [
            q for q in split["questions"][:5]
        ]
    assert not set(train["questions"]) & set(test["questions"])
    again, _ = tasks.addition_arrays(num_train=3_000, num_test=500, digits=3, seed=7)
    assert again["questions"] == train["questions"]
    other, _ = tasks.addition_arrays(num_train=3_000, num_test=500, digits=3, seed=8)
    assert other["questions"] != train["questions"]


def test_addition_pipeline_shapes_and_model_kwargs():
    bundle = load_dataset("addition", batch_size=16, num_train=64, num_test=32)
    x, y = next(iter(bundle.train))
    assert x["encoder_inputs"].shape == (16, 7) and x["decoder_inputs"].shape == (16, 5)
    assert y.shape == (16, 5)
    assert bundle.model_kwargs == {
        "vocabulary_size": 14,
        "encoder_max_length": 7,
        "decoder_max_length": 5,
    }
    assert int(np.max(x["encoder_inputs"])) < 14


def test_encode_rejects_long_sequences_and_unknown_characters():
    np.testing.assert_array_equal(tasks.encode(["1+2"], 5), [[4, 13, 5, 0, 0]])
    with pytest.raises(ValueError, match="longer than max_length=3"):
        tasks.encode(["12+34"], 3)
    with pytest.raises(ValueError, match=r"characters \['x'\] outside the vocabulary"):
        tasks.encode(["1x2"], 5)
    with pytest.raises(ValueError, match="max_length must be an integer >= 1"):
        tasks.encode(["1"], 0)


def test_check_token_ids():
    tasks.check_token_ids(np.array([[0, 13]]), 14)
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 14\): e.g. \[14, -1\]"):
        tasks.check_token_ids(np.array([[0, 14, -1]]), 14)
    with pytest.raises(TypeError, match="integer token ids"):
        tasks.check_token_ids(np.array([0.5]), 14)


def test_adding_problem_targets_and_mean_baseline():
    x, y = tasks.adding_problem_arrays(20_000, T=50, seed=0)
    assert x.shape == (20_000, 50, 2) and y.shape == (20_000, 1)
    marks = x[..., 1]
    assert (marks.sum(axis=1) == 2).all()
    assert (marks[:, :25].sum(axis=1) == 1).all()  # one marker in each half
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * marks).sum(axis=1), rtol=1e-6)
    # Predicting the mean scores Var(U1 + U2) = 1/6.
    assert abs(float(np.mean((y - 1.0) ** 2)) - 1 / 6) < 0.01


def test_copy_memory_layout():
    x, y = tasks.copy_memory_arrays(100, T=30, seed=0)
    assert x.shape == (100, 50, 1) and y.shape == (100, 50)
    digits = x[:, :10, 0]
    assert digits.min() >= 1 and digits.max() <= 8
    assert (x[:, 10:39, 0] == 0).all() and (x[:, 39:, 0] == 9).all()
    assert (y[:, :40] == 0).all()
    np.testing.assert_array_equal(y[:, 40:], digits.astype("int32"))


def test_task_pipelines_take_their_length_argument():
    bundle = load_dataset("adding_problem", T=40, batch_size=8, num_train=32, num_test=16)
    x, y = next(iter(bundle.train))
    assert x.shape == (8, 40, 2) and y.shape == (8, 1)
    assert bundle.loss == "mse" and bundle.model_kwargs["input_shape"] == (40, 2)
    bundle = load_dataset("copy_memory", T=10, batch_size=4, num_train=8, num_test=8)
    x, y = next(iter(bundle.validation))
    assert x.shape == (4, 30, 1) and y.shape == (4, 30)
    with pytest.raises(ValueError, match="T must be an integer >= 2; got T=1"):
        load_dataset("adding_problem", T=1)
    with pytest.raises(TypeError, match="T must be an integer >= 2; got T='40'"):
        load_dataset("adding_problem", T="40")


@pytest.mark.parametrize("name", ["adding_problem", "copy_memory", "addition"])
def test_task_refuses_an_unknown_option(name):
    # `t` for `T` used to be swallowed: the task ran with its default length.
    with pytest.raises(ValueError) as info:
        load_dataset(name, t=600)
    message = str(info.value)
    assert f"Unknown option(s) 't' for dataset {name!r}; accepted: " in message
    assert "'batch_size'" in message and "'seed'" in message
    assert ("'T'" in message) == (name != "addition")
    # A common option the task does not use is refused as well.
    with pytest.raises(ValueError, match=r"Unknown option.*'input_shape'"):
        load_dataset(name, input_shape=(8, 8, 1))


def test_sequential_digits_reads_pixels_in_order():
    from sklearn.datasets import load_digits

    bundle = load_dataset("sequential_digits", batch_size=2000)
    x, y = next(iter(bundle.train))
    assert x.shape[1:] == (64, 1) and bundle.num_classes == 10
    assert bundle.train_size + bundle.validation_size == 1797
    digits = load_digits()
    images = digits.images.reshape(-1, 64) / 16.0
    # A training sequence is one of the images read row by row, with that image's label.
    match = np.isclose(images, x.numpy()[0, :, 0]).all(axis=1)
    assert match.any() and int(y[0]) in set(digits.target[match].tolist())

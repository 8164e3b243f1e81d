"""The controller: its samples are its policy, REINFORCE moves it, and its state saves."""

import keras
import numpy as np
import pytest

from keras_archs.nas import Controller, SearchSpace


def _log_probabilities(controller, actions):
    logits = keras.ops.convert_to_numpy(controller(controller.tokens_in(actions)))
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return np.take_along_axis(log_p, np.asarray(actions)[..., None], axis=-1)[..., 0].sum(-1)


@pytest.fixture
def controller():
    keras.utils.set_random_seed(0)
    model = Controller(SearchSpace(2).num_choices, units=16, embedding_dim=8)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    return model


def test_sampling_draws_from_the_policy_that_training_scores(controller):
    actions, entropy, log_p = controller.sample(np.random.default_rng(0), 6)
    # The token-by-token draw and the teacher-forced forward pass are one distribution.
    np.testing.assert_allclose(_log_probabilities(controller, actions), log_p, rtol=1e-4)
    # Untrained, each decision is close to uniform over its options.
    uniform = np.mean([np.log(n) for n in controller.num_choices])
    np.testing.assert_allclose(entropy, uniform, rtol=0.05)
    again = controller.sample(np.random.default_rng(0), 6)[0]
    assert again == actions


def test_reinforce_makes_rewarded_choices_likelier_and_the_bonus_keeps_entropy(controller):
    rng = np.random.default_rng(1)
    actions, before, _ = controller.sample(rng, 8)
    good, bad = actions[:4], actions[4:]
    p_good = _log_probabilities(controller, good).mean()
    for _ in range(5):
        controller.train_on_batch(
            controller.tokens_in(actions),
            np.asarray(actions),
            sample_weight=np.array([1.0] * 4 + [-1.0] * 4, "float32"),
        )
    assert _log_probabilities(controller, good).mean() > p_good + 1.0
    assert _log_probabilities(controller, bad).mean() < p_good
    # With no advantage the entropy bonus alone acts, and it spreads the policy out.
    low = controller.sample(np.random.default_rng(2), 64)[1].mean()
    controller.entropy_weight = 1.0
    for _ in range(5):
        controller.train_on_batch(
            controller.tokens_in(good), np.asarray(good), sample_weight=np.zeros(4, "float32")
        )
    assert controller.sample(np.random.default_rng(2), 64)[1].mean() > low
    assert before.mean() > low


def test_saved_controller_continues_exactly(controller, tmp_path):
    actions = controller.sample(np.random.default_rng(3), 4)[0]
    step = dict(
        x=controller.tokens_in(actions),
        y=np.asarray(actions),
        sample_weight=np.array([1, -1, 0.5, -0.5], "float32"),
    )
    controller.train_on_batch(**step)
    path = str(tmp_path / "controller.keras")
    controller.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.get_config() == controller.get_config()
    for model in (controller, reloaded):
        model.train_on_batch(**step)
    rng = np.random.default_rng
    assert reloaded.sample(rng(4), 5)[0] == controller.sample(rng(4), 5)[0]
    np.testing.assert_allclose(
        _log_probabilities(reloaded, actions), _log_probabilities(controller, actions), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_choices": []}, "num_choices must be a non-empty list"),
        ({"num_choices": [3, 0]}, "num_choices must be"),
        ({"num_choices": [3], "entropy_weight": -1.0}, "entropy_weight"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Controller(**kwargs)

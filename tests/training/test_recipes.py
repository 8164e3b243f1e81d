"""Training recipes: the papers' settings as data, and the optimizers built from them."""

import dataclasses

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.registry import get_spec
from keras_archs.training.recipes import (
    FAMILY_RECIPES,
    LinearWarmup,
    Recipe,
    learning_rate_at,
    make_optimizer,
    recipe_for,
)


def test_every_registered_model_has_a_recipe_that_builds_an_optimizer():
    for name in keras_archs.list_models():
        recipe = recipe_for(name)
        assert recipe.source, name
        assert isinstance(make_optimizer(recipe, steps_per_epoch=10), keras.optimizers.Optimizer)
        assert recipe.describe().startswith(
            {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[recipe.optimizer]
        )
    families = {get_spec(n).family for n in keras_archs.list_models()}
    assert families <= set(FAMILY_RECIPES)


@pytest.mark.parametrize(
    "name, cls, expected",
    [
        ("alexnet", keras.optimizers.SGD, {"momentum": 0.9, "weight_decay": 5e-4}),
        ("vgg16", keras.optimizers.SGD, {"momentum": 0.9, "weight_decay": 5e-4}),
        ("resnet50", keras.optimizers.SGD, {"momentum": 0.9, "weight_decay": 1e-4}),
        ("densenet121", keras.optimizers.SGD, {"nesterov": True, "weight_decay": 1e-4}),
        ("inception_v1", keras.optimizers.SGD, {"momentum": 0.9}),
        ("xception", keras.optimizers.SGD, {"momentum": 0.9, "weight_decay": 1e-5}),
        ("inception_v3", keras.optimizers.RMSprop, {"rho": 0.9, "epsilon": 1.0, "clipnorm": 2.0}),
        ("mobilenet_v2", keras.optimizers.RMSprop, {"rho": 0.9, "momentum": 0.9}),
        ("nasnet_mobile", keras.optimizers.RMSprop, {"epsilon": 1.0}),
        ("transformer", keras.optimizers.Adam, {"beta_2": 0.98, "epsilon": 1e-9}),
        ("bert_tiny", keras.optimizers.AdamW, {"weight_decay": 0.01}),
        ("gpt2", keras.optimizers.AdamW, {"weight_decay": 0.01}),
        ("tcn", keras.optimizers.Adam, {"clipnorm": 1.0}),
    ],
)
def test_the_papers_optimizer(name, cls, expected):
    recipe = recipe_for(name, paper=True)
    optimizer = make_optimizer(recipe, steps_per_epoch=100)
    assert type(optimizer) is cls
    config = optimizer.get_config()
    for key, value in expected.items():
        assert config[key] == pytest.approx(value), (name, key)


def test_the_papers_schedule_and_regularisation():
    v3 = recipe_for("inception_v3", paper=True)
    assert (v3.learning_rate, v3.label_smoothing, v3.step_every_epochs) == (0.045, 0.1, 2)
    assert 1 / v3.step_factor == pytest.approx(0.94)
    assert recipe_for("inception_v1", paper=True).step_every_epochs == 8
    assert 1 / recipe_for("googlenet", paper=True).step_factor == pytest.approx(0.96)
    assert recipe_for("nasnet_large").schedule == "cosine"
    assert recipe_for("nasnet_large").label_smoothing == 0.1
    assert recipe_for("transformer").label_smoothing == 0.1
    bert = recipe_for("bert_base", paper=True)
    assert (bert.optimizer, bert.learning_rate, bert.schedule) == ("adamw", 1e-4, "linear")
    assert bert.warmup_epochs / bert.epochs == pytest.approx(10_000 / 1_000_000)
    gpt = recipe_for("gpt_mini", paper=True)
    assert (gpt.learning_rate, gpt.schedule, gpt.warmup_epochs > 0) == (2.5e-4, "cosine", True)
    # Its offline run (registry data) keeps the paper's optimizer and schedule.
    offline = recipe_for("gpt_mini")
    assert (offline.optimizer, offline.schedule, offline.learning_rate) == ("adamw", "cosine", 3e-3)


def test_lenet5_recipe_is_todays_cpu_training():
    recipe = recipe_for("lenet5")
    assert (recipe.optimizer, recipe.learning_rate, recipe.schedule) == ("adam", 2e-3, "cosine")
    assert recipe.augment == "basic"
    assert (recipe.epochs, recipe.batch_size, recipe.weight_decay, recipe.clipnorm) == (
        30,
        32,
        0.0,
        None,
    )
    assert recipe.warmup_epochs == 0 and recipe.label_smoothing == 0
    # The registry's CPU defaults and the recipe's agree, for every model that has both.
    for name in keras_archs.list_models():
        defaults = get_spec(name).train_defaults
        for key in ("epochs", "batch_size", "learning_rate", "clipnorm"):
            if key in defaults:
                assert getattr(recipe_for(name), key) == defaults[key], (name, key)
    optimizer = make_optimizer(recipe, steps_per_epoch=50)
    assert type(optimizer) is keras.optimizers.Adam
    # Cosine annealing over the run's 30 x 50 steps: the peak first, half way half of it.
    assert learning_rate_at(optimizer, 0) == pytest.approx(2e-3)
    assert learning_rate_at(optimizer, 750) == pytest.approx(1e-3, rel=1e-3)
    assert learning_rate_at(optimizer, 1500) == pytest.approx(0.0, abs=1e-9)


def _recipe(**kwargs):
    return Recipe("sgd", 0.1, momentum=0.9, epochs=10, **kwargs)


def test_warmup_ramps_linearly_then_cosine_reaches_zero():
    optimizer = make_optimizer(_recipe(schedule="cosine", warmup_epochs=2), steps_per_epoch=10)
    lr = [learning_rate_at(optimizer, s) for s in (0, 5, 10, 15, 20, 60, 100)]
    assert lr[:5] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])  # 20 warm-up steps
    assert lr[5] == pytest.approx(0.05)  # halfway through the 80 cosine steps
    assert lr[6] == pytest.approx(0.0, abs=1e-7)


def test_step_schedule_divides_at_each_boundary_after_warmup():
    recipe = _recipe(schedule="step", step_every_epochs=3, step_factor=10, warmup_epochs=1)
    schedule = make_optimizer(recipe, steps_per_epoch=4).get_config()["learning_rate"]
    schedule = keras.optimizers.schedules.deserialize(schedule)
    assert isinstance(schedule, LinearWarmup)
    lr = {s: learning_rate_at(schedule, s) for s in (0, 2, 4, 15, 16, 27, 28)}
    assert lr[0] == 0.0 and lr[2] == pytest.approx(0.05)
    # Boundaries 12 steps apart, counted from the end of the 4 warm-up steps.
    assert (lr[4], lr[15]) == pytest.approx((0.1, 0.1))
    assert (lr[16], lr[27]) == pytest.approx((0.01, 0.01))
    assert lr[28] == pytest.approx(0.001)


def test_linear_and_constant_schedules():
    linear = make_optimizer(_recipe(schedule="linear"), steps_per_epoch=10)
    assert [learning_rate_at(linear, s) for s in (0, 50, 100)] == pytest.approx([0.1, 0.05, 0.0])
    constant = make_optimizer(_recipe(warmup_epochs=0.5), steps_per_epoch=10)
    assert [learning_rate_at(constant, s) for s in (0, 1, 5, 99)] == pytest.approx(
        [0.0, 0.02, 0.1, 0.1]
    )


def test_adamw_weight_decay_is_decoupled():
    # With a zero gradient Adam's own step is zero: only decoupled decay moves the weight,
    # by lr * weight_decay * w = 0.002. An L2 penalty would go through Adam's
    # normalisation instead and move it by about lr = 0.1.
    recipe = Recipe("adamw", 0.1, weight_decay=0.01, epochs=2)
    optimizer = make_optimizer(recipe, steps_per_epoch=1)
    w = keras.Variable(np.full((3,), 2.0, "float32"))
    optimizer.apply_gradients([(keras.ops.zeros((3,)), w)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), 1.998, rtol=1e-6)


def test_overrides_are_validated_and_never_mutate():
    base = recipe_for("resnet18")
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam', 'adamw', "):
        recipe_for("resnet18", optimizer="lamb")
    with pytest.raises(ValueError, match=r"weight_decay must be a number >= 0\.0; got weight_de"):
        base.replace(weight_decay=-1e-4)
    with pytest.raises(ValueError, match="warmup_epochs must be < epochs"):
        base.replace(epochs=5, warmup_epochs=5)
    with pytest.raises(ValueError, match=r"learning_rate must be a number > 0\.0"):
        base.replace(learning_rate=0)
    with pytest.raises(ValueError, match="schedule must be one of 'constant', 'step', 'cosine'"):
        base.replace(schedule="exp")
    with pytest.raises(ValueError, match=r"Unknown recipe field.*'lr'"):
        base.replace(lr=0.1)
    smaller = base.replace(epochs=2, batch_size=8)
    assert (smaller.epochs, smaller.batch_size) == (2, 8)
    assert base == recipe_for("resnet18") and base.epochs == 5  # the offline digits run
    assert recipe_for("resnet18", paper=True).epochs == 120
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.epochs = 1
    make_optimizer(base, steps_per_epoch=3)
    assert base == recipe_for("resnet18")
    assert base.to_dict()["learning_rate"] == 0.1
    text = base.describe()
    assert "SGD, learning rate 0.1 (momentum 0.9, weight decay 0.0001)" in text
    assert "He et al. 2015" in text


def test_model_with_scheduled_optimizer_reloads(tmp_path):
    recipe = recipe_for("transformer", paper=True).replace(epochs=3)  # warm-up, linear decay
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch=2), loss="mse")
    x, y = np.ones((4, 4), "float32"), np.zeros((4, 2), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is keras.optimizers.Adam
    assert int(loaded.optimizer.iterations) == 2
    for step in (0, 1, 3, 5):
        assert learning_rate_at(loaded.optimizer, step) == pytest.approx(
            learning_rate_at(model.optimizer, step)
        )
    assert learning_rate_at(loaded.optimizer, 2) == pytest.approx(7e-4)  # the peak

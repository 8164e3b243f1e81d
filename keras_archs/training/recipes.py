"""The papers' training recipes as data, and the Keras optimizers built from them.

Each family's `Recipe` holds how its paper trained it: optimizer, learning rate and
schedule, momentum, weight decay, label smoothing, gradient clipping, batch size and
epochs, with `source` naming the paper's training section. `recipe_for(name)` returns
that recipe, with the sizes (epochs, batch size, learning rate, clipping) of the
model's offline CPU run of `keras-archs train` (registry data), and
`make_optimizer(recipe, steps_per_epoch)` turns it into a Keras optimizer whose
learning-rate schedule serializes with the model (`model.keras` reloads with it).

Where a paper leaves a value out (a length, a batch size, a weight decay), `source`
says so and names the value chosen instead.
"""

from __future__ import annotations

import dataclasses

import keras

from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive_float,
    check_positive_int,
    check_positive_int_or_none,
    check_string,
)

__all__ = [
    "AUGMENTATIONS",
    "FAMILY_RECIPES",
    "OFFLINE_IMAGE_RUN",
    "OPTIMIZERS",
    "SCHEDULES",
    "LinearWarmup",
    "Recipe",
    "learning_rate_at",
    "make_optimizer",
    "recipe_for",
]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "linear")
AUGMENTATIONS = ("none", "basic", "randaugment")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained: optimizer, schedule, regularisation and sizes.

    Attributes:
        optimizer: one of `OPTIMIZERS`.
        learning_rate: the peak learning rate (reached after the warm-up).
        momentum: SGD's or RMSprop's momentum (ignored by Adam/AdamW).
        nesterov: Nesterov momentum for SGD.
        rho: RMSprop's decay of the squared-gradient average ("decay" in the papers).
        beta_2: Adam/AdamW's second-moment decay.
        epsilon: the optimizer's epsilon (RMSprop and Adam/AdamW; SGD has none).
        weight_decay: decoupled weight decay, applied by the Keras optimizer as
            `w -= learning_rate * weight_decay * w` each step (for SGD without
            momentum this is the L2 penalty the CNN papers used).
        schedule: one of `SCHEDULES`; "step" divides the rate by `step_factor`
            every `step_every_epochs`, "cosine" and "linear" decay it to 0 at the end.
        warmup_epochs: linear warm-up from 0 to `learning_rate`, in epochs (may be a
            fraction), before the schedule starts.
        step_every_epochs, step_factor: the "step" schedule.
        label_smoothing: for the cross-entropy loss.
        batch_size, epochs: the run's size.
        input_size: the square image side the paper trained at; None for the model's
            default (and for sequence models).
        clipnorm: gradient-norm clipping threshold, or None; Keras' `clipnorm` clips
            each variable's gradient (as the repository's runs always have), where the
            papers clipped the norm of all gradients together.
        augment: "none", "basic" (random crops and flips, as the CNN papers did) or
            "randaugment".
        source: a sentence citing the paper's training section.
    """

    optimizer: str
    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    step_every_epochs: float = 30.0
    step_factor: float = 10.0
    label_smoothing: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    input_size: int | None = None
    clipnorm: float | None = None
    augment: str = "none"
    source: str = ""

    def __post_init__(self):
        _validate(self)

    def replace(self, **overrides) -> Recipe:
        """A new Recipe with `overrides` applied and checked (this one is unchanged)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            accepted = ", ".join(f.name for f in dataclasses.fields(self))
            raise ValueError(
                f"Unknown recipe field(s) {', '.join(map(repr, unknown))}; accepted: {accepted}."
            )
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One paragraph for the start of a training run."""
        opt = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[self.optimizer]
        details = []
        if self.optimizer in ("sgd", "rmsprop") and self.momentum:
            details.append(f"{'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}")
        if self.optimizer == "rmsprop":
            details.append(f"rho {self.rho:g}, epsilon {self.epsilon:g}")
        if self.optimizer in ("adam", "adamw") and (self.beta_2 != 0.999 or self.epsilon != 1e-7):
            details.append(f"beta_2 {self.beta_2:g}, epsilon {self.epsilon:g}")
        if self.weight_decay:
            details.append(f"weight decay {self.weight_decay:g}")
        if self.clipnorm is not None:
            details.append(f"gradient clipping at norm {self.clipnorm:g}")
        text = f"{opt}, learning rate {self.learning_rate:g}"
        if details:
            text += f" ({', '.join(details)})"
        if self.warmup_epochs:
            text += f", {self.warmup_epochs:g} epoch(s) of linear warm-up"
        text += {
            "constant": ", constant",
            "step": (
                f", divided by {self.step_factor:g}"
                if self.step_factor >= 2
                else f", multiplied by {1 / self.step_factor:.3g}"
            )
            + f" every {self.step_every_epochs:g} epochs",
            "cosine": ", cosine decay to 0",
            "linear": ", linear decay to 0",
        }[self.schedule]
        text += f"; batch {self.batch_size}, {self.epochs} epochs"
        if self.label_smoothing:
            text += f", label smoothing {self.label_smoothing:g}"
        if self.input_size is not None:
            text += f", {self.input_size}x{self.input_size} inputs"
        if self.augment != "none":
            text += f", {self.augment} augmentation"
        text += "."
        if self.source:
            text += f" Source: {self.source}"
        return text


def _validate(r: Recipe):
    """Checks every field (a frozen dataclass checks once, at construction)."""
    check_choice("optimizer", r.optimizer, OPTIMIZERS)
    check_positive_float("learning_rate", r.learning_rate)
    check_float("momentum", r.momentum, minimum=0.0, maximum=1.0, exclusive_maximum=True)
    check_bool("nesterov", r.nesterov)
    if r.nesterov and (r.optimizer != "sgd" or not r.momentum):
        raise ValueError(
            f"nesterov=True needs optimizer='sgd' with momentum > 0; got "
            f"optimizer={r.optimizer!r}, momentum={r.momentum!r}."
        )
    check_float("rho", r.rho, minimum=0.0, maximum=1.0, exclusive_maximum=True)
    check_float("beta_2", r.beta_2, minimum=0.0, maximum=1.0, exclusive_maximum=True)
    check_positive_float("epsilon", r.epsilon)
    check_float("weight_decay", r.weight_decay, minimum=0.0)
    check_choice("schedule", r.schedule, SCHEDULES)
    check_positive_int("epochs", r.epochs)
    check_float("warmup_epochs", r.warmup_epochs, minimum=0.0)
    if r.warmup_epochs >= r.epochs:
        raise ValueError(
            f"warmup_epochs must be < epochs ({r.epochs}); got warmup_epochs={r.warmup_epochs!r}."
        )
    check_positive_float("step_every_epochs", r.step_every_epochs)
    check_float("step_factor", r.step_factor, minimum=1.0, exclusive_minimum=True)
    check_float(
        "label_smoothing", r.label_smoothing, minimum=0.0, maximum=1.0, exclusive_maximum=True
    )
    check_positive_int("batch_size", r.batch_size)
    check_positive_int_or_none("input_size", r.input_size)
    if r.clipnorm is not None:
        check_positive_float("clipnorm", r.clipnorm)
    check_choice("augment", r.augment, AUGMENTATIONS)
    if r.source:
        check_string("source", r.source)


_SGD_CNN = {"optimizer": "sgd", "momentum": 0.9, "schedule": "step", "augment": "basic"}
# RMSprop as Inception v3 ran it ("decay 0.9 and epsilon 1.0"); MobileNet and NASNet
# say they trained like Inception v3.
_RMSPROP_INCEPTION = {"optimizer": "rmsprop", "rho": 0.9, "epsilon": 1.0, "augment": "basic"}

# Keyed by registry family, or by model name where a model's paper trained it unlike
# the rest of its registry family.
# fmt: off
FAMILY_RECIPES: dict[str, Recipe] = {
    "lenet": Recipe(
        "adam", 2e-3, batch_size=32, epochs=20,
        source="LeCun et al. 1998, section II-B/III-C: 20 passes over the training set with "
        "stochastic diagonal Levenberg-Marquardt, which Keras does not offer: Adam at 2e-3, "
        "batch 32, instead; section III-C.5 trained on distorted copies as well."),
    "alexnet": Recipe(
        **_SGD_CNN, learning_rate=0.01, weight_decay=5e-4, step_every_epochs=25,
        batch_size=128, epochs=90,
        source="Krizhevsky et al. 2012, section 5: SGD, batch 128, momentum 0.9, weight decay "
        "5e-4, learning rate 0.01 divided by 10 each time validation error stopped improving "
        "(three times in about 90 epochs; every 25 epochs here)."),
    "vgg": Recipe(
        **_SGD_CNN, learning_rate=0.01, weight_decay=5e-4, step_every_epochs=20,
        batch_size=256, epochs=74,
        source="Simonyan & Zisserman 2014, section 3.1: SGD, batch 256, momentum 0.9, weight "
        "decay 5e-4, learning rate 0.01 divided by 10 when validation accuracy stopped "
        "improving (three times in 74 epochs; every 20 epochs here)."),
    "resnet": Recipe(
        **_SGD_CNN, learning_rate=0.1, weight_decay=1e-4, step_every_epochs=30,
        batch_size=256, epochs=120,
        source="He et al. 2015, section 3.4: SGD, batch 256, momentum 0.9, weight decay 1e-4, "
        "learning rate 0.1 divided by 10 when the error plateaus, 60e4 iterations (about 120 "
        "epochs; divided every 30 epochs here)."),
    "resnet_v2": Recipe(
        **_SGD_CNN, learning_rate=0.1, weight_decay=1e-4, step_every_epochs=30,
        batch_size=256, epochs=120,
        source="He et al. 2016 (identity mappings), section 4: the ImageNet training of He et "
        "al. 2015, SGD 0.1 with momentum 0.9, weight decay 1e-4, divided by 10 (every 30 "
        "epochs here)."),
    "densenet": Recipe(
        **{**_SGD_CNN, "nesterov": True}, learning_rate=0.1, weight_decay=1e-4,
        step_every_epochs=30, batch_size=256, epochs=90,
        source="Huang et al. 2017, section 4.2: SGD with Nesterov momentum 0.9, batch 256, 90 "
        "epochs, learning rate 0.1 divided by 10 at epochs 30 and 60, weight decay 1e-4."),
    "inception_v1": Recipe(
        **_SGD_CNN, learning_rate=0.01, weight_decay=2e-4, step_every_epochs=8,
        step_factor=1 / 0.96, batch_size=32, epochs=250,
        source="Szegedy et al. 2014, section 6: asynchronous SGD with momentum 0.9, learning "
        "rate decreased by 4% every 8 epochs; the paper gives no initial rate, batch, weight "
        "decay or length (0.01, 32, 2e-4 and 250 epochs here)."),
    "inception": Recipe(
        **_RMSPROP_INCEPTION, learning_rate=0.045, schedule="step", step_every_epochs=2,
        step_factor=1 / 0.94, label_smoothing=0.1, clipnorm=2.0, batch_size=32,
        epochs=100,
        source="Szegedy et al. 2015 (Inception v3), section 8: RMSProp with decay 0.9 and "
        "epsilon 1.0, learning rate 0.045 decayed by 0.94 every two epochs, gradient clipping "
        "at 2.0, batch 32, 100 epochs; label smoothing 0.1 (section 7)."),
    "xception": Recipe(
        **_SGD_CNN, learning_rate=0.045, weight_decay=1e-5, step_every_epochs=2,
        step_factor=1 / 0.94, batch_size=32, epochs=100,
        source="Chollet 2017, section 4.2-4.3 (ImageNet): SGD with momentum 0.9, learning rate "
        "0.045 decayed by 0.94 every 2 epochs, weight decay 1e-5 (the Inception v3 "
        "settings, reused untuned); the paper gives no batch or length (32, 100 epochs here)."),
    "mobilenet": Recipe(
        **_RMSPROP_INCEPTION, learning_rate=0.045, momentum=0.9, weight_decay=4e-5,
        schedule="step", step_every_epochs=1, step_factor=1 / 0.98, batch_size=96,
        epochs=100,
        source="Sandler et al. 2018 (MobileNetV2), section 6.1: RMSProp with decay and momentum "
        "0.9, weight decay 4e-5, learning rate 0.045 decayed by 0.98 per epoch, batch 96; "
        "Howard et al. 2017 trained MobileNet with RMSprop like Inception v3 (epsilon 1.0); "
        "neither gives the length (100 epochs here)."),
    "nasnet": Recipe(
        **_RMSPROP_INCEPTION, learning_rate=0.04, weight_decay=4e-5, schedule="cosine",
        label_smoothing=0.1, batch_size=32, epochs=100,
        source="Zoph et al. 2018, appendix A (ImageNet): RMSProp with decay 0.9 and epsilon "
        "1.0, label smoothing 0.1, weight decay 4e-5; cosine decay as in their CIFAR-10 "
        "training; peak rate 0.04 and 100 epochs of batch 32 are choices here."),
    "nasnet_custom": Recipe(
        "sgd", 0.025, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine",
        batch_size=32, epochs=600, augment="basic",
        source="Zoph et al. 2018, appendix A (CIFAR-10) and its reference code: momentum SGD "
        "with cosine decay from 0.025, weight decay 5e-4, batch 32, 600 epochs (937,500 "
        "steps); its ScheduledDropPath, auxiliary head and cutout are not applied here."),
    "transformer": Recipe(
        "adam", 7e-4, beta_2=0.98, epsilon=1e-9, schedule="linear", warmup_epochs=1,
        label_smoothing=0.1, batch_size=64, epochs=25,
        source="Vaswani et al. 2017, section 5.3-5.4: Adam with beta_2 0.98 and epsilon 1e-9, "
        "4,000 warm-up steps then inverse-square-root decay (peak 512**-0.5 * 4000**-0.5 = "
        "7e-4), label smoothing 0.1; approximated here by linear warm-up over 1 of 25 epochs "
        "(the paper's 4% of training) then linear decay, Keras having no inverse-sqrt schedule."),
    "bert": Recipe(
        "adamw", 1e-4, weight_decay=0.01, schedule="linear", warmup_epochs=0.4,
        batch_size=256, epochs=40,
        source="Devlin et al. 2018, appendix A.2: Adam (decoupled weight decay 0.01), "
        "learning rate 1e-4, 10,000 warm-up steps then linear decay, batch 256, 1M steps "
        "(about 40 epochs, so warm-up is 0.4 epoch)."),
    "gpt": Recipe(
        "adamw", 2.5e-4, weight_decay=0.01, schedule="cosine", warmup_epochs=0.1,
        batch_size=64, epochs=100,
        source="Radford et al. 2018, section 4.1: Adam, maximum learning rate 2.5e-4 reached "
        "by linear warm-up over 2,000 updates (0.1 epoch here) then cosine annealing to 0, "
        "batch 64, 100 epochs, L2 weight decay 0.01 (decoupled here)."),
    "rnn": Recipe(
        "adam", 3e-3, batch_size=32, epochs=15,
        source="Graves et al. 2013 trained stacked and bidirectional LSTMs with SGD and "
        "momentum 0.9; Adam "
        "(Kingma & Ba 2015) is used here, at the rate that trains the sequential-digits task."),
    "seq2seq": Recipe(
        "adam", 3e-3, clipnorm=5.0, batch_size=128, epochs=20,
        source="Sutskever et al. 2014, section 3.4: batch 128 and gradients clipped at norm 5 "
        "(kept); their plain SGD at 0.7, halved every half epoch after 5, is replaced by Adam."),
    "tcn": Recipe(
        "adam", 2e-3, clipnorm=1.0, batch_size=32, epochs=10,
        source="Bai et al. 2018, section 5 and appendix: Adam at 2e-3 on the adding problem, "
        "with gradient clipping (norm 1.0 here)."),
}
# fmt: on

# A registered model's `train_defaults` (registry data) size its offline CPU run of
# `keras-archs train` on its default dataset: those of their keys that are `Recipe`
# fields override the paper's. Image classifiers that keep no run of their own train on
# the bundled digits with these sizes: the papers' ImageNet lengths (90 to 250 epochs of
# 1.28M images) mean nothing on 1,438 training images on 2 cores.
OFFLINE_IMAGE_RUN = {"epochs": 5, "batch_size": 32}


def _offline_run(spec) -> dict:
    """The `Recipe` fields of `spec`'s offline CPU run (see `OFFLINE_IMAGE_RUN`)."""
    fields = {f.name for f in dataclasses.fields(Recipe)}
    own = {k: v for k, v in spec.train_defaults.items() if k in fields}
    if not own and spec.task == "image_classification":
        return dict(OFFLINE_IMAGE_RUN)
    return own


def recipe_for(model_name: str, *, paper: bool = False, **overrides) -> Recipe:
    """The training recipe of registered model `model_name`.

    The family's paper recipe (`FAMILY_RECIPES`, keyed by the registry's family), then,
    unless `paper=True`, the sizes of the model's offline CPU run (its registry
    `train_defaults`, or `OFFLINE_IMAGE_RUN` for an image classifier without one),
    then `overrides` (checked; an unknown field or a bad value is a ValueError).
    `recipe_for("lenet5")` is the README's first run: Adam 2e-3 cosine-annealed, batch 32,
    30 epochs, random shifts.
    """
    from keras_archs.registry import get_spec

    check_bool("paper", paper)
    spec = get_spec(model_name)
    # A model name keys its own recipe where its paper trained it unlike its family's
    # (GoogLeNet, registered in the "inception" family, is not trained like Inception v3).
    key = spec.name if spec.name in FAMILY_RECIPES else spec.family
    if key not in FAMILY_RECIPES:
        raise ValueError(
            f"No training recipe for family {spec.family!r} of model_name={model_name!r}; "
            f"recipes exist for: {', '.join(sorted(FAMILY_RECIPES))}."
        )
    recipe = FAMILY_RECIPES[key]
    if not paper:
        offline = _offline_run(spec)
        if offline:
            sizes = ", ".join(f"{k} {v}" for k, v in offline.items())
            recipe = recipe.replace(
                **offline, source=f"{recipe.source} Offline CPU run here: {sizes}."
            )
    return recipe.replace(**overrides) if overrides else recipe


@keras.saving.register_keras_serializable(package="keras_archs")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `learning_rate` over `warmup_steps`, then `after`.

    `after` (a number or a `LearningRateSchedule`) is called with the steps counted
    from the end of the warm-up, so the decay that follows starts at its own step 0.
    Keras' `CosineDecay` warms up by itself; step and linear decay have no warm-up of
    their own, hence this schedule (Goyal et al. 2017's gradual warm-up; the BERT and
    Transformer recipes warm up linearly too).
    """

    def __init__(self, learning_rate, warmup_steps, after=None, name="LinearWarmup"):
        super().__init__()
        self.learning_rate = check_positive_float("learning_rate", learning_rate)
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        if after is not None and not isinstance(
            after, keras.optimizers.schedules.LearningRateSchedule
        ):
            after = check_positive_float("after", after)
        self.after = self.learning_rate if after is None else after
        self.name = name

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup_steps = keras.ops.cast(self.warmup_steps, "float32")
        warm = self.learning_rate * step / warmup_steps
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.ops.cast(
                self.after(keras.ops.maximum(step - warmup_steps, 0.0)), "float32"
            )
        else:
            after = keras.ops.cast(self.after, "float32")
        return keras.ops.where(step < warmup_steps, warm, after)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "after": after,
            "name": self.name,
        }


def _schedule(recipe: Recipe, steps_per_epoch: int):
    """The learning-rate schedule of `recipe` for `steps_per_epoch` steps per epoch."""
    lr = recipe.learning_rate
    total = max(1, round(recipe.epochs * steps_per_epoch))
    warmup = round(recipe.warmup_epochs * steps_per_epoch)
    decay_steps = max(1, total - warmup)
    schedules = keras.optimizers.schedules
    if recipe.schedule == "cosine":
        # Keras' cosine decay has the linear warm-up built in.
        if warmup:
            return schedules.CosineDecay(
                0.0, decay_steps, alpha=0.0, warmup_target=lr, warmup_steps=warmup
            )
        return schedules.CosineDecay(lr, decay_steps, alpha=0.0)
    if recipe.schedule == "step":
        after = schedules.ExponentialDecay(
            lr,
            decay_steps=max(1, round(recipe.step_every_epochs * steps_per_epoch)),
            decay_rate=1.0 / recipe.step_factor,
            staircase=True,
        )
    elif recipe.schedule == "linear":
        after = schedules.PolynomialDecay(lr, decay_steps, end_learning_rate=0.0, power=1.0)
    else:
        after = lr
    return LinearWarmup(lr, warmup, after) if warmup else after


def make_optimizer(recipe: Recipe, steps_per_epoch: int):
    """The Keras optimizer of `recipe`, its learning-rate schedule laid over
    `recipe.epochs * steps_per_epoch` steps (warm-up included). The recipe is unchanged.

    Weight decay is Keras' decoupled decay (`w -= lr * weight_decay * w`, Loshchilov &
    Hutter 2019) for every optimizer; it applies to every trainable variable (BERT and
    GPT excluded biases and LayerNorm weights: call
    `optimizer.exclude_from_weight_decay(var_names=[...])` before training for that).
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe (see recipe_for); got recipe={recipe!r}.")
    steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
    common = {
        "learning_rate": _schedule(recipe, steps_per_epoch),
        "clipnorm": recipe.clipnorm,
    }
    wd = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(
            momentum=recipe.momentum, nesterov=recipe.nesterov, weight_decay=wd, **common
        )
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(
            rho=recipe.rho,
            momentum=recipe.momentum,
            epsilon=recipe.epsilon,
            weight_decay=wd,
            **common,
        )
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(
            weight_decay=recipe.weight_decay,
            beta_2=recipe.beta_2,
            epsilon=recipe.epsilon,
            **common,
        )
    return keras.optimizers.Adam(
        beta_2=recipe.beta_2, epsilon=recipe.epsilon, weight_decay=wd, **common
    )


def learning_rate_at(optimizer_or_schedule, step: int) -> float:
    """The learning rate an optimizer (or schedule, or number) gives at `step`."""
    step = check_int("step", step, minimum=0)
    lr = optimizer_or_schedule
    if isinstance(lr, keras.optimizers.Optimizer):
        lr = lr.get_config()["learning_rate"]
        if isinstance(lr, dict):
            lr = keras.optimizers.schedules.deserialize(lr)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(keras.ops.convert_to_numpy(lr(step)))
    return check_float("learning_rate", lr)
